"""Subscriptions, the change log and the notification outbox in MongoDB (the meta database).

    subscriptions    one document per (tenant, id): the stored subscription, its status counters, and
                     the delivery state of its outbox: `pending` (queued notifications), `ready_at`
                     (epoch seconds when its oldest one may be sent; NOTHING: none queued) and the
                     sender lease (`lease_owner`, `lease_until`)
    notify_changes   {_id: seq, tenant, at, before, after}: written by the entity write's transaction
    notify_outbox    {_id: id, tenant, sub_id, body, headers, created, attempts, next_at}
    notify_state     counters (`seq`, `outbox`), the subscriptions `version`, the matcher lease

Several broker replicas share one database:
- The matcher lease is one document taken with a conditional find-and-modify.
- A sender claims a whole subscription with one find-and-modify on its document (ready, active, not
  leased by anyone else): the lease is atomic, so two replicas never hold the same subscription and
  never send the same notification; holding the subscription keeps its notifications in order.
- `commit_matches` consumes changes and queues notifications in one transaction, and fails (nothing
  written) when the changes were consumed by another replica meanwhile.
- On a replica set a change stream on notify_changes wakes this replica's matcher as soon as any
  replica logs a change (polling remains the fallback).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pymongo
from pymongo import ReturnDocument

from broker_adapter.ngsild.errors import AlreadyExists
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.mongo.codec import ENTITY_FIELDS, decode_json, encode_json, entity_from_doc
from broker_adapter.storage.mongo.connection import translate
from broker_adapter.storage.mongo.store import MongoStore
from broker_adapter.storage.notify_port import (
    ChangeRecord,
    Claim,
    Delivery,
    MatchResult,
    Pending,
    Snapshot,
    StoredSubscription,
)

log = logging.getLogger("verbund.notify")
NOTHING = 1e300  # ready_at when no notification is queued
_MAX_PERIODIC_ENTITIES = 10_000


class _Lost(Exception):
    """The matcher lease or the changes were taken by another replica: roll back, try again later."""


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def _sub(doc: dict[str, Any]) -> StoredSubscription:
    return StoredSubscription(
        tenant=doc["tenant"],
        id=doc["id"],
        doc=decode_json(doc["doc"]),
        context=decode_json(doc["context"]),
        since_seq=doc["since_seq"],
        created_at=doc["created_at"],
        modified_at=doc["modified_at"],
        times_sent=doc.get("times_sent", 0),
        times_failed=doc.get("times_failed", 0),
        last_notification=doc.get("last_notification"),
        last_success=doc.get("last_success"),
        last_failure=doc.get("last_failure"),
        last_matched=doc.get("last_matched"),
        next_periodic=doc.get("next_periodic"),
    )


def _entity_json(entity: ExpandedEntity | None) -> Any:
    return None if entity is None else encode_json(entity)


def _entity_back(value: Any) -> ExpandedEntity | None:
    return None if value is None else decode_json(value)


class MongoNotifyStore:
    def __init__(self, store: MongoStore) -> None:
        self.store = store
        self.on_change: Callable[[], None] | None = None
        self._installed = False
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def meta(self) -> Any:
        self.store.conn.once("notify", self._prepare)
        return self.store.meta

    def _prepare(self) -> None:
        meta = self.store.meta
        meta.subscriptions.create_index([("tenant", 1), ("id", 1)], unique=True)
        meta.subscriptions.create_index([("tenant", 1), ("created_at", 1), ("id", 1)])
        meta.subscriptions.create_index([("ready_at", 1)])
        meta.notify_outbox.create_index([("tenant", 1), ("sub_id", 1), ("_id", 1)])
        for key, initial in (("seq", {"value": 0}), ("outbox", {"value": 0}), ("version", {"value": 0})):
            meta.notify_state.update_one({"_id": key}, {"$setOnInsert": initial}, upsert=True)
        meta.notify_state.update_one(
            {"_id": "matcher"}, {"$setOnInsert": {"owner": None, "until": 0.0}}, upsert=True
        )

    # the write hook ----------------------------------------------------------------------------------
    def install(self) -> None:
        if self._installed:
            return
        self.store.write_hooks.append(self._log_changes)
        self._installed = True
        if not self.store.conn.mock and self.store.conn.transactions:
            self._watcher = threading.Thread(target=self._watch, name="notify-change-stream", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        """Wake the matcher when any replica logs a change (a replica set's change stream)."""
        while not self._stop.is_set():
            try:
                with self.meta.notify_changes.watch(
                    [{"$match": {"operationType": "insert"}}], max_await_time_ms=1000
                ) as stream:
                    while not self._stop.is_set():
                        if stream.try_next() is not None and self.on_change is not None:
                            self.on_change()
            except pymongo.errors.PyMongoError as exc:
                log.warning("change stream interrupted; polling meanwhile", extra={"error": str(exc)})
                self._stop.wait(5.0)

    def close(self) -> None:
        self._stop.set()

    def _log_changes(
        self, session: Any, tenant: Tenant, changed: list[tuple[ExpandedEntity | None, ExpandedEntity | None]]
    ) -> None:
        """Inside every entity write: one change document per changed entity, only for tenants that
        have subscriptions (read in the write's own transaction)."""
        if not changed:
            return
        if self.meta.subscriptions.find_one({"tenant": tenant}, {"_id": 1}, session=session) is None:
            return
        state = self.meta.notify_state.find_one_and_update(
            {"_id": "seq"},
            {"$inc": {"value": len(changed)}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        first = state["value"] - len(changed) + 1
        now = time.time()
        self.meta.notify_changes.insert_many(
            [
                {
                    "_id": first + n,
                    "tenant": tenant,
                    "at": now,
                    "before": _entity_json(b),
                    "after": _entity_json(a),
                }
                for n, (b, a) in enumerate(changed)
            ],
            session=session,
        )
        if self.on_change is not None:
            self.on_change()

    # subscriptions -----------------------------------------------------------------------------------
    def create_subscription(self, sub: StoredSubscription) -> None:
        def body(session: Any) -> None:
            subs = self.meta.subscriptions
            if subs.find_one({"tenant": sub.tenant, "id": sub.id}, {"_id": 1}, session=session):
                raise AlreadyExists(f"subscription {sub.id} already exists")
            self.store._register_tenant(sub.tenant, session)
            state = self.meta.notify_state.find_one({"_id": "seq"}, session=session)
            sub.since_seq = state["value"] if state else 0
            subs.insert_one(
                {
                    "tenant": sub.tenant,
                    "id": sub.id,
                    "doc": encode_json(sub.doc),
                    "context": encode_json(sub.context),
                    "since_seq": sub.since_seq,
                    "active": bool(sub.doc.get("isActive", True)),
                    "expires": _epoch(sub.doc.get("expiresAt")),
                    "created_at": sub.created_at,
                    "modified_at": sub.modified_at,
                    "times_sent": 0,
                    "times_failed": 0,
                    "last_notification": None,
                    "last_success": None,
                    "last_failure": None,
                    "last_matched": None,
                    "next_periodic": sub.next_periodic,
                    "pending": 0,
                    "ready_at": NOTHING,
                    "lease_owner": None,
                    "lease_until": 0.0,
                },
                session=session,
            )
            self._bump(session)

        self.store.conn.run_write(body)
        if sub.tenant:
            self.store._known_tenants.add(sub.tenant)

    def get_subscription(self, tenant: Tenant, sub_id: str) -> StoredSubscription | None:
        with translate():
            doc = self.meta.subscriptions.find_one({"tenant": tenant, "id": sub_id})
        return _sub(doc) if doc is not None else None

    def list_subscriptions(
        self, tenant: Tenant, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]:
        with translate():
            docs = (
                self.meta.subscriptions.find({"tenant": tenant})
                .sort([("created_at", 1), ("id", 1)])
                .skip(offset)
                .limit(limit)
            )
            found = [_sub(d) for d in docs]
            return found, self.meta.subscriptions.count_documents({"tenant": tenant})

    def replace_subscription(self, sub: StoredSubscription) -> bool:
        def body(session: Any) -> bool:
            changed = self.meta.subscriptions.update_one(
                {"tenant": sub.tenant, "id": sub.id},
                {
                    "$set": {
                        "doc": encode_json(sub.doc),
                        "context": encode_json(sub.context),
                        "active": bool(sub.doc.get("isActive", True)),
                        "expires": _epoch(sub.doc.get("expiresAt")),
                        "modified_at": sub.modified_at,
                        "next_periodic": sub.next_periodic,
                    }
                },
                session=session,
            ).matched_count
            if changed:
                self._bump(session)
            return changed > 0

        return self.store.conn.run_write(body)

    def delete_subscription(self, tenant: Tenant, sub_id: str) -> bool:
        def body(session: Any) -> bool:
            deleted = self.meta.subscriptions.delete_one({"tenant": tenant, "id": sub_id}, session=session)
            self.meta.notify_outbox.delete_many({"tenant": tenant, "sub_id": sub_id}, session=session)
            if deleted.deleted_count:
                self._bump(session)
            return deleted.deleted_count > 0

        return self.store.conn.run_write(body)

    def _bump(self, session: Any) -> None:
        """Every replica's matcher reloads its subscriptions when this version moves."""
        self.meta.notify_state.update_one({"_id": "version"}, {"$inc": {"value": 1}}, session=session)

    # matching ----------------------------------------------------------------------------------------
    def matcher_lease(self, owner: str, seconds: float) -> bool:
        now = time.time()
        with translate():
            state = self.meta.notify_state.find_one({"_id": "matcher"})
            if state["owner"] == owner and state["until"] - now > seconds / 2:
                return True
            if state["owner"] not in (None, owner) and state["until"] > now:
                return False
            return self._take_lease(owner, seconds, time.time(), None)

    def _take_lease(self, owner: str, seconds: float, now: float, session: Any) -> bool:
        taken = self.meta.notify_state.update_one(
            {"_id": "matcher", "$or": [{"owner": None}, {"owner": owner}, {"until": {"$lt": now}}]},
            {"$set": {"owner": owner, "until": now + seconds}},
            session=session,
        )
        return taken.matched_count == 1

    def snapshot(self, known_version: int | None, limit: int) -> Snapshot:
        def body(session: Any) -> Snapshot:
            version = self.meta.notify_state.find_one({"_id": "version"}, session=session)["value"]
            changes = [
                ChangeRecord(
                    d["_id"], d["tenant"], d["at"], _entity_back(d["before"]), _entity_back(d["after"])
                )
                for d in self.meta.notify_changes.find({}, session=session).sort("_id", 1).limit(limit)
            ]
            subs = None
            if version != known_version:
                subs = [_sub(d) for d in self.meta.subscriptions.find({}, session=session)]
            return Snapshot(version, changes, subs)

        return self.store.conn.run_write(body)  # one snapshot-isolated read transaction

    def commit_matches(self, owner: str, seconds: float, result: MatchResult) -> bool:
        def body(session: Any) -> None:
            now = time.time()
            if not self._take_lease(owner, seconds, now, session):
                raise _Lost
            if result.consumed:
                gone = self.meta.notify_changes.delete_many(
                    {"_id": {"$in": list(result.consumed)}}, session=session
                ).deleted_count
                if gone != len(result.consumed):
                    raise _Lost
            subs = self.meta.subscriptions
            if result.notifications:
                n = len(result.notifications)
                state = self.meta.notify_state.find_one_and_update(
                    {"_id": "outbox"},
                    {"$inc": {"value": n}},
                    return_document=ReturnDocument.AFTER,
                    session=session,
                )
                first = state["value"] - n + 1
                self.meta.notify_outbox.insert_many(
                    [
                        {
                            "_id": first + i,
                            "tenant": x.tenant,
                            "sub_id": x.sub_id,
                            "body": x.body,
                            "headers": x.headers,
                            "created": now,
                            "attempts": 0,
                            "next_at": 0.0,
                        }
                        for i, x in enumerate(result.notifications)
                    ],
                    session=session,
                )
                queued: dict[tuple[str, str], int] = {}
                for x in result.notifications:
                    queued[(x.tenant, x.sub_id)] = queued.get((x.tenant, x.sub_id), 0) + 1
                for (tenant, sub_id), count in queued.items():
                    subs.update_one(
                        {"tenant": tenant, "id": sub_id},
                        {"$inc": {"pending": count}, "$min": {"ready_at": now}},
                        session=session,
                    )
            for (tenant, sub_id), at in result.matched.items():
                subs.update_one(
                    {"tenant": tenant, "id": sub_id}, {"$set": {"last_matched": at}}, session=session
                )
            for (tenant, sub_id), at in result.periodic.items():
                subs.update_one(
                    {"tenant": tenant, "id": sub_id}, {"$set": {"next_periodic": at}}, session=session
                )

        try:
            self.store.conn.run_write(body)
        except _Lost:
            return False
        return True

    def entities_of(
        self, tenant: Tenant, types: list[str] | None, ids: list[str] | None
    ) -> list[ExpandedEntity]:
        where: dict[str, Any] = {}
        if ids:
            where["_id"] = {"$in": list(ids)}
        elif types:
            where["type"] = {"$in": list(types)}
        with translate():
            docs = (
                self.store.db(tenant)
                .entities.find(where, ENTITY_FIELDS)
                .sort("_id", 1)
                .limit(_MAX_PERIODIC_ENTITIES)
            )
            return [entity_from_doc(d) for d in docs]

    # delivery ----------------------------------------------------------------------------------------
    def claim(
        self,
        owner: str,
        now: float,
        seconds: float,
        max_subs: int,
        per_sub: int,
        skip: set[tuple[Tenant, str]],
        record: Sequence[Delivery] = (),
    ) -> list[Claim]:
        # Recorded first, in a step of its own: MongoDB writers do not queue for one lock.
        self.record(record)
        subs, outbox = self.meta.subscriptions, self.meta.notify_outbox
        claims: list[Claim] = []
        ready: dict[str, Any] = {
            "ready_at": {"$lte": now},
            "lease_until": {"$lt": now},
            "active": True,
            "$or": [{"expires": None}, {"expires": {"$gt": now}}],
        }
        if skip:
            ready["$nor"] = [{"tenant": t, "id": s} for t, s in skip]
        with translate():
            while len(claims) < max_subs:
                doc = subs.find_one_and_update(
                    ready,
                    {"$set": {"lease_owner": owner, "lease_until": now + seconds}},
                    sort=[("ready_at", 1)],
                    return_document=ReturnDocument.AFTER,
                )
                if doc is None:
                    break
                key = {"_id": doc["_id"]}
                items = [
                    Pending(d["_id"], d["body"], d["headers"], d["attempts"])
                    for d in outbox.find({"tenant": doc["tenant"], "sub_id": doc["id"]})
                    .sort("_id", 1)
                    .limit(per_sub)
                ]
                if not items:  # nothing queued after all: count again from zero
                    subs.update_one(
                        {**key, "pending": doc["pending"]},
                        {
                            "$set": {
                                "pending": 0,
                                "ready_at": NOTHING,
                                "lease_until": 0.0,
                                "lease_owner": None,
                            }
                        },
                    )
                    subs.update_one(key, {"$set": {"lease_until": 0.0, "lease_owner": None}})
                    continue
                head_at = outbox.find_one({"_id": items[0].id}, {"next_at": 1})
                if head_at is not None and head_at["next_at"] > now:  # the oldest waits for its retry
                    subs.update_one(
                        key,
                        {"$set": {"ready_at": head_at["next_at"], "lease_until": 0.0, "lease_owner": None}},
                    )
                    continue
                claims.append(Claim(doc["tenant"], doc["id"], decode_json(doc["doc"]), items, now + seconds))
        return claims

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return

        def body(session: Any) -> None:
            subs, outbox = self.meta.subscriptions, self.meta.notify_outbox
            for d in deliveries:
                items = d.claim.items
                done = [item.id for item in items[: d.sent]]
                if done:
                    outbox.delete_many({"_id": {"$in": done}}, session=session)
                rest = items[d.sent :]
                ready_at = 0.0
                if d.failed and rest:
                    outbox.update_one(
                        {"_id": rest[0].id},
                        {"$inc": {"attempts": 1}, "$set": {"next_at": d.retry_at}},
                        session=session,
                    )
                    ready_at = d.retry_at
                update: dict[str, Any] = {
                    "$inc": {"pending": -len(done)},
                    "$set": {"ready_at": ready_at, "lease_until": 0.0, "lease_owner": None},
                }
                attempts = d.sent + int(d.failed)
                if attempts:
                    update["$inc"].update(times_sent=attempts, times_failed=int(d.failed))
                    update["$set"]["last_notification"] = d.at
                    if d.sent:
                        update["$set"]["last_success"] = d.at
                    if d.failed:
                        update["$set"]["last_failure"] = d.at
                key = {"tenant": d.claim.tenant, "id": d.claim.sub_id}
                subs.update_one(key, update, session=session)
                # nothing left: not ready until the matcher queues more ($min in commit_matches)
                subs.update_one(
                    {**key, "pending": {"$lte": 0}}, {"$set": {"ready_at": NOTHING}}, session=session
                )

        self.store.conn.run_write(body)
