"""History in SQLite: recorded by a write hook inside every entity transaction, read by the temporal API.

Layout (migration 3): the tables a write touches per instance are keyed by small integers. Every
(tenant, entity) has an `eid` in `history_entities` (`types` NULL: a key only, not a temporal entity,
e.g. the entity's history was deleted while the entity lives on); attribute IRIs are interned once in
`history_attrs` (global: `eid` already names the tenant). `history_series` names each (eid, aid,
datasetId) once, so the big `history` table holds only integers and the value: one row per attribute
instance with its times in ms since the epoch, `v` (a number or string value, which SQL aggregates) and
`doc` (the rest of the instance as JSON, NULL for a plain Property). The index `history_time` on
(series, time) serves lastN, timerel ranges, aggregation buckets and retention; "time" is observedAt,
else the recording time.

The hook reads nothing on its hot path: entity keys, attribute keys and series ids are cached, new
ones are chosen here and inserted in bulk (one executemany per table that gains rows).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.durations import Duration, add, canonical_to_ms, parse_duration
from broker_adapter.ngsild.errors import ResourceNotFound
from broker_adapter.ngsild.temporal import TimeFilter
from broker_adapter.ngsild.types import (
    PROPERTY,
    VALUE_MEMBER,
    EntityId,
    ExpandedEntity,
    Instance,
    Iri,
    Tenant,
)
from broker_adapter.storage.history import (
    AggregateQuery,
    AggregateSeries,
    InstanceQuery,
    Series,
    TemporalEntityRecord,
    TemporalSelection,
)
from broker_adapter.storage.sqlite.aggregate import aggregate_series
from broker_adapter.storage.sqlite.history_rows import (
    INSTANCE_PREFIX,
    SeriesKey,
    changed_rows,
    deletion,
    split,
    to_instance,
    to_ms,
)

if TYPE_CHECKING:
    from broker_adapter.storage.sqlite.store import SqliteStore

MIGRATION = """
    CREATE TABLE history_entities (
        eid         INTEGER PRIMARY KEY,
        tenant      TEXT NOT NULL,
        id          TEXT NOT NULL,
        types       TEXT,                   -- JSON array of expanded type IRIs, the latest known
        created_at  INTEGER NOT NULL,
        deleted_at  INTEGER,
        UNIQUE (tenant, id)
    );
    CREATE TABLE history_attrs (
        aid     INTEGER PRIMARY KEY,
        iri     TEXT NOT NULL UNIQUE
    );
    CREATE TABLE history_series (
        sid     INTEGER PRIMARY KEY,
        eid     INTEGER NOT NULL,
        aid     INTEGER NOT NULL,
        dataset TEXT NOT NULL,              -- '' for the default instance
        kind    TEXT NOT NULL,              -- attribute type of the first instance (for aggregates)
        UNIQUE (eid, aid, dataset)
    );
    CREATE TABLE history (
        iid         INTEGER PRIMARY KEY,    -- the instanceId is urn:ngsi-ld:attribute:instance:<iid>
        sid         INTEGER NOT NULL,
        observed_at INTEGER,
        created_at  INTEGER NOT NULL,       -- when the instance was recorded
        modified_at INTEGER,                -- NULL: same as created_at (only PATCH changes it)
        deleted_at  INTEGER,
        v,                                  -- number or string value of a Property (SQL aggregates it)
        doc         TEXT                    -- the other members as JSON (NULL: {"type": "Property"})
    );
    CREATE INDEX history_time ON history (sid, coalesce(observed_at, created_at));
    CREATE TABLE history_retention (
        tenant  TEXT PRIMARY KEY,
        period  TEXT NOT NULL
    )
"""

TIME = "coalesce(observed_at, created_at)"  # the indexed expression; keep it spelled exactly so
_TIME_COLUMNS = {
    "observedAt": TIME,
    "createdAt": "created_at",
    "modifiedAt": "coalesce(modified_at, created_at)",
    "deletedAt": "deleted_at",
}
_INSERT_ENTITY = "INSERT INTO history_entities (eid, tenant, id, types, created_at) VALUES (?, ?, ?, ?, ?)"
_RETYPE_ENTITY = (  # a key-only row becomes a temporal entity created now
    "UPDATE history_entities SET types = ?, deleted_at = NULL,"
    " created_at = CASE WHEN types IS NULL THEN ? ELSE created_at END WHERE eid = ?"
)
_INSERT_SERIES = "INSERT OR IGNORE INTO history_series (sid, eid, aid, dataset, kind) VALUES (?, ?, ?, ?, ?)"
_INSERT_INSTANCE = (
    "INSERT INTO history (sid, observed_at, created_at, deleted_at, v, doc) VALUES (?, ?, ?, ?, ?, ?)"
)
# Keys per cache (~140 bytes each; bounded for the resident size, issue 2). Past the limit a cache starts
# again; a miss costs a share of one batched look-up per 500 entities.
_CACHE_LIMIT = 200_000
_LAST_EID = "SELECT coalesce(max(eid), 0) FROM history_entities"
_SERIES_OF = (
    "SELECT s.sid, a.iri, s.dataset, s.kind FROM history_entities e"
    " JOIN history_series s ON s.eid = e.eid JOIN history_attrs a ON a.aid = s.aid"
    " WHERE e.tenant = ? AND e.id = ?"
)


# stored instance <-> row ---------------------------------------------------------------------------


def _instance_iid(instance_id: str) -> int | None:
    tail = instance_id.removeprefix(INSTANCE_PREFIX)
    return int(tail) if tail != instance_id and tail.isdigit() and len(tail) < 19 else None


def _time_where(time: TimeFilter) -> tuple[str, str, list[Any]]:
    """(time expression, extra WHERE clauses, parameters) for a time filter."""
    expr = _TIME_COLUMNS[time.timeproperty]
    clauses = ""
    params: list[Any] = []
    if time.timeproperty == "deletedAt":
        clauses += " AND deleted_at IS NOT NULL"
    if time.timerel == "before":
        clauses += f" AND {expr} < ?"
        params.append(time.time_at)
    elif time.timerel == "after":
        clauses += f" AND {expr} > ?"
        params.append(time.time_at)
    elif time.timerel == "between":
        clauses += f" AND {expr} >= ? AND {expr} < ?"
        params += [time.time_at, time.end_time_at]
    return expr, clauses, params


class SqliteHistory:
    """The HistoryStore of a SqliteStore; `recording` switches the write hook (VERBUND_HISTORY)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._entities: dict[tuple[Tenant, EntityId], int] = {}  # (tenant, id) -> eid
        self._attrs: dict[Iri, int] | None = None  # iri -> aid, all of them once loaded
        self._series_ids: dict[SeriesKey, int] = {}  # (eid, iri, dataset) -> sid
        self._pending: list[tuple[str, tuple[Any, ...]]] = []  # look-ups that prove the last write
        self.recording = False
        self.set_recording(True)

    def set_recording(self, on: bool) -> None:
        hooks = self._store.write_hooks
        if on and self.record not in hooks:
            hooks.append(self.record)
        elif not on and self.record in hooks:
            hooks.remove(self.record)
        self.recording = on

    # the write hook ----------------------------------------------------------------------------------
    def record(
        self,
        conn: sqlite3.Connection,
        tenant: Tenant,
        changes: list[tuple[ExpandedEntity | None, ExpandedEntity | None]],
    ) -> None:
        self._check_pending(conn)
        entities = self._entities
        if len(entities) > _CACHE_LIMIT:  # start again here, never between a look-up and its use
            entities.clear()
        unknown = [
            ent["id"]
            for before, after in changes
            if (ent := after if after is not None else before) is not None
            and (tenant, ent["id"]) not in entities
        ]
        if unknown:
            self._load_entities(conn, tenant, unknown)
        rows: list[tuple[Any, ...]] = []
        new: list[tuple[Any, ...]] = []
        retyped: list[tuple[Any, ...]] = []
        gone: list[tuple[Any, ...]] = []
        next_eid = 0
        deleted_now: int | None = None
        for before, after in changes:
            if after is None:
                if before is None:
                    continue
                if deleted_now is None:
                    deleted_now = to_ms(now_iso())
                when = deleted_now
                types = None
                entity_id = before["id"]
                deleted = before["attrs"]
            else:
                entity_id = after["id"]
                when = to_ms(after.get("modifiedAt")) or to_ms(now_iso())
                typed = before is None or before["type"] != after["type"]
                types = orjson.dumps(after["type"]).decode() if typed else None
            ent = entities.get((tenant, entity_id))
            if ent is None:
                if not next_eid:
                    (next_eid,) = conn.execute(_LAST_EID).fetchone()
                next_eid += 1
                ent = entities[(tenant, entity_id)] = next_eid
                new.append((ent, tenant, entity_id, types, when))
            elif types is not None:
                retyped.append((types, when, ent))
            if after is None:
                for iri, olds in deleted.items():
                    for old in olds:
                        deletion(ent, iri, old, when, rows)
                gone.append((when, ent))
            else:
                changed_rows(ent, before["attrs"] if before is not None else {}, after["attrs"], when, rows)
        if new:
            conn.executemany(_INSERT_ENTITY, new)
            self._pending.append(
                ("SELECT 1 FROM history_entities WHERE eid = ? AND tenant = ? AND id = ?", new[-1][:3])
            )
        if retyped:
            conn.executemany(_RETYPE_ENTITY, retyped)
        if gone:
            conn.executemany("UPDATE history_entities SET deleted_at = ? WHERE eid = ?", gone)
        if rows:
            self._insert(conn, rows, {row[0] for row in new})

    def _check_pending(self, conn: sqlite3.Connection) -> None:
        """Keys chosen by the last write are trusted once it committed (one look-up per table; a
        transaction is all or nothing); after a rollback every cache goes."""
        if self._pending:
            if any(conn.execute(sql, params).fetchone() is None for sql, params in self._pending):
                self._forget()
                self._entities.clear()
                self._attrs = None
            self._pending = []

    def _load_entities(self, conn: sqlite3.Connection, tenant: Tenant, ids: list[EntityId]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for eid, entity_id in conn.execute(
                f"SELECT eid, id FROM history_entities WHERE tenant = ? AND id IN ({_marks(len(chunk))})",
                (tenant, *chunk),
            ):
                self._entities[(tenant, entity_id)] = eid

    def _insert(
        self,
        conn: sqlite3.Connection,
        rows: list[tuple[Any, ...]],
        created: frozenset[int] | set[int] = frozenset(),
    ) -> None:
        """Insert rows (series key, kind, observed, created, deleted, v, doc), creating series as needed.
        `created`: the entity keys this write added (they have no series yet)."""
        series = self._series_ids
        if len(series) > _CACHE_LIMIT:  # start again here, never between a look-up and its use
            series.clear()
        kinds = {row[0]: row[1] for row in rows if row[0] not in series}
        if kinds:
            known = {key[0] for key in kinds} - created
            if known:  # entities whose series are not cached (a restart, a full cache): one query per 500
                self._load_series(conn, list(known))
                kinds = {key: kind for key, kind in kinds.items() if key not in series}
            if kinds:
                self._new_series(conn, kinds)
        conn.executemany(_INSERT_INSTANCE, [(series[row[0]], *row[2:]) for row in rows])

    def _attr_keys(self, conn: sqlite3.Connection, iris: Iterable[Iri]) -> dict[Iri, int]:
        attrs = self._attrs
        if attrs is None:
            attrs = self._attrs = dict(conn.execute("SELECT iri, aid FROM history_attrs"))
        fresh = [iri for iri in dict.fromkeys(iris) if iri not in attrs]
        if fresh:
            (last,) = conn.execute("SELECT coalesce(max(aid), 0) FROM history_attrs").fetchone()
            chosen = {iri: last + n for n, iri in enumerate(fresh, start=1)}
            conn.executemany("INSERT INTO history_attrs (iri, aid) VALUES (?, ?)", list(chosen.items()))
            attrs.update(chosen)
            check = "SELECT 1 FROM history_attrs WHERE aid = ? AND iri = ?"
            self._pending.append((check, (last + len(fresh), fresh[-1])))
        return attrs

    def _load_series(self, conn: sqlite3.Connection, eids: list[int]) -> None:
        series = self._series_ids
        for start in range(0, len(eids), 500):
            chunk = eids[start : start + 500]
            for ent, iri, ds, sid in conn.execute(
                "SELECT s.eid, a.iri, s.dataset, s.sid FROM history_series s JOIN history_attrs a"
                f" ON a.aid = s.aid WHERE s.eid IN ({_marks(len(chunk))})",
                chunk,
            ):
                series[(ent, iri, ds)] = sid

    def _new_series(self, conn: sqlite3.Connection, kinds: dict[SeriesKey, str]) -> None:
        """Series ids for keys that have none: new rows in bulk with ids chosen here (a key that exists
        after all, e.g. written by another process since, is ignored by the insert and read back)."""
        series = self._series_ids
        attrs = self._attr_keys(conn, (key[1] for key in kinds))
        (last,) = conn.execute("SELECT coalesce(max(sid), 0) FROM history_series").fetchone()
        chosen = {key: last + n for n, key in enumerate(kinds, start=1)}
        changes = conn.total_changes
        conn.executemany(
            _INSERT_SERIES,
            [(sid, ent, attrs[iri], ds, kinds[(ent, iri, ds)]) for (ent, iri, ds), sid in chosen.items()],
        )
        if conn.total_changes - changes == len(chosen):
            series.update(chosen)
        else:
            for sid, ent, iri, ds in conn.execute(
                "SELECT s.sid, s.eid, a.iri, s.dataset FROM history_series s"
                " JOIN history_attrs a ON a.aid = s.aid WHERE s.sid > ?",
                (last,),
            ):
                series[(ent, iri, ds)] = sid
        key, sid = next(reversed(chosen.items()))
        if series.get(key) == sid:
            self._pending.append(("SELECT 1 FROM history_series WHERE sid = ?", (sid,)))
        missed = list(dict.fromkeys(key[0] for key in kinds if key not in series))
        if missed:
            self._load_series(conn, missed)

    # reads ---------------------------------------------------------------------------------------------
    def select_entities(
        self, tenant: Tenant, selection: TemporalSelection
    ) -> tuple[list[TemporalEntityRecord], int]:
        where = "tenant = ? AND types IS NOT NULL"
        params: list[Any] = [tenant]
        if selection.ids:
            where += f" AND id IN ({','.join('?' * len(selection.ids))})"
            params += selection.ids
        if selection.id_pattern:
            where += " AND regexp(?, id)"
            params.append(selection.id_pattern)
        if selection.types:
            marks = ",".join("?" * len(selection.types))
            where += f" AND EXISTS (SELECT 1 FROM json_each(types) WHERE value IN ({marks}))"
            params += selection.types
        sql = f"SELECT id, types, created_at, deleted_at FROM history_entities WHERE {where} ORDER BY id"
        page = params
        if selection.limit is not None:
            sql += " LIMIT ? OFFSET ?"
            page = [*params, selection.limit, selection.offset]
        records = [_record(row) for row in self._store._read(sql, page)]
        if selection.limit is None:
            return records, len(records)
        total = self._store._read(f"SELECT count(*) FROM history_entities WHERE {where}", params)[0][0]
        return records, total

    def get_entity(self, tenant: Tenant, entity_id: EntityId) -> TemporalEntityRecord | None:
        rows = self._store._read(
            "SELECT id, types, created_at, deleted_at FROM history_entities"
            " WHERE tenant = ? AND id = ? AND types IS NOT NULL",
            (tenant, entity_id),
        )
        return _record(rows[0]) if rows else None

    def _series(
        self, tenant: Tenant, entity_id: EntityId, attrs: Sequence[Iri] | None
    ) -> list[tuple[int, Iri, str, str]]:
        sql = _SERIES_OF
        params: list[Any] = [tenant, entity_id]
        if attrs:
            sql += f" AND a.iri IN ({','.join('?' * len(attrs))})"
            params += attrs
        return self._store._read(sql + " ORDER BY a.iri, s.dataset", params)

    def instances(self, tenant: Tenant, entity_id: EntityId, query: InstanceQuery) -> list[Series]:
        expr, clauses, params = _time_where(query.time)
        newest_first = query.last_n is not None
        limit = min(query.last_n, query.limit) if newest_first else query.limit
        sql = (
            f"SELECT iid, observed_at, created_at, modified_at, deleted_at, v, doc, {expr} AS t FROM history"
            f" WHERE sid = ?{clauses} ORDER BY {'t DESC, iid DESC' if newest_first else 't, iid'} LIMIT ?"
        )
        out: list[Series] = []
        for sid, attr, ds, _kind in self._series(tenant, entity_id, query.attrs):
            rows = self._store._read(sql, (sid, *params, limit + 1))
            if not rows:
                continue
            found = Series(attr, ds or None)
            if len(rows) > limit:
                found.next_time = rows[limit][7]
                rows = rows[:limit]
            if newest_first:
                rows.reverse()
            found.instances = [to_instance(*row[:7]) for row in rows]
            if ds:
                for inst in found.instances:
                    inst["datasetId"] = ds
            found.times = [row[7] for row in rows]
            out.append(found)
        return out

    def aggregate(self, tenant: Tenant, entity_id: EntityId, query: AggregateQuery) -> list[AggregateSeries]:
        out = []
        for sid, attr, ds, kind in self._series(tenant, entity_id, query.attrs):
            found = AggregateSeries(attr, ds or None, kind)
            found.periods = aggregate_series(self._store._conn, sid, query, _time_where(query.time))
            if any(found.periods.values()):
                out.append(found)
        return out

    def _forget(self) -> None:
        """Series were deleted: the cache could name them (rare, so all of it goes)."""
        self._series_ids.clear()

    def forget_keys(self) -> None:
        """A whole tenant's history was deleted (SqliteStore.purge_tenant): no cached key may survive."""
        self._series_ids.clear()
        self._entities.clear()

    # temporal provision --------------------------------------------------------------------------------
    def add_instances(
        self, tenant: Tenant, entity_id: EntityId, types: list[Iri] | None, attrs: dict[Iri, list[Instance]]
    ) -> bool:
        with self._store._write() as conn:
            if tenant:
                conn.execute(
                    "INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, datetime('now'))", (tenant,)
                )
            self._check_pending(conn)
            row = conn.execute(
                "SELECT eid, types FROM history_entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
            exists = row is not None and row[1] is not None
            if types is None and not exists:
                raise ResourceNotFound(f"temporal entity {entity_id} does not exist")
            now = canonical_to_ms(now_iso())
            if row is None:  # a new temporal entity (types given)
                ent = conn.execute(
                    "INSERT INTO history_entities (tenant, id, types, created_at) VALUES (?, ?, ?, ?)",
                    (tenant, entity_id, orjson.dumps(list(dict.fromkeys(types))).decode(), now),
                ).lastrowid
            else:
                ent = row[0]
                if types is not None:
                    merged = list(dict.fromkeys([*(orjson.loads(row[1]) if exists else []), *types]))
                    conn.execute(_RETYPE_ENTITY, (orjson.dumps(merged).decode(), now, ent))
            rows = []
            for iri, instances in attrs.items():
                for inst in instances:
                    key = (ent, iri, inst.get("datasetId") or "")
                    v, doc = split(inst)
                    recorded = to_ms(inst.get("createdAt")) or now
                    kind = inst.get("type", PROPERTY)
                    rows.append((key, kind, to_ms(inst.get("observedAt")), recorded, None, v, doc))
            self._insert(conn, rows)
        return not exists

    def delete_entity(self, tenant: Tenant, entity_id: EntityId) -> bool:
        with self._store._write() as conn:
            row = conn.execute(
                "SELECT eid, types FROM history_entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
            if row is None:
                return False
            _delete_series(conn, _sids(conn, "eid = ?", (row[0],)))
            conn.execute("DELETE FROM history_entities WHERE eid = ?", (row[0],))
            self._forget()
            self._entities.pop((tenant, entity_id), None)
            return row[1] is not None

    def delete_attribute(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, *, dataset_id: str | None, delete_all: bool
    ) -> bool:
        where = (
            "eid = (SELECT eid FROM history_entities WHERE tenant = ? AND id = ?)"
            " AND aid = (SELECT aid FROM history_attrs WHERE iri = ?)"
        )
        params: tuple[Any, ...] = (tenant, entity_id, attr)
        if not delete_all:
            where += " AND dataset = ?"
            params += (dataset_id or "",)
        with self._store._write() as conn:
            sids = _sids(conn, where, params)
            _delete_series(conn, sids)
            self._forget()
        return bool(sids)

    def update_instance(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str, patch: Instance, now: int
    ) -> bool:
        with self._store._write() as conn:
            row = self._locate(conn, tenant, entity_id, attr, instance_id)
            if row is None:
                return False
            current = to_instance(*row)
            kind = patch.get("type")
            if kind != current["type"] and VALUE_MEMBER.get(kind or "") in patch:
                # another kind of attribute: the instance is replaced, its observedAt kept unless given
                merged = {**patch}
                if "observedAt" not in patch and "observedAt" in current:
                    merged["observedAt"] = current["observedAt"]
            else:
                merged = {**current, **{k: x for k, x in patch.items() if k != "type"}}
            iid = row[0]
            new_v, new_doc = split(merged)
            observed_at = merged.get("observedAt")
            conn.execute(
                "UPDATE history SET observed_at = ?, modified_at = ?, v = ?, doc = ? WHERE iid = ?",
                (canonical_to_ms(observed_at) if observed_at else None, now, new_v, new_doc, iid),
            )
        return True

    def delete_instance(self, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str) -> bool:
        with self._store._write() as conn:
            row = self._locate(conn, tenant, entity_id, attr, instance_id)
            if row is None:
                return False
            conn.execute("DELETE FROM history WHERE iid = ?", (row[0],))
        return True

    @staticmethod
    def _locate(
        conn: sqlite3.Connection, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str
    ) -> tuple[Any, ...] | None:
        iid = _instance_iid(instance_id)
        if iid is None:
            return None
        return conn.execute(
            "SELECT h.iid, h.observed_at, h.created_at, h.modified_at, h.deleted_at, h.v, h.doc"
            " FROM history h JOIN history_series s ON s.sid = h.sid"
            " JOIN history_entities e ON e.eid = s.eid JOIN history_attrs a ON a.aid = s.aid"
            " WHERE h.iid = ? AND e.tenant = ? AND e.id = ? AND a.iri = ?",
            (iid, tenant, entity_id, attr),
        ).fetchone()

    # retention ---------------------------------------------------------------------------------------
    def set_retention(self, tenant: Tenant, period: str | None) -> None:
        with self._store._write() as conn:
            if period is None:
                conn.execute("DELETE FROM history_retention WHERE tenant = ?", (tenant,))
                return
            parse_duration(period, "retention")
            conn.execute(
                "INSERT OR REPLACE INTO history_retention (tenant, period) VALUES (?, ?)", (tenant, period)
            )

    def retention_cutoffs(self, now: int, default_period: Duration | None) -> list[tuple[Tenant, int]]:
        """(tenant, cutoff ms) for every tenant with history and a retention period."""
        own = dict(self._store._read("SELECT tenant, period FROM history_retention"))
        tenants = [r[0] for r in self._store._read("SELECT DISTINCT tenant FROM history_entities")]
        out = []
        for tenant in tenants:
            period = parse_duration(own[tenant], "retention") if tenant in own else default_period
            if period is not None and not period.is_zero:
                out.append((tenant, add(now, period, -1)))
        return out

    def purge_expired(self, now: int, default_period: Duration | None, batch_size: int) -> int:
        deleted = 0
        for tenant, cutoff in self.retention_cutoffs(now, default_period):
            if deleted >= batch_size:
                break
            with self._store._write() as conn:
                deleted += conn.execute(
                    "DELETE FROM history WHERE iid IN (SELECT h.iid FROM history_entities e"
                    " JOIN history_series s ON s.eid = e.eid"
                    " JOIN history h ON h.sid = s.sid AND coalesce(h.observed_at, h.created_at) < ?"
                    " WHERE e.tenant = ? LIMIT ?)",
                    (cutoff, tenant, batch_size - deleted),
                ).rowcount
        return deleted


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _record(row: tuple[Any, ...]) -> TemporalEntityRecord:
    return TemporalEntityRecord(row[0], orjson.loads(row[1]), row[2], row[3])


def _sids(conn: sqlite3.Connection, where: str, params: Iterable[Any]) -> list[int]:
    return [r[0] for r in conn.execute(f"SELECT sid FROM history_series WHERE {where}", tuple(params))]


def _delete_series(conn: sqlite3.Connection, sids: list[int]) -> None:
    for sid in sids:
        conn.execute("DELETE FROM history WHERE sid = ?", (sid,))
        conn.execute("DELETE FROM history_series WHERE sid = ?", (sid,))
