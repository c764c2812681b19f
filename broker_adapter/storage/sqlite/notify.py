"""Subscriptions, the change log and the notification outbox in the SQLite store (migration 4).

Shares the entity store's connections and its in-process write lock: notification bookkeeping queues
behind entity writes in-process instead of spinning on SQLite's busy handler.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import orjson

from broker_adapter.ngsild.errors import AlreadyExists, StoreUnavailable
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.notify_port import (
    ChangeRecord,
    Claim,
    Delivery,
    MatchResult,
    Pending,
    Snapshot,
    StoredSubscription,
)
from broker_adapter.storage.sqlite.codec import entity_from_row
from broker_adapter.storage.sqlite.store import SqliteStore

_SUB_COLUMNS = (
    "tenant, id, doc, context, since_seq, created_at, modified_at, times_sent, times_failed,"
    " last_notification, last_success, last_failure, last_matched, next_periodic"
)
_MAX_PERIODIC_ENTITIES = 10_000


class _Lost(Exception):
    """The matcher lease or the changes were taken by another replica: roll back, try again later."""


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def _sub(row: Sequence) -> StoredSubscription:
    return StoredSubscription(
        tenant=row[0],
        id=row[1],
        doc=orjson.loads(row[2]),
        context=orjson.loads(row[3]) if row[3] is not None else None,
        since_seq=row[4],
        created_at=row[5],
        modified_at=row[6],
        times_sent=row[7],
        times_failed=row[8],
        last_notification=row[9],
        last_success=row[10],
        last_failure=row[11],
        last_matched=row[12],
        next_periodic=row[13],
    )


@contextmanager
def _relaxed(store: SqliteStore) -> Iterator[None]:
    """Bookkeeping commits (matching, claims, results) without an fsync each: losing the last of them in a
    power cut only repeats work (changes are matched again, notifications resent: at-least-once holds),
    and every later FULL commit of an entity write makes them durable anyway (one WAL, in order). Entity
    writes and their change-log rows keep the store's setting."""
    conn = store._conn
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA synchronous={store._synchronous}")


class SqliteNotifyStore:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.on_change: Callable[[], None] | None = None  # called (inside the write) when a change is logged
        self._installed = False

    # the write hook ----------------------------------------------------------------------------------
    def install(self) -> None:
        if not self._installed:
            self.store.write_hooks.append(self._log_changes)
            self._installed = True

    def _log_changes(
        self,
        conn: sqlite3.Connection,
        tenant: Tenant,
        changed: list[tuple[ExpandedEntity | None, ExpandedEntity | None]],
    ) -> None:
        """Runs inside every entity write: one compact row per changed entity, only for tenants that
        have subscriptions (a consistent read in the same transaction, so none is missed)."""
        if not changed:
            return
        if conn.execute("SELECT 1 FROM subscriptions WHERE tenant = ? LIMIT 1", (tenant,)).fetchone() is None:
            return
        now = time.time()
        conn.executemany(
            "INSERT INTO notify_changes (tenant, at, before, after) VALUES (?, ?, ?, ?)",
            [
                (tenant, now, _dumps(b) if b is not None else None, _dumps(a) if a is not None else None)
                for b, a in changed
            ],
        )
        if self.on_change is not None:
            self.on_change()

    # subscriptions -----------------------------------------------------------------------------------
    def create_subscription(self, sub: StoredSubscription) -> None:
        with self.store._write() as conn:
            if conn.execute(
                "SELECT 1 FROM subscriptions WHERE tenant = ? AND id = ?", (sub.tenant, sub.id)
            ).fetchone():
                raise AlreadyExists(f"subscription {sub.id} already exists")
            if sub.tenant:
                conn.execute(
                    "INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, datetime('now'))",
                    (sub.tenant,),
                )
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'notify_changes'").fetchone()
            sub.since_seq = row[0] if row else 0
            conn.execute(
                "INSERT INTO subscriptions (tenant, id, doc, context, since_seq, active, expires, created_at,"
                " modified_at, next_periodic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sub.tenant,
                    sub.id,
                    _dumps(sub.doc),
                    _dumps(sub.context) if sub.context is not None else None,
                    sub.since_seq,
                    int(sub.doc.get("isActive", True)),
                    _epoch(sub.doc.get("expiresAt")),
                    sub.created_at,
                    sub.modified_at,
                    sub.next_periodic,
                ),
            )
            self._bump(conn)

    def get_subscription(self, tenant: Tenant, sub_id: str) -> StoredSubscription | None:
        rows = self.store._read(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
        )
        return _sub(rows[0]) if rows else None

    def list_subscriptions(
        self, tenant: Tenant, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]:
        rows = self.store._read(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE tenant = ?"
            " ORDER BY created_at, id LIMIT ? OFFSET ?",
            (tenant, limit, offset),
        )
        total = self.store._read("SELECT count(*) FROM subscriptions WHERE tenant = ?", (tenant,))[0][0]
        return [_sub(r) for r in rows], total

    def replace_subscription(self, sub: StoredSubscription) -> bool:
        with self.store._write() as conn:
            changed = conn.execute(
                "UPDATE subscriptions SET doc = ?, context = ?, active = ?, expires = ?, modified_at = ?,"
                " next_periodic = ? WHERE tenant = ? AND id = ?",
                (
                    _dumps(sub.doc),
                    _dumps(sub.context) if sub.context is not None else None,
                    int(sub.doc.get("isActive", True)),
                    _epoch(sub.doc.get("expiresAt")),
                    sub.modified_at,
                    sub.next_periodic,
                    sub.tenant,
                    sub.id,
                ),
            ).rowcount
            if changed:
                self._bump(conn)
            return changed > 0

    def delete_subscription(self, tenant: Tenant, sub_id: str) -> bool:
        with self.store._write() as conn:
            deleted = conn.execute(
                "DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id)
            ).rowcount
            conn.execute("DELETE FROM notify_outbox WHERE tenant = ? AND sub_id = ?", (tenant, sub_id))
            if deleted:
                self._bump(conn)
            return deleted > 0

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> None:
        """Every replica's matcher reloads its subscriptions when this version moves."""
        conn.execute("UPDATE notify_state SET value = value + 1 WHERE key = 'subscriptions'")

    # matching ----------------------------------------------------------------------------------------
    def matcher_lease(self, owner: str, seconds: float) -> bool:
        now = time.time()
        rows = self.store._read("SELECT owner, until FROM notify_state WHERE key = 'matcher'")
        held_by, until = rows[0]
        if held_by == owner and until - now > seconds / 2:
            return True
        if held_by not in (None, owner) and until > now:
            return False
        with _relaxed(self.store), self.store._write() as conn:
            return self._take_lease(conn, owner, seconds, time.time())

    @staticmethod
    def _take_lease(conn: sqlite3.Connection, owner: str, seconds: float, now: float) -> bool:
        return (
            conn.execute(
                "UPDATE notify_state SET owner = ?, until = ? WHERE key = 'matcher'"
                " AND (owner IS NULL OR owner = ? OR until < ?)",
                (owner, now + seconds, owner, now),
            ).rowcount
            == 1
        )

    def snapshot(self, known_version: int | None, limit: int) -> Snapshot:
        conn = self.store._conn
        try:
            conn.execute("BEGIN")  # one read transaction: subscriptions and changes of the same instant
            try:
                version = conn.execute(
                    "SELECT value FROM notify_state WHERE key = 'subscriptions'"
                ).fetchone()[0]
                changes = [
                    ChangeRecord(
                        seq,
                        tenant,
                        at,
                        orjson.loads(before) if before is not None else None,
                        orjson.loads(after) if after is not None else None,
                    )
                    for seq, tenant, at, before, after in conn.execute(
                        "SELECT seq, tenant, at, before, after FROM notify_changes ORDER BY seq LIMIT ?",
                        (limit,),
                    )
                ]
                subs = None
                if version != known_version:
                    subs = [_sub(r) for r in conn.execute(f"SELECT {_SUB_COLUMNS} FROM subscriptions")]
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store did not answer: {exc}") from exc
        return Snapshot(version, changes, subs)

    def commit_matches(self, owner: str, seconds: float, result: MatchResult) -> bool:
        try:
            with _relaxed(self.store), self.store._write() as conn:
                now = time.time()
                if not self._take_lease(conn, owner, seconds, now):
                    raise _Lost
                if result.consumed:
                    first, last = result.consumed[0], result.consumed[-1]
                    gone = conn.execute(
                        "DELETE FROM notify_changes WHERE seq BETWEEN ? AND ?", (first, last)
                    ).rowcount
                    if gone != len(result.consumed):
                        raise _Lost
                if result.notifications:
                    conn.executemany(
                        "INSERT INTO notify_outbox (tenant, sub_id, body, headers, created)"
                        " VALUES (?, ?, ?, ?, ?)",
                        [(n.tenant, n.sub_id, n.body, _dumps(n.headers), now) for n in result.notifications],
                    )
                if result.matched:
                    conn.executemany(
                        "UPDATE subscriptions SET last_matched = ? WHERE tenant = ? AND id = ?",
                        [(at, t, s) for (t, s), at in result.matched.items()],
                    )
                if result.periodic:
                    conn.executemany(
                        "UPDATE subscriptions SET next_periodic = ? WHERE tenant = ? AND id = ?",
                        [(at, t, s) for (t, s), at in result.periodic.items()],
                    )
        except _Lost:
            return False
        return True

    def entities_of(
        self, tenant: Tenant, types: list[str] | None, ids: list[str] | None
    ) -> list[ExpandedEntity]:
        sql = "SELECT e.doc FROM entities e WHERE e.tenant = ?"
        params: list[object] = [tenant]
        if ids:
            sql += f" AND e.id IN ({','.join('?' * len(ids))})"
            params.extend(ids)
        elif types:
            sql += (
                " AND e.id IN (SELECT id FROM entity_types WHERE tenant = ?"
                f" AND type IN ({','.join('?' * len(types))}))"
            )
            params.extend([tenant, *types])
        rows = self.store._read(sql + " ORDER BY e.id LIMIT ?", (*params, _MAX_PERIODIC_ENTITIES))
        return [entity_from_row(r[0]) for r in rows]

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
        ready = self.store._read(
            "SELECT 1 FROM notify_outbox WHERE next_at <= ?"
            " AND (lease_until IS NULL OR lease_until < ?) LIMIT 1",
            (now, now),
        )
        if not ready and not record:
            return []
        with _relaxed(self.store), self.store._write() as conn:
            self._record_in(conn, record)
            if not ready:
                return []
            claims: list[Claim] = []
            heads = conn.execute(
                "SELECT o.tenant, o.sub_id, s.doc FROM notify_outbox o"
                " JOIN subscriptions s ON s.tenant = o.tenant AND s.id = o.sub_id"
                " WHERE o.id IN (SELECT min(id) FROM notify_outbox GROUP BY tenant, sub_id)"
                " AND o.next_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)"
                " AND s.active = 1 AND (s.expires IS NULL OR s.expires > ?)"
                " ORDER BY o.id LIMIT ?",
                (now, now, now, max_subs + len(skip)),
            ).fetchall()
            until = now + seconds
            for tenant, sub_id, doc in heads:
                if (tenant, sub_id) in skip:
                    continue
                items = [
                    Pending(i, body, orjson.loads(headers), attempts)
                    for i, body, headers, attempts in conn.execute(
                        "SELECT id, body, headers, attempts FROM notify_outbox"
                        " WHERE tenant = ? AND sub_id = ?"
                        " ORDER BY id LIMIT ?",
                        (tenant, sub_id, per_sub),
                    )
                ]
                conn.executemany(
                    "UPDATE notify_outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    [(owner, until, item.id) for item in items],
                )
                claims.append(Claim(tenant, sub_id, orjson.loads(doc), items, until))
                if len(claims) >= max_subs:
                    break
            return claims

    def record(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        with _relaxed(self.store), self.store._write() as conn:
            self._record_in(conn, deliveries)

    @staticmethod
    def _record_in(conn: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            items = d.claim.items
            done = [(item.id,) for item in items[: d.sent]]
            if done:
                conn.executemany("DELETE FROM notify_outbox WHERE id = ?", done)
            rest = items[d.sent :]
            if d.failed and rest:
                conn.execute(
                    "UPDATE notify_outbox SET attempts = attempts + 1, next_at = ?, lease_owner = NULL,"
                    " lease_until = NULL WHERE id = ?",
                    (d.retry_at, rest[0].id),
                )
                rest = rest[1:]
            if rest:
                conn.executemany(
                    "UPDATE notify_outbox SET lease_owner = NULL, lease_until = NULL WHERE id = ?",
                    [(item.id,) for item in rest],
                )
            attempts = d.sent + int(d.failed)
            if attempts:
                conn.execute(
                    "UPDATE subscriptions SET times_sent = times_sent + ?,"
                    " times_failed = times_failed + ?,"
                    " last_notification = ?,"
                    " last_success = CASE WHEN ? THEN ? ELSE last_success END,"
                    " last_failure = CASE WHEN ? THEN ? ELSE last_failure END"
                    " WHERE tenant = ? AND id = ?",
                    (
                        attempts,
                        int(d.failed),
                        d.at,
                        d.sent > 0,
                        d.at,
                        d.failed,
                        d.at,
                        d.claim.tenant,
                        d.claim.sub_id,
                    ),
                )
