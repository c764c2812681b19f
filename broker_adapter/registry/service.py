"""The municipality registry: register, update and retire municipalities, and apply each record to its
tenant (Smart Data Models policy, history retention, feed subscriptions).

The broker is the system of record: records live in the store (storage/port.py), every replica reads
them through `Directory` (a small cache refreshed from the store), and the admin API (api/admin.py) and
`verbund municipality` (through that API) are the only writers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import orjson

from broker_adapter.api.deps import Broker
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.errors import AlreadyExists, BadRequestData, ResourceNotFound
from broker_adapter.ngsild.render import Renderer, RenderOptions
from broker_adapter.ngsild.types import Tenant
from broker_adapter.registry import model
from broker_adapter.registry.feeds import Feeds
from broker_adapter.storage.port import EntityQuery, Store
from smart_data_models.context import platform_context_url
from smart_data_models.policy import SETTING_KEY, Policy

log = logging.getLogger("verbund.registry")
EXPORT_PAGE = 500
DIRECTORY_TTL = 5.0  # seconds another replica's registry change may take to show here


class Directory:
    """The registry as the access layer reads it on every request: dict look-ups, refreshed from the store
    at most every DIRECTORY_TTL seconds (and at once after a change made through this replica)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._loaded_at = -DIRECTORY_TTL
        self.records: dict[Tenant, dict[str, Any]] = {}
        self.regions: dict[str, tuple[Tenant, ...]] = {}
        self.open_data: frozenset[Tenant] = frozenset()
        self.retired: frozenset[Tenant] = frozenset()

    def fresh(self) -> Directory:
        if self._clock() - self._loaded_at >= DIRECTORY_TTL:
            self.reload()
        return self

    def reload(self) -> None:
        records = {r["tenant"]: r for r in self._store.list_municipalities()}
        regions: dict[str, list[Tenant]] = {}
        for tenant, record in records.items():
            if record.get("status") == model.ACTIVE:
                for region in record.get("regions", ()):
                    regions.setdefault(region, []).append(tenant)
        self.records = records
        self.regions = {name: tuple(sorted(members)) for name, members in regions.items()}
        active = [r for r in records.values() if r.get("status") == model.ACTIVE]
        self.open_data = frozenset(r["tenant"] for r in active if r.get("openData"))
        self.retired = frozenset(t for t, r in records.items() if r.get("status") == model.RETIRED)
        self._loaded_at = self._clock()


class Registry:
    def __init__(self, broker: Broker, feeds: Feeds, directory: Directory) -> None:
        self.broker = broker
        self.feeds = feeds
        self.directory = directory

    @property
    def store(self) -> Store:
        return self.broker.store

    # reading -----------------------------------------------------------------------------------------
    async def get(self, tenant: Tenant) -> dict[str, Any]:
        record = await anyio.to_thread.run_sync(self.store.get_municipality, tenant)
        if record is None:
            raise ResourceNotFound(f"no municipality is registered with tenant {tenant!r}")
        return record

    async def list(self) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.store.list_municipalities)

    # writing -----------------------------------------------------------------------------------------
    async def register(self, body: Any) -> dict[str, Any]:
        record = model.new_record(body, now_iso())
        self._check_names(record)
        await self.broker.run_write(self._put, record, True)
        self.broker.known_tenants.add(record["tenant"])
        await self._apply_settings(record, None)
        await self.feeds.create(record["tenant"])
        log.info("municipality registered", extra={"tenant": record["tenant"]})
        return record

    async def update(self, tenant: Tenant, patch: Any) -> dict[str, Any]:
        stored = await self.get(tenant)
        if stored.get("status") == model.RETIRED:
            raise BadRequestData(f"municipality {tenant!r} is retired; its record is kept as it was")
        record = model.patched_record(stored, patch, now_iso())
        self._check_names(record)
        await self.broker.run_write(self._put, record, False)
        await self._apply_settings(record, stored)
        return record

    async def retire(self, tenant: Tenant, options: Any) -> dict[str, Any]:
        """Stop feeding the platform's services and keep, export (then delete) or delete the data."""
        if options is None:
            options = {}
        if not isinstance(options, dict) or set(options) - {"data"}:
            raise BadRequestData('retire options are {"data": "keep" | "export" | "delete"}')
        mode = options.get("data", "keep")
        if mode not in model.DATA_MODES:
            raise BadRequestData(
                f"data: expected one of {', '.join(model.DATA_MODES)}, not {str(mode)[:40]!r}"
            )
        stored = await self.get(tenant)
        if stored.get("status") == model.RETIRED:
            raise AlreadyExists(f"municipality {tenant!r} is already retired")
        now = now_iso()
        record = {**stored, "status": model.RETIRED, "retiredAt": now, "modifiedAt": now}
        await self.broker.run_write(self._put, record, False)  # first: writes are refused from here on
        await self.feeds.delete(tenant)
        result: dict[str, Any] = {"municipality": record, "data": mode}
        if mode == "export":
            result["export"] = await self._export(tenant, now)
        if mode in ("export", "delete"):
            result["deletedEntities"] = await self.broker.run_write(self.store.purge_tenant, tenant)
            self.broker.known_tenants.discard(tenant)
            if self.broker.sdm is not None:
                # also drops the policy it cached for the tenant
                await self.broker.run_write(self.broker.sdm.policies.set, self.store, tenant, None)
        log.info("municipality retired", extra={"tenant": tenant, "data": mode})
        return result

    def _put(self, record: dict[str, Any], create: bool) -> None:
        self.store.put_municipality(record, create=create)
        self.directory.reload()

    def _check_names(self, record: dict[str, Any]) -> None:
        """Tenants and regions share the NGSILD-Tenant namespace: neither may take the other's name."""
        directory = self.directory.fresh()
        tenant = record["tenant"]
        if tenant in directory.regions:
            raise BadRequestData(f"tenant {tenant!r} is the name of a region; choose another tenant id")
        for region in record.get("regions", ()):
            if region in directory.records or region == tenant:
                raise BadRequestData(f"regions: {region!r} is a municipality's tenant id, not a region name")

    async def _apply_settings(self, record: dict[str, Any], before: dict[str, Any] | None) -> None:
        """The record's sdmPolicy and historyRetention become the tenant's settings (absent: defaults)."""
        tenant = record["tenant"]
        previous = before or {}
        if before is None or record.get("sdmPolicy") != previous.get("sdmPolicy"):
            raw = record.get("sdmPolicy")
            policy = Policy.from_json(raw) if raw is not None else None
            if self.broker.sdm is not None:
                await self.broker.run_write(self.broker.sdm.policies.set, self.store, tenant, policy)
            else:
                value = None if policy is None else policy.to_json()
                await self.broker.run_write(self.store.set_tenant_setting, tenant, SETTING_KEY, value)
        if before is None or record.get("historyRetention") != previous.get("historyRetention"):
            await self.broker.run_write(
                self.store.history.set_retention, tenant, record.get("historyRetention")
            )

    async def _export(self, tenant: Tenant, now: str) -> dict[str, Any]:
        """The tenant's entities (current state) as one JSON array of NGSI-LD entities in the platform
        @context, written under <data dir>/exports/ (mode 0600): re-importable with a batch upsert."""
        context_url = platform_context_url(self.broker.settings.broker_url)
        term_map = await self.broker.term_map(context_url)
        renderer = Renderer(term_map, RenderOptions(sys_attrs=True))
        folder = Path(self.broker.settings.data_dir) / "exports"
        stamp = now.replace(":", "").replace("-", "").split(".")[0]
        path = folder / f"{tenant}.{stamp}.json"  # "." is in no tenant id

        def write() -> int:
            folder.mkdir(parents=True, exist_ok=True)
            count = 0
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(b"[")
                while True:
                    page = self.store.query(tenant, EntityQuery(limit=EXPORT_PAGE, offset=count))
                    for entity in page.entities:
                        body = renderer.entity(entity)
                        body["@context"] = context_url
                        out.write((b",\n" if count else b"\n") + orjson.dumps(body))
                        count += 1
                    if len(page.entities) < EXPORT_PAGE:
                        break
                out.write(b"\n]\n")
                out.flush()
                os.fsync(out.fileno())
            return count

        count = await anyio.to_thread.run_sync(write)
        return {"path": str(path), "file": path.name, "entities": count}

    def latest_export(self, tenant: Tenant) -> Path | None:
        folder = Path(self.broker.settings.data_dir) / "exports"
        found = sorted(folder.glob(f"{tenant}.*.json")) if folder.is_dir() else []
        return found[-1] if found else None
