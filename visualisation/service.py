"""The dashboard service object: everything the handlers share, built once per app.

Snapshots (what a page shows when it loads) are read from the broker on request; changes arrive by the
feed and go to the browsers through the hub. The only state kept is small and rebuildable: the list of
municipalities (refreshed every few seconds) and the stations' alert/danger levels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from visualisation import feed
from visualisation.broker import BrokerClient, BrokerError, BrokerUnavailable
from visualisation.config import DashboardConfig
from visualisation.live import Hub
from visualisation.municipalities import Municipality, from_records, from_tenants
from visualisation.sensors import (
    ALERT_TYPE,
    SENSOR_TYPES,
    ThresholdIndex,
    alert_summary,
    sort_alerts,
    summarise,
    type_of,
)

log = logging.getLogger("verbund.dashboard")
MUNICIPALITIES_TTL = 5.0


class Dashboard:
    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.client = BrokerClient(config)
        self.last_reconcile: float | None = None  # when the feed subscriptions were last checked
        self.hub = Hub(config.client_queue, config.max_clients)
        self.index = ThresholdIndex()
        self._municipalities: tuple[float, list[Municipality]] | None = None
        self._reconciled: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._reconcile_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    def reconcile_soon(self) -> None:
        """Check the feed subscriptions now (e.g. after municipalities were registered)."""
        self._municipalities = None
        self._wake.set()

    async def _reconcile_loop(self) -> None:
        delay = 0.5  # the broker may still be starting (mounted: it binds after this app's start-up)
        while True:
            try:
                await self.reconcile()
                self.last_reconcile = time.time()
                delay = self.config.reconcile_interval
            except (BrokerUnavailable, BrokerError) as exc:
                log.warning("feed subscriptions not checked", extra={"reason": str(exc)})
                delay = min(delay * 2, self.config.reconcile_interval)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def reconcile(self) -> dict[str, str]:
        """Make each served tenant's feed subscription deliver here; what was done per tenant."""
        done: dict[str, str] = {}
        for m in await self.municipalities(fresh=True):
            wanted = feed.desired(self.config, m.tenant)
            status = await self.client.create_subscription(m.tenant, wanted)
            if status == 409:
                existing = await self.client.subscription(m.tenant, feed.sub_id())
                if existing is not None and feed.differs(existing, wanted):
                    await self.client.update_subscription(m.tenant, feed.sub_id(), feed.patch_body(wanted))
                    done[m.tenant] = "updated"
                else:
                    done[m.tenant] = "kept"
            else:
                done[m.tenant] = "created"
            if m.tenant not in self._reconciled:
                log.info("dashboard feed ready", extra={"tenant": m.tenant, "action": done[m.tenant]})
                self._reconciled.add(m.tenant)
        return done

    # reading -------------------------------------------------------------------------------------------
    async def municipalities(self, *, fresh: bool = False) -> list[Municipality]:
        cached = self._municipalities
        if cached is not None and not fresh and time.monotonic() - cached[0] < MUNICIPALITIES_TTL:
            return cached[1]
        records = await self.client.municipalities()
        tenants = self.config.tenants
        found = from_tenants(tenants) if records is None else from_records(records, tenants)
        self._municipalities = (time.monotonic(), found)
        return found

    async def municipality(self, tenant: str) -> Municipality | None:
        return next((m for m in await self.municipalities() if m.tenant == tenant), None)

    async def sensors(self, tenants: list[str]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        queries = (self.client.query(tenant, type=",".join(SENSOR_TYPES)) for tenant in tenants)
        found: list[dict[str, Any]] = []
        for tenant, entities in zip(tenants, await asyncio.gather(*queries), strict=True):
            self.index.load(tenant, entities)
            found.extend(summarise(e, tenant, self.index, now) for e in entities)
        return sorted(found, key=lambda s: (s["tenant"], s["kind"], s["name"].casefold(), s["id"]))

    async def sensor(self, tenant: str, entity_id: str) -> dict[str, Any] | None:
        entity = await self.client.entity(tenant, entity_id)
        if entity is None:
            return None
        if not self.index.loaded(tenant):
            self.index.load(tenant, await self.client.query(tenant, type="FloodMonitoring"))
        return summarise(entity, tenant, self.index)

    async def lanes(self, tenant: str, sensor: dict[str, Any]) -> list[dict[str, Any]]:
        """The lanes of a traffic site: counters on the same road segment (or the counter alone)."""
        if not sensor.get("roadSegment"):
            return [sensor]
        entities = await self.client.query(tenant, type=sensor["type"])
        now = datetime.now(UTC)
        same = [summarise(e, tenant, None, now) for e in entities]
        same = [s for s in same if s["roadSegment"] == sensor["roadSegment"]]
        return sorted(same, key=lambda s: (str(s["laneId"] or ""), s["id"])) or [sensor]

    async def alerts(self, tenants: list[str]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        queries = (self.client.query(tenant, type=ALERT_TYPE) for tenant in tenants)
        found = []
        for tenant, entities in zip(tenants, await asyncio.gather(*queries), strict=True):
            found += [s for s in (alert_summary(e, tenant, now) for e in entities) if s["active"]]
        return sort_alerts(found)

    # the feed ------------------------------------------------------------------------------------------
    async def changed(self, tenant: str, entities: list[dict[str, Any]]) -> None:
        """Entities notified by the broker: to the browsers, as sensor, alert or deleted events."""
        now = datetime.now(UTC)
        for entity in entities:
            if feed.is_deletion(entity):
                self.hub.publish(tenant, "deleted", {"id": entity["id"], "tenant": tenant})
                continue
            entity_type = type_of(entity)
            if entity_type == ALERT_TYPE:
                self.hub.publish(tenant, "alert", alert_summary(entity, tenant, now))
                continue
            if entity_type not in SENSOR_TYPES:
                continue  # e.g. Device: not drawn
            if not self.index.loaded(tenant):
                try:
                    self.index.load(tenant, await self.client.query(tenant, type="FloodMonitoring"))
                except (BrokerUnavailable, BrokerError) as exc:  # colour without station levels for now
                    log.warning("station levels not loaded", extra={"tenant": tenant, "reason": str(exc)})
            self.index.learn(tenant, entity)
            self.hub.publish(tenant, "sensor", summarise(entity, tenant, self.index, now))
