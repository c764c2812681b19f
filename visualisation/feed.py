"""The dashboard's feed (shared contract 3): one subscription per served tenant, and the receiver of its
notifications.

On start and every ``dashboard_reconcile_interval`` the subscription of each tenant is made to match what
this dashboard expects (its notify URL, its token, the types it draws): created when missing (409: it
exists, e.g. made by the registry), patched when it differs (a new feed secret, a moved dashboard).
``/notify`` accepts a notification only with the tenant's token, reads a bounded body, and hands the
entities on; it answers 204 once they are published to the browsers.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from verbund.feeds import TENANT_HEADER, TOKEN_HEADER, feed_subscription, subscription_id, verify_feed_token
from visualisation.config import SERVICE, DashboardConfig


class Rejected(Exception):
    """A notification the dashboard refuses: the status and why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def desired(config: DashboardConfig, tenant: str) -> dict[str, Any]:
    return feed_subscription(
        SERVICE,
        tenant,
        notify_url=config.notify_url,
        secret=config.feed_secret,
        context_url=config.context_url,
    )


def _pairs(items: Any) -> set[tuple[str, str]]:
    return {(str(i.get("key")), str(i.get("value"))) for i in items or () if isinstance(i, dict)}


def differs(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Does the stored subscription deliver elsewhere, with another token, or for other types?"""
    have = existing.get("notification", {}).get("endpoint", {})
    want = wanted["notification"]["endpoint"]
    types = {e.get("type") for e in existing.get("entities", ()) if isinstance(e, dict)}
    return (
        have.get("uri") != want["uri"]
        or not _pairs(want["receiverInfo"]) <= _pairs(have.get("receiverInfo"))
        or types != {e["type"] for e in wanted["entities"]}
        or existing.get("isActive") is False
        or existing.get("status") == "paused"
    )


def patch_body(wanted: dict[str, Any]) -> dict[str, Any]:
    return {
        "entities": wanted["entities"],
        "notification": wanted["notification"],
        "isActive": True,
        "@context": wanted["@context"],
    }


def sub_id() -> str:
    return subscription_id(SERVICE)


def _depth_ok(value: Any, max_depth: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return False
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


async def read_notification(request: Request, config: DashboardConfig) -> tuple[str, list[dict[str, Any]]]:
    """The tenant and entities of a verified, bounded notification; Rejected otherwise."""
    tenant = request.headers.get(TENANT_HEADER)
    if not tenant or not verify_feed_token(config.feed_secret, tenant, request.headers.get(TOKEN_HEADER)):
        raise Rejected(401, "unknown sender: the feed token does not match the tenant")
    named = request.headers.get("ngsild-tenant")
    if named is not None and named != tenant:
        raise Rejected(401, "the notification names another tenant than its token")
    limit = config.max_notification_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"notifications larger than {limit} bytes are refused")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Rejected(413, f"notifications larger than {limit} bytes are refused")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected(400, "the notification is not JSON") from exc
    if not _depth_ok(body, config.max_json_depth):
        raise Rejected(400, f"the notification is nested deeper than {config.max_json_depth} levels")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "id" in e for e in data):
        raise Rejected(400, "a notification carries its entities in data: [...]")
    return tenant, data


def is_deletion(entity: dict[str, Any]) -> bool:
    """The deleted representation: only id and type (and deletedAt)."""
    return set(entity) <= {"id", "type", "deletedAt", "@context"}
