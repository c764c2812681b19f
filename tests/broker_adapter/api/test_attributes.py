"""/ngsi-ld/v1/entities/{id}/attrs and /attrs/{attr}: append, update, partial update, replace, delete.

ETSI GS CIM 009 v1.8 clauses 5.6.2 (update), 5.6.3 (append), 5.6.4 (partial update), 5.6.5 (delete),
5.6.19 (replace attribute); HTTP binding clauses 6.6 and 6.7.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.ngsild import assert_problem, create, media_type, retrieve

ID = "urn:ngsi-ld:Sensor:s1"
TEMPERATURE = {
    "type": "Property",
    "value": 20,
    "unitCode": "CEL",
    "accuracy": {"type": "Property", "value": 0.5},
}
DS_A = "urn:ngsi-ld:Dataset:a"
DS_B = "urn:ngsi-ld:Dataset:b"


@pytest.fixture
def sensor(client: httpx.Client) -> dict[str, Any]:
    """An entity with a plain attribute, a relationship and a multi-instance attribute."""
    entity = {
        "id": ID,
        "type": "Sensor",
        "temperature": TEMPERATURE,
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        "speed": [
            {"type": "Property", "value": 1, "datasetId": DS_A},
            {"type": "Property", "value": 2, "datasetId": DS_B},
            {"type": "Property", "value": 3},
        ],
    }
    create(client, entity)
    return entity


# POST /entities/{id}/attrs (append) -------------------------------------------------------------------
def test_append_adds_new_and_overwrites_existing_attributes(client: httpx.Client, sensor: dict) -> None:
    response = client.post(
        f"/entities/{ID}/attrs",
        json={
            "humidity": {"type": "Property", "value": 60},
            "temperature": {"type": "Property", "value": 30},
        },
    )

    assert response.status_code == 204
    assert response.content == b""
    assert retrieve(client, ID) == {
        **sensor,
        "temperature": {"type": "Property", "value": 30},
        "humidity": {"type": "Property", "value": 60},
    }


def test_append_with_no_overwrite_reports_207_and_keeps_existing(client: httpx.Client, sensor: dict) -> None:
    response = client.post(
        f"/entities/{ID}/attrs",
        params={"options": "noOverwrite"},
        json={
            "humidity": {"type": "Property", "value": 60},
            "temperature": {"type": "Property", "value": 30},
        },
    )

    assert response.status_code == 207
    assert media_type(response) == "application/json"
    body = response.json()
    assert body["updated"] == ["humidity"]
    assert [item["attributeName"] for item in body["notUpdated"]] == ["temperature"]
    assert isinstance(body["notUpdated"][0]["reason"], str) and body["notUpdated"][0]["reason"]
    assert retrieve(client, ID) == {**sensor, "humidity": {"type": "Property", "value": 60}}


def test_append_with_no_overwrite_of_only_new_attributes_is_204(client: httpx.Client, sensor: dict) -> None:
    response = client.post(
        f"/entities/{ID}/attrs",
        params={"options": "noOverwrite"},
        json={"humidity": {"type": "Property", "value": 60}},
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["humidity"] == {"type": "Property", "value": 60}


def test_append_with_a_new_dataset_id_adds_an_instance(client: httpx.Client, sensor: dict) -> None:
    response = client.post(
        f"/entities/{ID}/attrs",
        json={
            "temperature": {"type": "Property", "value": 99, "datasetId": DS_A},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["temperature"] == [
        TEMPERATURE,
        {"type": "Property", "value": 99, "datasetId": DS_A},
    ]


def test_append_to_unknown_entity_is_404(client: httpx.Client, sensor: dict) -> None:
    response = client.post(
        "/entities/urn:ngsi-ld:Sensor:nobody/attrs", json={"a": {"type": "Property", "value": 1}}
    )

    assert_problem(response, 404, "ResourceNotFound")


def test_append_with_unknown_option_is_400(client: httpx.Client, sensor: dict) -> None:
    response = client.post(
        f"/entities/{ID}/attrs", params={"options": "sometimes"}, json={"a": {"type": "Property", "value": 1}}
    )

    assert_problem(response, 400, "InvalidRequest")  # clause 6.3.20: an invalid URI parameter value
    assert retrieve(client, ID) == sensor


# PATCH /entities/{id}/attrs (update) ------------------------------------------------------------------
def test_update_replaces_existing_attributes(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(
        f"/entities/{ID}/attrs",
        json={
            "temperature": {"type": "Property", "value": 30},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p2"},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID) == {
        **sensor,
        "temperature": {"type": "Property", "value": 30},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p2"},
    }


def test_update_with_unknown_attribute_is_207_and_does_not_append_it(
    client: httpx.Client, sensor: dict
) -> None:
    response = client.patch(
        f"/entities/{ID}/attrs",
        json={
            "temperature": {"type": "Property", "value": 30},
            "humidity": {"type": "Property", "value": 60},
        },
    )

    assert response.status_code == 207
    assert media_type(response) == "application/json"
    body = response.json()
    assert body["updated"] == ["temperature"]
    assert [item["attributeName"] for item in body["notUpdated"]] == ["humidity"]
    assert isinstance(body["notUpdated"][0]["reason"], str) and body["notUpdated"][0]["reason"]
    assert retrieve(client, ID) == {**sensor, "temperature": {"type": "Property", "value": 30}}


def test_update_targets_the_instance_with_the_dataset_id(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(
        f"/entities/{ID}/attrs",
        json={
            "speed": {"type": "Property", "value": 20, "datasetId": DS_B},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["speed"] == [
        {"type": "Property", "value": 1, "datasetId": DS_A},
        {"type": "Property", "value": 20, "datasetId": DS_B},
        {"type": "Property", "value": 3},
    ]


def test_update_with_ngsi_ld_null_deletes_the_attribute(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(
        f"/entities/{ID}/attrs",
        json={
            "temperature": {"type": "Property", "value": "urn:ngsi-ld:null"},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID) == {k: v for k, v in sensor.items() if k != "temperature"}


def test_update_of_unknown_entity_is_404(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(
        "/entities/urn:ngsi-ld:Sensor:nobody/attrs", json={"temperature": {"type": "Property", "value": 1}}
    )

    assert_problem(response, 404, "ResourceNotFound")


# PATCH /entities/{id}/attrs/{attr} (partial attribute update) --------------------------------------------
def test_partial_update_changes_only_the_given_members(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(f"/entities/{ID}/attrs/temperature", json={"value": 25})

    assert response.status_code == 204
    assert retrieve(client, ID) == {**sensor, "temperature": {**TEMPERATURE, "value": 25}}


def test_partial_update_merges_sub_attributes(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(
        f"/entities/{ID}/attrs/temperature",
        json={
            "type": "Property",
            "accuracy": {"type": "Property", "value": 0.1},
            "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["temperature"] == {
        "type": "Property",
        "value": 20,
        "unitCode": "CEL",
        "accuracy": {"type": "Property", "value": 0.1},
        "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
    }


def test_partial_update_deletes_a_sub_attribute_with_ngsi_ld_null(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(f"/entities/{ID}/attrs/temperature", json={"accuracy": "urn:ngsi-ld:null"})

    assert response.status_code == 204
    assert retrieve(client, ID)["temperature"] == {"type": "Property", "value": 20, "unitCode": "CEL"}


def test_partial_update_with_dataset_id_changes_only_that_instance(
    client: httpx.Client, sensor: dict
) -> None:
    response = client.patch(f"/entities/{ID}/attrs/speed", json={"value": 10, "datasetId": DS_A})

    assert response.status_code == 204
    assert retrieve(client, ID)["speed"] == [
        {"type": "Property", "value": 10, "datasetId": DS_A},
        {"type": "Property", "value": 2, "datasetId": DS_B},
        {"type": "Property", "value": 3},
    ]


def test_partial_update_without_dataset_id_changes_the_default_instance(
    client: httpx.Client, sensor: dict
) -> None:
    response = client.patch(f"/entities/{ID}/attrs/speed", json={"value": 30})

    assert response.status_code == 204
    assert retrieve(client, ID)["speed"] == [
        {"type": "Property", "value": 1, "datasetId": DS_A},
        {"type": "Property", "value": 2, "datasetId": DS_B},
        {"type": "Property", "value": 30},
    ]


def test_partial_update_of_a_relationship_object(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(f"/entities/{ID}/attrs/owner", json={"object": "urn:ngsi-ld:Person:p9"})

    assert response.status_code == 204
    assert retrieve(client, ID)["owner"] == {"type": "Relationship", "object": "urn:ngsi-ld:Person:p9"}


@pytest.mark.parametrize(
    ("entity_id", "attr", "body"),
    [
        ("urn:ngsi-ld:Sensor:nobody", "temperature", {"value": 1}),
        (ID, "humidity", {"value": 1}),
        (ID, "speed", {"value": 1, "datasetId": "urn:ngsi-ld:Dataset:unknown"}),
        (ID, "temperature", {"value": 1, "datasetId": DS_A}),
    ],
    ids=["unknown-entity", "unknown-attribute", "unknown-dataset-id", "attribute-has-no-such-instance"],
)
def test_partial_update_of_missing_target_is_404(
    client: httpx.Client, sensor: dict, entity_id: str, attr: str, body: dict
) -> None:
    response = client.patch(f"/entities/{entity_id}/attrs/{attr}", json=body)

    assert_problem(response, 404, "ResourceNotFound")
    assert retrieve(client, ID) == sensor


def test_partial_update_cannot_change_the_attribute_type(client: httpx.Client, sensor: dict) -> None:
    response = client.patch(
        f"/entities/{ID}/attrs/temperature", json={"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"}
    )

    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, ID) == sensor


# PUT /entities/{id}/attrs/{attr} (replace attribute) ----------------------------------------------------
def test_replace_attribute_replaces_it_whole(client: httpx.Client, sensor: dict) -> None:
    response = client.put(f"/entities/{ID}/attrs/temperature", json={"type": "Property", "value": 25})

    assert response.status_code == 204
    assert retrieve(client, ID) == {**sensor, "temperature": {"type": "Property", "value": 25}}


def test_replace_attribute_may_change_its_kind(client: httpx.Client, sensor: dict) -> None:
    response = client.put(
        f"/entities/{ID}/attrs/temperature", json={"type": "LanguageProperty", "languageMap": {"en": "warm"}}
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["temperature"] == {"type": "LanguageProperty", "languageMap": {"en": "warm"}}


def test_replace_attribute_with_dataset_id_replaces_that_instance(client: httpx.Client, sensor: dict) -> None:
    response = client.put(
        f"/entities/{ID}/attrs/speed",
        json={"type": "Property", "value": 7, "unitCode": "KMH", "datasetId": DS_B},
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["speed"] == [
        {"type": "Property", "value": 1, "datasetId": DS_A},
        {"type": "Property", "value": 7, "unitCode": "KMH", "datasetId": DS_B},
        {"type": "Property", "value": 3},
    ]


@pytest.mark.parametrize(
    ("entity_id", "attr"),
    [("urn:ngsi-ld:Sensor:nobody", "temperature"), (ID, "humidity")],
    ids=["unknown-entity", "unknown-attribute"],
)
def test_replace_missing_attribute_is_404(
    client: httpx.Client, sensor: dict, entity_id: str, attr: str
) -> None:
    response = client.put(f"/entities/{entity_id}/attrs/{attr}", json={"type": "Property", "value": 1})

    assert_problem(response, 404, "ResourceNotFound")
    assert retrieve(client, ID) == sensor


def test_replace_attribute_with_invalid_fragment_is_400(client: httpx.Client, sensor: dict) -> None:
    response = client.put(f"/entities/{ID}/attrs/owner", json={"type": "Relationship", "object": "nope"})

    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, ID) == sensor


# DELETE /entities/{id}/attrs/{attr} -----------------------------------------------------------------------
def test_delete_attribute_removes_it(client: httpx.Client, sensor: dict) -> None:
    response = client.delete(f"/entities/{ID}/attrs/temperature")

    assert response.status_code == 204
    assert retrieve(client, ID) == {k: v for k, v in sensor.items() if k != "temperature"}


def test_delete_attribute_without_dataset_id_removes_only_the_default_instance(
    client: httpx.Client, sensor: dict
) -> None:
    assert client.delete(f"/entities/{ID}/attrs/speed").status_code == 204

    assert retrieve(client, ID)["speed"] == [
        {"type": "Property", "value": 1, "datasetId": DS_A},
        {"type": "Property", "value": 2, "datasetId": DS_B},
    ]


def test_delete_attribute_with_dataset_id_removes_that_instance(client: httpx.Client, sensor: dict) -> None:
    assert client.delete(f"/entities/{ID}/attrs/speed", params={"datasetId": DS_A}).status_code == 204

    assert retrieve(client, ID)["speed"] == [
        {"type": "Property", "value": 2, "datasetId": DS_B},
        {"type": "Property", "value": 3},
    ]


def test_delete_attribute_with_delete_all_removes_every_instance(client: httpx.Client, sensor: dict) -> None:
    assert client.delete(f"/entities/{ID}/attrs/speed", params={"deleteAll": "true"}).status_code == 204

    assert "speed" not in retrieve(client, ID)


def test_deleting_the_last_instance_removes_the_attribute(client: httpx.Client, sensor: dict) -> None:
    for params in ({"datasetId": DS_A}, {"datasetId": DS_B}, {}):
        assert client.delete(f"/entities/{ID}/attrs/speed", params=params).status_code == 204

    assert "speed" not in retrieve(client, ID)
    assert_problem(client.delete(f"/entities/{ID}/attrs/speed"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("entity_id", "attr", "params"),
    [
        ("urn:ngsi-ld:Sensor:nobody", "temperature", {}),
        (ID, "humidity", {}),
        (ID, "speed", {"datasetId": "urn:ngsi-ld:Dataset:unknown"}),
        (ID, "temperature", {"datasetId": DS_A}),
    ],
    ids=["unknown-entity", "unknown-attribute", "unknown-dataset-id", "attribute-has-no-such-instance"],
)
def test_delete_missing_attribute_is_404(
    client: httpx.Client, sensor: dict, entity_id: str, attr: str, params: dict
) -> None:
    response = client.delete(f"/entities/{entity_id}/attrs/{attr}", params=params)

    assert_problem(response, 404, "ResourceNotFound")
    assert retrieve(client, ID) == sensor


def test_delete_attribute_without_default_instance_is_404(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "speed": {"type": "Property", "value": 1, "datasetId": DS_A}})

    assert_problem(client.delete(f"/entities/{ID}/attrs/speed"), 404, "ResourceNotFound")
    assert retrieve(client, ID)["speed"] == {"type": "Property", "value": 1, "datasetId": DS_A}


@pytest.mark.parametrize(
    "params",
    [{"deleteAll": "yes"}, {"datasetId": "not a uri"}],
    ids=["delete-all-not-boolean", "bad-dataset-id"],
)
def test_delete_attribute_with_invalid_parameters_is_400(
    client: httpx.Client, sensor: dict, params: dict
) -> None:
    response = client.delete(f"/entities/{ID}/attrs/speed", params=params)

    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, ID) == sensor


def test_attribute_operations_bump_entity_modified_at(client: httpx.Client, sensor: dict) -> None:
    stamps = [retrieve(client, ID, params={"options": "sysAttrs"})["modifiedAt"]]
    for method, path, body in [
        ("POST", "/attrs", {"humidity": {"type": "Property", "value": 1}}),
        ("PATCH", "/attrs", {"humidity": {"type": "Property", "value": 2}}),
        ("PATCH", "/attrs/humidity", {"value": 3}),
        ("PUT", "/attrs/humidity", {"type": "Property", "value": 4}),
        ("DELETE", "/attrs/humidity", None),
    ]:
        assert client.request(method, f"/entities/{ID}{path}", json=body).status_code == 204
        stamps.append(retrieve(client, ID, params={"options": "sysAttrs"})["modifiedAt"])

    assert stamps == sorted(set(stamps))
