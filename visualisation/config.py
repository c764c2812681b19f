"""The dashboard's view of the platform settings: which broker it reads and how the broker reaches it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from verbund.settings import Settings

PREFIX = "/dashboard"  # the dashboard's path, mounted or alone, so its URLs are the same in both
SERVICE = "dashboard"  # its name in feed subscriptions and in VERBUND_FEEDS
CONTEXT_PATH = "/ngsi-ld/contexts/verbund.jsonld"


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@dataclass(frozen=True)
class DashboardConfig:
    broker_url: str  # NGSI-LD broker base URL (without /ngsi-ld/v1)
    context_url: str  # the platform @context the dashboard reads and subscribes with
    notify_url: str  # where the broker sends feed notifications
    feed_secret: str
    token: str  # Authorization: Bearer <token> on every broker request; empty: none
    tenants: tuple[str, ...]  # served tenants when the broker has no municipality registry
    tile_url: str
    tile_attribution: str
    reconcile_interval: float
    client_queue: int
    max_clients: int
    max_notification_bytes: int
    max_json_depth: int

    @property
    def tile_origin(self) -> str:
        if not self.tile_url:
            return ""
        parts = urlsplit(self.tile_url)
        return f"{parts.scheme}://{parts.netloc}"


def configured_notify_url(settings: Settings) -> str:
    """The dashboard's entry in VERBUND_FEEDS ("catalog=URL,dashboard=URL"), or empty."""
    for item in settings.feeds.split(","):
        service, _, url = item.partition("=")
        if service.strip() == SERVICE:
            return url.strip()
    return ""


def notify_url_when_mounted(settings: Settings) -> str:
    """The /notify URL of the dashboard mounted on the broker's port, as the broker itself reaches it."""
    configured = configured_notify_url(settings)
    return configured or f"http://{_loopback(settings.host)}:{settings.broker_port}{PREFIX}/notify"


def dashboard_config(settings: Settings, *, mounted: bool) -> DashboardConfig:
    """Mounted (``verbund serve``): the broker is this process's, on loopback. Alone (``verbund dashboard``):
    the broker at ``dashboard_broker_url`` and the dashboard on its own port."""
    if settings.dashboard_broker_url:
        broker = settings.dashboard_broker_url.rstrip("/")
    else:
        broker = f"http://{_loopback(settings.host)}:{settings.broker_port}"
    if mounted:
        notify = notify_url_when_mounted(settings)
    else:
        notify = configured_notify_url(settings) or (
            f"http://{_loopback(settings.host)}:{settings.dashboard_port}{PREFIX}/notify"
        )
    # Mounted, the platform @context is named as the broker registered it (its public URL): never fetched.
    context = settings.broker_url + CONTEXT_PATH if mounted and not settings.dashboard_broker_url else ""
    return DashboardConfig(
        broker_url=broker,
        context_url=context or broker + CONTEXT_PATH,
        notify_url=notify,
        feed_secret=settings.feed_secret or secrets.token_hex(32),
        token=settings.dashboard_broker_token,
        tenants=tuple(t.strip() for t in settings.dashboard_tenants.split(",") if t.strip()),
        tile_url=settings.dashboard_tile_url,
        tile_attribution=settings.dashboard_tile_attribution,
        reconcile_interval=settings.dashboard_reconcile_interval,
        client_queue=settings.dashboard_client_queue,
        max_clients=settings.dashboard_max_clients,
        max_notification_bytes=8
        * settings.max_body_bytes,  # a notification carries up to a batch of entities
        max_json_depth=settings.max_json_depth,
    )
