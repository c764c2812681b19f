"""POST /notify refuses what does not come from the catalog's own feed, and bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.catalog.conftest import Platform
from tests.catalog.support import SECRET, municipality, new_tenant, water
from tests.catalog.test_end_to_end import extent
from verbund.feeds import TENANT_HEADER, TOKEN_HEADER, feed_token, subscription_id

ORIGINAL = ("POLYGON((7.7 49.4,7.7 49.4,7.7 49.4,7.7 49.4,7.7 49.4))", "2026-11-20T10:00:00+00:00")


@pytest.fixture(scope="module")
def fed(platform: Platform) -> str:
    """A published tenant with one gauge at 7.7, 49.4."""
    tenant = new_tenant()
    platform.register(tenant, municipality(tenant))
    platform.upsert(tenant, water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))
    platform.wait(lambda: extent(platform, f"{tenant}-water-observed"))
    return tenant


def notification(*entities: Any, subscription: str = subscription_id("catalog")) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Notification:test",
        "type": "Notification",
        "subscriptionId": subscription,
        "notifiedAt": "2026-11-25T12:00:00Z",
        "data": list(entities),
    }


def headers(tenant: str, *, token_tenant: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        TENANT_HEADER: tenant,
        TOKEN_HEADER: feed_token(secret, token_tenant or tenant),
        "NGSILD-Tenant": tenant,
        "Content-Type": "application/json",
    }


OTHER = "urn:ngsi-ld:Subscription:other"
FAR_AWAY = water(9, 9.9, 13.4, 52.5, "2026-11-25T10:00:00Z")  # in Berlin: must never reach the extent
CASES: dict[str, tuple[Callable[[str], tuple[dict[str, str], bytes]], int]] = {
    "no token": (lambda t: ({TENANT_HEADER: t}, orjson.dumps(notification(FAR_AWAY))), 401),
    "token of another tenant": (
        lambda t: (headers(t, token_tenant="someone-else"), orjson.dumps(notification(FAR_AWAY))), 401),
    "token from another secret": (
        lambda t: (headers(t, secret="guessed"), orjson.dumps(notification(FAR_AWAY))), 401),
    "NGSILD-Tenant differs": (
        lambda t: ({**headers(t), "NGSILD-Tenant": "other"}, orjson.dumps(notification(FAR_AWAY))), 401),
    "unknown subscription": (
        lambda t: (headers(t), orjson.dumps(notification(FAR_AWAY, subscription=OTHER))),
        400),
    "not JSON": (lambda t: (headers(t), b'{"type": "Notification", "data": ['), 400),
    "not a notification": (lambda t: (headers(t), orjson.dumps([FAR_AWAY])), 400),
    "data not an array": (lambda t: (headers(t), orjson.dumps({**notification(), "data": FAR_AWAY})), 400),
    "too large": (lambda t: (headers(t), orjson.dumps(notification(FAR_AWAY)) + b" " * 4 * 1024 * 1024), 413),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_notification_not_from_the_feed_is_refused_and_changes_nothing(
    platform: Platform, fed: str, case: str
) -> None:
    build, status = CASES[case]
    sent_headers, body = build(fed)
    response = platform.web.post("/notify", content=body, headers=sent_headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert extent(platform, f"{fed}-water-observed")[:2] == ORIGINAL


def test_a_malformed_entity_is_skipped_and_the_rest_is_taken(platform: Platform, fed: str) -> None:
    later = water(1, 1.3, 7.7, 49.4, "2026-11-25T09:00:00Z")
    body = notification({"id": "not a uri", "type": "WaterObserved"}, [1, 2], later)
    response = platform.web.post("/notify", content=orjson.dumps(body), headers=headers(fed))
    assert response.status_code == 204, response.text
    platform.wait(lambda: extent(platform, f"{fed}-water-observed")[2] == "2026-11-25T09:00:00+00:00")
    assert extent(platform, f"{fed}-water-observed")[:2] == ORIGINAL
