"""The catalog's configuration, derived once from the platform settings: where it is reached, where the broker
is, where the broker sends the feed, and the feed secret."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verbund.settings import Settings

SERVICE = "catalog"  # the service name in the feed subscription (verbund/feeds.py)
MOUNT_PATH = "/catalog"  # where `verbund serve` mounts the catalog on the broker's port
CONTEXT_PATH = "/ngsi-ld/contexts/verbund.jsonld"  # the platform @context the broker serves (contract 3)


@dataclass(frozen=True)
class CatalogConfig:
    base_url: str  # public URL of the catalog: the prefix of every URI and link it publishes
    broker_url: str  # where the catalog reaches the broker
    broker_public_url: str  # the broker as the public reaches it (NGSI-LD distributions, the data service)
    notify_url: str  # where the broker sends the feed notifications
    feed_secret: str
    context_url: str
    broker_token: str
    data_dir: Path
    sync_interval: float
    page_size: int
    max_notification_bytes: int
    publisher: str
    municipalities_file: Path | None
    ckan: dict[str, dict[str, Any]] = field(default_factory=dict)


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def catalog_config(settings: Settings, *, mounted: bool = False) -> CatalogConfig:
    """`mounted`: served under /catalog on the broker's port (`verbund serve`), else on its own port."""
    if mounted:
        local = f"http://{_loopback(settings.host)}:{settings.broker_port}{MOUNT_PATH}"
        default_base = settings.broker_url + MOUNT_PATH
        broker_url = (
            settings.catalog_broker_url or f"http://{_loopback(settings.host)}:{settings.broker_port}"
        )
    else:
        local = f"http://{_loopback(settings.host)}:{settings.catalog_port}"
        default_base = local
        broker_url = settings.catalog_broker_url or settings.agents_northbound_url
    broker_url = broker_url.rstrip("/")
    data_dir = Path(settings.data_dir)
    return CatalogConfig(
        base_url=(settings.catalog_public_url or default_base).rstrip("/"),
        broker_url=broker_url,
        broker_public_url=(settings.public_url or broker_url).rstrip("/"),
        notify_url=settings.catalog_notify_url or f"{local}/notify",
        feed_secret=settings.feed_secret or _stored_secret(data_dir / "feed.secret"),
        context_url=broker_url + CONTEXT_PATH,
        broker_token=settings.catalog_broker_token,
        data_dir=data_dir,
        sync_interval=settings.catalog_sync_interval,
        page_size=settings.catalog_page_size,
        max_notification_bytes=settings.catalog_max_notification_bytes,
        publisher=settings.catalog_publisher,
        municipalities_file=Path(settings.catalog_municipalities_file)
        if settings.catalog_municipalities_file
        else None,
        ckan=load_ckan_config(settings.catalog_ckan_config),
    )


def _stored_secret(path: Path) -> str:
    """A feed secret generated on first start and kept, so subscriptions stay valid across restarts (with
    `verbund serve` the registry signs the feeds with it too)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def load_ckan_config(path: str) -> dict[str, dict[str, Any]]:
    """Per-municipality CKAN push: {tenant: {"url": ..., "apiKey": ..., "ownerOrg": ...}} from a JSON file."""
    if not path:
        return {}
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"VERBUND_CATALOG_CKAN_CONFIG: cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("VERBUND_CATALOG_CKAN_CONFIG: the file must hold a JSON object keyed by tenant")
    for tenant, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise ValueError(f'VERBUND_CATALOG_CKAN_CONFIG: {tenant} needs at least a "url"')
    return raw
