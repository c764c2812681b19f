"""Helpers for subscription tests: build a subscription, create it, build Room entities."""

from __future__ import annotations

from typing import Any

import httpx

# Fast delivery timing so retries, leases and polling fit in a test's seconds.
NOTIFY_ENV = {
    "VERBUND_NOTIFY_ALLOWED_HOSTS": "127.0.0.1",
    "VERBUND_NOTIFY_RETRY_BASE": "0.05",
    "VERBUND_NOTIFY_RETRY_MAX": "0.4",
    "VERBUND_NOTIFY_POLL_INTERVAL": "0.02",
    "VERBUND_NOTIFY_LEASE_SECONDS": "3",
    "VERBUND_NOTIFY_TIMEOUT": "1",
}


def subscription(uri: str, **members: Any) -> dict[str, Any]:
    """A subscription to Room entities notifying `uri`; members override or add (notification merges)."""
    notification = {"endpoint": {"uri": uri}, **members.pop("notification", {})}
    return {"type": "Subscription", "entities": [{"type": "Room"}], **members, "notification": notification}


def subscribe(client: httpx.Client, body: dict[str, Any], **kwargs: Any) -> str:
    response = client.post("/subscriptions", json=body, **kwargs)
    assert response.status_code == 201, response.text
    return response.headers["Location"].removeprefix("/ngsi-ld/v1/subscriptions/")


def room(n: int | str, **attrs: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {"id": f"urn:ngsi-ld:Room:{n}", "type": "Room"}
    for name, value in attrs.items():
        entity[name] = value if isinstance(value, dict) else {"type": "Property", "value": value}
    return entity
