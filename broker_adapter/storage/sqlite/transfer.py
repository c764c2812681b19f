"""Export and import of a whole SQLite store for `verbund store copy` (storage/transfer.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.notify_port import StoredSubscription
from broker_adapter.storage.port import Change
from broker_adapter.storage.sqlite.codec import entity_from_row
from broker_adapter.storage.sqlite.history import INSERT_SERIES, entity_sids, series_select
from broker_adapter.storage.sqlite.history_rows import SLOT_BITS
from broker_adapter.storage.sqlite.store import SqliteStore
from broker_adapter.storage.transfer import (
    RETENTION,
    HistoryDump,
    HistoryRow,
    QueuedNotification,
    SubscriptionDump,
)

_SUB_COLUMNS = (
    "tenant, id, doc, context, since_seq, created_at, modified_at, times_sent, times_failed,"
    " last_notification, last_success, last_failure, last_matched, next_periodic"
)


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


class SqliteTransfer:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        store.history.set_recording(False)  # history is copied as it was recorded, not recorded anew

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.store._read(sql, params)

    @staticmethod
    def _tenant_row(conn: sqlite3.Connection, tenant: Tenant) -> None:
        if tenant:
            conn.execute(
                "INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, datetime('now'))", (tenant,)
            )

    def tenants(self) -> list[Tenant]:
        return ["", *self.store.list_tenants()]

    # entities ----------------------------------------------------------------------------------------
    def entities(self, tenant: Tenant, after: str | None, limit: int) -> list[ExpandedEntity]:
        rows = self._rows(
            "SELECT doc FROM entities WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?",
            (tenant, after or "", limit),
        )
        return [entity_from_row(r[0]) for r in rows]

    def put_entities(self, tenant: Tenant, entities: Sequence[ExpandedEntity]) -> None:
        self.store.apply(tenant, [Change(e["id"], lambda _, e=e: e) for e in entities])

    # history -----------------------------------------------------------------------------------------
    def history(self, tenant: Tenant, after: str | None, limit: int) -> list[HistoryDump]:
        dumps = []
        for eid, entity_id, types, created, deleted in self._rows(
            "SELECT eid, id, types, created_at, deleted_at FROM history_entities"
            " WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?",
            (tenant, after or "", limit),
        ):
            dump = HistoryDump(
                entity_id, orjson.loads(types) if types is not None else None, created, deleted
            )
            dump.rows = [
                HistoryRow(*row)
                for row in self._rows(
                    "SELECT a.iri, s.dataset, s.kind, h.observed_at, h.created_at, h.modified_at,"
                    f" h.deleted_at, h.v, h.doc FROM ({series_select('e.eid = :eid')}) s"
                    " JOIN history_attrs a ON a.aid = s.aid JOIN history h ON h.sid = s.sid"
                    " ORDER BY a.iri, s.dataset, coalesce(h.observed_at, h.created_at), h.iid",
                    {"eid": eid},
                )
            ]
            dumps.append(dump)
        return dumps

    def put_history(self, tenant: Tenant, dumps: Sequence[HistoryDump]) -> None:
        with self.store._write() as conn:
            self._tenant_row(conn, tenant)
            for dump in dumps:
                old = conn.execute(
                    "SELECT eid FROM history_entities WHERE tenant = ? AND id = ?", (tenant, dump.id)
                ).fetchone()
                if old is not None:
                    conn.execute("DELETE FROM history WHERE sid BETWEEN ? AND ?", entity_sids(old[0]))
                    conn.execute("DELETE FROM history_series WHERE eid = ?", old)
                    conn.execute("DELETE FROM history_entities WHERE eid = ?", old)
                types = orjson.dumps(dump.types).decode() if dump.types is not None else None
                eid = conn.execute(
                    "INSERT INTO history_entities (tenant, id, types, created_at, deleted_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (tenant, dump.id, types, dump.created, dump.deleted),
                ).lastrowid
                series: dict[tuple[str, str], int] = {}
                for row in dump.rows:
                    key = (row.attr, row.dataset)
                    sid = series.get(key)
                    if sid is None:
                        conn.execute("INSERT OR IGNORE INTO history_attrs (iri) VALUES (?)", (row.attr,))
                        (aid,) = conn.execute(
                            "SELECT aid FROM history_attrs WHERE iri = ?", (row.attr,)
                        ).fetchone()
                        sid = series[key] = (eid << SLOT_BITS) + len(series)
                        conn.execute(INSERT_SERIES, (sid, eid, aid, row.dataset, row.kind))
                    modified = row.modified if row.modified != row.created else None
                    conn.execute(
                        "INSERT INTO history (sid, observed_at, created_at, modified_at, deleted_at, v, doc)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (sid, row.observed, row.created, modified, row.deleted, row.v, row.doc),
                    )
        history = self.store.history
        history._forget()  # keys chosen here are not in the recorder's caches
        history._entities.clear()
        history._attrs = None

    # settings ----------------------------------------------------------------------------------------
    def settings(self, tenant: Tenant) -> dict[str, Any]:
        out = {
            key: orjson.loads(value)
            for key, value in self._rows("SELECT key, value FROM tenant_settings WHERE tenant = ?", (tenant,))
        }
        period = self._rows("SELECT period FROM history_retention WHERE tenant = ?", (tenant,))
        if period:
            out[RETENTION] = period[0][0]
        return out

    # subscriptions -----------------------------------------------------------------------------------
    def subscriptions(self, after: tuple[Tenant, str] | None, limit: int) -> list[SubscriptionDump]:
        if after is None:
            rows = self._rows(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions ORDER BY tenant, id LIMIT ?", (limit,)
            )
        else:
            rows = self._rows(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE tenant > ? OR (tenant = ? AND id > ?)"
                " ORDER BY tenant, id LIMIT ?",
                (after[0], after[0], after[1], limit),
            )
        dumps = []
        for row in rows:
            sub = StoredSubscription(
                row[0],
                row[1],
                orjson.loads(row[2]),
                orjson.loads(row[3]) if row[3] is not None else None,
                *row[4:],
            )
            queued = [
                QueuedNotification(body, orjson.loads(headers), created, attempts, next_at)
                for body, headers, created, attempts, next_at in self._rows(
                    "SELECT body, headers, created, attempts, next_at FROM notify_outbox"
                    " WHERE tenant = ? AND sub_id = ? ORDER BY id",
                    (sub.tenant, sub.id),
                )
            ]
            dumps.append(SubscriptionDump(sub, queued))
        return dumps

    def put_subscriptions(self, dumps: Sequence[SubscriptionDump]) -> None:
        with self.store._write() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'notify_changes'").fetchone()
            since = row[0] if row else 0
            for dump in dumps:
                s = dump.sub
                self._tenant_row(conn, s.tenant)
                conn.execute(
                    f"INSERT OR REPLACE INTO subscriptions ({_SUB_COLUMNS}, active, expires)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        s.tenant,
                        s.id,
                        orjson.dumps(s.doc).decode(),
                        orjson.dumps(s.context).decode() if s.context is not None else None,
                        since,
                        s.created_at,
                        s.modified_at,
                        s.times_sent,
                        s.times_failed,
                        s.last_notification,
                        s.last_success,
                        s.last_failure,
                        s.last_matched,
                        s.next_periodic,
                        int(s.doc.get("isActive", True)),
                        _epoch(s.doc.get("expiresAt")),
                    ),
                )
                conn.execute("DELETE FROM notify_outbox WHERE tenant = ? AND sub_id = ?", (s.tenant, s.id))
                conn.executemany(
                    "INSERT INTO notify_outbox (tenant, sub_id, body, headers, created, attempts, next_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            s.tenant,
                            s.id,
                            q.body,
                            orjson.dumps(q.headers).decode(),
                            q.created,
                            q.attempts,
                            q.next_at,
                        )
                        for q in dump.queued
                    ],
                )
            conn.execute("UPDATE notify_state SET value = value + 1 WHERE key = 'subscriptions'")
