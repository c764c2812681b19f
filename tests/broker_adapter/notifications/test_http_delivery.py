"""Notifications over HTTP to real receivers on loopback: triggers, formats, bodies and delivery behaviour."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest

from tests.support.ngsild import CORE_CONTEXT, context_link
from tests.support.receivers import HttpReceiver, wait_for
from tests.support.subscriptions import room, subscribe, subscription


def _one(receiver: HttpReceiver, path: str = "/n") -> dict[str, Any]:
    (body,) = wait_for(lambda: receiver.bodies(path))
    return body


def _quiet(receiver: HttpReceiver, seconds: float = 0.4) -> list[Any]:
    time.sleep(seconds)
    return receiver.bodies()


# triggers --------------------------------------------------------------------------------------------
ROOM = "/entities/urn:ngsi-ld:Room:1"


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


TRIGGERS = [
    ("entityCreated", lambda c: c.post("/entities", json=room(2, temperature=20))),
    ("attributeCreated", lambda c: c.post(ROOM + "/attrs", json={"humidity": _prop(40)})),
    ("attributeUpdated", lambda c: c.patch(ROOM + "/attrs", json={"temperature": _prop(25)})),
    ("attributeDeleted", lambda c: c.delete(ROOM + "/attrs/temperature")),
    ("entityUpdated", lambda c: c.patch(ROOM, json={"temperature": _prop(26)})),
    ("entityDeleted", lambda c: c.delete(ROOM)),
]


@pytest.mark.parametrize(("trigger", "operation"), TRIGGERS, ids=[t for t, _ in TRIGGERS])
def test_each_trigger_notifies_with_its_reason(
    ld: httpx.Client, receiver: HttpReceiver, trigger: str, operation: Any
) -> None:
    assert ld.post("/entities", json=room(1, temperature=20)).status_code == 201
    sub_id = subscribe(ld, subscription(receiver.url + "/n", notificationTrigger=[trigger]))
    response = operation(ld)
    assert response.status_code in (201, 204), response.text

    body = _one(receiver)

    assert body["type"] == "Notification" and body["subscriptionId"] == sub_id
    assert body["id"].startswith("urn:ngsi-ld:Notification:") and body["notifiedAt"].endswith("Z")
    assert body["triggerReason"] == trigger
    entity = body["data"][0]
    assert entity["id"] == f"urn:ngsi-ld:Room:{2 if trigger == 'entityCreated' else 1}"
    assert entity["type"] == "Room"
    if trigger == "attributeDeleted":
        assert entity["temperature"] == {"type": "Property", "value": "urn:ngsi-ld:null"}
    if trigger == "entityDeleted":
        assert entity == {"id": "urn:ngsi-ld:Room:1", "type": "Room"}
    assert _quiet(receiver, 0.2) == [body]


def test_default_triggers_notify_creation_and_updates_but_not_deletion(
    ld: httpx.Client, receiver: HttpReceiver
) -> None:
    subscribe(ld, subscription(receiver.url + "/n"))
    ld.post("/entities", json=room(1, temperature=20))
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"temperature": {"type": "Property", "value": 21}})
    ld.delete("/entities/urn:ngsi-ld:Room:1")

    wait_for(lambda: len(receiver.bodies()) >= 2)

    assert [b["triggerReason"] for b in _quiet(receiver)] == ["attributeCreated", "attributeUpdated"]


def test_watched_attributes_and_q_select_what_notifies(ld: httpx.Client, receiver: HttpReceiver) -> None:
    subscribe(ld, subscription(receiver.url + "/n", watchedAttributes=["temperature"], q="temperature>20"))
    ld.post("/entities", json=room(1, temperature=10, humidity=50))
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"humidity": {"type": "Property", "value": 60}})
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"temperature": {"type": "Property", "value": 15}})
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"temperature": {"type": "Property", "value": 25}})

    body = _one(receiver)

    assert body["data"][0]["temperature"]["value"] == 25
    assert len(_quiet(receiver)) == 1


def test_entity_selectors_by_id_and_pattern(ld: httpx.Client, receiver: HttpReceiver) -> None:
    subscribe(ld, subscription(receiver.url + "/id", entities=[{"type": "Room", "id": "urn:ngsi-ld:Room:2"}]))
    subscribe(
        ld, subscription(receiver.url + "/pattern", entities=[{"type": "Room", "idPattern": "Room:1[0-9]$"}])
    )
    # the id matches but the type does not: nothing; an id selector beside a type selector: both select
    subscribe(
        ld, subscription(receiver.url + "/wrongtype", entities=[{"type": "Car", "id": "urn:ngsi-ld:Room:2"}])
    )
    mixed = [{"type": "Room", "id": "urn:ngsi-ld:Room:1"}, {"type": "Hall"}]
    subscribe(ld, subscription(receiver.url + "/mixed", entities=mixed))
    for n in (1, 2, 12, 123):
        ld.post("/entities", json=room(n, temperature=n))
    ld.post("/entities", json={"id": "urn:ngsi-ld:Hall:1", "type": "Hall", "size": _prop(1)})

    wait_for(lambda: len(receiver.bodies()) >= 4)
    bodies = _quiet(receiver)

    assert [b["data"][0]["id"] for b in receiver.bodies("/id")] == ["urn:ngsi-ld:Room:2"]
    assert [b["data"][0]["id"] for b in receiver.bodies("/pattern")] == ["urn:ngsi-ld:Room:12"]
    assert sorted(b["data"][0]["id"] for b in receiver.bodies("/mixed")) == [
        "urn:ngsi-ld:Hall:1",
        "urn:ngsi-ld:Room:1",
    ]
    assert len(bodies) == 4


# formats ---------------------------------------------------------------------------------------------
FORMATS = [
    ("normalized", {"temperature": {**_prop(21), "unitCode": "CEL"}, "name": _prop("A")}),
    ("concise", {"temperature": {"value": 21, "unitCode": "CEL"}, "name": "A"}),
    ("keyValues", {"temperature": 21, "name": "A"}),
]


@pytest.mark.parametrize(("fmt", "expected"), FORMATS, ids=[f for f, _ in FORMATS])
def test_formats(ld: httpx.Client, receiver: HttpReceiver, fmt: str, expected: dict[str, Any]) -> None:
    subscribe(ld, subscription(receiver.url + "/n", notification={"format": fmt}))
    ld.post(
        "/entities", json=room(1, temperature={"type": "Property", "value": 21, "unitCode": "CEL"}, name="A")
    )

    entity = _one(receiver)["data"][0]

    assert entity == {"id": "urn:ngsi-ld:Room:1", "type": "Room", **expected}


def test_json_carries_the_context_in_a_link_header_and_receiver_info_as_headers(
    ld: httpx.Client, receiver: HttpReceiver, user_context_url: str
) -> None:
    endpoint = {"uri": receiver.url + "/n", "receiverInfo": [{"key": "X-Api-Key", "value": "k1"}]}
    body = subscription(receiver.url, entities=[{"type": "Sensor"}], notification={"endpoint": endpoint})
    subscribe(ld, body, headers={"Link": context_link(user_context_url)})
    ld.post(
        "/entities",
        json={
            "id": "urn:ngsi-ld:Sensor:1",
            "type": "Sensor",
            "temperature": {"type": "Property", "value": 3},
        },
        headers={"Link": context_link(user_context_url)},
    )

    (request,) = wait_for(lambda: receiver.requests("/n"))

    assert request.headers["content-type"] == "application/json"
    assert request.headers["link"] == context_link(user_context_url)
    assert request.headers["x-api-key"] == "k1"
    assert request.headers["ngsild-tenant"] == ld.headers["NGSILD-Tenant"]
    assert request.body["data"][0]["type"] == "Sensor" and "temperature" in request.body["data"][0]


def test_json_ld_carries_the_context_in_the_body(ld: httpx.Client, receiver: HttpReceiver) -> None:
    endpoint = {"uri": receiver.url + "/n", "accept": "application/ld+json"}
    subscribe(ld, subscription(receiver.url, notification={"endpoint": endpoint}))
    ld.post("/entities", json=room(1, temperature=20))

    (request,) = wait_for(lambda: receiver.requests("/n"))

    assert request.headers["content-type"] == "application/ld+json" and "link" not in request.headers
    assert request.body["@context"] == CORE_CONTEXT


def test_geo_json_sends_a_feature_collection(ld: httpx.Client, receiver: HttpReceiver) -> None:
    endpoint = {"uri": receiver.url + "/n", "accept": "application/geo+json"}
    subscribe(ld, subscription(receiver.url, notification={"endpoint": endpoint, "format": "keyValues"}))
    point = {"type": "Point", "coordinates": [7.75, 49.44]}
    ld.post("/entities", json=room(1, location={"type": "GeoProperty", "value": point}, temperature=20))

    (request,) = wait_for(lambda: receiver.requests("/n"))

    assert request.headers["content-type"] == "application/geo+json"
    (feature,) = request.body["data"]["features"]
    assert request.body["data"]["type"] == "FeatureCollection"
    assert feature["id"] == "urn:ngsi-ld:Room:1" and feature["geometry"] == point
    assert feature["properties"]["temperature"] == 20


def test_show_changes_adds_previous_values(ld: httpx.Client, receiver: HttpReceiver) -> None:
    notification = {"showChanges": True, "attributes": ["temperature", "owner"]}
    subscribe(
        ld,
        subscription(
            receiver.url + "/n", notificationTrigger=["attributeUpdated"], notification=notification
        ),
    )
    owner = {"type": "Relationship", "object": "urn:ngsi-ld:Person:a"}
    ld.post("/entities", json=room(1, temperature=20, owner=owner, humidity=3))
    update = {
        "temperature": {"type": "Property", "value": 22},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:b"},
    }
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json=update)

    entity = _one(receiver)["data"][0]

    assert entity["temperature"] == {"type": "Property", "value": 22, "previousValue": 20}
    assert entity["owner"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Person:b",
        "previousObject": "urn:ngsi-ld:Person:a",
    }
    assert "humidity" not in entity


def test_deletion_with_sys_attrs_carries_deleted_at(ld: httpx.Client, receiver: HttpReceiver) -> None:
    body = subscription(
        receiver.url + "/n", notificationTrigger=["entityDeleted"], notification={"sysAttrs": True}
    )
    subscribe(ld, body)
    ld.post("/entities", json=room(1, temperature=20))
    ld.delete("/entities/urn:ngsi-ld:Room:1")

    entity = _one(receiver)["data"][0]

    assert set(entity) == {"id", "type", "deletedAt"}


def test_batch_operations_notify_per_entity(ld: httpx.Client, receiver: HttpReceiver) -> None:
    subscribe(
        ld,
        subscription(
            receiver.url + "/n", notificationTrigger=["entityCreated", "attributeUpdated", "entityDeleted"]
        ),
    )
    rooms = [room(n, temperature=n) for n in range(3)]
    assert ld.post("/entityOperations/create", json=rooms).status_code == 201
    upsert = [room(n, temperature=n + 10) for n in range(3)]
    assert ld.post("/entityOperations/upsert", params={"options": "update"}, json=upsert).status_code == 204
    ids = [r["id"] for r in rooms]
    assert ld.post("/entityOperations/delete", json=ids).status_code == 204

    wait_for(lambda: len(receiver.bodies()) >= 9)

    reasons = [(b["triggerReason"], b["data"][0]["id"]) for b in _quiet(receiver)]
    assert sorted(reasons) == sorted(
        (r, i) for r in ("entityCreated", "attributeUpdated", "entityDeleted") for i in ids
    )


def test_paused_and_expired_subscriptions_send_nothing(ld: httpx.Client, receiver: HttpReceiver) -> None:
    subscribe(ld, subscription(receiver.url + "/paused", isActive=False))
    expiring = subscribe(ld, subscription(receiver.url + "/expired", expiresAt="2099-01-01T00:00:00Z"))
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1.5))
    assert ld.patch(f"/subscriptions/{expiring}", json={"expiresAt": soon}).status_code == 204
    time.sleep(2.0)
    ld.post("/entities", json=room(1, temperature=20))

    assert _quiet(receiver, 0.5) == []
    assert ld.get(f"/subscriptions/{expiring}").json()["status"] == "expired"


# timing ----------------------------------------------------------------------------------------------
def test_throttling_drops_notifications_inside_the_period(ld: httpx.Client, receiver: HttpReceiver) -> None:
    subscribe(ld, subscription(receiver.url + "/n", throttling=1.5))
    ld.post("/entities", json=room(1, temperature=0))
    for value in range(1, 5):
        ld.patch(
            "/entities/urn:ngsi-ld:Room:1/attrs", json={"temperature": {"type": "Property", "value": value}}
        )
    assert len(_quiet(receiver, 0.6)) == 1
    time.sleep(1.0)
    ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"temperature": {"type": "Property", "value": 99}})

    bodies = wait_for(lambda: receiver.bodies() if len(receiver.bodies()) == 2 else None)

    assert [b["data"][0]["temperature"]["value"] for b in bodies] == [0, 99]


def test_time_interval_sends_the_current_state_periodically(ld: httpx.Client, receiver: HttpReceiver) -> None:
    ld.post("/entities", json=room(1, temperature=20))
    ld.post("/entities", json=room(2, temperature=30))
    subscribe(ld, subscription(receiver.url + "/n", timeInterval=1, notification={"format": "keyValues"}))

    bodies = wait_for(lambda: receiver.bodies() if len(receiver.bodies()) >= 2 else None, timeout=5)

    for body in bodies[:2]:
        assert "triggerReason" not in body
        assert sorted((e["id"], e["temperature"]) for e in body["data"]) == [
            ("urn:ngsi-ld:Room:1", 20),
            ("urn:ngsi-ld:Room:2", 30),
        ]
    assert abs(_gap(receiver) - 1.0) < 0.5


def _gap(receiver: HttpReceiver) -> float:
    first, second = receiver.requests()[:2]
    return second.at - first.at


# reliability -----------------------------------------------------------------------------------------
def test_a_receiver_that_is_down_gets_everything_in_order_when_it_is_back(
    ld: httpx.Client, receiver: HttpReceiver
) -> None:
    sub_id = subscribe(ld, subscription(receiver.url + "/n"))
    receiver.stop()
    ld.post("/entities", json=room(1, seq=0))
    for seq in range(1, 20):
        ld.patch("/entities/urn:ngsi-ld:Room:1/attrs", json={"seq": {"type": "Property", "value": seq}})
    wait_for(lambda: ld.get(f"/subscriptions/{sub_id}").json()["notification"]["timesFailed"] >= 3)
    assert ld.get(f"/subscriptions/{sub_id}").json()["status"] == "failed"

    receiver.start()
    bodies = wait_for(lambda: receiver.bodies() if len(receiver.bodies()) >= 20 else None)

    assert [b["data"][0]["seq"]["value"] for b in bodies] == list(range(20))
    # the receiver has the body before the broker has its answer: the status follows shortly after
    sub = wait_for(
        lambda: (s := ld.get(f"/subscriptions/{sub_id}").json())["status"] == "active" and s, timeout=5
    )
    assert sub["notification"]["status"] == "ok"


def test_receiver_errors_are_retried(ld: httpx.Client, receiver: HttpReceiver) -> None:
    receiver.status = 503
    subscribe(ld, subscription(receiver.url + "/n"))
    ld.post("/entities", json=room(1, temperature=20))
    time.sleep(0.5)
    receiver.status = 200

    assert _one(receiver)["data"][0]["temperature"]["value"] == 20


class BlackHole:
    """A TCP port that accepts connections and never answers: every request to it times out."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(5)
        for connection in self.held:
            connection.close()


def test_a_dead_endpoint_does_not_delay_the_others(ld: httpx.Client, receiver: HttpReceiver) -> None:
    hole = BlackHole()
    port = hole.port
    try:
        for n in range(8):  # more subscriptions than the dead endpoint has delivery slots
            subscribe(ld, subscription(f"http://127.0.0.1:{port}/dead/{n}"))
        subscribe(ld, subscription(receiver.url + "/alive"))
        written = []
        for n in range(5):
            ld.post("/entities", json=room(n, temperature=n))
            written.append(time.time())
            time.sleep(0.1)

        requests = wait_for(lambda: receiver.requests() if len(receiver.requests()) == 5 else None)

        delays = [r.at - w for r, w in zip(requests, written, strict=True)]
        assert max(delays) < 0.5, delays
    finally:
        hole.close()
