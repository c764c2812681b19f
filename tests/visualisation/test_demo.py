"""``verbund serve --demo``: the cluster's municipalities, simulated devices feeding the agents, a flood wave
crossing alert levels and traffic counters, all visible on the dashboard shortly after the start."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.server import free_port
from tests.visualisation.processes import verbund

CLUSTER = {
    "kaiserslautern": ("Kreisfreie Stadt", "07312000", "073120000000"),
    "linz-am-rhein": ("Verbandsgemeinde", None, "071385004000"),
    "kusel": ("Landkreis", "07336000", "073360000000"),
    "mayen-koblenz": ("Landkreis", "07137000", "071370000000"),
    "bitburg-pruem": ("Landkreis", "07232000", "072320000000"),
    "st-wendel": ("Landkreis", "10046000", "100460000000"),
}


def test_the_demo_moves_the_whole_chain(tmp_path: Path) -> None:
    port, north, south = free_port(), free_port(), free_port()
    args = [
        "serve",
        "--demo",
        "--demo-speed",
        "3600",
        "--port",
        str(port),
        "--north-port",
        str(north),
        "--south-port",
        str(south),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with verbund(args, base + "/dashboard/health", tmp_path):
        registered = {}
        while len(registered) < len(CLUSTER):
            assert time.monotonic() - started < 60, registered
            registered = {m["tenant"]: m for m in httpx.get(base + "/verbund/v1/municipalities").json()}
            time.sleep(0.2)
        for tenant, (kind, ags, ars) in CLUSTER.items():
            record = registered[tenant]
            assert (record["kind"], record["regionalschluessel"], record["openData"]) == (kind, ars, True)
            assert ags is None or record["ags"] == ags
            assert record["area"]["type"] == "Polygon"

        # auth is on (the default): the operator reads the bootstrap key that the first start wrote
        admin_key = (tmp_path / "data" / "admin.key").read_text().strip()
        devices = httpx.get(
            f"http://127.0.0.1:{north}/iot/devices",
            headers={
                "fiware-service": "kaiserslautern",
                "fiware-servicepath": "/",
                "Authorization": f"Bearer {admin_key}",
            },
        ).json()
        assert {d["device_id"] for d in devices["devices"]} >= {"pegel-lauter-kl", "kl-pariser-strasse-lane1"}

        def sensors() -> dict[str, dict]:
            return {s["id"]: s for s in httpx.get(base + "/dashboard/api/sensors").json()["sensors"]}

        # the flood wave passes the Lauter's alert level and the Blies's danger level; alerts are raised
        while True:
            found = sensors()
            lauter = found.get("urn:ngsi-ld:WaterObserved:pegel-lauter-kl", {})
            blies = found.get("urn:ngsi-ld:WaterObserved:pegel-blies-wnd", {})
            alerts = httpx.get(base + "/dashboard/api/alerts").json()["alerts"]
            if lauter.get("state") in ("alert", "danger") and blies.get("state") == "danger" and alerts:
                break
            assert time.monotonic() - started < 90, (lauter, blies, alerts)
            time.sleep(0.5)
        print(f"demo: alert levels crossed {time.monotonic() - started:.1f} s after the start")
        assert len(found) == 6 + 8  # six gauges, four counters of two lanes
        assert all(s["value"] is not None and s["lat"] is not None for s in found.values())
        assert {a["tenant"] for a in alerts} >= {"kaiserslautern", "st-wendel"}

        # history: a month of levels, a week of hourly traffic
        month = httpx.get(
            base + "/dashboard/api/m/kaiserslautern/series",
            params={"id": "urn:ngsi-ld:WaterObserved:pegel-lauter-kl", "range": "30d"},
        ).json()
        assert len(month["series"]["points"]) > 200
        week = httpx.get(
            base + "/dashboard/api/m/mayen-koblenz/traffic",
            params={"id": "urn:ngsi-ld:TrafficFlowObserved:myk-b9-andernach-lane1", "range": "7d"},
        ).json()
        for lane in week["series"]["lanes"]:
            counts = [c for c in lane["counts"] if c is not None]
            assert len(counts) > 150  # hours of the week with a count
            assert max(counts) > 5 * max(1, min(counts))  # a daily rhythm: rush hours and quiet nights
