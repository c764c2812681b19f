"""/types and /attributes (clauses 5.7.5-5.7.10), compacted with the caller's @context."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.broker_adapter.api.conftest import EX
from tests.support.ngsild import assert_problem, context_link

DC = "https://uri.etsi.org/ngsi-ld/default-context/"
ENTITIES: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:Sensor:1",
        "type": "Sensor",
        "temperature": [
            {"type": "Property", "value": 1},
            {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
    },
    {"id": "urn:ngsi-ld:Sensor:2", "type": "Sensor", "temperature": {"type": "Property", "value": 3}},
    {
        "id": "urn:ngsi-ld:Building:1",
        "type": ["Building", "Sensor"],
        "owner": {"type": "Property", "value": "city"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7, 49]}},
    },
]


@pytest.fixture
def seeded(client: httpx.Client, user_context_url: str) -> httpx.Client:
    """Entities created with the user @context (temperature and Sensor expand to example.org)."""
    headers = {"Link": context_link(user_context_url)}
    response = client.post("/entityOperations/create", json=ENTITIES, headers=headers)
    assert response.status_code == 201, response.text
    client.headers["Link"] = context_link(user_context_url)
    return client


def test_types_lists_the_type_names(seeded: httpx.Client) -> None:
    body = seeded.get("/types").json()
    assert body["type"] == "EntityTypeList" and body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert sorted(body["typeList"]) == ["Building", "Sensor"]


def test_types_are_compacted_with_the_callers_context(seeded: httpx.Client) -> None:
    del seeded.headers["Link"]
    assert sorted(seeded.get("/types").json()["typeList"]) == ["Building", EX + "Sensor"]


def test_types_with_details(seeded: httpx.Client) -> None:
    body = seeded.get("/types", params={"details": "true"}).json()
    assert body == [
        {
            "id": DC + "Building",
            "type": "EntityType",
            "typeName": "Building",
            "attributeNames": ["location", "owner"],
        },
        {
            "id": EX + "Sensor",
            "type": "EntityType",
            "typeName": "Sensor",
            "attributeNames": ["location", "owner", "temperature"],
        },
    ]


def test_type_info(seeded: httpx.Client) -> None:
    body = seeded.get("/types/Sensor").json()
    assert body == {
        "id": EX + "Sensor",
        "type": "EntityTypeInfo",
        "typeName": "Sensor",
        "entityCount": 3,
        "attributeDetails": [
            {
                "id": "https://uri.etsi.org/ngsi-ld/location",
                "type": "Attribute",
                "attributeName": "location",
                "attributeTypes": ["GeoProperty"],
            },
            {
                "id": DC + "owner",
                "type": "Attribute",
                "attributeName": "owner",
                "attributeTypes": ["Property", "Relationship"],
            },
            {
                "id": EX + "temperature",
                "type": "Attribute",
                "attributeName": "temperature",
                "attributeTypes": ["Property"],
            },
        ],
    }


def test_attributes_list_and_details(seeded: httpx.Client) -> None:
    body = seeded.get("/attributes").json()
    assert body["type"] == "AttributeList" and sorted(body["attributeList"]) == [
        "location",
        "owner",
        "temperature",
    ]
    details = seeded.get("/attributes", params={"details": "true"}).json()
    temperature = next(d for d in details if d["attributeName"] == "temperature")
    assert temperature == {
        "id": EX + "temperature",
        "type": "Attribute",
        "attributeName": "temperature",
        "attributeCount": 3,
        "attributeTypes": ["Property"],
        "typeNames": ["Sensor"],
    }


def test_attribute_info(seeded: httpx.Client) -> None:
    body = seeded.get("/attributes/owner").json()
    assert body == {
        "id": DC + "owner",
        "type": "Attribute",
        "attributeName": "owner",
        "attributeCount": 2,
        "attributeTypes": ["Property", "Relationship"],
        "typeNames": ["Building", "Sensor"],
    }


def test_json_ld_responses_carry_the_context(seeded: httpx.Client, user_context_url: str) -> None:
    response = seeded.get("/attributes/owner", headers={"Accept": "application/ld+json"})
    assert response.headers["content-type"].startswith("application/ld+json")
    assert response.json()["@context"] == user_context_url


@pytest.mark.parametrize("path", ["/types/Nothing", "/attributes/nothing"])
def test_unknown_type_or_attribute_is_404(seeded: httpx.Client, path: str) -> None:
    assert_problem(seeded.get(path), 404, "ResourceNotFound")


def test_details_must_be_a_boolean(seeded: httpx.Client) -> None:
    assert_problem(seeded.get("/types", params={"details": "yes"}), 400, "BadRequestData")
