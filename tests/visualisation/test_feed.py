"""The dashboard's feed over real HTTP: its subscriptions, the /notify receiver and the live stream."""

from __future__ import annotations

import queue
import time

import httpx
import pytest

from tests.visualisation.conftest import DISTRICT, ESELSFUERTH, GLAN, TOWN, Cluster
from tests.visualisation.sse import stream
from verbund.feeds import feed_token, subscription_id

SUB = subscription_id("dashboard")


def notification(entity_id: str = GLAN, value: float = 2.0) -> dict:
    return {
        "id": "urn:ngsi-ld:Notification:test",
        "type": "Notification",
        "subscriptionId": SUB,
        "notifiedAt": "2026-01-01T00:00:00Z",
        "data": [
            {
                "id": entity_id,
                "type": "FloodMonitoring",
                "currentLevel": {"type": "Property", "value": value},
                "alertLevel": {"type": "Property", "value": 2.6},
                "dangerLevel": {"type": "Property", "value": 3.4},
            }
        ],
    }


@pytest.mark.parametrize("tenant", [TOWN, DISTRICT])
def test_each_municipality_feeds_the_dashboard(cluster: Cluster, tenant: str) -> None:
    with cluster.ngsi(tenant) as ngsi:
        sub = ngsi.get(f"/subscriptions/{SUB}").json()
    assert sub["notification"]["endpoint"]["uri"] == cluster.dashboard + "/notify"
    assert {e["type"] for e in sub["entities"]} >= {
        "WaterObserved",
        "FloodMonitoring",
        "TrafficFlowObserved",
        "Alert",
    }


def test_a_changed_feed_subscription_is_put_right(cluster: Cluster) -> None:
    with cluster.ngsi(TOWN) as ngsi:
        moved = {
            "notification": {
                "endpoint": {"uri": "http://127.0.0.1:9/elsewhere", "accept": "application/json"}
            }
        }
        assert ngsi.patch(f"/subscriptions/{SUB}", json=moved).status_code == 204
        # the dashboard checks its feed every second here (VERBUND_DASHBOARD_RECONCILE_INTERVAL=1)
        with stream(f"{cluster.dashboard}/events?tenant={TOWN}") as events:
            deadline = 30
            while ngsi.get(f"/subscriptions/{SUB}").json()["notification"]["endpoint"]["uri"] != (
                cluster.dashboard + "/notify"
            ):
                deadline -= 1
                assert deadline, "the feed subscription was not put right"
                time.sleep(1)
            cluster.measure("pegel-eselsfuerth", h=1.3)
            assert events.next("sensor")["data"]["id"] == ESELSFUERTH


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, notification(), 401),
        ({"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": "forged"}, notification(), 401),
        # a token of one tenant does not let a notification claim another
        ({"X-Verbund-Tenant": TOWN, "X-Verbund-Feed-Token": "{token:kusel}"}, notification(), 401),
        (
            {"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": "{token:kusel}", "NGSILD-Tenant": TOWN},
            notification(),
            401,
        ),
        ({"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": "{token:kusel}"}, b"{not json", 400),
        ({"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": "{token:kusel}"}, {"data": "x"}, 400),
        (
            {"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": "{token:kusel}"},
            b"[" * 100 + b"]" * 100,
            400,
        ),
        (
            {"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": "{token:kusel}"},
            b" " * (9 * 1024 * 1024),
            413,
        ),
    ],
)
def test_the_notify_receiver_refuses_what_it_cannot_trust(
    cluster: Cluster, feed_secret: str, headers: dict, body: object, status: int
) -> None:
    headers = {k: v.replace("{token:kusel}", feed_token(feed_secret, DISTRICT)) for k, v in headers.items()}
    with stream(f"{cluster.dashboard}/events") as events:
        sent = (
            httpx.post(f"{cluster.dashboard}/notify", content=body, headers=headers)
            if isinstance(body, bytes)
            else httpx.post(f"{cluster.dashboard}/notify", json=body, headers=headers)
        )
        assert sent.status_code == status, sent.text
        with pytest.raises(queue.Empty):  # and nothing of it reaches the browsers
            events.next("sensor", timeout=1, where=lambda s: s["id"] == GLAN and s["value"] == 2.0)


def test_a_trusted_notification_reaches_the_browsers(cluster: Cluster, feed_secret: str) -> None:
    headers = {"X-Verbund-Tenant": DISTRICT, "X-Verbund-Feed-Token": feed_token(feed_secret, DISTRICT)}
    with (
        stream(f"{cluster.dashboard}/events?tenant={DISTRICT}") as mine,
        stream(f"{cluster.dashboard}/events?tenant={TOWN}") as other,
    ):
        sent = httpx.post(f"{cluster.dashboard}/notify", json=notification(value=3.5), headers=headers)
        assert sent.status_code == 204
        got = mine.next("sensor")["data"]
        assert (got["id"], got["value"], got["state"]) == (GLAN, 3.5, "danger")
        with pytest.raises(queue.Empty):  # a stream of another municipality does not see it
            other.next("sensor", timeout=1, where=lambda s: s["id"] == GLAN)


def test_a_reconnecting_browser_gets_what_it_missed_or_a_snapshot(cluster: Cluster) -> None:
    with stream(f"{cluster.dashboard}/events?tenant={TOWN}") as first:
        cluster.measure("pegel-eselsfuerth", h=1.31)
        seen = first.next("sensor", where=lambda s: s["id"] == ESELSFUERTH and s["value"] == 1.31)
    cluster.measure("pegel-eselsfuerth", h=1.32)  # while the browser is away
    with stream(f"{cluster.dashboard}/events?tenant={TOWN}", {"Last-Event-ID": seen["id"]}) as again:
        assert again.next("sensor", where=lambda s: s["id"] == ESELSFUERTH)["data"]["value"] == 1.32
    with stream(f"{cluster.dashboard}/events?tenant={TOWN}", {"Last-Event-ID": "another-run-7"}) as stale:
        assert stale.next()["event"] == "snapshot"


def test_an_unknown_municipality_has_no_stream_or_data(cluster: Cluster) -> None:
    assert httpx.get(f"{cluster.dashboard}/events", params={"tenant": "nowhere"}).status_code == 404
    assert httpx.get(f"{cluster.dashboard}/api/sensors", params={"tenant": "nowhere"}).status_code == 404
    assert httpx.get(f"{cluster.dashboard}/m/nowhere").status_code == 404
