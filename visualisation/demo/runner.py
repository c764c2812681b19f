"""``verbund serve --demo``: the whole chain, moving within a minute.

1. registers the cluster's municipalities through the registry API (when the broker has one);
2. provisions the simulated devices through the IoT agents' provisioning API (port 4041);
3. fills the history (30 days of gauge levels, 7 days of traffic) through the agents' southbound (7896):
   IoTA-JSON arrays with TimeInstant for the HTTP gauges, The Things Stack uplinks for the LoRaWAN ones;
4. replays the last hours at ``speed`` times real time (a flood wave rises past the alert level of the
   Lauter gauge, then of the others; the traffic counters run through their day), and once the simulated
   clock has caught up with the real one, goes on in real time with a measure every few seconds;
5. acts as the flood warning service: an ``Alert`` is raised (NGSI-LD API) when a gauge passes its alert
   level, raised to high at its danger level, and ended (validTo) when the level falls back.

Time stamps are always real (past or now), so charts, hourly sums and the temporal API stay consistent.
Nothing here stops the platform: a failed step is logged and retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from verbund.settings import Settings
from visualisation.config import CONTEXT_PATH
from visualisation.demo import devices, signals
from visualisation.demo.places import COUNTERS, GAUGES, LANES, PLACES, Counter, Gauge, record

log = logging.getLogger("verbund.demo")
HISTORY_DAYS = 30
TRAFFIC_DAYS = 7
REPLAY = timedelta(hours=6)
REPLAY_GAUGE_STEP = timedelta(minutes=10)
REPLAY_TRAFFIC_STEP = timedelta(minutes=15)
LIVE_GAUGE_STEP = timedelta(seconds=20)
LIVE_TRAFFIC_STEP = timedelta(seconds=60)
TICK = 0.25  # seconds between looks at the simulated clock
PERIOD_END = timedelta(hours=1) - timedelta(seconds=1)  # an hourly count is stamped inside its hour


def hour_floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def demo_tenants() -> str:
    return ",".join(p.tenant for p in PLACES)


def demo_settings(settings: Settings) -> Settings:
    """The agents send the platform @context (so the dashboard and the catalog see Smart Data Models types),
    and without a registry the dashboard serves the demo's tenants."""
    overrides: dict[str, Any] = {}
    if not settings.agents_context_url:
        overrides["agents_context_url"] = settings.agents_northbound_url + CONTEXT_PATH
    if not settings.dashboard_tenants:
        overrides["dashboard_tenants"] = demo_tenants()
    return settings.with_overrides(**overrides)


@dataclass
class Clock:
    """Simulated time: from ``start - replay`` at ``speed`` times real time until it reaches real time."""

    start: datetime
    speed: float
    replay: timedelta = REPLAY

    def now(self, real: datetime | None = None) -> datetime:
        real = real or datetime.now(UTC)
        simulated = self.start - self.replay + (real - self.start) * self.speed
        return min(simulated, real)


@dataclass
class ActiveAlert:
    id: str
    severity: str
    issued: datetime


@dataclass
class Lane:
    counter: Counter
    lane: int
    direction: str
    sent: int = 0  # running sums the PCR2 reports
    uplinks: int = 0
    next: datetime = field(default_factory=lambda: datetime.now(UTC))


class Demo:
    def __init__(
        self, settings: Settings, speed: float, *, history_days: int = HISTORY_DAYS, token: str | None = None
    ) -> None:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        self.broker = settings.agents_northbound_url
        self.north = f"http://{host}:{settings.iota_north_port}"
        self.south = f"http://{host}:{settings.iota_south_port}"
        self.context = settings.agents_context_url
        self.speed = max(1.0, speed)
        self.history_days = history_days
        self.replay = REPLAY
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(timeout=30, headers=auth)
        self.alerts: dict[str, ActiveAlert] = {}  # gauge device -> its alert while one is active

    # the steps -----------------------------------------------------------------------------------------
    async def run(self, on_seeded: Callable[[], None] | None = None) -> None:
        await self._wait_ready()
        await self._register()
        if on_seeded is not None:
            on_seeded()
        await self._provision()
        start = datetime.now(UTC)
        clock = Clock(start, self.speed, self.replay)
        if await self._fresh():
            await self._backfill(start - clock.replay)
        log.info("demo running", extra={"speed": self.speed, "catch_up_seconds": round(REPLAY / timedelta(
            seconds=1) / self.speed)})  # fmt: skip
        await self._simulate(clock)

    async def _wait_ready(self) -> None:
        for _ in range(600):
            try:
                ok = (await self.http.get(self.broker + "/health")).status_code == 200
                ok = ok and (await self.http.get(self.north + "/iot/about")).status_code == 200
                if ok:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("the broker or the IoT agents did not start")

    async def _register(self) -> None:
        for place in PLACES:
            response = await self.http.post(self.broker + "/verbund/v1/municipalities", json=record(place))
            if response.status_code == 404:
                log.warning(
                    "the broker has no municipality registry; the dashboard serves the demo's tenants"
                )
                return
            if response.status_code not in (200, 201, 409):
                status = response.status_code
                log.warning("municipality not registered", extra={"tenant": place.tenant, "status": status})

    async def _provision(self) -> None:
        for place in PLACES:
            headers = {"fiware-service": place.tenant, "fiware-servicepath": "/"}
            answer = await self.http.post(self.north + "/iot/groups", json={"groups": devices.groups()},
                                          headers=headers)  # fmt: skip
            self._check(answer, "groups", place.tenant)
            found = [devices.gauge_device(g) for g in GAUGES if g.tenant == place.tenant]
            for counter in (c for c in COUNTERS if c.tenant == place.tenant):
                found += devices.lane_devices(counter)
            for device in found:  # one by one: a device that exists already (409) must not stop the others
                answer = await self.http.post(self.north + "/iot/devices", json={"devices": [device]},
                                              headers=headers)  # fmt: skip
                self._check(answer, "device " + device["device_id"], place.tenant)

    @staticmethod
    def _check(answer: httpx.Response, what: str, tenant: str) -> None:
        if answer.status_code not in (200, 201, 204, 409):
            raise RuntimeError(
                f"demo: provisioning {what} in {tenant} failed: {answer.status_code} {answer.text}"
            )

    async def _fresh(self) -> bool:
        """True when the demo's gauges have no history yet (a restarted demo keeps what it wrote)."""
        entity_id, _ = devices.gauge_entity(GAUGES[0])
        headers = {"NGSILD-Tenant": GAUGES[0].tenant}
        answer = await self.http.get(f"{self.broker}/ngsi-ld/v1/entities/{entity_id}", headers=headers)
        return answer.status_code == 404

    async def _backfill(self, until: datetime) -> None:
        """The stations' archive before the replay, imported in one temporal API request per series
        (hourly levels for 30 days, hourly counts for 7): the live measures then come through the agents."""
        began = datetime.now(UTC)
        first = hour_floor(until - timedelta(days=self.history_days))
        count = int((hour_floor(until) - first) / timedelta(hours=1))
        hours = [first + timedelta(hours=h) for h in range(count)]
        for gauge in GAUGES:
            entity_id, kind = devices.gauge_entity(gauge)
            attribute = "currentLevel" if kind == "FloodMonitoring" else "height"
            instances = [
                {"type": "Property", "value": signals.level(gauge, t, until + self.replay), "unitCode": "MTR",
                 "observedAt": devices.stamp(t)}
                for t in hours
            ]  # fmt: skip
            await self._archive(gauge.tenant, {"id": entity_id, "type": kind, attribute: instances})
        traffic_hours = hours[-24 * min(self.history_days, TRAFFIC_DAYS) :]
        for counter in COUNTERS:
            for lane, direction in LANES:
                key = f"{counter.site}-{lane}"
                instances = [
                    {"type": "Property", "value": signals.vehicles(counter.peak_per_hour, direction, t,
                     timedelta(hours=1), key), "observedAt": devices.stamp(t + PERIOD_END)}
                    for t in traffic_hours
                ]  # fmt: skip
                body = {"id": devices.lane_entity(counter, lane), "type": "TrafficFlowObserved",
                        "intensity": instances}  # fmt: skip
                await self._archive(counter.tenant, body)
        log.info(
            "demo history written", extra={"seconds": round((datetime.now(UTC) - began).total_seconds())}
        )

    async def _archive(self, tenant: str, body: dict[str, Any]) -> None:
        headers = {"NGSILD-Tenant": tenant, "Link": self._link()}
        url = f"{self.broker}/ngsi-ld/v1/temporal/entities"
        await self._send(lambda: self.http.post(url, json=body, headers=headers), body["id"])

    def _link(self) -> str:
        return f'<{self.context}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'

    async def _simulate(self, clock: Clock) -> None:
        """Every tick, each device sends what fell due since the last one; devices send side by side (each
        in its own order), so a fast replay is not held up by one request after another."""
        begin = clock.now()
        next_gauge = {g.device: begin for g in GAUGES}
        counted = hour_floor(begin)  # where the archived hourly counts end
        lanes = [Lane(c, n, d, next=counted) for c in COUNTERS for n, d in LANES]

        async def gauge_due(gauge: Gauge, simulated: datetime, live: bool) -> None:
            if live:  # caught up: a replay step must not delay the next measure
                next_gauge[gauge.device] = min(next_gauge[gauge.device], simulated + LIVE_GAUGE_STEP)
            while next_gauge[gauge.device] <= simulated:
                await self._gauge(gauge, next_gauge[gauge.device], clock.start)
                next_gauge[gauge.device] += LIVE_GAUGE_STEP if live else REPLAY_GAUGE_STEP

        async def lane_due(lane: Lane, simulated: datetime, live: bool) -> None:
            period = LIVE_TRAFFIC_STEP if live else REPLAY_TRAFFIC_STEP
            while lane.next + period <= simulated:
                await self._uplink(lane, lane.next, period)
                lane.next += period

        while True:
            simulated = clock.now()
            live = simulated >= datetime.now(UTC) - timedelta(seconds=2)
            await asyncio.gather(
                *(gauge_due(g, simulated, live) for g in GAUGES),
                *(lane_due(n, simulated, live) for n in lanes),
            )
            await asyncio.sleep(TICK)

    # what the devices send -----------------------------------------------------------------------------
    async def _send(self, method: Callable[[], Awaitable[httpx.Response]], what: str) -> None:
        for attempt in range(5):
            try:
                answer = await method()
                if answer.status_code < 300:
                    return
                log.warning("demo measure refused", extra={"what": what, "status": answer.status_code,
                                                           "body": answer.text[:300]})  # fmt: skip
                return
            except httpx.TransportError as exc:
                log.warning("demo measure not sent", extra={"what": what, "reason": str(exc)})
                await asyncio.sleep(0.5 * (attempt + 1))

    async def _json_measure(self, gauge: Gauge, t: datetime, value: float) -> None:
        """An HTTP gauge's IoTA-JSON measure (the FloodMonitoring station sends its distance to the water)."""
        measure = {"h": value} if gauge.transport == "json" else {"d": round(devices.REFERENCE_M - value, 3)}
        body = {**measure, "TimeInstant": devices.stamp(t)}
        url, params = f"{self.south}/iot/json", {"k": devices.JSON_KEY, "i": gauge.device}
        await self._send(lambda: self.http.post(url, params=params, json=body), gauge.device)

    async def _gauge(self, gauge: Gauge, t: datetime, start: datetime) -> None:
        value = signals.level(gauge, t, start)
        if gauge.transport == "lorawan":
            distance = round(devices.MOUNTING_MM - value * 1000)
            frame = signals.dl_mbx_frame(distance)
            body = devices.tts_uplink(devices.dev_eui(gauge), gauge.device, frame, 1, t, 0)
            url, params = f"{self.south}/iot/lorawan/tts", {"k": devices.LORA_KEY}
            await self._send(lambda: self.http.post(url, params=params, json=body), gauge.device)
        else:
            await self._json_measure(gauge, t, value)
        await self._warn(gauge, value, t)

    async def _uplink(self, lane: Lane, t: datetime, period: timedelta) -> None:
        counter = lane.counter
        key = f"{counter.site}-{lane.lane}"
        count = signals.vehicles(counter.peak_per_hour, lane.direction, t, period, key)
        lane.sent += count
        lane.uplinks += 1
        frame = signals.pcr2_frame(count, 0, lane.sent, 0)
        at = t + period - timedelta(seconds=1)  # sent at the end of the period, counted in its hour
        body = devices.tts_uplink(devices.lane_eui(counter, lane.lane), key, frame, 14, at, lane.uplinks)
        url, params = f"{self.south}/iot/lorawan/tts", {"k": devices.LORA_KEY}
        await self._send(lambda: self.http.post(url, params=params, json=body), key)

    # the flood warning service -------------------------------------------------------------------------
    async def _warn(self, gauge: Gauge, value: float, t: datetime) -> None:
        severity = "high" if value >= gauge.danger else "medium" if value >= gauge.alert else None
        active = self.alerts.get(gauge.device)
        if (active.severity if active else None) == severity:
            return
        if active is None:
            active = ActiveAlert(f"urn:ngsi-ld:Alert:flood-{gauge.device}-{int(t.timestamp())}", "medium", t)
        if severity is not None:
            active.severity = severity
            stage = "Gefahrenstufe" if severity == "high" else "Meldestufe"
            text = f"Hochwasser {gauge.river}: {gauge.name} über der {stage} ({value:.2f} m)"
        else:
            text = f"Hochwasser {gauge.river}: {gauge.name} wieder unter der Meldestufe ({value:.2f} m)"
        alert: dict[str, Any] = {
            "id": active.id,
            "type": "Alert",
            "category": {"type": "Property", "value": "naturalDisaster"},
            "subCategory": {"type": "Property", "value": "flood"},
            "severity": {"type": "Property", "value": active.severity},
            "description": {"type": "Property", "value": text},
            "alertSource": {"type": "Property", "value": devices.gauge_entity(gauge)[0]},
            "dateIssued": {"type": "Property", "value": devices.stamp(active.issued)},
            "validFrom": {"type": "Property", "value": devices.stamp(active.issued)},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": list(gauge.where)}},
        }
        if severity is None:
            alert["validTo"] = {"type": "Property", "value": devices.stamp(t)}
        headers = {"NGSILD-Tenant": gauge.tenant, "Link": self._link()}
        url = f"{self.broker}/ngsi-ld/v1/entityOperations/upsert"
        await self._send(lambda: self.http.post(url, json=[alert], headers=headers), active.id)
        if severity is None:
            self.alerts.pop(gauge.device, None)
        else:
            self.alerts[gauge.device] = active


async def with_demo(
    settings: Settings,
    speed: float,
    serve: Awaitable[None],
    on_seeded: Callable[[], None] | None = None,
    *,
    token: str | None = None,
) -> None:
    """Serve the platform and run the demo beside it (with `token` when auth is on); the demo ends with
    the platform."""
    demo = Demo(settings, speed, token=token)
    task = asyncio.get_running_loop().create_task(demo.run(on_seeded))

    def report(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("the demo stopped", exc_info=done.exception())

    task.add_done_callback(report)
    try:
        await serve
    finally:
        task.cancel()
        await demo.http.aclose()
