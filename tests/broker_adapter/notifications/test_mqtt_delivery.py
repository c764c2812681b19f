"""Notifications over MQTT to a real Mosquitto (the MQTT notification binding)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.receivers import Mosquitto, MqttSubscriber, wait_for
from tests.support.subscriptions import room, subscribe, subscription


@pytest.fixture
def topic(ld: httpx.Client) -> str:
    return f"verbund/{ld.headers['NGSILD-Tenant']}"


@pytest.fixture
def listener(mosquitto: Mosquitto, topic: str) -> Iterator[MqttSubscriber]:
    subscriber = MqttSubscriber(mosquitto.port, topic)
    yield subscriber
    subscriber.close()


@pytest.mark.parametrize(("qos", "version"), [("0", "mqtt3.1.1"), ("1", "mqtt3.1.1"), ("1", "mqtt5.0")])
def test_notifications_are_published_with_metadata_and_body(
    ld: httpx.Client, mosquitto: Mosquitto, listener: MqttSubscriber, topic: str, qos: str, version: str
) -> None:
    info = [{"key": "MQTT-QoS", "value": qos}, {"key": "MQTT-Version", "value": version}]
    endpoint = {
        "uri": f"mqtt://127.0.0.1:{mosquitto.port}/{topic}",
        "notifierInfo": info,
        "receiverInfo": [{"key": "X-Origin", "value": "verbund"}],
    }
    sub_id = subscribe(ld, subscription("unused", notification={"endpoint": endpoint, "format": "keyValues"}))
    ld.post("/entities", json=room(1, temperature=20))
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"temperature": {"type": "Property", "value": 21}})

    messages = wait_for(lambda: listener.messages if len(listener.messages) >= 2 else None)

    first = messages[0]
    assert first["metadata"]["Content-Type"] == "application/json"
    assert first["metadata"]["Link"].startswith("<https://uri.etsi.org/ngsi-ld/")
    assert first["metadata"]["X-Origin"] == "verbund"
    assert first["body"]["type"] == "Notification" and first["body"]["subscriptionId"] == sub_id
    assert [m["body"]["data"][0]["temperature"] for m in messages] == [20, 21]


def test_user_and_password_come_from_the_uri(ld: httpx.Client, tmp_path: Path, topic: str) -> None:
    secured = Mosquitto(tmp_path / "mqtt", user=("verbund", "s3cret")).start()
    try:
        listener = MqttSubscriber(secured.port, topic, user=("verbund", "s3cret"))
        good = f"mqtt://verbund:s3cret@127.0.0.1:{secured.port}/{topic}"
        bad = f"mqtt://verbund:wrong@127.0.0.1:{secured.port}/{topic}"
        good_id = subscribe(ld, subscription("unused", notification={"endpoint": {"uri": good}}))
        bad_id = subscribe(ld, subscription("unused", notification={"endpoint": {"uri": bad}}))
        ld.post("/entities", json=room(1, temperature=20))

        (message,) = wait_for(lambda: listener.messages)
        failed = wait_for(lambda: ld.get(f"/subscriptions/{bad_id}").json()["notification"]["timesFailed"])

        assert message["body"]["subscriptionId"] == good_id
        assert failed >= 1
        listener.close()
    finally:
        secured.stop()


def test_an_mqtt_broker_that_comes_back_gets_the_pending_notifications(
    ld: httpx.Client, tmp_path: Path, topic: str
) -> None:
    broker = Mosquitto(tmp_path / "mqtt")
    port = broker.port
    info = [{"key": "MQTT-QoS", "value": "1"}]
    endpoint = {"uri": f"mqtt://127.0.0.1:{port}/{topic}", "notifierInfo": info}
    sub_id = subscribe(ld, subscription("unused", notification={"endpoint": endpoint}))
    for n in range(5):
        ld.post("/entities", json=room(n, temperature=n))
    wait_for(lambda: ld.get(f"/subscriptions/{sub_id}").json()["notification"]["timesFailed"] >= 2)

    # paused while the listener connects, so nothing is published before anyone listens
    assert ld.patch(f"/subscriptions/{sub_id}", json={"isActive": False}).status_code == 204
    broker.start()
    try:
        listener = MqttSubscriber(port, topic)
        assert ld.patch(f"/subscriptions/{sub_id}", json={"isActive": True}).status_code == 204
        messages = wait_for(lambda: listener.messages if len(listener.messages) >= 5 else None)
        listener.close()
    finally:
        broker.stop()

    assert [m["body"]["data"][0]["temperature"]["value"] for m in messages] == list(range(5))
