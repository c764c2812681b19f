"""Multi-tenancy over the NGSILD-Tenant header (clause 5.5.10; HTTP binding 6.3.14) on a real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fixtures_b import new_id
from tests.support.ngsild import assert_problem
from tests.support.server import BrokerProcess


@pytest.fixture
def api(broker: BrokerProcess) -> Iterator[httpx.Client]:
    """A client without a tenant header; tests name the tenant per request."""
    with httpx.Client(base_url=broker.url + "/ngsi-ld/v1", timeout=10) as c:
        yield c


def _t(name: str) -> dict[str, str]:
    return {"NGSILD-Tenant": name}


def _fresh() -> str:
    return "t" + uuid.uuid4().hex[:12]


def _vehicle(entity_id: str, speed: int) -> dict:
    return {"id": entity_id, "type": "Vehicle", "speed": {"type": "Property", "value": speed}}


def test_first_create_entity_creates_the_tenant(api: httpx.Client) -> None:
    tenant, entity_id = _fresh(), new_id("Vehicle")
    assert_problem(
        api.get("/entities", params={"type": "Vehicle"}, headers=_t(tenant)), 404, "NonexistentTenant"
    )
    assert api.post("/entities", json=_vehicle(entity_id, 1), headers=_t(tenant)).status_code == 201
    response = api.get("/entities", params={"type": "Vehicle"}, headers=_t(tenant))
    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == [entity_id]


def test_first_batch_create_creates_the_tenant(api: httpx.Client) -> None:
    tenant, entity_id = _fresh(), new_id("Vehicle")
    response = api.post("/entityOperations/create", json=[_vehicle(entity_id, 1)], headers=_t(tenant))
    assert response.status_code == 201, response.text
    assert api.get(f"/entities/{entity_id}", headers=_t(tenant)).json()["speed"]["value"] == 1


@pytest.mark.parametrize(
    "path",
    ["/entities/urn:ngsi-ld:Vehicle:x", "/entities?type=Vehicle", "/entities?id=urn:ngsi-ld:Vehicle:x"],
)
def test_reading_an_unknown_tenant_is_nonexistent_tenant(api: httpx.Client, path: str) -> None:
    assert_problem(api.get(path, headers=_t(_fresh())), 404, "NonexistentTenant")


def test_a_refused_create_does_not_create_the_tenant(api: httpx.Client) -> None:
    tenant = _fresh()
    response = api.post("/entities", json={"id": "not a uri", "type": "Vehicle"}, headers=_t(tenant))
    assert_problem(response, 400, "BadRequestData")
    assert_problem(
        api.get("/entities", params={"type": "Vehicle"}, headers=_t(tenant)), 404, "NonexistentTenant"
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/entities/urn:ngsi-ld:Vehicle:x/attrs", {"speed": {"type": "Property", "value": 1}}),
        ("POST", "/entities/urn:ngsi-ld:Vehicle:x/attrs", {"speed": {"type": "Property", "value": 1}}),
        ("DELETE", "/entities/urn:ngsi-ld:Vehicle:x", None),
        ("POST", "/entityOperations/update", [_vehicle("urn:ngsi-ld:Vehicle:x", 1)]),
        ("POST", "/entityOperations/delete", ["urn:ngsi-ld:Vehicle:x"]),
        ("POST", "/entityOperations/merge", [_vehicle("urn:ngsi-ld:Vehicle:x", 1)]),
    ],
    ids=["update-attrs", "append-attrs", "delete-entity", "batch-update", "batch-delete", "batch-merge"],
)
def test_changing_an_unknown_tenant_is_nonexistent_tenant_and_creates_nothing(
    api: httpx.Client, method: str, path: str, body: object
) -> None:
    """5.5.10: only creating operations create a tenant; updating, appending or deleting in a
    non-existing tenant should raise NonexistentTenant."""
    tenant = _fresh()
    response = api.request(method, path, json=body, headers=_t(tenant))
    assert_problem(response, 404, "NonexistentTenant")
    assert_problem(
        api.get("/entities", params={"type": "Vehicle"}, headers=_t(tenant)), 404, "NonexistentTenant"
    )


def test_tenants_are_isolated(api: httpx.Client) -> None:
    a, b, entity_id = _fresh(), _fresh(), new_id("Vehicle")
    assert api.post("/entities", json=_vehicle(entity_id, 1), headers=_t(a)).status_code == 201
    assert api.post("/entities", json=_vehicle(entity_id, 2), headers=_t(b)).status_code == 201
    assert api.get(f"/entities/{entity_id}", headers=_t(a)).json()["speed"]["value"] == 1
    assert api.get(f"/entities/{entity_id}", headers=_t(b)).json()["speed"]["value"] == 2
    for tenant, speed in ((a, 1), (b, 2)):
        listed = api.get("/entities", params={"type": "Vehicle"}, headers=_t(tenant)).json()
        assert [(e["id"], e["speed"]["value"]) for e in listed] == [(entity_id, speed)]
    # the default tenant (no header) sees neither
    assert_problem(api.get(f"/entities/{entity_id}"), 404, "ResourceNotFound")


def test_deleting_in_one_tenant_leaves_the_other(api: httpx.Client) -> None:
    a, b, entity_id = _fresh(), _fresh(), new_id("Vehicle")
    for tenant in (a, b):
        assert api.post("/entities", json=_vehicle(entity_id, 1), headers=_t(tenant)).status_code == 201
    assert api.delete(f"/entities/{entity_id}", headers=_t(a)).status_code == 204
    assert_problem(api.get(f"/entities/{entity_id}", headers=_t(a)), 404, "ResourceNotFound")
    assert api.get(f"/entities/{entity_id}", headers=_t(b)).json()["speed"]["value"] == 1


def test_batch_operations_stay_in_their_tenant(api: httpx.Client) -> None:
    a, b, entity_id = _fresh(), _fresh(), new_id("Vehicle")
    assert api.post("/entities", json=_vehicle(entity_id, 1), headers=_t(a)).status_code == 201
    # an upsert in b creates b's own entity instead of touching a's
    response = api.post("/entityOperations/upsert", json=[_vehicle(entity_id, 2)], headers=_t(b))
    assert response.status_code == 201, response.text
    assert api.post("/entityOperations/delete", json=[entity_id], headers=_t(b)).status_code == 204
    assert api.get(f"/entities/{entity_id}", headers=_t(a)).json()["speed"]["value"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/entities/{id}", None),
        ("GET", "/entities?type=Vehicle", None),
        ("POST", "/entityOperations/upsert", "batch"),
        ("PATCH", "/entities/{id}/attrs", {"speed": {"type": "Property", "value": 3}}),
    ],
    ids=["retrieve", "query", "batch-upsert", "update-attrs"],
)
def test_responses_name_the_tenant(api: httpx.Client, method: str, path: str, body: object) -> None:
    """5.5.10: "In case an operation applies to a Tenant, this information shall also be provided in the
    response to the operation" (HTTP binding: the NGSILD-Tenant response header)."""
    tenant, entity_id = _fresh(), new_id("Vehicle")
    created = api.post("/entities", json=_vehicle(entity_id, 1), headers=_t(tenant))
    assert created.headers.get("NGSILD-Tenant") == tenant
    payload = [_vehicle(entity_id, 2)] if body == "batch" else body
    response = api.request(method, path.format(id=entity_id), json=payload, headers=_t(tenant))
    assert response.status_code < 300, response.text
    assert response.headers.get("NGSILD-Tenant") == tenant


@pytest.mark.parametrize("name", ["", "a b", "a/b", "../etc", "x" * 65, "semi;colon", "-lead", "dot.ted"])
def test_invalid_tenant_names_are_refused_and_nothing_is_written(api: httpx.Client, name: str) -> None:
    entity_id = new_id("Vehicle")
    response = api.post("/entities", json=_vehicle(entity_id, 1), headers=_t(name))
    assert_problem(response, 400, ("BadRequestData", "InvalidRequest"))
    assert_problem(
        api.get(f"/entities/{entity_id}", headers=_t(name)), 400, ("BadRequestData", "InvalidRequest")
    )
    assert_problem(api.get(f"/entities/{entity_id}"), 404, "ResourceNotFound")
