"""One real platform (``verbund serve``: broker, agents, dashboard under /dashboard) for the dashboard's
tests, fed through the IoT agents as a town's sensors would feed it, and one real headless Chromium."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.agents.support import PlatformProcess
from tests.support.server import free_port
from tests.support.subscriptions import NOTIFY_ENV
from tests.visualisation.browser import Browser

TOWN, DISTRICT = "kaiserslautern", "kusel"
LAUTER = "urn:ngsi-ld:WaterObserved:pegel-lauter"
ESELSFUERTH = "urn:ngsi-ld:WaterObserved:pegel-eselsfuerth"  # the gauge the feed tests move
GLAN = "urn:ngsi-ld:FloodMonitoring:pegel-glan"  # a station with its own alert and danger levels
ODENBACH = "urn:ngsi-ld:WaterObserved:pegel-odenbach"  # a gauge of the same station (stationID), no levels
LANES = ("urn:ngsi-ld:TrafficFlowObserved:pariser-lane1", "urn:ngsi-ld:TrafficFlowObserved:pariser-lane2")
CONTEXT_PATH = "/ngsi-ld/contexts/verbund.jsonld"
FEED_SECRET = "feed-secret-of-the-tests"
KEYS = {
    "pegel-lauter": TOWN,
    "pegel-eselsfuerth": TOWN,
    "pegel-glan": DISTRICT,
    "pegel-odenbach": DISTRICT,
}  # device -> its tenant


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Cluster:
    platform: PlatformProcess
    gauge_history: list[tuple[str, float]]  # what the Lauter gauge measured in the last 24 h
    lane_counts: dict[str, int]  # vehicles counted per lane entity

    @property
    def dashboard(self) -> str:
        return self.platform.broker_url + "/dashboard"

    def link(self) -> str:
        return f'<{self.platform.broker_url}{CONTEXT_PATH}>; rel="http://www.w3.org/ns/json-ld#context"'

    def ngsi(self, tenant: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.platform.broker_url + "/ngsi-ld/v1",
            headers={"NGSILD-Tenant": tenant, "Link": self.link()},
            timeout=10,
        )

    def measure(self, device: str, **values: Any) -> None:
        """A gauge sends a measure through the IoT agent's southbound (IoTA-JSON)."""
        key = "pegel-" + KEYS[device]
        answer = httpx.post(
            self.platform.south + "/iot/json", params={"k": key, "i": device}, json=values, timeout=10
        )
        assert answer.status_code == 200, answer.text


def _area(lon: float, lat: float, d: float) -> dict[str, Any]:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d * 1.2, lat + d], [lon - d, lat + d * 0.8]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def municipality(tenant: str, name: str, kind: str, ags: str, area: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "name": name,
        "kind": kind,
        "ags": ags,
        "area": area,
        "openData": True,
        "contactPoint": {"name": name, "url": "https://www.example.org"},
    }


def gauge(device: str, entity: str, name: str, where: tuple[float, float], **static: Any) -> dict[str, Any]:
    kind = entity.split(":")[2]
    attrs = [
        {"name": "name", "type": "Text", "value": name},
        {"name": "location", "type": "geo:json", "value": {"type": "Point", "coordinates": list(where)}},
    ]
    attrs += [
        {"name": k, "type": "Number" if isinstance(v, float) else "Text", "value": v}
        for k, v in static.items()
    ]
    return {
        "device_id": device,
        "entity_name": entity,
        "entity_type": kind,
        "apikey": "pegel-" + KEYS[device],
        "attributes": [
            {
                "object_id": "h",
                "name": "height" if kind == "WaterObserved" else "currentLevel",
                "type": "Number",
                "metadata": {"unitCode": {"type": "Text", "value": "MTR"}},
            }
        ],
        "static_attributes": attrs,
    }


def lane(n: int) -> dict[str, Any]:
    return {
        "device_id": f"pariser-lane{n}",
        "entity_name": LANES[n - 1],
        "entity_type": "TrafficFlowObserved",
        "apikey": "lora-" + TOWN,
        "protocol": "LORAWAN",
        "explicitAttrs": True,
        "attributes": [{"object_id": "LTR", "name": "intensity", "type": "Integer"}],
        "static_attributes": [
            {"name": "name", "type": "Text", "value": "Zählstelle Pariser Straße"},
            {
                "name": "location",
                "type": "geo:json",
                "value": {"type": "Point", "coordinates": [7.744 + n * 0.0004, 49.445]},
            },
            {"name": "laneId", "type": "Integer", "value": n},
            {"name": "laneDirection", "type": "Text", "value": "forward" if n == 1 else "backward"},
            {"name": "refRoadSegment", "type": "Relationship", "value": "urn:ngsi-ld:RoadSegment:pariser"},
        ],
        "internal_attributes": {
            "lorawan": {"dev_eui": f"70B3D5E75E00011{n}", "data_model": "parametric_pcr2"}
        },
    }


def pcr2_uplink(n: int, count: int, at: datetime) -> dict[str, Any]:
    """A The Things Stack uplink of a Parametric PCR2 radar counter (extended v4 frame, FPort 14)."""
    frame = bytes((0xBE, 0x01, 0x04)) + struct.pack(">HHHHHHh", count, 0, count, 0, 3700, 1200, 115)
    return {
        "end_device_ids": {
            "device_id": f"pariser-lane{n}",
            "dev_eui": f"70B3D5E75E00011{n}",
            "application_ids": {"application_id": "verkehr"},
        },
        "uplink_message": {
            "f_port": 14,
            "frm_payload": base64.b64encode(frame).decode(),
            "received_at": stamp(at),
        },
    }


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    port = free_port()
    env = {
        **NOTIFY_ENV,
        "VERBUND_AGENTS_CONTEXT_URL": f"http://127.0.0.1:{port}{CONTEXT_PATH}",
        "VERBUND_DASHBOARD_RECONCILE_INTERVAL": "1",
        "VERBUND_FEED_SECRET": FEED_SECRET,
    }
    platform = PlatformProcess(tmp_path_factory.mktemp("dashboard"), broker_port=port, env=env).start()
    try:
        yield _seed(platform)
    finally:
        platform.stop()


def _devices() -> dict[str, list[dict[str, Any]]]:
    """What each municipality provisions in the IoT agents."""
    lauter = gauge("pegel-lauter", LAUTER, "Pegel Kaiserslautern (Lauter)", (7.752, 49.447), alertLevel=1.2,
                   dangerLevel=1.6)  # fmt: skip
    eselsfuerth = gauge("pegel-eselsfuerth", ESELSFUERTH, "Pegel Eselsfürth (Lauter)", (7.80, 49.45))
    glan = gauge("pegel-glan", GLAN, "Pegel Altenglan (Glan)", (7.463, 49.548), alertLevel=2.6,
                 dangerLevel=3.4, stationID="glan")  # fmt: skip
    odenbach = gauge("pegel-odenbach", ODENBACH, "Pegel Odenbach (Glan)", (7.651, 49.689), stationID="glan")
    return {TOWN: [lauter, eselsfuerth, lane(1), lane(2)], DISTRICT: [glan, odenbach]}


def _seed(platform: PlatformProcess) -> Cluster:
    registry = platform.broker_url + "/verbund/v1/municipalities"
    for body in (
        municipality(TOWN, "Stadt Kaiserslautern", "Kreisfreie Stadt", "07312000", _area(7.77, 49.44, 0.06)),
        municipality(DISTRICT, "Landkreis Kusel", "Landkreis", "07336000", _area(7.47, 49.55, 0.15)),
    ):
        answer = httpx.post(registry, json=body, timeout=10)
        assert answer.status_code == 201, answer.text
    for tenant, devices in _devices().items():
        groups = [
            {"apikey": "pegel-" + tenant, "resource": "/iot/json", "entity_type": "WaterObserved"},
            {"apikey": "lora-" + tenant, "resource": "/iot/lorawan", "entity_type": "TrafficFlowObserved"},
        ]
        with httpx.Client(
            base_url=platform.north, headers={"fiware-service": tenant, "fiware-servicepath": "/"}, timeout=10
        ) as north:
            north.post("/iot/groups", json={"groups": groups}).raise_for_status()
            north.post("/iot/devices", json={"devices": devices}).raise_for_status()
    now = datetime.now(UTC).replace(microsecond=0)
    history = [(stamp(now - timedelta(minutes=30 * (47 - i))), round(0.5 + i * 0.02, 3)) for i in range(48)]
    answer = httpx.post(
        platform.south + "/iot/json",
        params={"k": "pegel-" + TOWN, "i": "pegel-lauter"},
        json=[{"h": v, "TimeInstant": t} for t, v in history],
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    cluster = Cluster(platform, history, {})
    cluster.measure("pegel-glan", h=2.7)
    cluster.measure("pegel-eselsfuerth", h=0.4)
    cluster.measure("pegel-odenbach", h=3.5)
    for n, entity in ((1, LANES[0]), (2, LANES[1])):
        total = 0
        for hours_ago in (3, 2, 1):
            count = 100 * n + hours_ago
            total += count
            at = now - timedelta(hours=hours_ago)
            answer = httpx.post(
                platform.south + "/iot/lorawan/tts",
                params={"k": "lora-" + TOWN},
                json=pcr2_uplink(n, count, at),
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
        cluster.lane_counts[entity] = total
    with cluster.ngsi(TOWN) as ngsi:
        alerts = [
            _alert("flood-lauter", "medium", now, None),
            _alert("old-storm", "high", now - timedelta(days=2), now - timedelta(days=1)),
        ]
        assert ngsi.post("/entityOperations/upsert", json=alerts).status_code in (201, 204)
        # the Lauter gauge's history is in once its last measure is the current value
        _wait_for(lambda: _value(ngsi, LAUTER) == history[-1][1], "the gauge history")
        _wait_for(lambda: all(_value(ngsi, e) for e in LANES), "the traffic counts")
    return cluster


def _alert(name: str, severity: str, issued: datetime, valid_to: datetime | None) -> dict[str, Any]:
    alert = {
        "id": f"urn:ngsi-ld:Alert:{name}",
        "type": "Alert",
        "category": {"type": "Property", "value": "naturalDisaster"},
        "subCategory": {"type": "Property", "value": "flood"},
        "severity": {"type": "Property", "value": severity},
        "description": {"type": "Property", "value": f"Testwarnung {name}"},
        "alertSource": {"type": "Property", "value": LAUTER},
        "dateIssued": {"type": "Property", "value": stamp(issued)},
    }
    if valid_to is not None:
        alert["validTo"] = {"type": "Property", "value": stamp(valid_to)}
    return alert


def _value(ngsi: httpx.Client, entity_id: str) -> Any:
    answer = ngsi.get(f"/entities/{entity_id}", params={"options": "keyValues"})
    if answer.status_code != 200:
        return None
    body = answer.json()
    return body.get("height", body.get("intensity"))


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def feed_secret() -> str:
    return FEED_SECRET
