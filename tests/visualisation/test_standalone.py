"""``verbund dashboard`` on its own port against a broker it reaches only over HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.server import BrokerProcess, free_port
from tests.support.subscriptions import NOTIFY_ENV
from tests.visualisation.processes import verbund
from tests.visualisation.sse import stream

CONTEXT = "/ngsi-ld/contexts/verbund.jsonld"


def test_the_dashboard_alone_reads_and_follows_a_broker(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "broker", env=NOTIFY_ENV).start()
    try:
        registry = broker.url + "/verbund/v1/municipalities"
        town = {
            "tenant": "bitburg",
            "name": "Stadt Bitburg",
            "kind": "Stadt",
            "ags": "07232018",
            "bbox": [6.48, 49.94, 6.56, 49.99],
            "openData": True,
        }
        assert httpx.post(registry, json=town).status_code == 201
        port = free_port()
        env = {"VERBUND_FEED_SECRET": "standalone-secret", "VERBUND_DASHBOARD_RECONCILE_INTERVAL": "1"}
        args = ["dashboard", "--port", str(port), "--broker-url", broker.url]
        dashboard = f"http://127.0.0.1:{port}/dashboard"
        with verbund(args, dashboard + "/health", tmp_path / "dashboard", env):
            link = f'<{broker.url}{CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"'
            ngsi = httpx.Client(
                base_url=broker.url + "/ngsi-ld/v1",
                headers={"NGSILD-Tenant": "bitburg", "Link": link},
                timeout=10,
            )
            gauge = {
                "id": "urn:ngsi-ld:WaterObserved:pruem",
                "type": "WaterObserved",
                "height": {"type": "Property", "value": 0.8},
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [6.5, 49.96]}},
            }
            assert ngsi.post("/entities", json=gauge).status_code == 201
            assert httpx.get(f"http://127.0.0.1:{port}/").headers["location"] == "/dashboard/"
            sensors = httpx.get(dashboard + "/api/sensors", params={"tenant": "bitburg"}).json()["sensors"]
            assert [(s["id"], s["value"]) for s in sensors] == [("urn:ngsi-ld:WaterObserved:pruem", 0.8)]
            # its own feed subscription (made on start) brings the next change to an open page
            sub = "urn:ngsi-ld:Subscription:verbund:dashboard"
            deadline = 0
            while ngsi.get(f"/subscriptions/{sub}").status_code != 200:
                deadline += 1
                assert deadline < 300, "the dashboard did not subscribe"
                time.sleep(0.1)
            with stream(dashboard + "/events?tenant=bitburg") as events:
                patch = {"height": {"type": "Property", "value": 1.1}}
                assert (
                    ngsi.patch("/entities/urn:ngsi-ld:WaterObserved:pruem/attrs", json=patch).status_code
                    == 204
                )
                assert events.next("sensor", where=lambda s: s["value"] == 1.1)["data"]["id"].endswith(
                    ":pruem"
                )
            page = httpx.get(dashboard + "/m/bitburg", params={"lang": "en"})
            assert page.status_code == 200 and "Stadt Bitburg" in page.text
            headers = page.headers
            assert "default-src 'none'" in headers["content-security-policy"]
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert (headers["x-content-type-options"], headers["x-frame-options"]) == ("nosniff", "DENY")
            assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
            ngsi.close()
    finally:
        broker.stop()
