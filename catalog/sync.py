"""Keeping the catalog true: the municipalities from the registry, the feed subscriptions, and reconciliation.

On start and then every `sync_interval` seconds the syncer reads the registry, makes sure each open-data
municipality's tenant has the catalog's feed subscription, and re-reads what the broker holds (entity types,
then every entity of each published type), so a notification that was missed - the catalog was down, the
broker gave up - never leaves the catalog stale. Between full runs, notifications update the store
directly and wake the follow-up work: first observations from the broker's history, withdrawals and the
CKAN push.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import anyio.to_thread

from catalog.broker import BrokerClient, BrokerUnavailable
from catalog.ckan import CkanPusher
from catalog.config import SERVICE, CatalogConfig
from catalog.model import Views, publishable
from catalog.store import CatalogStore
from catalog.summary import EntitySummary, MalformedEntity, summarize
from verbund.feeds import DEFAULT_FEED_TYPES, feed_subscription, subscription_id

log = logging.getLogger("verbund.catalog")
HISTORY_CONCURRENCY = 4
FOLLOW_UP_DELAY = 0.5  # seconds to gather a burst of notifications into one follow-up


class Syncer:
    def __init__(
        self,
        config: CatalogConfig,
        store: CatalogStore,
        broker: BrokerClient,
        views: Views,
        ckan: CkanPusher | None = None,
        types: tuple[str, ...] = DEFAULT_FEED_TYPES,
    ) -> None:
        self.config = config
        self.store = store
        self.broker = broker
        self.views = views
        self.ckan = ckan
        self.types = types
        self.last_sync: float | None = None  # when the last full run finished without error
        self._full = asyncio.Event()
        self._follow_up = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._full_loop()), asyncio.create_task(self._follow_up_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def wake(self, *, full: bool = False) -> None:
        """A notification arrived (follow-up work), or the registry should be read again (full)."""
        (self._full if full else self._follow_up).set()

    # loops -----------------------------------------------------------------------------------------------
    async def _full_loop(self) -> None:
        retry = 1.0
        while True:
            try:
                await self.sync_all()
                retry = 1.0
                delay = self.config.sync_interval
            except BrokerUnavailable as exc:
                log.warning("catalog sync failed; retrying", extra={"detail": str(exc), "retry_in": retry})
                delay, retry = (
                    min(retry, self.config.sync_interval),
                    min(retry * 2, self.config.sync_interval),
                )
            except Exception:
                log.exception("catalog sync failed unexpectedly")
                delay = self.config.sync_interval
            self._full.clear()
            with contextlib.suppress(TimeoutError):  # the interval passed without a wake-up
                await asyncio.wait_for(self._full.wait(), delay)

    async def _follow_up_loop(self) -> None:
        while True:
            await self._follow_up.wait()
            await asyncio.sleep(FOLLOW_UP_DELAY)
            self._follow_up.clear()
            try:
                await self.follow_up()
            except BrokerUnavailable as exc:
                log.warning("catalog follow-up failed", extra={"detail": str(exc)})
            except Exception:
                log.exception("catalog follow-up failed unexpectedly")

    # the work --------------------------------------------------------------------------------------------
    async def sync_all(self) -> None:
        records = await self._municipalities()
        await anyio.to_thread.run_sync(self.store.put_municipalities, records)
        if not self.views.type_iris:
            self.views.type_iris = {
                t: iri for t, iri in (await self.broker.context_terms()).items() if t in self.types
            }
        known = {r["tenant"] for r in records}
        failed: list[str] = []
        for record in records:
            try:
                await self._sync_one(record)
            except BrokerUnavailable as exc:  # one municipality's trouble must not hold up the others
                log.warning("catalog sync of a municipality failed", extra={"tenant": record["tenant"],
                                                                            "detail": str(exc)})  # fmt: skip
                failed.append(record["tenant"])
        for row in self.store.datasets():
            if row.tenant not in known and row.count:
                await anyio.to_thread.run_sync(self.store.purge_tenant, row.tenant)
        await self.follow_up()
        if failed:
            raise BrokerUnavailable(f"the sync of {', '.join(failed[:10])} failed")
        self.last_sync = time.time()

    async def _sync_one(self, record: dict[str, Any]) -> None:
        tenant = record["tenant"]
        if publishable(record):
            await self._subscribe(tenant)
            await self.reconcile(tenant)
            return
        if record.get("status", "active") == "active":  # registered but closed: no feed wanted
            await self.broker.delete_subscription(tenant, subscription_id(SERVICE))
        await anyio.to_thread.run_sync(self.store.purge_tenant, tenant)

    async def _municipalities(self) -> list[dict[str, Any]]:
        path = self.config.municipalities_file
        if path is None:
            return await self.broker.municipalities()
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BrokerUnavailable(f"cannot read the municipalities file {path}: {exc}") from exc
        return [r for r in records if isinstance(r, dict) and isinstance(r.get("tenant"), str)]

    async def _subscribe(self, tenant: str) -> None:
        body = feed_subscription(
            SERVICE, tenant, notify_url=self.config.notify_url, secret=self.config.feed_secret,
            context_url=self.config.context_url, types=self.types,
        )  # fmt: skip
        outcome = await self.broker.ensure_subscription(tenant, body)
        if outcome != "unchanged":
            log.info("feed subscription " + outcome, extra={"tenant": tenant})

    async def reconcile(self, tenant: str) -> None:
        """Make the tenant's datasets what the broker holds now."""
        since = time.time()
        present = await self.broker.types(tenant) & set(self.types)
        for type_name in sorted(present | self.store.known_types(tenant)):
            summaries: list[EntitySummary] = []
            if type_name in present:
                async for page in self.broker.entity_pages(tenant, type_name):
                    for entity in page:
                        try:
                            summaries.append(summarize(entity))
                        except MalformedEntity as exc:
                            log.warning("entity not summarised", extra={"tenant": tenant, "detail": str(exc)})
            await anyio.to_thread.run_sync(self.store.replace_type, tenant, type_name, summaries, since)

    async def follow_up(self) -> None:
        await self.backfill_history()
        await anyio.to_thread.run_sync(self.update_withdrawals)
        if self.ckan is not None:
            await self.ckan.push(self.views)

    async def backfill_history(self) -> None:
        """Look up the first observation of entities the catalog met after their history began."""
        limit = asyncio.Semaphore(HISTORY_CONCURRENCY)

        async def one(tenant: str, entity_id: str, known: str | None) -> None:
            async with limit:
                first = await self.broker.first_observation(tenant, entity_id, known)
            await anyio.to_thread.run_sync(self.store.set_first_observed, tenant, entity_id, first)

        while batch := await anyio.to_thread.run_sync(self.store.unchecked, 100):
            await asyncio.gather(*(one(*row) for row in batch))

    def update_withdrawals(self) -> None:
        """A dataset that is no longer published (its municipality retired or closed its data, or it has no
        entities left) is marked withdrawn; one published again loses the mark."""
        for view in self.views.published():
            if view.row.withdrawn:
                self.store.set_withdrawn(view.row.tenant, view.row.type, False)
        for row in self.views.unpublished():
            if not row.withdrawn:
                log.info("dataset withdrawn", extra={"tenant": row.tenant, "type": row.type})
                self.store.set_withdrawn(row.tenant, row.type, True)
