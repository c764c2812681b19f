"""The catalog's own state in one SQLite file (`<data dir>/catalog.db`): the municipalities as last read from
the registry, a summary per entity, and per dataset when it was first published, last modified and withdrawn.

Everything here can be rebuilt from the broker (reconcile does), so the file favours simplicity: one
connection, short transactions, WAL. It survives restarts so the catalog answers at once after a start
and keeps `dct:issued` and withdrawals stable.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.summary import AttributeInfo, EntitySummary, now_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS municipalities (
    tenant TEXT PRIMARY KEY, record TEXT NOT NULL, seen_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    tenant TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    min_lon REAL, min_lat REAL, max_lon REAL, max_lat REAL,
    first_observed TEXT, last_observed TEXT, modified TEXT,
    history_checked INTEGER NOT NULL DEFAULT 0,
    seen_at REAL NOT NULL,
    PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS entities_by_type ON entities (tenant, type);
CREATE INDEX IF NOT EXISTS entities_unchecked ON entities (history_checked) WHERE history_checked = 0;
CREATE TABLE IF NOT EXISTS datasets (
    tenant TEXT NOT NULL, type TEXT NOT NULL,
    issued TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, type));
CREATE TABLE IF NOT EXISTS ckan_pushes (
    tenant TEXT NOT NULL, slug TEXT NOT NULL, digest TEXT NOT NULL, pushed_at TEXT NOT NULL,
    PRIMARY KEY (tenant, slug));
"""


@dataclass(frozen=True)
class DatasetRow:
    """A (municipality x entity type) pair as stored: the extent aggregated over its entities."""

    tenant: str
    type: str
    count: int
    bbox: tuple[float, float, float, float] | None
    first_observed: str | None
    last_observed: str | None
    issued: str
    modified: str
    withdrawn: str | None
    attributes: dict[str, dict[str, Any]]


class CatalogStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self.version = 0  # bumped on every change; views built from the store cache by it

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self.version += 1

    # municipalities --------------------------------------------------------------------------------------
    def put_municipalities(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the known municipalities with the registry's current list."""
        now = now_iso()
        with self._tx() as db:
            db.execute("DELETE FROM municipalities")
            db.executemany(
                "INSERT INTO municipalities VALUES (?, ?, ?)",
                [(r["tenant"], json.dumps(r, ensure_ascii=False), now) for r in records],
            )

    def municipalities(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT tenant, record FROM municipalities ORDER BY tenant").fetchall()
        return {tenant: json.loads(record) for tenant, record in rows}

    # entities --------------------------------------------------------------------------------------------
    def upsert(self, tenant: str, summaries: list[EntitySummary]) -> None:
        """Entities from a notification: their latest state; the first observation only ever moves back."""
        if not summaries:
            return
        with self._tx() as db:
            self._upsert(db, tenant, summaries, time.time())
            for type_name in {s.type for s in summaries}:
                self._touch_dataset(db, tenant, type_name, [s for s in summaries if s.type == type_name])

    def replace_type(self, tenant: str, type_name: str, summaries: list[EntitySummary], since: float) -> bool:
        """Reconcile one dataset with what the broker holds now: upsert what exists, drop what is gone.

        Rows written after `since` (by a notification that raced the query) are kept. Returns whether
        an entity was dropped."""
        with self._tx() as db:
            self._upsert(db, tenant, summaries, since)
            kept = {s.id for s in summaries}
            stale = [
                entity_id
                for (entity_id,) in db.execute(
                    "SELECT id FROM entities WHERE tenant = ? AND type = ? AND seen_at < ?",
                    (tenant, type_name, since),
                )
                if entity_id not in kept
            ]
            db.executemany("DELETE FROM entities WHERE tenant = ? AND id = ?", [(tenant, i) for i in stale])
            self._touch_dataset(db, tenant, type_name, summaries, reconciling=True, dropped=bool(stale))
        return bool(stale)

    def purge_tenant(self, tenant: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM entities WHERE tenant = ?", (tenant,))

    def known_types(self, tenant: str) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT type FROM datasets WHERE tenant = ?", (tenant,)).fetchall()
        return {r[0] for r in rows}

    def _upsert(
        self, db: sqlite3.Connection, tenant: str, summaries: list[EntitySummary], seen: float
    ) -> None:
        db.executemany(
            """INSERT INTO entities (tenant, id, type, min_lon, min_lat, max_lon, max_lat,
                                     first_observed, last_observed, modified, history_checked, seen_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
               ON CONFLICT (tenant, id) DO UPDATE SET
                 type = excluded.type,
                 min_lon = coalesce(excluded.min_lon, min_lon), min_lat = coalesce(excluded.min_lat, min_lat),
                 max_lon = coalesce(excluded.max_lon, max_lon), max_lat = coalesce(excluded.max_lat, max_lat),
                 first_observed = CASE WHEN first_observed IS NULL OR excluded.first_observed < first_observed
                                       THEN coalesce(excluded.first_observed, first_observed)
                                       ELSE first_observed END,
                 last_observed = max(coalesce(last_observed, ''), coalesce(excluded.last_observed, '')),
                 modified = max(coalesce(modified, ''), coalesce(excluded.modified, '')),
                 seen_at = excluded.seen_at
               WHERE excluded.seen_at >= entities.seen_at""",
            [
                (tenant, s.id, s.type, *(s.bbox or (None, None, None, None)),
                 s.first_observed, s.last_observed, s.modified, seen)
                for s in summaries
            ],
        )  # fmt: skip

    def _touch_dataset(
        self,
        db: sqlite3.Connection,
        tenant: str,
        type_name: str,
        summaries: list[EntitySummary],
        *,
        reconciling: bool = False,
        dropped: bool = False,
    ) -> None:
        """Keep the dataset's row: attributes seen, and dct:modified (the newest change of its data).

        `reconciling`: the summaries are all the dataset's entities (the attributes are replaced)."""
        row = db.execute(
            "SELECT modified, attributes FROM datasets WHERE tenant = ? AND type = ?", (tenant, type_name)
        ).fetchone()
        if row is None and not summaries:
            return
        attributes: dict[str, Any] = {} if reconciling or row is None else json.loads(row[1])
        for s in sorted(summaries, key=lambda s: s.last_observed or ""):  # the latest sample wins
            for name, info in s.attributes.items():
                attributes[name] = _merge_attribute(attributes.get(name), info)
        now = now_iso()
        # A notification is a change even without a time of its own; a reconcile only reports times it read.
        unknown = "" if reconciling else now
        times = [s.modified or unknown for s in summaries] + [row[0] if row else ""]
        modified = max(times) or now
        if dropped:
            modified = max(modified, now)
        encoded = json.dumps(attributes, ensure_ascii=False)
        if row is None:
            db.execute(
                "INSERT INTO datasets (tenant, type, issued, modified, attributes) VALUES (?, ?, ?, ?, ?)",
                (tenant, type_name, now, modified, encoded),
            )
        else:
            db.execute(
                "UPDATE datasets SET modified = ?, attributes = ? WHERE tenant = ? AND type = ?",
                (modified, encoded, tenant, type_name),
            )

    # history ---------------------------------------------------------------------------------------------
    def unchecked(self, limit: int) -> list[tuple[str, str, str | None]]:
        """Entities whose first observation was not yet looked up in the broker's history."""
        with self._lock:
            return self._db.execute(
                "SELECT tenant, id, first_observed FROM entities WHERE history_checked = 0 LIMIT ?", (limit,)
            ).fetchall()

    def set_first_observed(self, tenant: str, entity_id: str, first: str | None) -> None:
        with self._tx() as db:
            db.execute(
                """UPDATE entities SET history_checked = 1,
                     first_observed = CASE
                       WHEN ? IS NOT NULL AND (first_observed IS NULL OR ? < first_observed) THEN ?
                       ELSE first_observed END
                   WHERE tenant = ? AND id = ?""",
                (first, first, first, tenant, entity_id),
            )

    # datasets --------------------------------------------------------------------------------------------
    def datasets(self) -> list[DatasetRow]:
        with self._lock:
            rows = self._db.execute(
                """SELECT d.tenant, d.type, count(e.id), min(e.min_lon), min(e.min_lat), max(e.max_lon),
                          max(e.max_lat), min(e.first_observed), max(e.last_observed),
                          d.issued, d.modified, d.withdrawn, d.attributes
                   FROM datasets d LEFT JOIN entities e ON e.tenant = d.tenant AND e.type = d.type
                   GROUP BY d.tenant, d.type ORDER BY d.tenant, d.type"""
            ).fetchall()
        return [
            DatasetRow(
                tenant, type_name, count,
                (a, b, c, d) if None not in (a, b, c, d) else None,
                first or None, last or None, issued, modified, withdrawn, json.loads(attributes),
            )
            for (tenant, type_name, count, a, b, c, d, first, last, issued, modified, withdrawn,
                 attributes) in rows
        ]  # fmt: skip

    def set_withdrawn(self, tenant: str, type_name: str, withdrawn: bool) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE datasets SET withdrawn = ? WHERE tenant = ? AND type = ?",
                (now_iso() if withdrawn else None, tenant, type_name),
            )

    def entity_points(self, tenant: str, type_name: str, limit: int) -> list[tuple[str, float, float]]:
        """(id, lon, lat) of up to `limit` located entities: the centres of their boxes."""
        with self._lock:
            rows = self._db.execute(
                """SELECT id, (min_lon + max_lon) / 2, (min_lat + max_lat) / 2 FROM entities
                   WHERE tenant = ? AND type = ? AND min_lon IS NOT NULL ORDER BY id LIMIT ?""",
                (tenant, type_name, limit),
            ).fetchall()
        return [(i, lon, lat) for i, lon, lat in rows]

    def entity_ids(self, tenant: str, type_name: str, after: str = "", limit: int = 100) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM entities WHERE tenant = ? AND type = ? AND id > ? ORDER BY id LIMIT ?",
                (tenant, type_name, after, limit),
            ).fetchall()
        return [r[0] for r in rows]

    # CKAN ------------------------------------------------------------------------------------------------
    def ckan_digest(self, tenant: str, slug: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM ckan_pushes WHERE tenant = ? AND slug = ?", (tenant, slug)
            ).fetchone()
        return row[0] if row else None

    def ckan_pushed(self, tenant: str, slug: str, digest: str | None) -> None:
        with self._tx() as db:
            if digest is None:
                db.execute("DELETE FROM ckan_pushes WHERE tenant = ? AND slug = ?", (tenant, slug))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO ckan_pushes VALUES (?, ?, ?, ?)",
                    (tenant, slug, digest, now_iso()),
                )

    def ckan_slugs(self, tenant: str) -> list[str]:
        with self._lock:
            return [
                r[0] for r in self._db.execute("SELECT slug FROM ckan_pushes WHERE tenant = ?", (tenant,))
            ]


def _merge_attribute(old: dict[str, Any] | None, new: AttributeInfo) -> dict[str, Any]:
    merged = new.as_json()
    if old:
        merged["unit"] = merged["unit"] or old.get("unit")
        if merged["sample"] is None:
            merged["sample"] = old.get("sample")
    return merged
