"""IoTA-JSON and UltraLight over a real Mosquitto: topics with and without the leading slash."""

from __future__ import annotations

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.agents.south.test_tutorial_flows import entity
from tests.support.receivers import wait_for


def publish(port: int, topic: str, payload: bytes | str) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def mqtt_ready(platform, mosquitto):
    wait_for(lambda: "MQTT southbound connected" in platform.log(), timeout=10)
    return mosquitto.port


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("/{key}/{dev}/attrs", '{"t": 21.5, "h": 40}', {"temperature": 21.5, "h": 40}),
        ("{key}/{dev}/attrs", '{"t": 22}', {"temperature": 22}),
        (
            "/json/{key}/{dev}/attrs",
            '[{"t": 1, "TimeInstant": "2024-01-01T00:00:01Z"},'
            ' {"t": 0.5, "TimeInstant": "2024-01-01T00:00:00Z"}]',
            {"temperature": 1},
        ),
        ("json/{key}/{dev}/attrs/t", "23", {"temperature": 23}),
        ("/ul/{key}/{dev}/attrs", "t|24|h|41", {"temperature": 24, "h": "41"}),
        ("/{key}/{dev}/attrs", "t|25", {"temperature": 25}),
    ],
)
def test_mqtt_measures_reach_the_broker(north, ngsi, service, mqtt_ready, topic, payload, expected) -> None:
    key = "mqtt-" + service
    north.post(
        "/iot/groups",
        json={
            "groups": [
                {
                    "apikey": key,
                    "resource": "/iot/json",
                    "entity_type": "Thermometer",
                    "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
                }
            ]
        },
    ).raise_for_status()

    publish(mqtt_ready, topic.format(key=key, dev="th1"), payload)

    def arrived() -> bool:
        got = entity(ngsi, "urn:ngsi-ld:Thermometer:th1", "temperature")
        return all(name in got and got[name]["value"] == value for name, value in expected.items())

    wait_for(arrived)


def test_a_bad_mqtt_measure_is_logged_and_writes_nothing(platform, north, ngsi, service, mqtt_ready) -> None:
    north.post(
        "/iot/groups",
        json={
            "groups": [
                {
                    "apikey": "m-" + service,
                    "resource": "/iot/json",
                    "entity_type": "Thermometer",
                    "autoprovision": False,
                }
            ]
        },
    )
    publish(mqtt_ready, f"/m-{service}/intruder/attrs", '{"t": 1}')
    publish(mqtt_ready, f"/unknown-{service}/th1/attrs", '{"t": 1}')
    wait_for(
        lambda: platform.log().count("MQTT measure rejected") >= 2 and f"unknown-{service}" in platform.log()
    )
    assert ngsi.get("/entities/urn:ngsi-ld:Thermometer:intruder").status_code == 404
    assert isinstance(httpx.get(platform.north + "/metrics").text, str)
