"""What every southbound transport shares: find the device (or autoprovision it), translate, store durably.

Device look-up follows iotagent-node-lib: a device is found by its id and the API key it sent (its own
``apikey``, or the key of a config group in its service and subservice); failing that, the config group of
(resource, apikey) — or of the key alone, for MQTT — provisions it when ``autoprovision`` is not false.
No group: 404 DEVICE_GROUP_NOT_FOUND; autoprovision off: 404 DEVICE_NOT_FOUND. The sender is answered only
after the fragments are committed to the outbox.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson

from agents.errors import DeviceGroupNotFound, DeviceNotFound, DuplicateDeviceId, IotaError
from agents.north.outbox import Row
from agents.provisioning.model import Device, Group
from agents.translate.config import ConfigCache, DeviceConfig
from agents.translate.ngsild import now_iso, translate

if TYPE_CHECKING:
    from agents.app import Agent


class Ingest:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.store = agent.store
        self.cache = ConfigCache()

    def group_for(self, device: Device, apikey: str | None, resource: str | None) -> Group | None:
        candidates = [
            g
            for g in self.store.groups_of(device["service"], device["service_path"])
            if apikey is None or g["apikey"] == apikey or device.get("apikey") == apikey
        ]
        if resource is not None:
            for group in candidates:
                if group["resource"] == resource:
                    return group
        if device.get("apikey"):
            for group in candidates:
                if group["apikey"] == device["apikey"]:
                    return group
        return candidates[0] if candidates else None

    def find(self, device_id: str, apikey: str, resource: str | None) -> tuple[Device, Group | None] | None:
        for device in self.store.devices_with_id(device_id):
            own = device.get("apikey")
            if own is not None and own != apikey:
                continue
            group = self.group_for(device, apikey, resource)
            if own == apikey or (group is not None and group["apikey"] == apikey):
                return device, group
        return None

    async def device(
        self, apikey: str, device_id: str, resource: str | None, allowed: Callable[[str], bool] | None = None
    ) -> DeviceConfig:
        """allowed: the services the caller may ingest into (VERBUND_AUTH=on); NotPermitted names the
        service of a device or group the caller may not feed (the caller decides what to tell)."""
        found = self.find(device_id, apikey, resource)
        if found is not None and allowed is not None and not allowed(found[0]["service"]):
            raise NotPermitted(
                found[0]["service"], DeviceGroupNotFound(["resource", "apikey"], [resource or "", apikey])
            )
        if found is None:
            found = await self._autoprovision(apikey, device_id, resource, allowed)
        return self.cache.get(*found)

    async def _autoprovision(
        self, apikey: str, device_id: str, resource: str | None, allowed: Callable[[str], bool] | None = None
    ) -> tuple[Device, Group]:
        group = self.store.group(resource, apikey) if resource is not None else None
        denied = None
        if group is not None and allowed is not None and not allowed(group["service"]):
            denied, group = group["service"], None
        if group is None:
            groups = self.store.groups_with_apikey(apikey)
            if allowed is not None:
                denied = denied or next((g["service"] for g in groups if not allowed(g["service"])), None)
                groups = [g for g in groups if allowed(g["service"])]
            if resource is not None:  # a group for another resource of the same protocol family still counts
                groups = [g for g in groups if g["resource"] in ("", resource)] or groups
            group = groups[0] if groups else None
        if group is None:
            unknown = DeviceGroupNotFound(["resource", "apikey"], [resource or "", apikey])
            raise unknown if denied is None else NotPermitted(denied, unknown)
        if group.get("autoprovision") is False:
            raise DeviceNotFound(device_id)
        device: Device = {
            "device_id": device_id,
            "service": group["service"],
            "service_path": group["subservice"],
            "entity_type": group.get("entity_type") or "Thing",
            "apikey": apikey,
        }
        for key in ("protocol", "transport"):
            if key in group:
                device[key] = group[key]
        with contextlib.suppress(DuplicateDeviceId):  # a concurrent measure may have provisioned it first
            await anyio.to_thread.run_sync(self.store.add_devices, [device])
        found = self.find(device_id, apikey, resource)
        if found is None:
            raise DeviceNotFound(device_id)
        return found  # type: ignore[return-value]

    async def accept(self, config: DeviceConfig, measures: list[dict[str, Any]], protocol: str) -> None:
        """Translate every measure group, then commit all fragments at once (or reject them all)."""
        agent = self.agent
        received = now_iso() if config.timestamp else None
        created = time.time()
        rows: list[Row] = []
        try:
            for measure in measures:
                for entity_id, fragment in translate(
                    config, measure, limits=agent.limits, received_at=received
                ):
                    rows.append(
                        Row(
                            config.service,
                            agent.context_url,
                            entity_id,
                            config.device_id,
                            orjson.dumps(fragment),
                            created,
                        )
                    )
            if rows:
                await agent.outbox.append(rows)
        except IotaError as exc:
            agent.metrics.inc("measures_rejected_total", protocol=protocol, reason=exc.name)
            raise
        agent.metrics.inc("measures_accepted_total", len(measures), protocol=protocol)


class NotPermitted(Exception):
    """The device or group exists in `service`, where the caller may not ingest; `unknown` is the error
    to answer when the caller should not learn even that."""

    def __init__(self, service: str, unknown: IotaError) -> None:
        super().__init__(service)
        self.service = service
        self.unknown = unknown


def sort_by_time_instant(measures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Multi-measure arrays are applied in TimeInstant order (those without one go last)."""
    if len(measures) < 2:
        return measures
    stamped = [m for m in measures if isinstance(m.get("TimeInstant"), str)]
    rest = [m for m in measures if not isinstance(m.get("TimeInstant"), str)]
    return sorted(stamped, key=lambda m: m["TimeInstant"]) + rest
