"""Feed subscriptions: how each municipality's tenant feeds the platform's own services (catalog, dashboard).

There is one deterministic subscription per (service, tenant), so whoever creates it - the municipality
registry when a town registers, or the service itself when it reconciles on start -
makes the same one and never two.
Each notification carries a per-tenant token (HMAC-SHA256 of the service's feed secret and the tenant) in
receiverInfo, so a receiver rejects an unknown sender or a forged tenant without any shared state.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

TOKEN_HEADER = "X-Verbund-Feed-Token"
TENANT_HEADER = "X-Verbund-Tenant"

# The Smart Data Models types the platform's services publish and draw (short names in the platform @context).
DEFAULT_FEED_TYPES = (
    "WaterObserved",
    "FloodMonitoring",
    "TrafficFlowObserved",
    "ItemFlowObserved",
    "Alert",
    "Device",
    "WeatherObserved",
    "AirQualityObserved",
    "NoiseLevelObserved",
    "OffStreetParking",
    "ParkingSpot",
    "Streetlight",
)


def subscription_id(service: str) -> str:
    """The feed subscription's id in every tenant (one per service, so re-creating it is idempotent)."""
    return f"urn:ngsi-ld:Subscription:verbund:{service}"


def feed_token(secret: str, tenant: str) -> str:
    return hmac.new(secret.encode(), tenant.encode(), hashlib.sha256).hexdigest()


def verify_feed_token(secret: str, tenant: str, token: str | None) -> bool:
    return bool(secret) and token is not None and hmac.compare_digest(feed_token(secret, tenant), token)


def feed_subscription(
    service: str,
    tenant: str,
    *,
    notify_url: str,
    secret: str,
    context_url: str,
    types: Iterable[str] = DEFAULT_FEED_TYPES,
) -> dict[str, Any]:
    """The NGSI-LD subscription (application/ld+json body) that feeds `service` from `tenant`."""
    return {
        "id": subscription_id(service),
        "type": "Subscription",
        "description": f"Verbund {service} feed",
        "entities": [{"type": t} for t in types],
        "notification": {
            "format": "normalized",
            "endpoint": {
                "uri": notify_url,
                "accept": "application/json",
                "receiverInfo": [
                    {"key": TOKEN_HEADER, "value": feed_token(secret, tenant)},
                    {"key": TENANT_HEADER, "value": tenant},
                ],
            },
        },
        "@context": context_url,
    }
