"""A catalog for a broker without the registry (e.g. Orion-LD) reads its municipalities from a file and still
subscribes, reconciles and publishes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.catalog.conftest import Platform
from tests.catalog.support import municipality, new_tenant, water
from tests.support.server import BrokerProcess


def test_municipalities_from_a_file_are_published(platform: Platform, tmp_path: Path) -> None:
    tenant = new_tenant("f")
    platform.upsert(tenant, water(1, 2.5, 7.1, 49.9, "2026-11-23T05:00:00Z"))  # data first, catalog later
    listed = tmp_path / "municipalities.json"
    listed.write_text(json.dumps([municipality(tenant, name="Stadt Mayen")]))
    catalog = BrokerProcess(
        tmp_path / "catalog",
        command="catalog",
        env={"VERBUND_CATALOG_MUNICIPALITIES_FILE": str(listed), "VERBUND_CATALOG_SYNC_INTERVAL": "3"},
        extra_args=["--broker-url", platform.broker.url],
    ).start()
    try:
        slug = f"{tenant}-water-observed"
        with httpx.Client(base_url=catalog.url, timeout=30) as web:
            ttl = platform.wait(lambda: (r := web.get(f"/dataset/{slug}.ttl")).status_code == 200 and r.text)
            assert "Pegelstände – Stadt Mayen" in ttl
            # It subscribed itself: a new gauge arrives through the feed.
            subscription = platform.admin.get(
                "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:verbund:catalog",
                headers={"NGSILD-Tenant": tenant},
            )
            assert subscription.status_code == 200
            assert subscription.json()["notification"]["endpoint"]["uri"] == f"{catalog.url}/notify"
            platform.upsert(tenant, water(2, 2.0, 7.3, 50.0, "2026-11-24T05:00:00Z"))
            platform.wait(
                lambda: (
                    "POLYGON((7.1 49.9,7.3 49.9,7.3 50.0,7.1 50.0,7.1 49.9))"
                    in web.get(f"/dataset/{slug}.ttl").text
                )
            )
    finally:
        catalog.stop()
