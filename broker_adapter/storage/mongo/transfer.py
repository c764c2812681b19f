"""Export and import of a whole MongoDB store for `verbund store copy` (storage/transfer.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId

from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.mongo.codec import ENTITY_FIELDS, decode_json, encode_json, entity_from_doc
from broker_adapter.storage.mongo.connection import translate
from broker_adapter.storage.mongo.notify import NOTHING, MongoNotifyStore, _epoch, _sub
from broker_adapter.storage.mongo.store import MongoStore
from broker_adapter.storage.port import Change
from broker_adapter.storage.transfer import (
    RETENTION,
    HistoryDump,
    HistoryRow,
    QueuedNotification,
    SubscriptionDump,
)


class MongoTransfer:
    def __init__(self, store: MongoStore) -> None:
        self.store = store
        self.notify = MongoNotifyStore(store)  # its collections and counters, without the write hook
        store.history.set_recording(False)  # history is copied as it was recorded, not recorded anew

    def tenants(self) -> list[Tenant]:
        return ["", *self.store.list_tenants()]

    # entities ----------------------------------------------------------------------------------------
    def entities(self, tenant: Tenant, after: str | None, limit: int) -> list[ExpandedEntity]:
        where = {"_id": {"$gt": after}} if after is not None else {}
        with translate():
            docs = self.store.db(tenant).entities.find(where, ENTITY_FIELDS).sort("_id", 1).limit(limit)
            return [entity_from_doc(d) for d in docs]

    def put_entities(self, tenant: Tenant, entities: Sequence[ExpandedEntity]) -> None:
        self.store.apply(tenant, [Change(e["id"], lambda _, e=e: e) for e in entities])

    # history -----------------------------------------------------------------------------------------
    def history(self, tenant: Tenant, after: str | None, limit: int) -> list[HistoryDump]:
        database = self.store.db(tenant)
        where = {"_id": {"$gt": after}} if after is not None else {}
        dumps = []
        with translate():
            for doc in database.history_entities.find(where).sort("_id", 1).limit(limit):
                dump = HistoryDump(doc["_id"], doc.get("types"), doc["c"], doc.get("x"))
                rows = database.history.find({"e": doc["_id"]}).sort(
                    [("a", 1), ("d", 1), ("t", 1), ("_id", 1)]
                )
                dump.rows = [
                    HistoryRow(r["a"], r["d"], r["k"], r["o"], r["c"], r["m"], r["x"], r["v"], r["doc"])
                    for r in rows
                ]
                dumps.append(dump)
        return dumps

    def put_history(self, tenant: Tenant, dumps: Sequence[HistoryDump]) -> None:
        from broker_adapter.storage.mongo.history import _number

        database = self.store.db(tenant)

        def body(session: Any) -> None:
            self.store._register_tenant(tenant, session)
            for dump in dumps:
                database.history.delete_many({"e": dump.id}, session=session)
                database.history_entities.replace_one(
                    {"_id": dump.id},
                    {"_id": dump.id, "types": dump.types, "c": dump.created, "x": dump.deleted},
                    upsert=True,
                    session=session,
                )
                docs = [
                    {
                        "_id": ObjectId(),
                        "e": dump.id,
                        "a": r.attr,
                        "d": r.dataset,
                        "k": r.kind,
                        "t": r.observed if r.observed is not None else r.created,
                        "o": r.observed,
                        "c": r.created,
                        "m": r.modified if r.modified is not None else r.created,
                        "x": r.deleted,
                        "v": r.v,
                        "n": _number(r.v),
                        "doc": r.doc,
                    }
                    for r in dump.rows
                ]
                if docs:
                    database.history.insert_many(docs, session=session)

        self.store.conn.run_write(body)

    # settings ----------------------------------------------------------------------------------------
    def settings(self, tenant: Tenant) -> dict[str, Any]:
        meta = self.store.meta
        with translate():
            out = {
                d["_id"]["k"]: decode_json(d["value"]) for d in meta.tenant_settings.find({"_id.t": tenant})
            }
            retention = meta.history_retention.find_one({"_id": tenant})
        if retention is not None:
            out[RETENTION] = retention["period"]
        return out

    # subscriptions -----------------------------------------------------------------------------------
    def subscriptions(self, after: tuple[Tenant, str] | None, limit: int) -> list[SubscriptionDump]:
        meta = self.notify.meta
        where: dict[str, Any] = {}
        if after is not None:
            where = {"$or": [{"tenant": {"$gt": after[0]}}, {"tenant": after[0], "id": {"$gt": after[1]}}]}
        dumps = []
        with translate():
            for doc in meta.subscriptions.find(where).sort([("tenant", 1), ("id", 1)]).limit(limit):
                queued = [
                    QueuedNotification(q["body"], q["headers"], q["created"], q["attempts"], q["next_at"])
                    for q in meta.notify_outbox.find({"tenant": doc["tenant"], "sub_id": doc["id"]}).sort(
                        "_id", 1
                    )
                ]
                dumps.append(SubscriptionDump(_sub(doc), queued))
        return dumps

    def put_subscriptions(self, dumps: Sequence[SubscriptionDump]) -> None:
        meta = self.notify.meta

        def body(session: Any) -> None:
            since = meta.notify_state.find_one({"_id": "seq"}, session=session)["value"]
            for dump in dumps:
                s = dump.sub
                self.store._register_tenant(s.tenant, session)
                key = {"tenant": s.tenant, "id": s.id}
                meta.notify_outbox.delete_many({"tenant": s.tenant, "sub_id": s.id}, session=session)
                first = 0
                if dump.queued:
                    state = meta.notify_state.find_one_and_update(
                        {"_id": "outbox"},
                        {"$inc": {"value": len(dump.queued)}},
                        session=session,
                        return_document=True,
                    )
                    first = state["value"] - len(dump.queued) + 1
                    meta.notify_outbox.insert_many(
                        [
                            {
                                "_id": first + n,
                                "tenant": s.tenant,
                                "sub_id": s.id,
                                "body": q.body,
                                "headers": q.headers,
                                "created": q.created,
                                "attempts": q.attempts,
                                "next_at": q.next_at,
                            }
                            for n, q in enumerate(dump.queued)
                        ],
                        session=session,
                    )
                meta.subscriptions.replace_one(
                    key,
                    {
                        **key,
                        "doc": encode_json(s.doc),
                        "context": encode_json(s.context),
                        "since_seq": since,
                        "active": bool(s.doc.get("isActive", True)),
                        "expires": _epoch(s.doc.get("expiresAt")),
                        "created_at": s.created_at,
                        "modified_at": s.modified_at,
                        "times_sent": s.times_sent,
                        "times_failed": s.times_failed,
                        "last_notification": s.last_notification,
                        "last_success": s.last_success,
                        "last_failure": s.last_failure,
                        "last_matched": s.last_matched,
                        "next_periodic": s.next_periodic,
                        "pending": len(dump.queued),
                        "ready_at": dump.queued[0].next_at if dump.queued else NOTHING,
                        "lease_owner": None,
                        "lease_until": 0.0,
                    },
                    upsert=True,
                    session=session,
                )
            meta.notify_state.update_one({"_id": "version"}, {"$inc": {"value": 1}}, session=session)

        self.store.conn.run_write(body)
