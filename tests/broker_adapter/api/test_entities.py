"""/ngsi-ld/v1/entities and /entities/{id}: create, retrieve, replace, merge, delete (ETSI GS CIM 009 v1.8).

Every test talks to the real broker process over loopback, on a fresh tenant.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.broker_adapter.api.conftest import EX
from tests.support.ngsild import SYS, assert_problem, context_link, create, masked, retrieve
from tests.support.server import BrokerProcess

ID = "urn:ngsi-ld:Sensor:s1"


# POST /entities ---------------------------------------------------------------------------------------
def test_post_entity_answers_201_with_location_and_no_body(client: httpx.Client) -> None:
    response = client.post("/entities", json={"id": ID, "type": "Sensor"})

    assert response.status_code == 201
    assert response.headers["Location"] == f"/ngsi-ld/v1/entities/{ID}"
    assert response.content == b""


def test_post_entity_with_an_existing_id_is_409_already_exists(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "name": {"type": "Property", "value": "first"}})

    response = client.post("/entities", json={"id": ID, "type": "Sensor"})

    assert_problem(response, 409, "AlreadyExists")
    assert retrieve(client, ID) == {
        "id": ID,
        "type": "Sensor",
        "name": {"type": "Property", "value": "first"},
    }


ATTRIBUTES: dict[str, Any] = {
    "property-number": {"type": "Property", "value": 21.5},
    "property-integer": {"type": "Property", "value": 7},
    "property-string": {"type": "Property", "value": "Lauter"},
    "property-boolean": {"type": "Property", "value": False},
    "property-compound": {
        "type": "Property",
        "value": {"street": "Hauptstraße 1", "city": "Kaiserslautern", "floors": [1, 2], "open": True},
    },
    "property-array": {"type": "Property", "value": [1, "two", {"three": 3}]},
    "geo-point": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.75, 49.44]}},
    "geo-linestring": {
        "type": "GeoProperty",
        "value": {"type": "LineString", "coordinates": [[7.7, 49.4], [7.8, 49.5]]},
    },
    "geo-polygon": {
        "type": "GeoProperty",
        "value": {"type": "Polygon", "coordinates": [[[7.7, 49.4], [7.8, 49.4], [7.8, 49.5], [7.7, 49.4]]]},
    },
    "geo-multipolygon": {
        "type": "GeoProperty",
        "value": {
            "type": "MultiPolygon",
            "coordinates": [
                [[[7.7, 49.4], [7.8, 49.4], [7.8, 49.5], [7.7, 49.4]]],
                [[[8.7, 49.4], [8.8, 49.4], [8.8, 49.5], [8.7, 49.4]]],
            ],
        },
    },
    "relationship": {"type": "Relationship", "object": "urn:ngsi-ld:Building:b1"},
    "relationship-object-type": {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Building:b1",
        "objectType": "Building",
    },
    "language-property": {"type": "LanguageProperty", "languageMap": {"de": "Brücke", "en": "bridge"}},
    "json-object": {"type": "JsonProperty", "json": {"id": "not-a-uri", "value": [1, None, "x"]}},
    "json-array": {"type": "JsonProperty", "json": [{"a": 1}, {"b": 2}]},
    "list-property": {"type": "ListProperty", "valueList": [3, 1, 2]},
    "list-relationship": {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:Stop:2"}, {"object": "urn:ngsi-ld:Stop:1"}],
    },
    "observed-at-unit-code": {
        "type": "Property",
        "value": 1.42,
        "unitCode": "MTR",
        "observedAt": "2026-01-02T03:04:05.678Z",
    },
    "sub-property": {
        "type": "Property",
        "value": 20,
        "accuracy": {"type": "Property", "value": 0.5, "unitCode": "CEL"},
    },
    "sub-relationship": {
        "type": "Property",
        "value": 20,
        "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
    },
    "dataset-instances": [
        {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:a"},
        {"type": "Property", "value": 2},
    ],
}


@pytest.mark.parametrize("attribute", ATTRIBUTES.values(), ids=ATTRIBUTES.keys())
def test_created_attribute_is_retrieved_exactly_as_given(client: httpx.Client, attribute: Any) -> None:
    entity = {"id": ID, "type": "Sensor", "reading": attribute}
    create(client, entity)

    assert retrieve(client, ID) == entity


def test_entity_with_every_attribute_kind_round_trips(client: httpx.Client) -> None:
    entity = {
        "id": ID,
        "type": ["Sensor", "Device"],
        **{k.replace("-", "_"): v for k, v in ATTRIBUTES.items()},
    }
    create(client, entity)

    assert retrieve(client, ID) == entity


def test_vocab_property_values_expand_with_the_user_context(
    client: httpx.Client, user_context_url: str
) -> None:
    create(
        client,
        {
            "@context": user_context_url,
            "id": ID,
            "type": "Sensor",
            "colour": {"type": "VocabProperty", "vocab": "red"},
            "colours": {"type": "VocabProperty", "vocab": ["red", "green"]},
        },
    )

    with_context = retrieve(client, ID, headers={"Link": context_link(user_context_url)})
    core_only = retrieve(client, ID)

    assert with_context == {
        "id": ID,
        "type": "Sensor",
        "colour": {"type": "VocabProperty", "vocab": "red"},
        "colours": {"type": "VocabProperty", "vocab": ["red", "green"]},
    }
    assert core_only == {
        "id": ID,
        "type": EX + "Sensor",
        EX + "colour": {"type": "VocabProperty", "vocab": EX + "Red"},
        "colours": {"type": "VocabProperty", "vocab": [EX + "Red", EX + "Green"]},
    }


def test_concise_input_is_stored_as_normalized(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "temperature": 21.5,
            "name": "Lauter",
            "open": True,
            "address": {"value": {"city": "Kaiserslautern"}},
            "height": {
                "value": 1.42,
                "unitCode": "MTR",
                "observedAt": "2026-01-02T03:04:05.678Z",
                "accuracy": 0.1,
            },
            "owner": {"object": "urn:ngsi-ld:Person:p1"},
            "location": {"type": "Point", "coordinates": [7.75, 49.44]},
            "label": {"languageMap": {"de": "Brücke"}},
            "raw": {"json": {"k": "v"}},
            "order": {"valueList": [2, 1]},
            "route": {"objectList": [{"object": "urn:ngsi-ld:Stop:1"}]},
            "reading": {"value": 20, "measuredBy": {"object": "urn:ngsi-ld:Device:d1"}},
        },
    )

    assert retrieve(client, ID) == {
        "id": ID,
        "type": "Sensor",
        "temperature": {"type": "Property", "value": 21.5},
        "name": {"type": "Property", "value": "Lauter"},
        "open": {"type": "Property", "value": True},
        "address": {"type": "Property", "value": {"city": "Kaiserslautern"}},
        "height": {
            "type": "Property",
            "value": 1.42,
            "unitCode": "MTR",
            "observedAt": "2026-01-02T03:04:05.678Z",
            "accuracy": {"type": "Property", "value": 0.1},
        },
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.75, 49.44]}},
        "label": {"type": "LanguageProperty", "languageMap": {"de": "Brücke"}},
        "raw": {"type": "JsonProperty", "json": {"k": "v"}},
        "order": {"type": "ListProperty", "valueList": [2, 1]},
        "route": {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Stop:1"}]},
        "reading": {
            "type": "Property",
            "value": 20,
            "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
        },
    }


def test_entity_created_with_json_ld_body_context_uses_its_terms(
    client: httpx.Client, user_context_url: str
) -> None:
    create(client, {"@context": user_context_url, "id": ID, "type": "Sensor", "temperature": 20})

    assert retrieve(client, ID, headers={"Link": context_link(user_context_url)}) == {
        "id": ID,
        "type": "Sensor",
        "temperature": {"type": "Property", "value": 20},
    }
    assert retrieve(client, ID) == {
        "id": ID,
        "type": EX + "Sensor",
        EX + "temperature": {"type": "Property", "value": 20},
    }


BAD_ENTITIES: dict[str, Any] = {
    "not-an-object": ["urn:ngsi-ld:Sensor:s1"],
    "no-id": {"type": "Sensor"},
    "id-not-a-uri": {"id": "sensor one", "type": "Sensor"},
    "no-type": {"id": ID},
    "property-without-value": {"id": ID, "type": "Sensor", "p": {"type": "Property", "unitCode": "CEL"}},
    "relationship-object-not-a-uri": {
        "id": ID,
        "type": "Sensor",
        "r": {"type": "Relationship", "object": "x"},
    },
    "geoproperty-not-geojson": {
        "id": ID,
        "type": "Sensor",
        "location": {"type": "GeoProperty", "value": {"type": "Point"}},
    },
    "unknown-attribute-type": {"id": ID, "type": "Sensor", "p": {"type": "Quantity", "value": 1}},
    "observed-at-not-a-datetime": {
        "id": ID,
        "type": "Sensor",
        "p": {"type": "Property", "value": 1, "observedAt": "yesterday"},
    },
    "dataset-id-not-a-uri": {
        "id": ID,
        "type": "Sensor",
        "p": {"type": "Property", "value": 1, "datasetId": "a b"},
    },
    "same-dataset-id-twice": {
        "id": ID,
        "type": "Sensor",
        "p": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}],
    },
    "language-map-not-an-object": {
        "id": ID,
        "type": "Sensor",
        "l": {"type": "LanguageProperty", "languageMap": "x"},
    },
    "list-property-not-a-list": {"id": ID, "type": "Sensor", "l": {"type": "ListProperty", "valueList": 1}},
}


@pytest.mark.parametrize("body", BAD_ENTITIES.values(), ids=BAD_ENTITIES.keys())
def test_post_invalid_entity_is_400_bad_request_data(client: httpx.Client, body: Any) -> None:
    assert_problem(client.post("/entities", json=body), 400, "BadRequestData")


def test_post_malformed_json_is_400_invalid_request(client: httpx.Client) -> None:
    response = client.post("/entities", content=b'{"id": ', headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "InvalidRequest")


def test_post_other_media_type_is_415(client: httpx.Client) -> None:
    response = client.post("/entities", content=b"id=urn:x:1", headers={"Content-Type": "text/plain"})

    assert_problem(response, 415, None)


def test_post_json_ld_without_context_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/entities", json={"id": ID, "type": "Sensor"}, headers={"Content-Type": "application/ld+json"}
    )

    assert_problem(response, 400, "BadRequestData")


def test_rejected_create_changes_nothing(client: httpx.Client) -> None:
    create(client, {"id": "urn:ngsi-ld:Sensor:other", "type": "Sensor"})
    bad = {"id": ID, "type": "Sensor", "ok": 1, "bad": {"type": "Relationship", "object": "not a uri"}}

    assert_problem(client.post("/entities", json=bad), 400, "BadRequestData")
    assert_problem(client.get(f"/entities/{ID}"), 404, "ResourceNotFound")


# GET /entities/{id} -----------------------------------------------------------------------------------
def test_get_unknown_entity_is_404_resource_not_found(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor"})

    assert_problem(client.get("/entities/urn:ngsi-ld:Sensor:nobody"), 404, "ResourceNotFound")


def test_entities_of_other_tenants_are_invisible(
    client: httpx.Client, broker: BrokerProcess, tenant: str
) -> None:
    create(client, {"id": ID, "type": "Sensor"})

    with httpx.Client(base_url=broker.url + "/ngsi-ld/v1", headers={"NGSILD-Tenant": tenant + "b"}) as other:
        create(other, {"id": "urn:ngsi-ld:Sensor:x", "type": "Sensor"})
        assert_problem(other.get(f"/entities/{ID}"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/entities/not-a-uri", None),
        ("DELETE", "/entities/not-a-uri", None),
        ("PUT", "/entities/not-a-uri", {"type": "Sensor"}),
        ("PATCH", "/entities/not-a-uri", {"p": {"type": "Property", "value": 1}}),
        ("POST", "/entities/not-a-uri/attrs", {"p": {"type": "Property", "value": 1}}),
        ("PATCH", "/entities/not-a-uri/attrs", {"p": {"type": "Property", "value": 1}}),
        ("PATCH", "/entities/not-a-uri/attrs/p", {"value": 1}),
        ("PUT", "/entities/not-a-uri/attrs/p", {"type": "Property", "value": 1}),
        ("DELETE", "/entities/not-a-uri/attrs/p", None),
    ],
)
def test_invalid_entity_id_in_url_is_400_bad_request_data(
    client: httpx.Client, method: str, path: str, body: Any
) -> None:
    create(client, {"id": ID, "type": "Sensor"})

    response = client.request(method, path, json=body)

    assert_problem(response, 400, "BadRequestData")


def test_system_attributes_track_creation_and_modification(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "a": 1, "b": 2})
    before = retrieve(client, ID, params={"options": "sysAttrs"})

    assert client.patch(f"/entities/{ID}/attrs/a", json={"value": 10}).status_code == 204
    after = retrieve(client, ID, params={"options": "sysAttrs"})

    assert (
        before["createdAt"] == before["modifiedAt"] == before["a"]["createdAt"] == before["a"]["modifiedAt"]
    )
    assert after["createdAt"] == before["createdAt"]
    assert after["modifiedAt"] > before["modifiedAt"]
    assert after["a"]["createdAt"] == before["a"]["createdAt"]
    assert after["a"]["modifiedAt"] > before["a"]["modifiedAt"]
    assert after["b"] == before["b"]


# PUT /entities/{id} -----------------------------------------------------------------------------------
def test_put_entity_replaces_all_attributes_and_keeps_created_at(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "temperature": {"type": "Property", "value": 20, "unitCode": "CEL"},
            "name": {"type": "Property", "value": "old"},
        },
    )
    before = retrieve(client, ID, params={"options": "sysAttrs"})

    response = client.put(
        f"/entities/{ID}",
        json={
            "type": "Sensor",
            "temperature": {"type": "Property", "value": 25},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID) == {
        "id": ID,
        "type": "Sensor",
        "temperature": {"type": "Property", "value": 25},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
    }
    after = retrieve(client, ID, params={"options": "sysAttrs"})
    assert after["createdAt"] == before["createdAt"]
    assert after["modifiedAt"] > before["modifiedAt"]


def test_put_entity_with_a_different_id_in_the_body_is_400(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "a": 1})

    response = client.put(f"/entities/{ID}", json={"id": "urn:ngsi-ld:Sensor:other", "type": "Sensor"})

    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, ID) == {"id": ID, "type": "Sensor", "a": {"type": "Property", "value": 1}}


def test_put_unknown_entity_is_404(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor"})

    response = client.put("/entities/urn:ngsi-ld:Sensor:nobody", json={"type": "Sensor", "a": 1})

    assert_problem(response, 404, "ResourceNotFound")


# PATCH /entities/{id} (merge) ---------------------------------------------------------------------------
def test_merge_entity_updates_adds_and_deletes_with_ngsi_ld_null(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "temperature": {"type": "Property", "value": 20, "unitCode": "CEL"},
            "name": {"type": "Property", "value": "old"},
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        },
    )

    response = client.patch(
        f"/entities/{ID}",
        json={
            "temperature": {"type": "Property", "value": 21},
            "name": "urn:ngsi-ld:null",
            "humidity": {"type": "Property", "value": 60},
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID) == {
        "id": ID,
        "type": "Sensor",
        "temperature": {"type": "Property", "value": 21, "unitCode": "CEL"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        "humidity": {"type": "Property", "value": 60},
    }


def test_merge_entity_merges_sub_attributes(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "temperature": {
                "type": "Property",
                "value": 20,
                "accuracy": {"type": "Property", "value": 0.5},
                "calibrated": {"type": "Property", "value": True},
                "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
            },
        },
    )

    response = client.patch(
        f"/entities/{ID}",
        json={
            "temperature": {
                "type": "Property",
                "value": 21,
                "accuracy": {"type": "Property", "value": 0.1},
                "calibrated": "urn:ngsi-ld:null",
                "source": {"type": "Property", "value": "lab"},
            }
        },
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["temperature"] == {
        "type": "Property",
        "value": 21,
        "accuracy": {"type": "Property", "value": 0.1},
        "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
        "source": {"type": "Property", "value": "lab"},
    }


def test_merge_entity_fragment_without_value_keeps_the_value(client: httpx.Client) -> None:
    create(
        client,
        {"id": ID, "type": "Sensor", "temperature": {"type": "Property", "value": 20, "unitCode": "CEL"}},
    )

    response = client.patch(
        f"/entities/{ID}", json={"temperature": {"accuracy": {"type": "Property", "value": 0.1}}}
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["temperature"] == {
        "type": "Property",
        "value": 20,
        "unitCode": "CEL",
        "accuracy": {"type": "Property", "value": 0.1},
    }


def test_merge_entity_accepts_merge_patch_media_type(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "a": 1})

    response = client.patch(
        f"/entities/{ID}",
        content=b'{"a": {"type": "Property", "value": 2}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )

    assert response.status_code == 204
    assert retrieve(client, ID)["a"] == {"type": "Property", "value": 2}


def test_merge_entity_keeps_untouched_attributes_modified_at(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "a": 1, "b": 2})
    before = retrieve(client, ID, params={"options": "sysAttrs"})

    assert client.patch(f"/entities/{ID}", json={"a": 10}).status_code == 204
    after = retrieve(client, ID, params={"options": "sysAttrs"})

    assert masked(after) == {
        "id": ID,
        "type": "Sensor",
        "createdAt": SYS,
        "modifiedAt": SYS,
        "a": {"type": "Property", "value": 10, "createdAt": SYS, "modifiedAt": SYS},
        "b": {"type": "Property", "value": 2, "createdAt": SYS, "modifiedAt": SYS},
    }
    assert after["a"]["createdAt"] == before["a"]["createdAt"]
    assert after["a"]["modifiedAt"] > before["a"]["modifiedAt"]
    assert after["b"] == before["b"]
    assert after["modifiedAt"] > before["modifiedAt"]


def test_merge_unknown_entity_is_404(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor"})

    response = client.patch(
        "/entities/urn:ngsi-ld:Sensor:nobody", json={"a": {"type": "Property", "value": 1}}
    )

    assert_problem(response, 404, "ResourceNotFound")


# DELETE /entities/{id} --------------------------------------------------------------------------------
def test_delete_entity_removes_it(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "a": 1})
    create(client, {"id": "urn:ngsi-ld:Sensor:kept", "type": "Sensor"})

    response = client.delete(f"/entities/{ID}")

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/entities/{ID}"), 404, "ResourceNotFound")
    assert retrieve(client, "urn:ngsi-ld:Sensor:kept") == {"id": "urn:ngsi-ld:Sensor:kept", "type": "Sensor"}


def test_delete_unknown_entity_is_404(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor"})
    assert client.delete(f"/entities/{ID}").status_code == 204

    assert_problem(client.delete(f"/entities/{ID}"), 404, "ResourceNotFound")


def test_deleted_entity_id_can_be_created_again(client: httpx.Client) -> None:
    create(client, {"id": ID, "type": "Sensor", "a": 1})
    assert client.delete(f"/entities/{ID}").status_code == 204

    create(client, {"id": ID, "type": "Sensor", "b": 2})

    assert retrieve(client, ID) == {"id": ID, "type": "Sensor", "b": {"type": "Property", "value": 2}}
