"""The provisioning API answers as iotagent-node-lib does (status codes, bodies, error names)."""

from __future__ import annotations

import httpx
import pytest

GROUP = {
    "apikey": "key1",
    "resource": "/iot/json",
    "entity_type": "WaterObserved",
    "attributes": [{"object_id": "d", "name": "distance", "type": "Number"}],
}


def test_groups_are_created_listed_updated_and_deleted(north: httpx.Client, service: str) -> None:
    created = north.post("/iot/groups", json={"groups": [GROUP]})
    assert (created.status_code, created.json()) == (201, {})

    listed = north.get("/iot/groups").json()
    assert listed["count"] == 1
    assert listed["groups"][0] | {} == {**GROUP, "service": service, "subservice": "/"}
    assert north.get("/iot/services").json()["services"] == listed["groups"]

    changed = north.put(
        "/iot/groups", params={"resource": "/iot/json", "apikey": "key1"}, json={"timestamp": True}
    )
    assert changed.status_code == 204
    assert north.get("/iot/groups").json()["groups"][0]["timestamp"] is True

    assert north.delete("/iot/groups", params={"resource": "/iot/json", "apikey": "key1"}).status_code == 204
    assert north.get("/iot/groups").json() == {"count": 0, "groups": []}


def test_services_alias_uses_the_services_key(north: httpx.Client) -> None:
    assert north.post("/iot/services", json={"services": [GROUP]}).status_code == 201
    duplicate = north.post("/iot/groups", json={"groups": [GROUP]})
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "name": "DUPLICATE_GROUP",
        "message": "A device configuration already exists for resource /iot/json and API Key key1",
    }


def test_devices_are_created_listed_paged_updated_and_deleted(north: httpx.Client, service: str) -> None:
    devices = [
        {"device_id": f"dev{n}", "entity_type": "Thing", "protocol": "PDI-IoTA-UltraLight"} for n in range(3)
    ]
    assert north.post("/iot/devices", json={"devices": devices}).json() == {}

    page = north.get("/iot/devices", params={"limit": 2, "offset": 1}).json()
    assert page["count"] == 3
    assert [d["device_id"] for d in page["devices"]] == ["dev1", "dev2"]
    one = north.get("/iot/devices/dev0").json()
    assert one == {**devices[0], "service": service, "service_path": "/"}

    assert north.put("/iot/devices/dev0", json={"entity_name": "urn:ngsi-ld:Thing:zero"}).status_code == 204
    assert north.get("/iot/devices/dev0").json()["entity_name"] == "urn:ngsi-ld:Thing:zero"
    assert north.delete("/iot/devices/dev0").status_code == 204
    missing = north.get("/iot/devices/dev0")
    assert (missing.status_code, missing.json()) == (
        404,
        {"name": "DEVICE_NOT_FOUND", "message": "No device was found with id:dev0"},
    )


def test_provisioning_survives_a_restart(tmp_path) -> None:
    from tests.agents.support import PlatformProcess

    first = PlatformProcess(tmp_path / "data", command="agents").start()
    headers = {"fiware-service": "kusel", "fiware-servicepath": "/pegel"}
    try:
        httpx.post(first.north + "/iot/groups", json={"groups": [GROUP]}, headers=headers).raise_for_status()
        httpx.post(first.north + "/iot/devices", json={"devices": [{"device_id": "p1"}]}, headers=headers)
    finally:
        first.stop()
    second = PlatformProcess(tmp_path / "data", command="agents").start()
    try:
        assert httpx.get(second.north + "/iot/groups", headers=headers).json()["count"] == 1
        assert httpx.get(second.north + "/iot/devices/p1", headers=headers).status_code == 200
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "name"),
    [
        ("post", "/iot/devices", {"json": {"devices": [{"entity_type": "T"}]}}, 400, "MISSING_ATTRIBUTES"),
        ("post", "/iot/devices", {"json": {"devices": [{"device_id": "a(b)"}]}}, 400, "WRONG_SYNTAX"),
        ("post", "/iot/devices", {"json": {"devices": "nope"}}, 400, "WRONG_SYNTAX"),
        ("post", "/iot/devices", {"content": b"{not json"}, 400, "WRONG_SYNTAX"),
        ("post", "/iot/groups", {"json": {"groups": [{"apikey": "k"}]}}, 400, "WRONG_SYNTAX"),
        (
            "post",
            "/iot/groups",
            {"json": {"groups": [{**GROUP, "attributes": [{"name": "x"}]}]}},
            400,
            "WRONG_SYNTAX",
        ),
        (
            "post",
            "/iot/groups",
            {
                "json": {
                    "groups": [
                        {**GROUP, "attributes": [{"name": "x", "type": "Number", "expression": "d *"}]}
                    ]
                }
            },
            400,
            "WRONG_SYNTAX",
        ),
        ("put", "/iot/groups", {"params": {"resource": "/iot/json"}, "json": {}}, 400, "MISSING_HEADERS"),
        (
            "put",
            "/iot/groups",
            {"params": {"resource": "/x", "apikey": "y"}, "json": {}},
            404,
            "DEVICE_GROUP_NOT_FOUND",
        ),
        ("delete", "/iot/devices/ghost", {}, 404, "DEVICE_NOT_FOUND"),
        ("put", "/iot/devices/ghost", {"json": {"device_id": "other"}}, 400, "BAD_REQUEST"),
    ],
)
def test_bad_provisioning_requests_get_the_library_errors(
    north: httpx.Client, method: str, path: str, kwargs: dict, status: int, name: str
) -> None:
    response = getattr(north, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["name"] == name
    assert set(response.json()) == {"name", "message"}


def test_fiware_headers_are_mandatory(platform) -> None:
    response = httpx.get(platform.north + "/iot/devices", headers={"fiware-service": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "name": "MISSING_HEADERS",
        "message": 'Some headers were missing from the request: ["fiware-servicepath"]',
    }


def test_about_health_ready_and_metrics(platform) -> None:
    assert "libVersion" in httpx.get(platform.north + "/iot/about").json()
    assert httpx.get(platform.north + "/health").json() == {"status": "ok"}
    assert httpx.get(platform.north + "/ready").json()["status"] == "ready"
    assert "verbund_agents_outbox_pending" in httpx.get(platform.north + "/metrics").text
