"""NGSI-LD null for every attribute kind (clause 4.5.5), types added by an update (4.16) and scope handled
like an attribute (4.18), through merge, update, partial update, append and delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.ngsild import assert_problem, create, retrieve

ID = "urn:ngsi-ld:Building:b1"
NULL = "urn:ngsi-ld:null"
ATTRIBUTES: dict[str, Any] = {
    "name": {"type": "Property", "value": "Rathaus"},
    "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:City:kl"},
    "label": {"type": "LanguageProperty", "languageMap": {"de": "Rathaus", "en": "town hall"}},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.77, 49.44]}},
    "category": {"type": "VocabProperty", "vocab": "office"},
    "floors": {"type": "ListProperty", "valueList": [1, 2]},
}
NULL_OF = {
    "name": {"type": "Property", "value": NULL},
    "locatedAt": {"type": "Relationship", "object": NULL},
    "label": {"type": "LanguageProperty", "languageMap": {"@none": NULL}},
    "location": {"type": "GeoProperty", "value": NULL},
    "category": {"type": "VocabProperty", "vocab": NULL},
    "floors": {"type": "ListProperty", "valueList": [NULL]},
}


@pytest.fixture
def building(client: httpx.Client) -> dict[str, Any]:
    entity = {"id": ID, "type": "Building", **ATTRIBUTES}
    create(client, entity)
    return entity


def _send(client: httpx.Client, how: str, attr: str, body: dict[str, Any]) -> httpx.Response:
    if how == "merge":
        return client.patch(f"/entities/{ID}", json={attr: body})
    if how == "update":
        return client.patch(f"/entities/{ID}/attrs", json={attr: body})
    if how == "partial":
        return client.patch(f"/entities/{ID}/attrs/{attr}", json=body)
    return client.post("/entityOperations/merge", json=[{"id": ID, "type": "Building", attr: body}])


@pytest.mark.parametrize("how", ["merge", "update", "partial", "batch-merge"])
@pytest.mark.parametrize("attr", list(NULL_OF))
def test_ngsi_ld_null_of_each_kind_deletes_the_attribute(
    client: httpx.Client, building: dict, how: str, attr: str
) -> None:
    response = _send(client, how, attr, NULL_OF[attr])

    assert response.status_code == 204, response.text
    after = retrieve(client, ID)
    assert attr not in after
    assert after == {k: v for k, v in building.items() if k != attr}


@pytest.mark.parametrize("how", ["merge", "update", "partial", "batch-merge"])
def test_json_null_as_a_value_is_refused_and_changes_nothing(
    client: httpx.Client, building: dict, how: str
) -> None:
    response = _send(client, how, "name", {"type": "Property", "value": None})

    if how == "batch-merge":
        assert response.status_code == 207, response.text
        assert response.json()["errors"][0]["error"]["type"].endswith("/BadRequestData")
    else:
        assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, ID) == building


def test_batch_merge_with_json_null_on_an_unknown_entity_is_bad_request_data(client: httpx.Client) -> None:
    create(client, {"id": "urn:ngsi-ld:Building:other", "type": "Building"})  # the tenant exists
    body = [
        {"id": "urn:ngsi-ld:Building:none", "type": "Building", "name": {"type": "Property", "value": None}}
    ]

    response = client.post("/entityOperations/merge", json=body)

    assert response.status_code == 207, response.text
    assert response.json()["errors"][0]["error"]["type"].endswith("/BadRequestData")


# types ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [("Vehicle", ["Building", "Vehicle"]), (["Vehicle", "Car"], ["Building", "Vehicle", "Car"])],
)
def test_an_update_adds_the_types_it_names(
    client: httpx.Client, building: dict, given: Any, expected: list
) -> None:
    response = client.patch(f"/entities/{ID}/attrs", json={"type": given})

    assert response.status_code == 204, response.text
    assert retrieve(client, ID)["type"] == expected


# scope ----------------------------------------------------------------------------------------------
def test_an_update_replaces_an_existing_scope(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Building", "scope": "/Kusel/Altstadt"})

    response = client.patch(f"/entities/{ID}/attrs", json={"scope": "/Kusel/Neubau"})

    assert response.status_code == 204, response.text
    assert retrieve(client, ID)["scope"] == "/Kusel/Neubau"


def test_an_update_of_a_scope_the_entity_lacks_is_207(client: httpx.Client, building: dict) -> None:
    response = client.patch(f"/entities/{ID}/attrs", json={"scope": "/Kusel"})

    assert response.status_code == 207, response.text
    assert response.json() == {
        "updated": [],
        "notUpdated": [{"attributeName": "scope", "reason": "the entity has no scope"}],
    }
    assert "scope" not in retrieve(client, ID)


def test_append_with_no_overwrite_adds_scopes_and_with_overwrite_replaces_them(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Building", "scope": "/Kusel/Altstadt"})

    kept = client.post(
        f"/entities/{ID}/attrs", params={"options": "noOverwrite"}, json={"scope": "/Kusel/Neubau"}
    )
    assert kept.status_code == 204, kept.text
    assert retrieve(client, ID)["scope"] == ["/Kusel/Altstadt", "/Kusel/Neubau"]

    replaced = client.post(f"/entities/{ID}/attrs", json={"scope": "/Mayen"})
    assert replaced.status_code == 204, replaced.text
    assert retrieve(client, ID)["scope"] == "/Mayen"


def test_delete_scope_removes_it_and_a_second_delete_is_404(client: httpx.Client) -> None:
    create(
        client, {"id": ID, "type": "Building", "scope": "/Kusel", "name": {"type": "Property", "value": "x"}}
    )

    assert client.delete(f"/entities/{ID}/attrs/scope").status_code == 204
    assert retrieve(client, ID) == {"id": ID, "type": "Building", "name": {"type": "Property", "value": "x"}}
    assert_problem(client.delete(f"/entities/{ID}/attrs/scope"), 404, "ResourceNotFound")
