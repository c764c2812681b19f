"""The production store: MongoDB (replica set or sharded cluster), one database per tenant.

    <prefix>                  meta database: tenants, contexts, tenant_settings, subscriptions,
                              notify_changes, notify_outbox, notify_state, history_retention
    <prefix>_default          the default tenant's data
    <prefix>_t_<tenant>       a tenant's data: entities, history, history_entities

`apply` runs every change function on the current documents inside one transaction (snapshot reads,
`w: majority`), writes the changed entities as one unordered bulk write, and runs the write hooks
(history, the notification change log) in the same transaction, so they commit or roll back together.
On a deployment without transactions (standalone server, mongomock) see connection.Connection.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import pymongo
from pymongo.errors import DuplicateKeyError

from broker_adapter.ngsild.errors import AlreadyExists, StoreUnavailable
from broker_adapter.ngsild.types import DEFAULT_TENANT, EntityId, ExpandedEntity, Iri, Tenant
from broker_adapter.storage.mongo import query_plan
from broker_adapter.storage.mongo.codec import (
    ENTITY_FIELDS,
    decode_json,
    encode_json,
    entity_from_doc,
    entity_to_doc,
)
from broker_adapter.storage.mongo.connection import Connection, MongoOptions, translate
from broker_adapter.storage.mongo.keys import decode_key, encode_key, tenant_database
from broker_adapter.storage.port import (
    AttributeSummary,
    Change,
    ContextRecord,
    EntityQuery,
    ItemResult,
    Outcome,
    QueryResult,
    TypeSummary,
    WriteItem,
    apply_each,
    run_changes,
)

Changed = list[tuple[ExpandedEntity | None, ExpandedEntity | None]]
WriteHook = Callable[[Any, Tenant, Changed], None]  # (session, tenant, changed pairs)

ENTITY_INDEXES = [
    [("type", 1), ("_id", 1)],  # type scans in id order
    [("_names", 1), ("_id", 1)],  # attrs= and discovery
    [("createdAt", 1)],
    [("modifiedAt", 1)],
    [("scope", 1)],
    [("_box.a", 1), ("_box.x0", 1), ("_box.y0", 1)],  # geo-query pruning
]


class MongoStore:
    def __init__(self, url: str, options: MongoOptions | None = None) -> None:
        self.conn = Connection(url, options)
        self.native_geo = not self.conn.mock  # mongomock has no geo operators: boxes only
        self.write_hooks: list[WriteHook] = []
        self._geo_indexed: dict[str, set[str]] = defaultdict(set)
        self._known_tenants: set[Tenant] = {DEFAULT_TENANT}
        from broker_adapter.storage.mongo.history import MongoHistory

        self.history = MongoHistory(self)

    @property
    def meta(self) -> Any:
        self.conn.once("meta", self._prepare_meta)
        return self.conn.meta

    @property
    def url(self) -> str:
        return self.conn.url

    @property
    def process_local(self) -> bool:
        """mongomock keeps its data in this process: another process opening the URL sees nothing."""
        return self.conn.mock

    def _prepare_meta(self) -> None:
        meta = self.conn.meta
        meta.contexts.create_index([("url", 1)], unique=True)
        meta.contexts.create_index([("created_at", 1), ("_id", 1)])

    def db(self, tenant: Tenant) -> Any:
        """The tenant's database, its indexes created on first use in this process."""
        name = tenant_database(self.conn.prefix, tenant)
        database = self.conn.client[name]

        def prepare() -> None:
            for keys in ENTITY_INDEXES:
                database.entities.create_index(keys)
            self.history.create_indexes(database)

        self.conn.once(name, prepare)
        return database

    def _geo_indexes(self, tenant: Tenant, docs: list[dict[str, Any]]) -> None:
        """A 2dsphere index per GeoProperty (created outside transactions, once per process)."""
        known = self._geo_indexed[tenant]
        fresh = {key for doc in docs for key in doc.get("_geo", ())} - known
        if not fresh:
            return
        collection = self.db(tenant).entities
        with translate():
            for key in fresh:
                collection.create_index([(f"_geo.{key}", pymongo.GEOSPHERE)], sparse=True)
        known |= fresh

    # lifecycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def ping(self) -> None:
        self.conn.ping()

    # tenants -----------------------------------------------------------------------------------------
    def tenant_exists(self, tenant: Tenant) -> bool:
        if tenant in self._known_tenants:
            return True
        with translate():
            found = self.meta.tenants.find_one({"_id": tenant}, {"_id": 1}) is not None
        if found:
            self._known_tenants.add(tenant)
        return found

    def list_tenants(self) -> list[Tenant]:
        with translate():
            return sorted(d["_id"] for d in self.meta.tenants.find({}, {"_id": 1}))

    def _register_tenant(self, tenant: Tenant, session: Any) -> None:
        if tenant == DEFAULT_TENANT:
            return
        self.meta.tenants.update_one(
            {"_id": tenant},
            {"$setOnInsert": {"db": tenant_database(self.conn.prefix, tenant)}},
            upsert=True,
            session=session,
        )

    # entities ----------------------------------------------------------------------------------------
    def get_entity(self, tenant: Tenant, entity_id: EntityId) -> ExpandedEntity | None:
        with translate():
            doc = self.db(tenant).entities.find_one({"_id": entity_id}, ENTITY_FIELDS)
        return entity_from_doc(doc) if doc is not None else None

    def apply(self, tenant: Tenant, changes: Sequence[Change]) -> list[Outcome]:
        entities = self.db(tenant).entities
        written: list[dict[str, Any]] = []

        def body(session: Any) -> list[Outcome]:
            written.clear()
            ids = list(dict.fromkeys(c.entity_id for c in changes))
            stored: dict[EntityId, ExpandedEntity | None] = {}
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                for doc in entities.find({"_id": {"$in": chunk}}, ENTITY_FIELDS, session=session):
                    stored[doc["_id"]] = entity_from_doc(doc)
            outcomes, working = run_changes(changes, stored)
            self._register_tenant(tenant, session)
            ops: list[Any] = []
            op_ids: list[EntityId] = []
            for eid, after in working.items():
                before = stored.get(eid)
                if after is before:
                    continue
                if after is None:
                    if before is None:
                        continue
                    ops.append(("delete", {"_id": eid}))
                else:
                    doc = entity_to_doc(after, native_geo=self.native_geo)
                    written.append(doc)
                    ops.append(("replace", {"_id": eid}, doc))
                op_ids.append(eid)
            failed = self.conn.bulk(entities, ops, session)
            failed_ids = {op_ids[i]: message for i, message in failed.items()}
            if failed_ids:  # only without a transaction: those entities keep their stored state
                for outcome in outcomes:
                    if outcome.entity_id in failed_ids and outcome.ok:
                        outcome.error = StoreUnavailable(f"not written: {failed_ids[outcome.entity_id]}")
                        outcome.after = None
            changed = [
                (stored.get(eid), after)
                for eid, after in working.items()
                if after is not stored.get(eid) and eid not in failed_ids
            ]
            for hook in self.write_hooks:
                hook(session, tenant, changed)
            return outcomes

        outcomes = self.conn.run_write(body)
        if tenant:
            self._known_tenants.add(tenant)
        if self.native_geo and written:
            self._geo_indexes(tenant, written)
        return outcomes

    def apply_group(self, items: Sequence[WriteItem]) -> list[ItemResult]:
        """One transaction per item: MongoDB has no per-item savepoints, and each commit is already a
        majority write (no local flush to share)."""
        return apply_each(self, items)

    def query(self, tenant: Tenant, query: EntityQuery) -> QueryResult:
        with translate():
            return query_plan.run(self.db(tenant).entities, query, native_geo=self.native_geo)

    def delete_entities(self, tenant: Tenant, query: EntityQuery) -> list[ExpandedEntity]:
        entities = self.db(tenant).entities

        def body(session: Any) -> list[ExpandedEntity]:
            deleted = query_plan.select_all(entities, query, native_geo=self.native_geo, session=session)
            ids = [entity["id"] for entity in deleted]
            for start in range(0, len(ids), 1000):
                entities.delete_many({"_id": {"$in": ids[start : start + 1000]}}, session=session)
            for hook in self.write_hooks:
                hook(session, tenant, [(entity, None) for entity in deleted])
            return deleted

        return self.conn.run_write(body)

    # tenant settings -------------------------------------------------------------------------------
    def get_tenant_setting(self, tenant: Tenant, key: str) -> Any:
        with translate():
            doc = self.meta.tenant_settings.find_one({"_id": {"t": tenant, "k": key}})
        return decode_json(doc["value"]) if doc is not None else None

    def set_tenant_setting(self, tenant: Tenant, key: str, value: Any) -> None:
        with translate():
            if value is None:
                self.meta.tenant_settings.delete_one({"_id": {"t": tenant, "k": key}})
            else:
                self.meta.tenant_settings.replace_one(
                    {"_id": {"t": tenant, "k": key}},
                    {"_id": {"t": tenant, "k": key}, "value": encode_json(value)},
                    upsert=True,
                )

    # discovery ---------------------------------------------------------------------------------------
    def list_types(self, tenant: Tenant) -> list[Iri]:
        with translate():
            return sorted(t for t in self.db(tenant).entities.distinct("type") if isinstance(t, str))

    def type_summaries(self, tenant: Tenant, type_iri: Iri | None = None) -> list[TypeSummary]:
        entities = self.db(tenant).entities
        only: list[dict[str, Any]] = [{"$match": {"type": type_iri}}] if type_iri is not None else []
        after_unwind = [{"$match": {"type": type_iri}}] if type_iri is not None else []
        with translate():
            counts = entities.aggregate(
                [*only, {"$unwind": "$type"}, *after_unwind, {"$group": {"_id": "$type", "n": {"$sum": 1}}}]
            )
            summaries = {row["_id"]: TypeSummary(row["_id"], row["n"]) for row in counts}
            rows = entities.aggregate(
                [
                    *only,
                    {"$project": {"type": 1, "a": {"$objectToArray": "$attrs"}}},
                    {"$unwind": "$type"},
                    *after_unwind,
                    {"$unwind": "$a"},
                    {"$unwind": "$a.v"},
                    {"$group": {"_id": {"t": "$type", "a": "$a.k"}, "kinds": {"$addToSet": "$a.v.type"}}},
                ]
            )
            for row in rows:
                summary = summaries.get(row["_id"]["t"])
                if summary is not None:
                    kinds = sorted(k for k in row["kinds"] if isinstance(k, str))
                    summary.attributes[decode_key(row["_id"]["a"])] = kinds
        for summary in summaries.values():
            summary.attributes = dict(sorted(summary.attributes.items()))
        return [summaries[k] for k in sorted(summaries)]

    def list_attributes(self, tenant: Tenant) -> list[Iri]:
        with translate():
            return sorted(self.db(tenant).entities.distinct("_names"))

    def attribute_summaries(self, tenant: Tenant, attr: Iri | None = None) -> list[AttributeSummary]:
        entities = self.db(tenant).entities
        only: list[dict[str, Any]] = [{"$match": {"_names": attr}}] if attr is not None else []
        key = [{"$match": {"a.k": encode_key(attr)}}] if attr is not None else []
        out: dict[Iri, AttributeSummary] = {}
        with translate():
            rows = entities.aggregate(
                [
                    *only,
                    {"$project": {"a": {"$objectToArray": "$attrs"}}},
                    {"$unwind": "$a"},
                    *key,
                    {"$unwind": "$a.v"},
                    {"$group": {"_id": {"a": "$a.k", "k": "$a.v.type"}, "n": {"$sum": 1}}},
                ]
            )
            for row in rows:
                iri = decode_key(row["_id"]["a"])
                summary = out.setdefault(iri, AttributeSummary(iri))
                summary.count += row["n"]
                kind = row["_id"].get("k")
                if isinstance(kind, str):
                    summary.kinds.append(kind)
            rows = entities.aggregate(
                [
                    *only,
                    {"$project": {"type": 1, "_names": 1}},
                    {"$unwind": "$_names"},
                    *([{"$match": {"_names": attr}}] if attr is not None else []),
                    {"$unwind": "$type"},
                    {"$group": {"_id": {"a": "$_names", "t": "$type"}}},
                ]
            )
            for row in rows:
                summary = out.get(row["_id"]["a"])
                if summary is not None:
                    summary.types.append(row["_id"]["t"])
        for summary in out.values():
            summary.kinds.sort()
            summary.types.sort()
        return [out[k] for k in sorted(out)]

    # @contexts ---------------------------------------------------------------------------------------
    def put_context(self, record: ContextRecord) -> None:
        doc = {
            "_id": record.id,
            "url": record.url,
            "kind": record.kind,
            "document": encode_json(record.document),
            "created_at": record.created_at,
            "last_usage": record.last_usage,
            "hits": record.hits,
        }

        def body(session: Any) -> None:
            self.meta.contexts.delete_many({"url": record.url, "_id": {"$ne": record.id}}, session=session)
            self.meta.contexts.replace_one({"_id": record.id}, doc, upsert=True, session=session)

        self.conn.run_write(body)

    def get_context(self, context_id: str) -> ContextRecord | None:
        with translate():
            doc = self.meta.contexts.find_one({"_id": context_id})
        return _context_record(doc) if doc is not None else None

    def get_context_by_url(self, url: str) -> ContextRecord | None:
        with translate():
            doc = self.meta.contexts.find_one({"url": url})
        return _context_record(doc) if doc is not None else None

    def list_contexts(self, kind: str | None = None) -> list[ContextRecord]:
        with translate():
            docs = self.meta.contexts.find({} if kind is None else {"kind": kind}).sort(
                [("created_at", 1), ("_id", 1)]
            )
            return [_context_record(d) for d in docs]

    def delete_context(self, context_id: str) -> bool:
        with translate():
            return self.meta.contexts.delete_one({"_id": context_id}).deleted_count > 0

    def add_context_hits(self, context_id: str, hits: int, when: str) -> None:
        with translate():
            self.meta.contexts.update_one({"_id": context_id}, {"$inc": {"hits": hits}})
            # two atomic steps, not $max: a last_usage of null must give way too
            later = {"$or": [{"last_usage": None}, {"last_usage": {"$lt": when}}]}
            self.meta.contexts.update_one({"_id": context_id, **later}, {"$set": {"last_usage": when}})

    # municipality registry and credentials ------------------------------------------------------------
    def get_municipality(self, tenant: Tenant) -> dict[str, Any] | None:
        with translate():
            doc = self.meta.municipalities.find_one({"_id": tenant})
        return decode_json(doc["doc"]) if doc is not None else None

    def list_municipalities(self) -> list[dict[str, Any]]:
        with translate():
            return [decode_json(d["doc"]) for d in self.meta.municipalities.find().sort("_id", 1)]

    def put_municipality(self, record: dict[str, Any], *, create: bool = False) -> None:
        tenant = record["tenant"]

        def body(session: Any) -> None:
            municipalities = self.meta.municipalities
            if create and municipalities.find_one({"_id": tenant}, {"_id": 1}, session=session) is not None:
                raise AlreadyExists(f"municipality {tenant!r} is already registered")
            municipalities.replace_one(
                {"_id": tenant}, {"_id": tenant, "doc": encode_json(record)}, upsert=True, session=session
            )
            self._register_tenant(tenant, session)

        try:
            self.conn.run_write(body)
        except DuplicateKeyError as exc:  # two registrations at once: the other one won
            raise AlreadyExists(f"municipality {tenant!r} is already registered") from exc
        self._known_tenants.add(tenant)

    def get_credential(self, credential_id: str) -> dict[str, Any] | None:
        with translate():
            doc = self.meta.credentials.find_one({"_id": credential_id})
        return decode_json(doc["doc"]) if doc is not None else None

    def list_credentials(self) -> list[dict[str, Any]]:
        with translate():
            return [decode_json(d["doc"]) for d in self.meta.credentials.find().sort("_id", 1)]

    def put_credential(self, record: dict[str, Any]) -> None:
        with translate():
            self.meta.credentials.replace_one(
                {"_id": record["id"]}, {"_id": record["id"], "doc": encode_json(record)}, upsert=True
            )

    def purge_tenant(self, tenant: Tenant) -> int:
        """The tenant's database goes as a whole (after its records in the meta database, so a crash in
        between leaves data without a tenant record, which a repeated purge removes)."""
        name = tenant_database(self.conn.prefix, tenant)
        with translate():
            deleted = self.conn.client[name].entities.count_documents({})

        def body(session: Any) -> None:
            meta = self.meta
            for collection in ("subscriptions", "notify_outbox", "notify_changes"):
                meta[collection].delete_many({"tenant": tenant}, session=session)
            meta.tenant_settings.delete_many({"_id.t": tenant}, session=session)
            meta.history_retention.delete_one({"_id": tenant}, session=session)
            meta.tenants.delete_one({"_id": tenant}, session=session)
            # every replica's matcher reloads its subscriptions when this version moves (mongo/notify.py)
            meta.notify_state.update_one({"_id": "version"}, {"$inc": {"value": 1}}, session=session)

        self.conn.run_write(body)
        with translate():
            self.conn.client.drop_database(name)
        self.conn.forget(name)
        self._known_tenants.discard(tenant)
        self._geo_indexed.pop(tenant, None)
        return deleted


def _context_record(doc: dict[str, Any]) -> ContextRecord:
    return ContextRecord(
        id=doc["_id"],
        url=doc["url"],
        kind=doc["kind"],
        document=decode_json(doc["document"]),
        created_at=doc["created_at"],
        last_usage=doc.get("last_usage"),
        hits=doc.get("hits", 0),
    )
