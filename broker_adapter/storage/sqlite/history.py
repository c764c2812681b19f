"""History in SQLite: recorded by a write hook inside every entity transaction, read by the temporal API.

Layout (migrations 3 and 7): the tables a write touches per instance are keyed by small integers. Every
(tenant, entity) has an `eid` in `history_entities` (`types` NULL: a key only, not a temporal entity,
e.g. the entity's history was deleted while the entity lives on); attribute IRIs are interned once in
`history_attrs` (global: `eid` already names the tenant). A series is one (eid, aid, datasetId); its key
`sid` is (eid << SLOT_BITS) + slot, a slot numbered per entity (taken again only once its series and all
its instances are deleted). The series an entity's first recorded write creates are listed in that same
`history_entities` row (`series`, a JSON array indexed by slot: [aid, dataset, kind], null once deleted),
so creating an entity adds no row per attribute; series added later are rows of `history_series`. The
big `history` table holds only integers and the value: one row per attribute instance with its times in
ms since the epoch, `v` (a number or string value, which SQL aggregates) and `doc` (the rest of the
instance as JSON, NULL for a plain Property). The index `history_time` on (series, time) serves lastN,
timerel ranges, aggregation buckets and retention; "time" is observedAt, else the recording time.

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
from broker_adapter.ngsild.errors import OperationNotSupported, ResourceNotFound
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
from broker_adapter.storage.sqlite.bulk import insert_many
from broker_adapter.storage.sqlite.history_rows import (
    INSTANCE_PREFIX,
    MAX_SLOT,
    SLOT_BITS,
    EntitySeries,
    SeriesKey,
    changed_rows,
    created_rows,
    deletion,
    slot_key,
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

# Series keys move to (eid << SLOT_BITS) + slot; every existing series becomes a history_series row and
# its instances follow it (a one-time rewrite of the sid of every history row).
MIGRATION_SERIES_KEYS = f"""
    ALTER TABLE history_entities ADD COLUMN series TEXT;
    CREATE TABLE history_series_keyed (
        sid     INTEGER PRIMARY KEY,
        eid     INTEGER NOT NULL,
        aid     INTEGER NOT NULL,
        dataset TEXT NOT NULL,
        kind    TEXT NOT NULL,
        old     INTEGER NOT NULL UNIQUE,
        UNIQUE (eid, aid, dataset)
    );
    INSERT INTO history_series_keyed (sid, eid, aid, dataset, kind, old)
        SELECT (eid << {SLOT_BITS}) + row_number() OVER (PARTITION BY eid ORDER BY sid) - 1,
            eid, aid, dataset, kind, sid
        FROM history_series;
    UPDATE history
        SET sid = coalesce((SELECT k.sid FROM history_series_keyed k WHERE k.old = history.sid), -1);
    -- instances of no series (a failed write could leave them): no read ever reached them
    DELETE FROM history WHERE sid = -1;
    DROP TABLE history_series;
    CREATE TABLE history_series (
        sid     INTEGER PRIMARY KEY,        -- (eid << SLOT_BITS) + slot
        eid     INTEGER NOT NULL,
        aid     INTEGER NOT NULL,
        dataset TEXT NOT NULL,              -- '' for the default instance
        kind    TEXT NOT NULL,              -- attribute type of the first instance (for aggregates)
        UNIQUE (eid, aid, dataset)
    );
    INSERT INTO history_series (sid, eid, aid, dataset, kind)
        SELECT sid, eid, aid, dataset, kind FROM history_series_keyed;
    DROP TABLE history_series_keyed
"""


def series_select(entity_where: str) -> str:
    """SQL for (sid, eid, aid, dataset, kind) of every series of the `history_entities e` rows matching
    `entity_where` (named parameters: each is used twice), from both places a series is listed."""
    return (
        f"SELECT (e.eid << {SLOT_BITS}) + j.key AS sid, e.eid AS eid, json_extract(j.value, '$[0]') AS aid,"
        " json_extract(j.value, '$[1]') AS dataset, json_extract(j.value, '$[2]') AS kind"
        f" FROM history_entities e, json_each(e.series) j WHERE j.type = 'array' AND {entity_where}"
        " UNION ALL SELECT s.sid, s.eid, s.aid, s.dataset, s.kind"
        f" FROM history_entities e JOIN history_series s ON s.eid = e.eid WHERE {entity_where}"
    )


def entity_sids(eid: int) -> tuple[int, int]:
    """The range every sid of entity `eid` falls in (both ends included)."""
    return eid << SLOT_BITS, (eid << SLOT_BITS) + MAX_SLOT


TIME = "coalesce(observed_at, created_at)"  # the indexed expression; keep it spelled exactly so
_TIME_COLUMNS = {
    "observedAt": TIME,
    "createdAt": "created_at",
    "modifiedAt": "coalesce(modified_at, created_at)",
    "deletedAt": "deleted_at",
}
_INSERT_ENTITY = (
    "INSERT INTO history_entities (eid, tenant, id, types, created_at, series) VALUES (?, ?, ?, ?, ?, ?)"
)
_RETYPE_ENTITY = (  # a key-only row becomes a temporal entity created now
    "UPDATE history_entities SET types = ?, deleted_at = NULL,"
    " created_at = CASE WHEN types IS NULL THEN ? ELSE created_at END WHERE eid = ?"
)
INSERT_SERIES = "INSERT INTO history_series (sid, eid, aid, dataset, kind) VALUES (?, ?, ?, ?, ?)"
_INSERT_INSTANCES = "INSERT INTO history (sid, observed_at, created_at, deleted_at, v, doc)"
# rows that delete nothing leave deleted_at out: one bind less per row
_INSERT_READINGS = "INSERT INTO history (sid, observed_at, created_at, v, doc)"
# Keys per cache (~140 bytes each; bounded for the resident size, issue 2). The series cache holds whole
# entities, so it counts them, as many as hold about _CACHE_LIMIT series. Past the limit a cache starts
# again; a miss costs a share of one batched look-up per 500 entities.
_CACHE_LIMIT = 200_000
_SERIES_PER_ENTITY = 8
_LAST_EID = "SELECT coalesce(max(eid), 0) FROM history_entities"
_TENANT_SERIES = series_select("e.tenant = :tenant")
_SERIES_OF = (
    f"SELECT s.sid, a.iri, s.dataset, s.kind FROM ({series_select('e.tenant = :tenant AND e.id = :id')}) s"
    " JOIN history_attrs a ON a.aid = s.aid"
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
        self._series_ids: dict[int, EntitySeries] = {}  # eid -> its series, all of them
        self._pending: list[tuple[str, tuple[Any, ...]]] = []  # look-ups that prove the last write
        # A failed commit undoes keys a check inside the same transaction already trusted.
        store.rollback_hooks.append(self._forget_all)
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
        rows: list[tuple[Any, ...]] = []  # keyed by series key
        fresh: list[tuple[Any, ...]] = []  # (sid, observed, created, v, doc) of series the cache names
        listed: dict[int, list[Any]] = {}  # their series, by eid
        aids = self._attrs if self._attrs is not None else self._attr_keys(conn, ())
        series = self._series_cache()
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
                listed[ent] = []
                if before is None:
                    attrs = after["attrs"]  # type: ignore[index]
                    if not attrs.keys() <= aids.keys():
                        self._attr_keys(conn, attrs)
                    series[ent] = created_rows(ent, attrs, when, aids, listed[ent], fresh)
                    continue
            elif types is not None:
                retyped.append((types, when, ent))
            if after is None:
                for iri, olds in deleted.items():
                    for old in olds:
                        deletion(ent, iri, old, when, rows)
                gone.append((when, ent))
            else:
                olds = before["attrs"] if before is not None else {}
                changed_rows(ent, olds, after["attrs"], when, rows, series.get(ent), fresh)
        if rows:
            self._series_keys(conn, rows, listed)
        if new:
            conn.executemany(
                _INSERT_ENTITY,
                [(*row, orjson.dumps(listed[row[0]]).decode() if listed[row[0]] else None) for row in new],
            )
            self._pending.append(
                ("SELECT 1 FROM history_entities WHERE eid = ? AND tenant = ? AND id = ?", new[-1][:3])
            )
        if retyped:
            conn.executemany(_RETYPE_ENTITY, retyped)
        if gone:
            conn.executemany("UPDATE history_entities SET deleted_at = ? WHERE eid = ?", gone)
        if rows:
            self._insert_instances(conn, rows)
        if fresh:
            insert_many(conn, _INSERT_READINGS, fresh)

    def _insert_instances(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Rows (series key, kind, observed, created, deleted, v, doc) whose series ids are cached."""
        sid = self._sid
        insert_many(conn, _INSERT_INSTANCES, [(sid(row[0]), *row[2:]) for row in rows])

    def _series_cache(self) -> dict[int, EntitySeries]:
        """The series cache, started again when full (at the start of a write, never between a look-up
        and its use)."""
        if len(self._series_ids) > _CACHE_LIMIT // _SERIES_PER_ENTITY:
            self._series_ids.clear()
        return self._series_ids

    def _sid(self, key: SeriesKey) -> int | None:
        own = self._series_ids.get(key[0])
        return None if own is None else own.get(slot_key(key[1], key[2]))

    def _check_pending(self, conn: sqlite3.Connection) -> None:
        """Keys chosen by an earlier write (or an earlier item of this transaction) are trusted once
        they are found (one look-up per table); if one is missing, a savepoint rolled back and every
        cache goes. A whole transaction rolled back clears them at once (SqliteStore.rollback_hooks)."""
        if self._pending:
            if any(conn.execute(sql, params).fetchone() is None for sql, params in self._pending):
                self._forget_all()
            self._pending = []

    def _forget_all(self) -> None:
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

    def _series_keys(
        self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], listed: dict[int, list[Any]]
    ) -> None:
        """Make sure every row's series (key, kind, ...) has a sid in the cache. The series of entities
        this write creates (the keys of `listed`) take their next slots, listed there for the entity's
        row; other entities' new series become history_series rows."""
        series, sid = self._series_ids, self._sid
        kinds = {row[0]: row[1] for row in rows if sid(row[0]) is None}
        if not kinds:
            return
        attrs = self._attr_keys(conn, (key[1] for key in kinds))
        later: dict[SeriesKey, str] = {}
        for key, kind in kinds.items():
            ent = key[0]
            entries = listed.get(ent)
            if entries is not None:
                series.setdefault(ent, {})[slot_key(key[1], key[2])] = (ent << SLOT_BITS) + len(entries)
                entries.append([attrs[key[1]], key[2], kind])
            else:
                later[key] = kind
        if later:
            self._add_series(conn, later, attrs)

    def _add_series(
        self, conn: sqlite3.Connection, kinds: dict[SeriesKey, str], attrs: dict[Iri, int]
    ) -> None:
        """Series of existing entities that are not cached: read back (another process or a restart may
        have made them), the rest added as history_series rows after each entity's highest slot."""
        series = self._series_ids
        next_slot = self._load_series(conn, list(dict.fromkeys(key[0] for key in kinds)))
        added = []
        for key, kind in kinds.items():
            if self._sid(key) is not None:
                continue
            ent = key[0]
            slot = next_slot.get(ent, 0)
            if slot > MAX_SLOT:
                raise OperationNotSupported(
                    f"entity {ent}: its history has {MAX_SLOT + 1} attribute series (attribute and"
                    " datasetId pairs), the most one entity can have; delete attributes' history to go on"
                )
            next_slot[ent] = slot + 1
            series.setdefault(ent, {})[slot_key(key[1], key[2])] = sid = (ent << SLOT_BITS) + slot
            added.append((sid, ent, attrs[key[1]], key[2], kind))
        if added:
            conn.executemany(INSERT_SERIES, added)
            self._pending.append(("SELECT 1 FROM history_series WHERE sid = ?", (added[-1][0],)))

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

    def _load_series(self, conn: sqlite3.Connection, eids: list[int]) -> dict[int, int]:
        """Cache every series of these entities; returns each entity's next free slot."""
        series = self._series_ids
        next_slot: dict[int, int] = {}
        for start in range(0, len(eids), 500):
            chunk = eids[start : start + 500]
            for ent, slots in conn.execute(
                "SELECT eid, json_array_length(series) FROM history_entities"
                f" WHERE eid IN ({_marks(len(chunk))})",
                chunk,
            ):
                next_slot[ent] = slots or 0
            marks, names = _named_marks("e", chunk)
            for sid, ent, iri, ds in conn.execute(
                f"SELECT s.sid, s.eid, a.iri, s.dataset FROM ({series_select(f'e.eid IN ({marks})')}) s"
                " JOIN history_attrs a ON a.aid = s.aid",
                names,
            ):
                series.setdefault(ent, {})[slot_key(iri, ds)] = sid
                next_slot[ent] = max(next_slot.get(ent, 0), (sid & MAX_SLOT) + 1)
        return next_slot

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
        params: dict[str, Any] = {"tenant": tenant, "id": entity_id}
        if attrs:
            marks, names = _named_marks("a", attrs)
            sql += f" WHERE a.iri IN ({marks})"
            params.update(names)
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
            if rows:
                self._series_cache()
                self._series_keys(conn, rows, {})
                self._insert_instances(conn, rows)
        return not exists

    def delete_entity(self, tenant: Tenant, entity_id: EntityId) -> bool:
        with self._store._write() as conn:
            row = conn.execute(
                "SELECT eid, types FROM history_entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM history WHERE sid BETWEEN ? AND ?", entity_sids(row[0]))
            conn.execute("DELETE FROM history_series WHERE eid = ?", (row[0],))
            conn.execute("DELETE FROM history_entities WHERE eid = ?", (row[0],))
            self._forget()
            self._entities.pop((tenant, entity_id), None)
            return row[1] is not None

    def delete_attribute(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, *, dataset_id: str | None, delete_all: bool
    ) -> bool:
        sql = (
            f"SELECT s.sid, s.eid FROM ({series_select('e.tenant = :tenant AND e.id = :id')}) s"
            " WHERE s.aid = (SELECT aid FROM history_attrs WHERE iri = :attr)"
        )
        params = {"tenant": tenant, "id": entity_id, "attr": attr}
        if not delete_all:
            sql += " AND s.dataset = :dataset"
            params["dataset"] = dataset_id or ""
        with self._store._write() as conn:
            found = conn.execute(sql, params).fetchall()
            for sid, ent in found:
                conn.execute("DELETE FROM history WHERE sid = ?", (sid,))
                conn.execute("DELETE FROM history_series WHERE sid = ?", (sid,))
                # a slot listed in the entity's row turns null (the list keeps its length)
                conn.execute(
                    "UPDATE history_entities SET series = json_replace(series, ?, NULL)"
                    " WHERE eid = ? AND json_array_length(series) > ?",
                    (f"$[{sid & MAX_SLOT}]", ent, sid & MAX_SLOT),
                )
            self._forget()
        return bool(found)

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
            f" FROM ({series_select('e.tenant = :tenant AND e.id = :id')}) s"
            " JOIN history_attrs a ON a.aid = s.aid JOIN history h ON h.sid = s.sid"
            " WHERE h.iid = :iid AND a.iri = :attr",
            {"iid": iid, "tenant": tenant, "id": entity_id, "attr": attr},
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
                    f"DELETE FROM history WHERE iid IN (SELECT h.iid FROM ({_TENANT_SERIES}) s"
                    " JOIN history h ON h.sid = s.sid AND coalesce(h.observed_at, h.created_at) < :cutoff"
                    " LIMIT :limit)",
                    {"cutoff": cutoff, "tenant": tenant, "limit": batch_size - deleted},
                ).rowcount
        return deleted


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _named_marks(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """(':p0,:p1,...', {'p0': values[0], ...}): for statements that bind by name (series_select)."""
    names = {f"{prefix}{n}": value for n, value in enumerate(values)}
    return ",".join(":" + name for name in names), names


def _record(row: tuple[Any, ...]) -> TemporalEntityRecord:
    return TemporalEntityRecord(row[0], orjson.loads(row[1]), row[2], row[3])
