"""The embedded store: one SQLite file in WAL mode.

Durability: every `apply` is one IMMEDIATE transaction committed before it returns, with
`synchronous=FULL` by default, so an acknowledged write survives kill -9 and power loss.
Each thread gets its own connection (SQLite connections are not shared across threads); writers
are serialised in-process by a lock and across processes by a lock file (WriterLock), then SQLite's lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from broker_adapter.ngsild.errors import StoreUnavailable
from broker_adapter.ngsild.types import DEFAULT_TENANT, EntityId, ExpandedEntity, Iri, Tenant
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
    run_changes,
)
from broker_adapter.storage.sqlite import discovery, geo_index, number_index, query_plan, query_sql, registry
from broker_adapter.storage.sqlite.bulk import insert_many
from broker_adapter.storage.sqlite.codec import entity_from_row, entity_to_row
from broker_adapter.storage.sqlite.history import SqliteHistory
from broker_adapter.storage.sqlite.schema import MIGRATIONS

_REGEX_CACHE: dict[str, re.Pattern[str]] = {}
# Page caches count in the broker's resident size (issue 2: under 300 MB with 100,000 entities, all
# processes). Pages beyond them come from the OS page cache at a syscall each, which measured no slower
# for batch upsert at 100,000 entities than a 40 MiB writer cache (bench/, 2026-11-26).
WRITER_CACHE_KIB = 16 * 1024
READER_CACHE_KIB = 4 * 1024  # per reading thread: the event loop, worker threads, the notifier's
WriteHook = Callable[
    [sqlite3.Connection, Tenant, list[tuple[ExpandedEntity | None, ExpandedEntity | None]]], None
]


def _regexp(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        compiled = re.compile(pattern)
        if len(_REGEX_CACHE) > 256:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[pattern] = compiled
    return compiled.search(value) is not None


class WriterLock:
    """Writers of other processes on the same file (the notifier process, CLI commands) take turns here
    before SQLite's own lock: SQLite's busy handler sleeps up to 100 ms between tries when a write lock
    is taken, while this lock is retried every fraction of a millisecond, so a short transaction in one
    process does not stall the other's writes.

    A turnstile makes the turns fair: a writer holds the turnstile while it waits for the lock, and every
    writer must pass the turnstile first. Without it the API's writer, committing back to back under load,
    took the lock again before a polling notifier noticed it was free (the notifier waited 10-17 ms per
    transaction in bench/notify.py, for transactions of 1-2 ms)."""

    def __init__(self, path: Path, timeout_ms: int) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._turn = os.open(path.with_name(path.name + ".turn"), os.O_RDWR | os.O_CREAT, 0o600)
        self._timeout = timeout_ms / 1000

    def __enter__(self) -> None:
        deadline = time.monotonic() + self._timeout
        _acquire(self._turn, deadline)
        try:
            _acquire(self._fd, deadline)
        finally:
            fcntl.flock(self._turn, fcntl.LOCK_UN)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self._fd, self._turn):
            if fd >= 0:
                os.close(fd)
        self._fd = self._turn = -1


def _acquire(fd: int, deadline: float) -> None:
    pause = 0.0001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise StoreUnavailable("the SQLite store is locked by another process") from None
        time.sleep(pause)
        pause = min(pause * 2, 0.001)


class SqliteStore:
    def __init__(self, path: str | Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 10_000) -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._process_lock = WriterLock(self.path.with_name(self.path.name + ".writelock"), busy_timeout_ms)
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Called inside every entity write transaction with the (before, after) pairs that changed:
        # secondary indexes (geo), history and the notification outbox add their rows here, so they
        # commit or roll back together with the entities.
        self.write_hooks: list[WriteHook] = [geo_index.index_hook, number_index.index_hook]
        # Called when a whole write transaction rolled back: caches of keys the hooks chose must go.
        self.rollback_hooks: list[Callable[[], None]] = []
        self._migrate()
        self.history = SqliteHistory(self)  # the temporal API's store; records through a write hook

    # connections -------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            conn.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite store at {self.path}: {exc}") from exc
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        query_sql.register_functions(conn)
        with self._all_lock:
            self._all.append(conn)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        if not getattr(self._local, "writer", False):
            # Writes touch every index (entities, types, geo, numbers, history): a writing connection
            # (in the broker: the one writer thread) gets a larger page cache than readers.
            conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            self._local.writer = True
        with self._write_lock, self._process_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the SQLite store is not writable: {exc}") from exc
            try:
                yield conn
            except BaseException:
                self._roll_back(conn)
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._roll_back(conn)
                raise StoreUnavailable(f"commit failed: {exc}") from exc

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        finally:
            for forget in self.rollback_hooks:
                forget()

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store did not answer: {exc}") from exc

    def _migrate(self) -> None:
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        latest = max(MIGRATIONS)
        if version > latest:
            raise StoreUnavailable(
                f"{self.path} has schema version {version}, newer than this Verbund ({latest})"
            )
        for number in sorted(n for n in MIGRATIONS if n > version):
            with self._write_lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={number}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
        self._process_lock.close()

    def ping(self) -> None:
        self._read("SELECT 1")

    # tenants -----------------------------------------------------------------------------------------
    def tenant_exists(self, tenant: Tenant) -> bool:
        if tenant == DEFAULT_TENANT:
            return True
        return bool(self._read("SELECT 1 FROM tenants WHERE name = ?", (tenant,)))

    def list_tenants(self) -> list[Tenant]:
        return [row[0] for row in self._read("SELECT name FROM tenants ORDER BY name")]

    # entities ----------------------------------------------------------------------------------------
    def get_entity(self, tenant: Tenant, entity_id: EntityId) -> ExpandedEntity | None:
        rows = self._read("SELECT doc FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id))
        return entity_from_row(rows[0][0]) if rows else None

    def apply(self, tenant: Tenant, changes: Sequence[Change]) -> list[Outcome]:
        with self._write() as conn:
            return self._apply_in(conn, tenant, changes)

    def apply_group(self, items: Sequence[WriteItem]) -> list[ItemResult]:
        """One transaction, one savepoint per item: concurrent writers share a single fsync."""
        results: list[ItemResult] = []
        with self._write() as conn:
            for tenant, changes in items:
                conn.execute("SAVEPOINT item")
                try:
                    results.append(self._apply_in(conn, tenant, changes))
                except Exception as exc:  # this item fails alone
                    conn.execute("ROLLBACK TO item")
                    results.append(exc)
                conn.execute("RELEASE item")
        return results

    def _apply_in(self, conn: sqlite3.Connection, tenant: Tenant, changes: Sequence[Change]) -> list[Outcome]:
        if tenant != DEFAULT_TENANT:
            conn.execute(
                "INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, datetime('now'))", (tenant,)
            )
        stored: dict[EntityId, ExpandedEntity | None] = {}
        missing = {c.entity_id for c in changes}
        for start in range(0, len(missing), 500):
            chunk = list(missing)[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for entity_id, doc in conn.execute(
                f"SELECT id, doc FROM entities WHERE tenant = ? AND id IN ({marks})", (tenant, *chunk)
            ):
                stored[entity_id] = entity_from_row(doc)
        outcomes, working = run_changes(changes, stored)
        self._write_entities(conn, tenant, stored, working)
        changed = [(stored.get(eid), after) for eid, after in working.items() if after is not stored.get(eid)]
        for hook in self.write_hooks:
            hook(conn, tenant, changed)
        return outcomes

    def _write_entities(
        self,
        conn: sqlite3.Connection,
        tenant: Tenant,
        stored: dict[EntityId, ExpandedEntity | None],
        working: dict[EntityId, ExpandedEntity | None],
    ) -> None:
        inserts, updates, deletes, type_rows, type_deletes = [], [], [], [], []
        for eid, after in working.items():
            before = stored.get(eid)
            if after is None:
                if before is not None:
                    deletes.append((tenant, eid))
                    type_deletes.append((tenant, eid))
                continue
            if after is before:
                continue
            row = entity_to_row(after)
            if before is None:
                inserts.append((tenant, eid, *row))
                type_rows.extend((tenant, t, eid) for t in after["type"])
            else:
                updates.append((*row, tenant, eid))
                if before["type"] != after["type"]:
                    type_deletes.append((tenant, eid))
                    type_rows.extend((tenant, t, eid) for t in after["type"])
        try:
            if deletes:
                conn.executemany("DELETE FROM entities WHERE tenant = ? AND id = ?", deletes)
            if type_deletes:
                conn.executemany("DELETE FROM entity_types WHERE tenant = ? AND id = ?", type_deletes)
            if inserts:
                insert_many(conn, "INSERT INTO entities (tenant, id, created_at, modified_at, doc)", inserts)
            if updates:
                conn.executemany(
                    "UPDATE entities SET created_at = ?, modified_at = ?, doc = ?"
                    " WHERE tenant = ? AND id = ?",
                    updates,
                )
            if type_rows:
                insert_many(conn, "INSERT OR IGNORE INTO entity_types (tenant, type, id)", type_rows)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store refused the write: {exc}") from exc

    def query(self, tenant: Tenant, query: EntityQuery) -> QueryResult:
        try:
            return query_plan.run(self._conn, tenant, query)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store did not answer: {exc}") from exc

    def delete_entities(self, tenant: Tenant, query: EntityQuery) -> list[ExpandedEntity]:
        with self._write() as conn:
            deleted = query_plan.select_all(conn, tenant, query)
            ids = [(tenant, entity["id"]) for entity in deleted]
            conn.executemany("DELETE FROM entities WHERE tenant = ? AND id = ?", ids)
            conn.executemany("DELETE FROM entity_types WHERE tenant = ? AND id = ?", ids)
            for hook in self.write_hooks:
                hook(conn, tenant, [(entity, None) for entity in deleted])
        return deleted

    # tenant settings -------------------------------------------------------------------------------
    def get_tenant_setting(self, tenant: Tenant, key: str) -> Any:
        rows = self._read("SELECT value FROM tenant_settings WHERE tenant = ? AND key = ?", (tenant, key))
        return orjson.loads(rows[0][0]) if rows else None

    def set_tenant_setting(self, tenant: Tenant, key: str, value: Any) -> None:
        """Store a JSON value (None removes the setting)."""
        with self._write() as conn:
            if value is None:
                conn.execute("DELETE FROM tenant_settings WHERE tenant = ? AND key = ?", (tenant, key))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO tenant_settings (tenant, key, value) VALUES (?, ?, ?)",
                    (tenant, key, orjson.dumps(value).decode()),
                )

    # discovery ---------------------------------------------------------------------------------------
    def list_types(self, tenant: Tenant) -> list[Iri]:
        return discovery.list_types(self._conn, tenant)

    def type_summaries(self, tenant: Tenant, type_iri: Iri | None = None) -> list[TypeSummary]:
        return discovery.type_summaries(self._conn, tenant, type_iri)

    def list_attributes(self, tenant: Tenant) -> list[Iri]:
        return discovery.list_attributes(self._conn, tenant)

    def attribute_summaries(self, tenant: Tenant, attr: Iri | None = None) -> list[AttributeSummary]:
        return discovery.attribute_summaries(self._conn, tenant, attr)

    # @contexts ---------------------------------------------------------------------------------------
    def put_context(self, record: ContextRecord) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM contexts WHERE url = ? AND id != ?", (record.url, record.id))
            conn.execute(
                "INSERT OR REPLACE INTO contexts (id, url, kind, document, created_at, last_usage, hits)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.url,
                    record.kind,
                    orjson.dumps(record.document).decode(),
                    record.created_at,
                    record.last_usage,
                    record.hits,
                ),
            )

    def _context(self, column: str, value: str) -> ContextRecord | None:
        rows = self._read(
            f"SELECT id, url, kind, document, created_at, last_usage, hits FROM contexts WHERE {column} = ?",
            (value,),
        )
        return _context_record(rows[0]) if rows else None

    def get_context(self, context_id: str) -> ContextRecord | None:
        return self._context("id", context_id)

    def get_context_by_url(self, url: str) -> ContextRecord | None:
        return self._context("url", url)

    def list_contexts(self, kind: str | None = None) -> list[ContextRecord]:
        sql = "SELECT id, url, kind, document, created_at, last_usage, hits FROM contexts"
        params: tuple[str, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        return [_context_record(r) for r in self._read(sql + " ORDER BY created_at, id", params)]

    def delete_context(self, context_id: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM contexts WHERE id = ?", (context_id,)).rowcount > 0

    def add_context_hits(self, context_id: str, hits: int, when: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE contexts SET hits = hits + ?, last_usage = max(ifnull(last_usage, ''), ?)"
                " WHERE id = ?",
                (hits, when, context_id),
            )

    # municipality registry and credentials -----------------------------------------------------------
    def get_municipality(self, tenant: Tenant) -> dict[str, Any] | None:
        rows = self._read("SELECT doc FROM municipalities WHERE tenant = ?", (tenant,))
        return registry.records(rows)[0] if rows else None

    def list_municipalities(self) -> list[dict[str, Any]]:
        return registry.records(self._read("SELECT doc FROM municipalities ORDER BY tenant"))

    def put_municipality(self, record: dict[str, Any], *, create: bool = False) -> None:
        with self._write() as conn:
            registry.put_municipality(conn, record, create)

    def get_credential(self, credential_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT doc FROM credentials WHERE id = ?", (credential_id,))
        return registry.records(rows)[0] if rows else None

    def list_credentials(self) -> list[dict[str, Any]]:
        return registry.records(self._read("SELECT doc FROM credentials ORDER BY id"))

    def put_credential(self, record: dict[str, Any]) -> None:
        with self._write() as conn:
            registry.put_credential(conn, record)

    def purge_tenant(self, tenant: Tenant) -> int:
        with self._write() as conn:
            deleted = registry.purge_tenant(conn, tenant)
            self.history.forget_keys()
        return deleted


def _context_record(row: tuple) -> ContextRecord:
    return ContextRecord(
        id=row[0],
        url=row[1],
        kind=row[2],
        document=orjson.loads(row[3]),
        created_at=row[4],
        last_usage=row[5],
        hits=row[6],
    )
