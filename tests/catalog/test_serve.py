"""`verbund serve` mounts the catalog under /catalog on the broker's port and feeds it by itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.catalog.conftest import CONTEXT_PATH, REGISTRY
from tests.catalog.support import municipality, new_tenant, water
from tests.support.ngsild import context_link
from tests.support.receivers import wait_for
from tests.support.server import BrokerProcess, free_port


def test_serve_publishes_registered_data_under_catalog(tmp_path: Path) -> None:
    server = BrokerProcess(
        tmp_path / "data",
        command="serve",
        env={"VERBUND_CATALOG_SYNC_INTERVAL": "3"},
        extra_args=["--north-port", str(free_port()), "--south-port", str(free_port())],
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            moved = http.get("/catalog")
            assert moved.status_code == 308 and moved.headers["location"] == "/catalog/"
            home = http.get("/catalog/")
            assert home.status_code == 200 and "Offene Daten der Kommunen" in home.text
            assert 'href="/catalog/static/portal.css"' in home.text
            assert http.get("/catalog/static/portal.css").status_code == 200
            assert http.get("/health").json() == {"status": "ok"}  # the broker's own routes are untouched

            tenant = new_tenant()
            assert http.post(REGISTRY, json=municipality(tenant)).status_code == 201
            written = http.post(
                "/ngsi-ld/v1/entities",
                json=water(1, 1.42, 7.75, 49.44, "2026-11-25T10:00:00Z"),
                headers={"NGSILD-Tenant": tenant, "Link": context_link(server.url + CONTEXT_PATH)},
            )
            assert written.status_code == 201, written.text
            slug = f"{tenant}-water-observed"
            ttl = wait_for(
                lambda: (r := http.get(f"/catalog/dataset/{slug}.ttl")).status_code == 200 and r.text, 30
            )
            assert f"<{server.url}/catalog/dataset/{slug}>" in ttl
            csv = http.get(f"/catalog/dataset/{slug}/current.csv").text
            assert "urn:ngsi-ld:WaterObserved:pegel-1" in csv and "1.42" in csv
        assert (tmp_path / "data" / "feed.secret").stat().st_mode & 0o777 == 0o600
    finally:
        server.stop()
