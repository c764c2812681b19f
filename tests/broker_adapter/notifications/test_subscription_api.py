"""The subscription API (clause 5.8): create, retrieve, query, update, delete, validation, endpoint policy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.ngsild import assert_problem, context_link
from tests.support.receivers import HttpReceiver
from tests.support.subscriptions import subscribe, subscription

URI = "http://127.0.0.1:9/notify"  # allowed by the test broker's policy; nothing is sent in these tests


def test_create_then_retrieve_returns_the_subscription_with_status_members(ld: httpx.Client) -> None:
    body = subscription(
        URI,
        id="urn:ngsi-ld:Subscription:api-1",
        subscriptionName="rooms",
        description="all rooms",
        watchedAttributes=["temperature"],
        notificationTrigger=["attributeUpdated", "entityDeleted"],
        q="temperature>20",
        scopeQ="/Kaiserslautern/#",
        geoQ={"geometry": "Point", "coordinates": [7.75, 49.44], "georel": "near;maxDistance==2000"},
        expiresAt="2099-01-01T00:00:00Z",
        throttling=5,
        lang="de",
        notification={
            "attributes": ["temperature"],
            "format": "concise",
            "sysAttrs": True,
            "showChanges": True,
            "endpoint": {
                "uri": URI,
                "accept": "application/ld+json",
                "receiverInfo": [{"key": "X-Auth", "value": "secret"}],
            },
        },
    )

    created = ld.post("/subscriptions", json=body)
    got = ld.get("/subscriptions/urn:ngsi-ld:Subscription:api-1")

    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:api-1"
    assert got.status_code == 200, got.text
    sub = got.json()
    assert sub["status"] == "active" and "isActive" not in sub  # not sent: the default is not shown
    assert sub["entities"] == [{"type": "Room"}]
    assert sub["watchedAttributes"] == ["temperature"]
    assert sub["notificationTrigger"] == ["attributeUpdated", "entityDeleted"]
    assert sub["q"] == "temperature>20" and sub["scopeQ"] == "/Kaiserslautern/#" and sub["throttling"] == 5
    assert sub["expiresAt"] == "2099-01-01T00:00:00.000Z"
    notification = sub["notification"]
    assert notification["attributes"] == ["temperature"] and notification["format"] == "concise"
    assert notification["endpoint"]["receiverInfo"] == [{"key": "X-Auth", "value": "secret"}]
    assert notification["timesSent"] == 0 and notification["timesFailed"] == 0
    assert "lastNotification" not in notification


def test_names_are_compacted_with_the_callers_context(ld: httpx.Client, user_context_url: str) -> None:
    body = subscription(URI, entities=[{"type": "Sensor"}], watchedAttributes=["temperature"])
    sub_id = subscribe(ld, body, headers={"Link": context_link(user_context_url)})

    with_context = ld.get(f"/subscriptions/{sub_id}", headers={"Link": context_link(user_context_url)}).json()
    core_only = ld.get(f"/subscriptions/{sub_id}").json()

    assert with_context["entities"] == [{"type": "Sensor"}]
    assert with_context["watchedAttributes"] == ["temperature"]
    assert core_only["entities"] == [{"type": "https://example.org/ns/Sensor"}]
    assert core_only["watchedAttributes"] == ["https://example.org/ns/temperature"]
    assert with_context["jsonldContext"] == user_context_url


def test_query_pages_and_counts(ld: httpx.Client) -> None:
    ids = [subscribe(ld, subscription(URI, id=f"urn:ngsi-ld:Subscription:page-{n}")) for n in range(5)]

    first = ld.get("/subscriptions", params={"limit": 2, "count": "true"})
    rest = ld.get("/subscriptions", params={"limit": 10, "offset": 2})

    assert first.status_code == 200 and first.headers["NGSILD-Results-Count"] == "5"
    assert [s["id"] for s in first.json() + rest.json()] == ids


def test_patch_replaces_members_and_pauses(ld: httpx.Client) -> None:
    sub_id = subscribe(ld, subscription(URI, q="temperature>20"))

    patched = ld.patch(
        f"/subscriptions/{sub_id}",
        json={"isActive": False, "q": None, "notification": {"format": "keyValues"}},
    )
    sub = ld.get(f"/subscriptions/{sub_id}").json()

    assert patched.status_code == 204, patched.text
    assert sub["status"] == "paused" and sub["isActive"] is False
    assert "q" not in sub
    assert sub["notification"]["format"] == "keyValues"
    assert sub["notification"]["endpoint"]["uri"] == URI


def test_delete_removes_it(ld: httpx.Client) -> None:
    sub_id = subscribe(ld, subscription(URI))

    assert ld.delete(f"/subscriptions/{sub_id}").status_code == 204
    assert_problem(ld.get(f"/subscriptions/{sub_id}"), 404, "ResourceNotFound")
    assert_problem(ld.delete(f"/subscriptions/{sub_id}"), 404, "ResourceNotFound")


def test_creating_the_same_id_twice_is_a_conflict(ld: httpx.Client) -> None:
    body = subscription(URI, id="urn:ngsi-ld:Subscription:twice")
    subscribe(ld, body)

    assert_problem(ld.post("/subscriptions", json=body), 409, "AlreadyExists")


BAD: list[tuple[str, dict[str, Any]]] = [
    ("unknown member", {"colour": "red"}),
    ("read-only member", {"status": "active"}),
    ("wrong type", {"type": "Registration"}),
    ("entities not a list", {"entities": {"type": "Room"}}),
    ("selector without type", {"entities": [{"id": "urn:ngsi-ld:Room:1"}]}),
    ("selector with unknown member", {"entities": [{"type": "Room", "name": "x"}]}),
    ("bad idPattern", {"entities": [{"type": "Room", "idPattern": "(unclosed"}]}),
    ("bad entity id", {"entities": [{"type": "Room", "id": "no uri"}]}),
    ("empty watchedAttributes", {"watchedAttributes": []}),
    ("unknown trigger", {"notificationTrigger": ["entityTouched"]}),
    ("invalid q", {"q": "temperature>>2"}),
    ("invalid scopeQ", {"scopeQ": "Kaiserslautern"}),
    ("invalid geoQ", {"geoQ": {"geometry": "Point", "coordinates": [7.7], "georel": "near;maxDistance==1"}}),
    ("geoQ unknown georel", {"geoQ": {"geometry": "Point", "coordinates": [7, 49], "georel": "around"}}),
    ("expiresAt in the past", {"expiresAt": "2020-01-01T00:00:00Z"}),
    ("expiresAt not a date", {"expiresAt": "tomorrow"}),
    ("negative throttling", {"throttling": -1}),
    ("throttling with timeInterval", {"throttling": 5, "timeInterval": 10}),
    ("timeInterval with watchedAttributes", {"timeInterval": 10, "watchedAttributes": ["temperature"]}),
    ("isActive not boolean", {"isActive": "yes"}),
    ("no entities nor watchedAttributes", {"entities": None}),
    ("no notification", {"notification": None}),
    ("notification unknown member", {"notification": {"colour": 1}}),
    ("unknown format", {"notification": {"format": "compact"}}),
    ("showChanges with keyValues", {"notification": {"format": "keyValues", "showChanges": True}}),
    ("unsupported scheme", {"notification": {"endpoint": {"uri": "ftp://127.0.0.1/x"}}}),
    ("unsupported accept", {"notification": {"endpoint": {"uri": URI, "accept": "text/plain"}}}),
    ("endpoint without uri", {"notification": {"endpoint": {"accept": "application/json"}}}),
    ("receiverInfo not pairs", {"notification": {"endpoint": {"uri": URI, "receiverInfo": [{"k": "v"}]}}}),
    (
        "receiverInfo injecting a header",
        {"notification": {"endpoint": {"uri": URI, "receiverInfo": [{"key": "X-A", "value": "1\r\nX: 2"}]}}},
    ),
    (
        "receiverInfo key not a header name",
        {"notification": {"endpoint": {"uri": URI, "receiverInfo": [{"key": "X A:", "value": "1"}]}}},
    ),
    ("MQTT without topic", {"notification": {"endpoint": {"uri": "mqtt://127.0.0.1:1883"}}}),
    (
        "bad MQTT-QoS",
        {
            "notification": {
                "endpoint": {"uri": "mqtt://127.0.0.1/t", "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}]}
            }
        },
    ),
]


@pytest.mark.parametrize(("case", "members"), BAD, ids=[case for case, _ in BAD])
def test_bad_subscriptions_are_refused_and_nothing_is_stored(
    ld: httpx.Client, case: str, members: dict[str, Any]
) -> None:
    body = subscription(URI, id="urn:ngsi-ld:Subscription:bad")
    for key, value in members.items():
        if key == "notification" and value is not None:
            body["notification"] = {**body["notification"], **value}
        elif value is None:
            body.pop(key, None)
        else:
            body[key] = value

    response = ld.post("/subscriptions", json=body)

    assert_problem(response, 400, "BadRequestData")
    ld.post("/entities", json={"id": "urn:ngsi-ld:Room:exists", "type": "Room"})  # the tenant exists
    assert_problem(ld.get("/subscriptions/urn:ngsi-ld:Subscription:bad"), 404, "ResourceNotFound")


def test_bad_patch_is_refused_and_changes_nothing(ld: httpx.Client) -> None:
    sub_id = subscribe(ld, subscription(URI, throttling=5))

    response = ld.patch(f"/subscriptions/{sub_id}", json={"timeInterval": 10, "q": "temperature>1"})

    assert_problem(response, 400, "BadRequestData")
    sub = ld.get(f"/subscriptions/{sub_id}").json()
    assert "timeInterval" not in sub and "q" not in sub


def test_loopback_endpoints_are_refused_by_default(client: httpx.Client) -> None:
    """The shared broker runs with the default policy: no loopback or private receivers."""
    for uri in (
        "http://127.0.0.1:8080/notify",
        "http://localhost/notify",
        "http://10.1.2.3/x",
        "mqtt://[::1]/t",
    ):
        response = client.post("/subscriptions", json=subscription(uri))
        body = assert_problem(response, 400, "BadRequestData")
        assert "VERBUND_NOTIFY_ALLOWED_HOSTS" in body["detail"], body


def test_an_endpoint_host_that_does_not_resolve_is_accepted_and_each_delivery_fails(
    client: httpx.Client,
) -> None:
    """A name that does not resolve now cannot be judged; every delivery checks it again (.invalid never
    resolves: RFC 6761), so the subscription is kept and its deliveries are reported as failures."""
    from tests.support.receivers import wait_for
    from tests.support.subscriptions import room

    created = client.post("/subscriptions", json=subscription("http://receiver.invalid/notify"))
    assert created.status_code == 201, created.text
    sub_id = created.headers["Location"].rsplit("/", 1)[1]

    client.post("/entities", json=room(1, temperature=20))
    wait_for(lambda: "lastFailure" in client.get(f"/subscriptions/{sub_id}").json()["notification"])

    notification = client.get(f"/subscriptions/{sub_id}").json()["notification"]
    assert notification["status"] == "failed"
    assert "lastSuccess" not in notification


def test_receiver_status_members_count_deliveries(ld: httpx.Client, receiver: HttpReceiver) -> None:
    from tests.support.receivers import wait_for
    from tests.support.subscriptions import room

    sub_id = subscribe(ld, subscription(receiver.url + "/n"))
    ld.post("/entities", json=room(1, temperature=20))
    wait_for(lambda: ld.get(f"/subscriptions/{sub_id}").json()["notification"]["timesSent"] == 1)

    notification = ld.get(f"/subscriptions/{sub_id}").json()["notification"]

    assert notification["status"] == "ok"
    assert notification["lastSuccess"] == notification["lastNotification"]
    assert "lastFailure" not in notification
