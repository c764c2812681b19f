"""Subscriptions under authentication: receivers' secrets are shown to admins only, and the platform's feed
subscriptions cannot be redirected or removed by a reader or writer of the tenant."""

from __future__ import annotations

import httpx

from tests.broker_adapter.access.conftest import Secured
from tests.support.ngsild import assert_problem
from verbund.feeds import feed_subscription, subscription_id

FEED = subscription_id("catalog")


def _ensure_feed(s: Secured) -> None:
    body = feed_subscription(
        "catalog",
        s.private,
        notify_url="http://127.0.0.1:9/notify",
        secret="s3cret",
        context_url=s.broker + "/ngsi-ld/contexts/verbund.jsonld",
    )
    with s.client(s.admin_key, s.private) as admin:
        created = admin.post(
            "/ngsi-ld/v1/subscriptions", json=body, headers={"Content-Type": "application/ld+json"}
        )
    assert created.status_code in (201, 409), created.text


def _info(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {p["key"]: p["value"] for p in response.json()["notification"]["endpoint"]["receiverInfo"]}


def test_receiver_secrets_are_shown_to_admins_only(secured: Secured) -> None:
    _ensure_feed(secured)
    with secured.client(secured.keys["municipality-admin"], secured.private) as admin:
        assert _info(admin.get(f"/ngsi-ld/v1/subscriptions/{FEED}"))["X-Verbund-Feed-Token"] != "***"
    with secured.client(secured.keys["reader"], secured.private) as reader:
        assert _info(reader.get(f"/ngsi-ld/v1/subscriptions/{FEED}"))["X-Verbund-Feed-Token"] == "***"
        listed = reader.get("/ngsi-ld/v1/subscriptions", params={"limit": 100})
        assert listed.status_code == 200
        feed = next(sub for sub in listed.json() if sub["id"] == FEED)
        assert {p["value"] for p in feed["notification"]["endpoint"]["receiverInfo"]} == {"***"}


def test_a_writer_cannot_redirect_or_remove_a_feed_but_manages_its_own(secured: Secured) -> None:
    _ensure_feed(secured)
    with secured.client(secured.admin_key, secured.private) as admin:
        before = admin.get(f"/ngsi-ld/v1/subscriptions/{FEED}").json()["notification"]["endpoint"]["uri"]
    with secured.client(secured.keys["writer"], secured.private) as writer:
        redirect = {"notification": {"endpoint": {"uri": "http://127.0.0.1:9/stolen"}}}
        assert_problem(writer.patch(f"/ngsi-ld/v1/subscriptions/{FEED}", json=redirect), 403, "AccessDenied")
        assert_problem(writer.delete(f"/ngsi-ld/v1/subscriptions/{FEED}"), 403, "AccessDenied")
        own = {
            "type": "Subscription",
            "entities": [{"type": "Room"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/mine", "receiverInfo": [
                {"key": "X-Mine", "value": "m1"}]}},
        }  # fmt: skip
        created = writer.post("/ngsi-ld/v1/subscriptions", json=own)
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        assert writer.patch(location, json={"description": "mine"}).status_code == 204
        assert writer.delete(location).status_code == 204
    with secured.client(secured.admin_key, secured.private) as admin:
        kept = admin.get(f"/ngsi-ld/v1/subscriptions/{FEED}").json()
    assert kept["notification"]["endpoint"]["uri"] == before
