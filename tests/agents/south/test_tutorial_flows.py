"""FIWARE tutorial provisioning scripts, unchanged, produce the expected NGSI-LD entities in our broker.

The requests are the tutorials' curl commands (IoT-Agent / IoT-Agent-JSON / NGSI-LD variants): a config
group, devices, then measures over HTTP in UltraLight and JSON.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.receivers import wait_for

UL_KEY, JSON_KEY = "4jggokgpepnvsb2uv4s40d59ov", "1068318794"


def entity(ngsi: httpx.Client, entity_id: str, attr: str | None = None) -> dict:
    def ready() -> dict | None:
        response = ngsi.get(f"/entities/{entity_id}")
        if response.status_code == 200 and (attr is None or attr in response.json()):
            return response.json()
        return None

    return wait_for(ready, timeout=10)


def provision_ultralight(north: httpx.Client) -> None:
    north.post(
        "/iot/services",
        json={
            "services": [
                {
                    "apikey": UL_KEY,
                    "cbroker": "http://orion:1026",
                    "entity_type": "Thing",
                    "resource": "/iot/d",
                }
            ]
        },
    ).raise_for_status()
    north.post(
        "/iot/devices",
        json={
            "devices": [
                {
                    "device_id": "temperature001",
                    "entity_name": "urn:ngsi-ld:TemperatureSensor:001",
                    "entity_type": "TemperatureSensor",
                    "timezone": "Europe/Berlin",
                    "attributes": [
                        {
                            "object_id": "t",
                            "name": "temperature",
                            "type": "Number",
                            "metadata": {"unitCode": {"type": "Text", "value": "CEL"}},
                        }
                    ],
                    "static_attributes": [
                        {"name": "category", "type": "Property", "value": "sensor"},
                        {
                            "name": "refStore",
                            "type": "Relationship",
                            "value": "urn:ngsi-ld:Building:store001",
                        },
                        {
                            "name": "location",
                            "type": "geo:json",
                            "value": {"type": "Point", "coordinates": [13.3986, 52.5547]},
                        },
                    ],
                },
                {
                    "device_id": "motion001",
                    "entity_name": "urn:ngsi-ld:Motion:001",
                    "entity_type": "Motion",
                    "protocol": "PDI-IoTA-UltraLight",
                    "transport": "HTTP",
                    "attributes": [{"object_id": "c", "name": "count", "type": "Integer"}],
                },
            ]
        },
    ).raise_for_status()


def test_ultralight_tutorial_measures_become_ngsi_ld_entities(north, south, ngsi) -> None:
    provision_ultralight(north)
    headers = {"Content-Type": "text/plain"}
    params = {"k": UL_KEY, "i": "temperature001"}

    sent = south.post("/iot/d", params=params, headers=headers, content="t|3")
    assert (sent.status_code, sent.text) == (200, "")

    got = entity(ngsi, "urn:ngsi-ld:TemperatureSensor:001", "temperature")
    assert got["type"] == "TemperatureSensor"
    assert got["temperature"] == {"type": "Property", "value": 3, "unitCode": "CEL"}
    assert got["refStore"] == {"type": "Relationship", "object": "urn:ngsi-ld:Building:store001"}
    assert got["location"]["type"] == "GeoProperty"
    assert got["location"]["value"] == {"type": "Point", "coordinates": [13.3986, 52.5547]}

    # a leading timestamp, and two groups in one message: the later one wins, both are in order
    south.post(
        "/iot/d",
        params=params,
        headers=headers,
        content="2024-05-01T10:00:00Z|t|21.5#2024-05-01T10:05:00Z|t|22",
    ).raise_for_status()
    assert south.get("/iot/d", params={**params, "i": "motion001", "d": "c|7"}).status_code == 200

    got = wait_for(
        lambda: (e := entity(ngsi, "urn:ngsi-ld:TemperatureSensor:001"))["temperature"]["value"] == 22 and e
    )
    assert got["temperature"]["observedAt"] == "2024-05-01T10:05:00Z"
    assert entity(ngsi, "urn:ngsi-ld:Motion:001", "count")["count"]["value"] == 7


def test_json_tutorial_measures_with_expressions_and_multi_measure(north, south, ngsi) -> None:
    north.post(
        "/iot/groups",
        json={
            "groups": [
                {
                    "apikey": JSON_KEY,
                    "resource": "/iot/json",
                    "entity_type": "WaterObserved",
                    "timestamp": True,
                    "attributes": [
                        {
                            "object_id": "d",
                            "name": "distance",
                            "type": "Number",
                            "metadata": {"unitCode": {"type": "Text", "value": "MMT"}},
                        },
                        {
                            "name": "waterLevel",
                            "type": "Number",
                            "expression": "(mountingHeight - d) / 1000",
                            "metadata": {"unitCode": {"type": "Text", "value": "MTR"}},
                        },
                        {
                            "object_id": "s",
                            "name": "status",
                            "type": "Text",
                            "expression": "s | mapper([0, 1], ['ok', 'alarm'])",
                        },
                    ],
                    "static_attributes": [{"name": "mountingHeight", "type": "Number", "value": 3200}],
                }
            ]
        },
    ).raise_for_status()

    # autoprovisioned: the default entity id is urn:ngsi-ld:<entity_type>:<device_id>
    measures = [
        {"d": 1200, "s": 1, "TimeInstant": "2024-05-01T10:10:00Z"},
        {"d": 1000, "s": 0, "TimeInstant": "2024-05-01T10:00:00Z"},
    ]
    assert (
        south.post("/iot/json", params={"k": JSON_KEY, "i": "pegel-lauter-1"}, json=measures).status_code
        == 200
    )

    got = wait_for(
        lambda: (
            (e := entity(ngsi, "urn:ngsi-ld:WaterObserved:pegel-lauter-1", "waterLevel"))["waterLevel"][
                "value"
            ]
            == 2
            and e
        )
    )
    assert got["waterLevel"] == {
        "type": "Property",
        "value": 2,
        "unitCode": "MTR",
        "observedAt": "2024-05-01T10:10:00Z",
    }
    assert got["status"]["value"] == "alarm"
    assert got["distance"]["unitCode"] == "MMT"

    history = ngsi.get(
        "/temporal/entities/urn:ngsi-ld:WaterObserved:pegel-lauter-1", params={"attrs": "distance"}
    )
    if (
        history.status_code == 200
    ):  # the temporal API comes with another issue; check the order when it is there
        values = [i["value"] for i in history.json()["distance"]]
        assert values == [1000, 1200]

    # GET with d=, one attribute by /attrs/<attr>, and t= for the timestamp
    assert (
        south.get("/iot/json", params={"k": JSON_KEY, "i": "pegel-lauter-2", "d": '{"d": 3000}'}).status_code
        == 200
    )
    attr = south.post(
        "/iot/json/attrs/d",
        params={"k": JSON_KEY, "i": "pegel-lauter-3"},
        headers={"Content-Type": "text/plain"},
        content="2500",
    )
    assert attr.status_code == 200
    assert (
        entity(ngsi, "urn:ngsi-ld:WaterObserved:pegel-lauter-2", "waterLevel")["waterLevel"]["value"] == 0.2
    )
    assert entity(ngsi, "urn:ngsi-ld:WaterObserved:pegel-lauter-3", "distance")["distance"]["value"] == 2500
    devices = north.get("/iot/devices").json()
    assert {d["device_id"] for d in devices["devices"]} == {
        "pegel-lauter-1",
        "pegel-lauter-2",
        "pegel-lauter-3",
    }


@pytest.mark.parametrize(
    ("path", "params", "body", "content_type", "status", "name"),
    [
        ("/iot/json", {"i": "d1"}, b"{}", "application/json", 400, "MANDATORY_PARAMS_NOT_FOUND"),
        (
            "/iot/json",
            {"k": "nokey", "i": "d1"},
            b'{"t": 1}',
            "application/json",
            404,
            "DEVICE_GROUP_NOT_FOUND",
        ),
        (
            "/iot/json",
            {"k": "closed", "i": "stranger"},
            b'{"t": 1}',
            "application/json",
            404,
            "DEVICE_NOT_FOUND",
        ),
        ("/iot/json", {"k": "closed", "i": "known"}, b'{"t": ', "application/json", 400, "BAD_PAYLOAD"),
        ("/iot/json", {"k": "closed", "i": "known"}, b"[1, 2]", "application/json", 400, "BAD_PAYLOAD"),
        ("/iot/json", {"k": "closed", "i": "known"}, b'{"t": 1}', "application/xml", 400, "UNSUPPORTED_TYPE"),
        ("/iot/json", {"k": "closed", "i": "known"}, b'{"t": "hot"}', "application/json", 400, "BAD_PAYLOAD"),
        (
            "/iot/json",
            {"k": "closed", "i": "known"},
            b'{"TimeInstant": "yesterday", "t": 1}',
            "application/json",
            400,
            "BAD_TIMESTAMP",
        ),
        (
            "/iot/json",
            {"k": "closed", "i": "known"},
            b'{"x": "abc"}',
            "application/json",
            400,
            "INVALID_EXPRESSION",
        ),
        (
            "/iot/d",
            {"k": "closed", "i": "known"},
            b"t|1|h",
            "text/plain",
            400,
            "BAD_TIMESTAMP",
        ),  # odd: leading stamp
        ("/iot/d", {"k": "closed", "i": "known"}, b"|1", "text/plain", 400, "BAD_PAYLOAD"),
    ],
)
def test_bad_measures_get_a_clear_error_and_write_nothing(
    north,
    south,
    ngsi,
    service,
    path,
    params,
    body,
    content_type,
    status,
    name,
) -> None:
    apikey = "closed-" + service  # (resource, apikey) is unique across services, as in the library
    params = {k: apikey if v == "closed" else v for k, v in params.items()}
    north.post(
        "/iot/groups",
        json={
            "groups": [
                {
                    "apikey": apikey,
                    "resource": path,
                    "entity_type": "Gauge",
                    "autoprovision": False,
                    "attributes": [
                        {"object_id": "t", "name": "temperature", "type": "Number"},
                        {"name": "broken", "type": "Number", "expression": "x | jsonparse"},
                    ],
                }
            ]
        },
    ).raise_for_status()
    north.post(
        "/iot/devices", json={"devices": [{"device_id": "known", "entity_type": "Gauge"}]}
    ).raise_for_status()

    response = south.post(path, params=params, content=body, headers={"Content-Type": content_type})

    assert response.status_code == status, response.text
    assert response.json()["name"] == name
    assert ngsi.get("/entities/urn:ngsi-ld:Gauge:known").status_code == 404
