"""History in MongoDB: recorded by a write hook inside every entity transaction, read by the temporal API.

Per tenant database:

    history            one document per attribute instance:
                       {_id: ObjectId, e: entity id, a: attribute IRI, d: datasetId ('' default), k: kind,
                        t: observedAt else recorded (ms), o: observedAt, c: recorded, m: modified, x: deleted,
                        v: a number or string Property value (what aggregation reads), doc: the other
                        members as JSON text (null: {"type": "Property"})}
                       index (e, a, d, t, _id): one series in time order (lastN, timerel, aggregation);
                       index (t): retention
    history_entities   {_id: entity id, types: [...] (null: a key only), c: created, x: deleted}

The rows are the SQLite adapter's (history_rows: the same diff of changed instances, the same split of
value and members), so both record exactly the same instances. instanceId is
`urn:ngsi-ld:attribute:instance:<ObjectId hex>`. MongoDB time-series collections were considered and
not used: their documents cannot be updated or deleted one by one in MongoDB 6 (the temporal provision
API does both) and they do not take part in multi-document transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from bson.errors import InvalidId

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
from broker_adapter.storage.mongo.aggregate import aggregate_series
from broker_adapter.storage.mongo.connection import translate
from broker_adapter.storage.mongo.query_filter import regex_filter
from broker_adapter.storage.sqlite.history_rows import (
    INSTANCE_PREFIX,
    changed_rows,
    deletion,
    split,
    to_instance,
    to_ms,
)

if TYPE_CHECKING:
    from broker_adapter.storage.mongo.store import MongoStore

TIME_FIELDS = {"observedAt": "t", "createdAt": "c", "modifiedAt": "m", "deletedAt": "x"}
_ROW_FIELDS = {"_id": 1, "o": 1, "c": 1, "m": 1, "x": 1, "v": 1, "doc": 1, "t": 1}


def time_match(time: TimeFilter) -> tuple[str, dict[str, Any]]:
    """(time field, filter) for a time filter."""
    at = TIME_FIELDS[time.timeproperty]
    cond: dict[str, Any] = {}
    if time.timeproperty == "deletedAt":
        cond["$ne"] = None
    if time.timerel == "before":
        cond["$lt"] = time.time_at
    elif time.timerel == "after":
        cond["$gt"] = time.time_at
    elif time.timerel == "between":
        cond.update({"$gte": time.time_at, "$lt": time.end_time_at})
    return at, ({at: cond} if cond else {})


def _row_doc(entity_id: EntityId, row: tuple[Any, ...]) -> dict[str, Any]:
    """A history document from a history_rows row ((ent, iri, dataset), kind, observed, created,
    deleted, v, doc)."""
    (_, iri, dataset), kind, observed, created, deleted, v, doc = row
    return {
        "_id": ObjectId(),
        "e": entity_id,
        "a": iri,
        "d": dataset,
        "k": kind,
        "t": observed if observed is not None else created,
        "o": observed,
        "c": created,
        "m": created,
        "x": deleted,
        "v": v,
        "n": _number(v),
        "doc": doc,
    }


def _number(v: Any) -> Any:
    """The value when it is a number (what sum, avg and stddev read), else None."""
    return v if type(v) is int or type(v) is float else None


def _instance(doc: dict[str, Any]) -> Instance:
    return to_instance(str(doc["_id"]), doc["o"], doc["c"], doc["m"], doc["x"], doc["v"], doc["doc"])


def _object_id(instance_id: str) -> ObjectId | None:
    tail = instance_id.removeprefix(INSTANCE_PREFIX)
    if tail == instance_id:
        return None
    try:
        return ObjectId(tail)
    except (InvalidId, TypeError):
        return None


class MongoHistory:
    """The HistoryStore of a MongoStore; `recording` switches the write hook (VERBUND_HISTORY)."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store
        self.recording = False
        self.set_recording(True)

    @staticmethod
    def create_indexes(database: Any) -> None:
        database.history.create_index([("e", 1), ("a", 1), ("d", 1), ("t", 1), ("_id", 1)])
        database.history.create_index([("t", 1)])
        database.history_entities.create_index([("types", 1), ("_id", 1)])

    def set_recording(self, on: bool) -> None:
        hooks = self._store.write_hooks
        if on and self.record not in hooks:
            hooks.append(self.record)
        elif not on and self.record in hooks:
            hooks.remove(self.record)
        self.recording = on

    # the write hook ----------------------------------------------------------------------------------
    def record(
        self, session: Any, tenant: Tenant, changes: list[tuple[ExpandedEntity | None, ExpandedEntity | None]]
    ) -> None:
        if not changes:
            return
        database = self._store.db(tenant)
        docs: list[dict[str, Any]] = []
        entity_ops: list[tuple[Any, ...]] = []
        deleted_now: int | None = None
        for before, after in changes:
            rows: list[tuple[Any, ...]] = []
            if after is None:
                if before is None:
                    continue
                if deleted_now is None:
                    deleted_now = to_ms(now_iso())
                when = deleted_now
                entity_id = before["id"]
                for iri, olds in before["attrs"].items():
                    for old in olds:
                        deletion(0, iri, old, when, rows)
                entity_ops.append(
                    (
                        "update",
                        {"_id": entity_id},
                        {"$set": {"x": when}, "$setOnInsert": {"types": None, "c": when}},
                    )
                )
            else:
                entity_id = after["id"]
                when = to_ms(after.get("modifiedAt")) or to_ms(now_iso())
                if before is None or before["type"] != after["type"]:
                    # a key-only record (history deleted while the entity lived on) becomes an entity now
                    database.history_entities.update_one(
                        {"_id": entity_id, "types": None}, {"$set": {"c": when}}, session=session
                    )
                    update = {"$set": {"types": after["type"], "x": None}, "$setOnInsert": {"c": when}}
                else:
                    update = {"$setOnInsert": {"types": None, "c": when, "x": None}}
                entity_ops.append(("update", {"_id": entity_id}, update))
                changed_rows(0, before["attrs"] if before is not None else {}, after["attrs"], when, rows)
            docs.extend(_row_doc(entity_id, row) for row in rows)
        self._store.conn.bulk(database.history_entities, entity_ops, session)
        if docs:
            self._store.conn.bulk(database.history, [("insert", d) for d in docs], session)

    # reads ---------------------------------------------------------------------------------------------
    def select_entities(
        self, tenant: Tenant, selection: TemporalSelection
    ) -> tuple[list[TemporalEntityRecord], int]:
        conds: list[dict[str, Any]] = [{"types": {"$ne": None}}]
        if selection.ids:
            conds.append({"_id": {"$in": list(selection.ids)}})
        residual = None
        if selection.id_pattern:
            regex = regex_filter(selection.id_pattern)
            if regex is not None:
                conds.append({"_id": regex})
            else:
                from broker_adapter.ngsild.query import patterns

                residual = patterns.compiled(selection.id_pattern)
        if selection.types:
            conds.append({"types": {"$in": list(selection.types)}})
        where = {"$and": conds}
        collection = self._store.db(tenant).history_entities
        with translate():
            if residual is None and selection.limit is not None:
                cursor = collection.find(where).sort("_id", 1).skip(selection.offset).limit(selection.limit)
                records = [_record(d) for d in cursor]
                return records, collection.count_documents(where)
            records = [_record(d) for d in collection.find(where).sort("_id", 1)]
        if residual is not None:
            records = [r for r in records if residual.search(r.id) is not None]
        total = len(records)
        if selection.limit is not None:
            records = records[selection.offset : selection.offset + selection.limit]
        return records, total

    def get_entity(self, tenant: Tenant, entity_id: EntityId) -> TemporalEntityRecord | None:
        with translate():
            doc = self._store.db(tenant).history_entities.find_one({"_id": entity_id, "types": {"$ne": None}})
        return _record(doc) if doc is not None else None

    def series(
        self, tenant: Tenant, entity_id: EntityId, attrs: Sequence[Iri] | None
    ) -> list[tuple[Iri, str, str]]:
        """(attribute, dataset, kind) in attribute, dataset order; the kind is that of the series' first
        instance. Sorted on the (e, a, d, t, _id) index, so MongoDB can answer with a distinct scan."""
        match: dict[str, Any] = {"e": entity_id}
        if attrs:
            match["a"] = {"$in": list(attrs)}
        with translate():
            rows = self._store.db(tenant).history.aggregate(
                [
                    {"$match": match},
                    {"$sort": {"e": 1, "a": 1, "d": 1, "t": 1, "_id": 1}},
                    {"$group": {"_id": {"a": "$a", "d": "$d"}, "k": {"$first": "$k"}}},
                ]
            )
            found = [(r["_id"]["a"], r["_id"]["d"], r["k"]) for r in rows]
        return sorted(found, key=lambda f: (f[0], f[1]))

    def instances(self, tenant: Tenant, entity_id: EntityId, query: InstanceQuery) -> list[Series]:
        at, time_filter = time_match(query.time)
        newest_first = query.last_n is not None
        limit = min(query.last_n, query.limit) if newest_first else query.limit  # type: ignore[type-var]
        direction = -1 if newest_first else 1
        history = self._store.db(tenant).history
        out: list[Series] = []
        for attr, dataset, _kind in self.series(tenant, entity_id, query.attrs):
            with translate():
                rows = list(
                    history.find(
                        {"e": entity_id, "a": attr, "d": dataset, **time_filter}, _ROW_FIELDS | {at: 1}
                    )
                    .sort([(at, direction), ("_id", direction)])
                    .limit(limit + 1)
                )
            if not rows:
                continue
            found = Series(attr, dataset or None)
            if len(rows) > limit:
                found.next_time = rows[limit][at]
                rows = rows[:limit]
            if newest_first:
                rows.reverse()
            found.instances = [_instance(row) for row in rows]
            if dataset:
                for inst in found.instances:
                    inst["datasetId"] = dataset
            found.times = [row[at] for row in rows]
            out.append(found)
        return out

    def aggregate(self, tenant: Tenant, entity_id: EntityId, query: AggregateQuery) -> list[AggregateSeries]:
        history = self._store.db(tenant).history
        out = []
        for attr, dataset, kind in self.series(tenant, entity_id, query.attrs):
            found = AggregateSeries(attr, dataset or None, kind)
            with translate():
                found.periods = aggregate_series(history, {"e": entity_id, "a": attr, "d": dataset}, query)
            if any(found.periods.values()):
                out.append(found)
        return out

    # temporal provision --------------------------------------------------------------------------------
    def add_instances(
        self, tenant: Tenant, entity_id: EntityId, types: list[Iri] | None, attrs: dict[Iri, list[Instance]]
    ) -> bool:
        database = self._store.db(tenant)

        def body(session: Any) -> bool:
            self._store._register_tenant(tenant, session)
            row = database.history_entities.find_one({"_id": entity_id}, session=session)
            exists = row is not None and row.get("types") is not None
            if types is None and not exists:
                raise ResourceNotFound(f"temporal entity {entity_id} does not exist")
            now = canonical_to_ms(now_iso())
            if row is None:
                database.history_entities.insert_one(
                    {"_id": entity_id, "types": list(dict.fromkeys(types or [])), "c": now, "x": None},
                    session=session,
                )
            elif types is not None:
                merged = list(dict.fromkeys([*(row["types"] if exists else []), *types]))
                update: dict[str, Any] = {"types": merged, "x": None}
                if not exists:
                    update["c"] = now
                database.history_entities.update_one({"_id": entity_id}, {"$set": update}, session=session)
            docs = []
            for iri, instances in attrs.items():
                for inst in instances:
                    v, doc = split(inst)
                    recorded = to_ms(inst.get("createdAt")) or now
                    row_ = ((0, iri, inst.get("datasetId") or ""), inst.get("type", PROPERTY))
                    docs.append(
                        _row_doc(entity_id, (*row_, to_ms(inst.get("observedAt")), recorded, None, v, doc))
                    )
            if docs:
                database.history.insert_many(docs, session=session)
            return not exists

        created = self._store.conn.run_write(body)
        if tenant:
            self._store._known_tenants.add(tenant)
        return created

    def delete_entity(self, tenant: Tenant, entity_id: EntityId) -> bool:
        database = self._store.db(tenant)

        def body(session: Any) -> bool:
            row = database.history_entities.find_one({"_id": entity_id}, session=session)
            if row is None:
                return False
            database.history.delete_many({"e": entity_id}, session=session)
            database.history_entities.delete_one({"_id": entity_id}, session=session)
            return row.get("types") is not None

        return self._store.conn.run_write(body)

    def delete_attribute(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, *, dataset_id: str | None, delete_all: bool
    ) -> bool:
        where: dict[str, Any] = {"e": entity_id, "a": attr}
        if not delete_all:
            where["d"] = dataset_id or ""
        with translate():
            return self._store.db(tenant).history.delete_many(where).deleted_count > 0

    def update_instance(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str, patch: Instance, now: int
    ) -> bool:
        oid = _object_id(instance_id)
        if oid is None:
            return False
        history = self._store.db(tenant).history

        def body(session: Any) -> bool:
            row = history.find_one({"_id": oid, "e": entity_id, "a": attr}, session=session)
            if row is None:
                return False
            current = _instance(row)
            kind = patch.get("type")
            if kind != current["type"] and VALUE_MEMBER.get(kind or "") in patch:
                merged = {**patch}
                if "observedAt" not in patch and "observedAt" in current:
                    merged["observedAt"] = current["observedAt"]
            else:
                merged = {**current, **{k: x for k, x in patch.items() if k != "type"}}
            new_v, new_doc = split(merged)
            observed = merged.get("observedAt")
            observed_ms = canonical_to_ms(observed) if observed else None
            history.update_one(
                {"_id": oid},
                {
                    "$set": {
                        "o": observed_ms,
                        "t": observed_ms if observed_ms is not None else row["c"],
                        "m": now,
                        "v": new_v,
                        "n": _number(new_v),
                        "doc": new_doc,
                    }
                },
                session=session,
            )
            return True

        return self._store.conn.run_write(body)

    def delete_instance(self, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str) -> bool:
        oid = _object_id(instance_id)
        if oid is None:
            return False
        with translate():
            return (
                self._store.db(tenant)
                .history.delete_one({"_id": oid, "e": entity_id, "a": attr})
                .deleted_count
                > 0
            )

    # retention ---------------------------------------------------------------------------------------
    def set_retention(self, tenant: Tenant, period: str | None) -> None:
        with translate():
            if period is None:
                self._store.meta.history_retention.delete_one({"_id": tenant})
                return
            parse_duration(period, "retention")
            self._store.meta.history_retention.replace_one(
                {"_id": tenant}, {"_id": tenant, "period": period}, upsert=True
            )

    def retention_cutoffs(self, now: int, default_period: Duration | None) -> list[tuple[Tenant, int]]:
        """(tenant, cutoff ms) for every tenant with a retention period."""
        with translate():
            own = {d["_id"]: d["period"] for d in self._store.meta.history_retention.find()}
        out = []
        for tenant in ["", *self._store.list_tenants()]:
            period = parse_duration(own[tenant], "retention") if tenant in own else default_period
            if period is not None and not period.is_zero:
                out.append((tenant, add(now, period, -1)))
        return out

    def purge_expired(self, now: int, default_period: Duration | None, batch_size: int) -> int:
        deleted = 0
        for tenant, cutoff in self.retention_cutoffs(now, default_period):
            if deleted >= batch_size:
                break
            history = self._store.db(tenant).history
            with translate():
                ids = [
                    d["_id"]
                    for d in history.find({"t": {"$lt": cutoff}}, {"_id": 1}).limit(batch_size - deleted)
                ]
                if ids:
                    deleted += history.delete_many({"_id": {"$in": ids}}).deleted_count
        return deleted


def _record(doc: dict[str, Any]) -> TemporalEntityRecord:
    return TemporalEntityRecord(doc["_id"], list(doc["types"]), doc["c"], doc.get("x"))
