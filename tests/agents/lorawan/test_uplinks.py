"""LoRaWAN uplinks from The Things Stack v3 and ChirpStack v4, as webhooks and over MQTT, decoded per
device and written as Smart Data Models entities (WaterObserved from a distance sensor, a traffic count)."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.agents.south.test_mqtt import publish
from tests.agents.south.test_tutorial_flows import entity
from tests.support.receivers import wait_for


def tts_uplink(dev_eui: str, frame: str, port: int = 1, decoded: dict | None = None) -> dict:
    message = {
        "f_port": port,
        "f_cnt": 42,
        "frm_payload": base64.b64encode(bytes.fromhex(frame)).decode(),
        "received_at": "2024-05-01T10:00:00.123456789Z",
    }
    if decoded is not None:
        message["decoded_payload"] = decoded
    return {
        "end_device_ids": {
            "device_id": "eui-" + dev_eui.lower(),
            "dev_eui": dev_eui,
            "application_ids": {"application_id": "pegel"},
        },
        "received_at": "2024-05-01T10:00:00.2Z",
        "uplink_message": message,
    }


def chirpstack_uplink(dev_eui: str, frame: str, port: int = 1, decoded: dict | None = None) -> dict:
    body = {
        "deduplicationId": "3d6d9c8e",
        "time": "2024-05-01T11:00:00+00:00",
        "deviceInfo": {
            "tenantId": "52f14cd4",
            "applicationId": "ca739e26",
            "deviceName": "sensor",
            "devEui": dev_eui.lower(),
            "deviceProfileName": "EM310",
        },
        "devAddr": "00189440",
        "fCnt": 10,
        "fPort": port,
        "data": base64.b64encode(bytes.fromhex(frame)).decode(),
    }
    if decoded is not None:
        body["object"] = decoded
    return body


def provision(
    north: httpx.Client, key: str, dev_eui: str, data_model: str, device_id: str = "level1"
) -> None:
    north.post(
        "/iot/groups",
        json={
            "groups": [
                {
                    "apikey": key,
                    "resource": "/iot/lorawan",
                    "entity_type": "WaterObserved",
                    "autoprovision": False,
                }
            ]
        },
    ).raise_for_status()
    north.post(
        "/iot/devices",
        json={
            "devices": [
                {
                    "device_id": device_id,
                    "entity_type": "WaterObserved",
                    "protocol": "LORAWAN",
                    "attributes": [
                        {
                            "object_id": "distance",
                            "name": "distance",
                            "type": "Number",
                            "metadata": {"unitCode": {"type": "Text", "value": "MMT"}},
                        },
                        {
                            "name": "height",
                            "type": "Number",
                            "expression": "(mountingHeight - distance) / 1000",
                            "metadata": {"unitCode": {"type": "Text", "value": "MTR"}},
                        },
                    ],
                    "static_attributes": [{"name": "mountingHeight", "type": "Number", "value": 4000}],
                    "internal_attributes": {
                        "lorawan": {
                            "application_server": {"host": "eu1.cloud.thethings.network", "provider": "TTN"},
                            "dev_eui": dev_eui,
                            "app_eui": "70B3D57ED000985F",
                            "application_id": "pegel",
                            "data_model": data_model,
                        }
                    },
                }
            ]
        },
    ).raise_for_status()


@pytest.mark.parametrize(
    ("provider", "make", "data_model", "frame", "decoded", "distance"),
    [
        ("tts", tts_uplink, "decentlab_dl_mbx", "02012f000304d200010bb1", None, 1234),
        ("tts", tts_uplink, "application_server", "00", {"distance": 1500}, 1500),
        ("chirpstack", chirpstack_uplink, "milesight_em310_udl", "01755c03824408040001", None, 2116),
        ("chirpstack", chirpstack_uplink, "milesight_em500_udl", "01756403821e00", None, 30),
    ],
)
def test_webhook_uplinks_become_water_levels(
    north,
    south,
    ngsi,
    service,
    provider,
    make,
    data_model,
    frame,
    decoded,
    distance,
) -> None:
    key, eui = "lora-" + service, "70B3D57ED0050" + service[-3:].upper()
    provision(north, key, eui, data_model)

    sent = south.post(f"/iot/lorawan/{provider}", params={"k": key}, json=make(eui, frame, decoded=decoded))

    assert sent.status_code == 200, sent.text
    got = entity(ngsi, "urn:ngsi-ld:WaterObserved:level1", "height")
    assert got["distance"]["value"] == distance
    assert got["height"]["value"] == pytest.approx((4000 - distance) / 1000)
    assert got["height"]["observedAt"].startswith("2024-05-01T1")


def test_traffic_counter_over_the_things_stack_mqtt(platform, north, ngsi, service, mosquitto) -> None:
    wait_for(lambda: "MQTT southbound connected" in platform.log(), timeout=10)
    eui = "0004A30B001C" + service[-4:].upper()
    north.post(
        "/iot/devices",
        json={
            "devices": [
                {
                    "device_id": "pcr2-" + service,
                    "entity_type": "TrafficFlowObserved",
                    "attributes": [
                        {"object_id": "LTR", "name": "intensityLeftToRight", "type": "Integer"},
                        {"object_id": "RTL", "name": "intensityRightToLeft", "type": "Integer"},
                        {"name": "intensity", "type": "Integer", "expression": "LTR + RTL"},
                    ],
                    "internal_attributes": {"lorawan": {"dev_eui": eui, "data_model": "parametric_pcr2"}},
                    "explicitAttrs": True,
                }
            ]
        },
    ).raise_for_status()

    publish(
        mosquitto.port,
        f"v3/traffic@ttn/devices/eui-{eui.lower()}/up",
        httpx.Request(
            "POST", "/", json=tts_uplink(eui, "be010400010002000300041c200ce40139", port=14)
        ).content,
    )

    got = entity(ngsi, f"urn:ngsi-ld:TrafficFlowObserved:pcr2-{service}", "intensity")
    assert (got["intensityLeftToRight"]["value"], got["intensityRightToLeft"]["value"]) == (1, 2)
    assert got["intensity"]["value"] == 3
    assert "TEMP" not in got  # explicitAttrs: only what is provisioned


def test_chirpstack_uplink_over_mqtt_with_cayenne(platform, north, ngsi, service, mosquitto) -> None:
    wait_for(lambda: "MQTT southbound connected" in platform.log(), timeout=10)
    eui = "A84041000181" + service[-4:].upper()
    north.post(
        "/iot/devices",
        json={
            "devices": [
                {
                    "device_id": "th-" + service,
                    "entity_type": "WeatherObserved",
                    "attributes": [{"object_id": "temperature_3", "name": "temperature", "type": "Number"}],
                    "internal_attributes": [{"lorawan": {"dev_eui": eui, "data_model": "cayennelpp"}}],
                }
            ]
        },
    ).raise_for_status()
    body = chirpstack_uplink(eui, "03670110056700ff")
    publish(
        mosquitto.port,
        f"application/ca739e26/device/{eui.lower()}/event/up",
        httpx.Request("POST", "/", json=body).content,
    )
    got = entity(ngsi, f"urn:ngsi-ld:WeatherObserved:th-{service}", "temperature")
    assert got["temperature"]["value"] == 27.2
    assert got["temperature_5"]["value"] == 25.5


@pytest.mark.parametrize(
    ("params", "body", "status", "name"),
    [
        ({}, {"end_device_ids": {}}, 400, "MANDATORY_PARAMS_NOT_FOUND"),
        ({"k": "{key}"}, "not json", 400, "BAD_PAYLOAD"),
        ({"k": "{key}"}, {"uplink": 1}, 400, "BAD_PAYLOAD"),
        ({"k": "{key}"}, "frame:03012f00020bb1", 400, "BAD_PAYLOAD"),
        ({"k": "{key}"}, "eui:FFFFFFFFFFFFFFFF", 404, "DEVICE_NOT_FOUND"),
        ({"k": "wrong-key"}, "frame:02012f00020bb1", 404, "DEVICE_NOT_FOUND"),
    ],
)
def test_bad_uplinks_are_refused_and_write_nothing(
    north, south, ngsi, service, params, body, status, name
) -> None:
    key, eui = "lora-" + service, "70B3D57ED0051" + service[-3:].upper()
    provision(north, key, eui, "decentlab_dl_mbx", device_id="broken1")
    params = {k: v.format(key=key) for k, v in params.items()}
    if isinstance(body, str) and body.startswith("frame:"):
        body = tts_uplink(eui, body[6:])
    elif isinstance(body, str) and body.startswith("eui:"):
        body = tts_uplink(body[4:], "02012f00020bb1")
    content = body.encode() if isinstance(body, str) else httpx.Request("POST", "/", json=body).content
    response = south.post(
        "/iot/lorawan/tts", params=params, content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["name"] == name
    assert ngsi.get("/entities/urn:ngsi-ld:WaterObserved:broken1").status_code == 404
