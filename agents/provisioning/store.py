"""Config groups and devices, durable in their own SQLite file (``<data dir>/agents.db``), cached in memory.

Every southbound measure looks its device and group up; those look-ups are dictionary reads of the cache.
Writes go to SQLite first (one transaction per request: a list of groups or devices is all or nothing) and
then to the cache, under one lock, so a crash never leaves the cache ahead of the file.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson

from agents.errors import DeviceGroupNotFound, DeviceNotFound, DuplicateDeviceId, DuplicateGroup
from agents.provisioning.model import Device, Group, lorawan_settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    resource TEXT NOT NULL, apikey TEXT NOT NULL, service TEXT NOT NULL, subservice TEXT NOT NULL,
    seq INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (resource, apikey));
CREATE TABLE IF NOT EXISTS devices (
    service TEXT NOT NULL, subservice TEXT NOT NULL, device_id TEXT NOT NULL,
    seq INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (service, subservice, device_id));
"""


class ProvisioningStore:
    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._groups: dict[tuple[str, str], Group] = {}
        self._devices: dict[tuple[str, str, str], Device] = {}
        self._seq = 0
        for (body,) in self._db.execute("SELECT body FROM groups ORDER BY seq"):
            group = orjson.loads(body)
            self._groups[(group["resource"], group["apikey"])] = group
        for (body,) in self._db.execute("SELECT body FROM devices ORDER BY seq"):
            device = orjson.loads(body)
            self._devices[(device["service"], device["service_path"], device["device_id"])] = device
        row = self._db.execute(
            "SELECT max(m) FROM (SELECT max(seq) m FROM groups UNION SELECT max(seq) FROM devices)"
        )
        self._seq = (row.fetchone()[0] or 0) + 1
        self._index()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _index(self) -> None:
        by_id: dict[str, list[Device]] = {}
        by_eui: dict[str, list[Device]] = {}
        for device in self._devices.values():
            by_id.setdefault(device["device_id"], []).append(device)
            lorawan = lorawan_settings(device)
            if lorawan and isinstance(lorawan.get("dev_eui"), str):
                by_eui.setdefault(lorawan["dev_eui"].lower(), []).append(device)
        by_apikey: dict[str, list[Group]] = {}
        for group in self._groups.values():
            by_apikey.setdefault(group["apikey"], []).append(group)
        self._by_id, self._by_eui, self._by_apikey = by_id, by_eui, by_apikey

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- groups -------------------------------------------------------------------------------------

    def add_groups(self, groups: list[Group]) -> None:
        with self._lock:
            seen: set[tuple[str, str]] = set()
            for group in groups:
                key = (group["resource"], group["apikey"])
                if key in self._groups or key in seen:
                    raise DuplicateGroup(*key)
                seen.add(key)
            with self._db:
                self._db.execute("BEGIN")
                for group in groups:
                    self._db.execute(
                        "INSERT INTO groups VALUES (?, ?, ?, ?, ?, ?)",
                        (group["resource"], group["apikey"], group["service"], group["subservice"],
                         self._next_seq(), orjson.dumps(group)),
                    )  # fmt: skip
            for group in groups:
                self._groups[(group["resource"], group["apikey"])] = group
            self._index()

    def list_groups(
        self, service: str, subservice: str | None, limit: int | None, offset: int
    ) -> tuple[int, list[Group]]:
        with self._lock:
            found = [
                g
                for g in self._groups.values()
                if g["service"] == service and (subservice is None or g["subservice"] == subservice)
            ]
        return len(found), found[offset : None if limit is None else offset + limit]

    def _own_group(self, service: str, subservice: str, resource: str, apikey: str) -> Group:
        group = self._groups.get((resource, apikey))
        if group is None or group["service"] != service or group["subservice"] != subservice:
            raise DeviceGroupNotFound(["resource", "apikey"], [resource, apikey])
        return group

    def update_group(
        self, service: str, subservice: str, resource: str, apikey: str, changes: dict[str, Any]
    ) -> None:
        with self._lock:
            group = {**self._own_group(service, subservice, resource, apikey), **changes}
            with self._db:
                self._db.execute(
                    "UPDATE groups SET body = ? WHERE resource = ? AND apikey = ?",
                    (orjson.dumps(group), resource, apikey),
                )
            self._groups[(resource, apikey)] = group
            self._index()

    def delete_group(self, service: str, subservice: str, resource: str, apikey: str) -> None:
        with self._lock:
            self._own_group(service, subservice, resource, apikey)
            with self._db:
                self._db.execute("DELETE FROM groups WHERE resource = ? AND apikey = ?", (resource, apikey))
            del self._groups[(resource, apikey)]
            self._index()

    def group(self, resource: str, apikey: str) -> Group | None:
        return self._groups.get((resource, apikey))

    def groups_with_apikey(self, apikey: str) -> list[Group]:
        return self._by_apikey.get(apikey, [])

    def groups_of(self, service: str, subservice: str) -> list[Group]:
        return [g for g in self._groups.values() if g["service"] == service and g["subservice"] == subservice]

    # --- devices ------------------------------------------------------------------------------------

    def add_devices(self, devices: list[Device]) -> None:
        with self._lock:
            seen: set[tuple[str, str, str]] = set()
            for device in devices:
                key = (device["service"], device["service_path"], device["device_id"])
                if key in self._devices or key in seen:
                    raise DuplicateDeviceId(device["device_id"])
                seen.add(key)
            with self._db:
                self._db.execute("BEGIN")
                for device in devices:
                    self._db.execute(
                        "INSERT INTO devices VALUES (?, ?, ?, ?, ?)",
                        (device["service"], device["service_path"], device["device_id"], self._next_seq(),
                         orjson.dumps(device)),
                    )  # fmt: skip
            for device in devices:
                self._devices[(device["service"], device["service_path"], device["device_id"])] = device
            self._index()

    def list_devices(
        self, service: str, subservice: str | None, limit: int | None, offset: int
    ) -> tuple[int, list[Device]]:
        with self._lock:
            found = [
                d
                for d in self._devices.values()
                if d["service"] == service and (subservice is None or d["service_path"] == subservice)
            ]
        return len(found), found[offset : None if limit is None else offset + limit]

    def device(self, service: str, subservice: str, device_id: str) -> Device:
        device = self._devices.get((service, subservice, device_id))
        if device is None:
            raise DeviceNotFound(device_id)
        return device

    def update_device(self, service: str, subservice: str, device_id: str, changes: dict[str, Any]) -> None:
        with self._lock:
            device = {**self.device(service, subservice, device_id), **changes}
            with self._db:
                self._db.execute(
                    "UPDATE devices SET body = ? WHERE service = ? AND subservice = ? AND device_id = ?",
                    (orjson.dumps(device), service, subservice, device_id),
                )
            self._devices[(service, subservice, device_id)] = device
            self._index()

    def delete_device(self, service: str, subservice: str, device_id: str) -> None:
        with self._lock:
            self.device(service, subservice, device_id)
            with self._db:
                self._db.execute(
                    "DELETE FROM devices WHERE service = ? AND subservice = ? AND device_id = ?",
                    (service, subservice, device_id),
                )
            del self._devices[(service, subservice, device_id)]
            self._index()

    def devices_with_id(self, device_id: str) -> list[Device]:
        return self._by_id.get(device_id, [])

    def devices_with_dev_eui(self, dev_eui: str) -> list[Device]:
        return self._by_eui.get(dev_eui.lower(), [])
