"""Linked entity retrieval (ETSI GS CIM 009 v1.8 clause 4.5.23): join=inline|flat and joinLevel, on query
and retrieve, with the simplified form and nested pick projections."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.ngsild import assert_problem

B1, B2 = "urn:ngsi-ld:Building:b1", "urn:ngsi-ld:Building:b2"
C1, C2 = "urn:ngsi-ld:City:c1", "urn:ngsi-ld:City:c2"
DE = "urn:ngsi-ld:Country:de"


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _name(value: str) -> dict[str, Any]:
    return {"type": "Property", "value": value}


CITY1 = {"id": C1, "type": "City", "name": _name("Kusel"), "isInCountry": _rel(DE)}
CITY2 = {"id": C2, "type": "City", "name": _name("Mayen"), "isInCountry": _rel(DE)}
COUNTRY = {"id": DE, "type": "Country", "name": _name("Deutschland")}
BUILDINGS = [
    {"id": B1, "type": "Building", "locatedAt": _rel(C1)},
    {"id": B2, "type": "Building", "locatedAt": _rel(C2)},
]


@pytest.fixture
def linked(client: httpx.Client) -> httpx.Client:
    response = client.post("/entityOperations/create", json=[*BUILDINGS, CITY1, CITY2, COUNTRY])
    assert response.status_code == 201, response.text
    return client


def _query(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = client.get("/entities", params={"type": "Building", "joinLevel": "1", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_inline_puts_the_linked_entity_into_the_relationship(linked: httpx.Client) -> None:
    body = _query(linked, join="inline")

    assert body == [
        {"id": B1, "type": "Building", "locatedAt": {**_rel(C1), "entity": CITY1}},
        {"id": B2, "type": "Building", "locatedAt": {**_rel(C2), "entity": CITY2}},
    ]


def test_flat_lists_the_linked_entities_after_the_results(linked: httpx.Client) -> None:
    assert _query(linked, join="flat") == [*BUILDINGS, CITY1, CITY2]


def test_inline_simplified_replaces_the_relationship_by_the_entity(linked: httpx.Client) -> None:
    body = _query(linked, join="inline", options="keyValues")

    city = {"id": C1, "type": "City", "name": "Kusel", "isInCountry": DE}
    assert body[0] == {"id": B1, "type": "Building", "locatedAt": city}


def test_flat_simplified(linked: httpx.Client) -> None:
    body = _query(linked, join="flat", options="keyValues")

    assert [e["id"] for e in body] == [B1, B2, C1, C2]
    assert body[0] == {"id": B1, "type": "Building", "locatedAt": C1}


def test_join_level_two_follows_two_hops_and_lists_each_entity_once(linked: httpx.Client) -> None:
    inline = _query(linked, join="inline", joinLevel="2")
    flat = _query(linked, join="flat", joinLevel="2")

    assert inline[0]["locatedAt"]["entity"]["isInCountry"]["entity"] == COUNTRY
    assert [e["id"] for e in flat] == [B1, B2, C1, C2, DE]


def test_a_nested_pick_projects_the_linked_entities(linked: httpx.Client) -> None:
    body = _query(linked, join="inline", pick="id,locatedAt{id,name}")

    assert body[0] == {"id": B1, "locatedAt": {**_rel(C1), "entity": {"id": C1, "name": CITY1["name"]}}}


def test_a_missing_target_leaves_the_relationship_alone(client: httpx.Client) -> None:
    lonely = {"id": B1, "type": "Building", "locatedAt": _rel("urn:ngsi-ld:City:nowhere")}
    assert client.post("/entities", json=lonely).status_code == 201

    assert _query(client, join="inline") == [lonely]
    assert _query(client, join="flat") == [lonely]
    assert client.get(f"/entities/{B1}", params={"join": "flat"}).json() == lonely


def test_retrieve_joins_too(linked: httpx.Client) -> None:
    inline = linked.get(f"/entities/{B1}", params={"join": "inline", "joinLevel": "1"})
    flat = linked.get(f"/entities/{B1}", params={"join": "flat"}, headers={"Accept": "application/ld+json"})

    assert inline.json() == {"id": B1, "type": "Building", "locatedAt": {**_rel(C1), "entity": CITY1}}
    assert [e["id"] for e in flat.json()] == [B1, C1]
    assert all("@context" in e for e in flat.json())


@pytest.mark.parametrize(
    "params", [{"join": "sideways"}, {"join": "inline", "joinLevel": "0"}, {"join": "flat", "joinLevel": "x"}]
)
def test_a_bad_join_is_400(linked: httpx.Client, params: dict[str, str]) -> None:
    assert_problem(linked.get("/entities", params={"type": "Building", **params}), 400, "BadRequestData")
    assert_problem(linked.get(f"/entities/{B1}", params=params), 400, "BadRequestData")
