"""The embedded store: one SQLite file in WAL mode.

Durability: every `apply` is one IMMEDIATE transaction committed before it returns, with
`synchronous=FULL` by default, so an acknowledged write survives kill -9 and power loss.
Each thread gets its own connection (SQLite connections are not shared across threads); writers
are serialised in-process by a lock and across processes by SQLite's own lock (busy_timeout).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from broker_adapter.ngsild.errors import NgsiLdError, StoreUnavailable
from broker_adapter.ngsild.types import DEFAULT_TENANT, EntityId, ExpandedEntity, Tenant
from broker_adapter.storage.port import Change, ContextRecord, EntityQuery, Outcome, QueryResult
from broker_adapter.storage.sqlite.codec import entity_from_row, entity_to_row
from broker_adapter.storage.sqlite.schema import MIGRATIONS

_REGEX_CACHE: dict[str, re.Pattern[str]] = {}
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
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Called inside every entity write transaction with the (before, after) pairs that changed:
        # secondary indexes (geo), history and the notification outbox add their rows here, so they
        # commit or roll back together with the entities.
        self.write_hooks: list[WriteHook] = []
        self._migrate()

    # connections -------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            conn.execute("PRAGMA cache_size=-16384")  # 16 MiB page cache per connection
            conn.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite store at {self.path}: {exc}") from exc
        conn.create_function("regexp", 2, _regexp, deterministic=True)
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
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the SQLite store is not writable: {exc}") from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable(f"commit failed: {exc}") from exc

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
        outcomes: list[Outcome] = []
        with self._write() as conn:
            if tenant != DEFAULT_TENANT:
                conn.execute(
                    "INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, datetime('now'))", (tenant,)
                )
            working: dict[EntityId, ExpandedEntity | None] = {}
            stored: dict[EntityId, ExpandedEntity | None] = {}
            missing = {c.entity_id for c in changes}
            for start in range(0, len(missing), 500):
                chunk = list(missing)[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for entity_id, doc in conn.execute(
                    f"SELECT id, doc FROM entities WHERE tenant = ? AND id IN ({marks})", (tenant, *chunk)
                ):
                    stored[entity_id] = entity_from_row(doc)
            for change in changes:
                eid = change.entity_id
                before = working[eid] if eid in working else stored.get(eid)
                try:
                    after = change.apply(before)
                except NgsiLdError as exc:
                    outcomes.append(Outcome(eid, before=before, error=exc))
                    continue
                working[eid] = after
                outcomes.append(Outcome(eid, before=before, after=after))
            self._write_entities(conn, tenant, stored, working)
            changed = [
                (stored.get(eid), after) for eid, after in working.items() if after is not stored.get(eid)
            ]
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
                conn.executemany(
                    "INSERT INTO entities (tenant, id, created_at, modified_at, doc) VALUES (?, ?, ?, ?, ?)",
                    inserts,
                )
            if updates:
                conn.executemany(
                    "UPDATE entities SET created_at = ?, modified_at = ?, doc = ?"
                    " WHERE tenant = ? AND id = ?",
                    updates,
                )
            if type_rows:
                conn.executemany(
                    "INSERT OR IGNORE INTO entity_types (tenant, type, id) VALUES (?, ?, ?)", type_rows
                )
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store refused the write: {exc}") from exc

    def _where(self, tenant: Tenant, query: EntityQuery) -> tuple[str, list[object]]:
        clauses = ["e.tenant = ?"]
        params: list[object] = [tenant]
        if query.types:
            marks = ",".join("?" * len(query.types))
            clauses.append(f"e.id IN (SELECT id FROM entity_types WHERE tenant = ? AND type IN ({marks}))")
            params.extend([tenant, *query.types])
        if query.ids:
            marks = ",".join("?" * len(query.ids))
            clauses.append(f"e.id IN ({marks})")
            params.extend(query.ids)
        if query.id_pattern:
            clauses.append("regexp(?, e.id)")
            params.append(query.id_pattern)
        if query.attrs:
            ors = " OR ".join("json_type(e.doc, ?) IS NOT NULL" for _ in query.attrs)
            clauses.append(f"({ors})")
            params.extend(_json_path("attrs", a) for a in query.attrs)
        return " AND ".join(clauses), params

    def query(self, tenant: Tenant, query: EntityQuery) -> QueryResult:
        where, params = self._where(tenant, query)
        result = QueryResult()
        if query.limit > 0:
            rows = self._read(
                f"SELECT e.doc FROM entities e WHERE {where} ORDER BY e.id LIMIT ? OFFSET ?",
                (*params, query.limit, query.offset),
            )
            result.entities = [entity_from_row(r[0]) for r in rows]
        if query.count:
            result.total = self._read(f"SELECT count(*) FROM entities e WHERE {where}", params)[0][0]
        return result

    def delete_entities(self, tenant: Tenant, query: EntityQuery) -> list[ExpandedEntity]:
        where, params = self._where(tenant, query)
        with self._write() as conn:
            rows = conn.execute(f"SELECT e.id, e.doc FROM entities e WHERE {where}", params).fetchall()
            ids = [(tenant, r[0]) for r in rows]
            conn.executemany("DELETE FROM entities WHERE tenant = ? AND id = ?", ids)
            conn.executemany("DELETE FROM entity_types WHERE tenant = ? AND id = ?", ids)
            deleted = [entity_from_row(r[1]) for r in rows]
            for hook in self.write_hooks:
                hook(conn, tenant, [(entity, None) for entity in deleted])
        return deleted

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

    def touch_context(self, context_id: str, when: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE contexts SET hits = hits + 1, last_usage = ? WHERE id = ?", (when, context_id)
            )


def _json_path(*keys: str) -> str:
    return "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys)


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
