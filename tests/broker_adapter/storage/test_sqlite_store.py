"""SQLite-specific behaviour: the file, its schema version, its pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from broker_adapter.ngsild.errors import StoreUnavailable
from broker_adapter.storage.port import Change
from broker_adapter.storage.sqlite.schema import MIGRATIONS
from broker_adapter.storage.sqlite.store import SqliteStore
from tests.broker_adapter.storage.test_store_conformance import A, entity, put


def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    store.apply("t1", [Change("urn:x:1", put(entity("urn:x:1", 42)))])
    store.close()
    reopened = SqliteStore(tmp_path / "store.db")
    try:
        assert reopened.get_entity("t1", "urn:x:1")["attrs"][A][0]["value"] == 42
    finally:
        reopened.close()


def test_the_file_is_in_wal_mode_with_full_sync_and_the_latest_schema(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "store.db").close()
    conn = sqlite3.connect(tmp_path / "store.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == max(MIGRATIONS)
    finally:
        conn.close()


def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "store.db")
    conn.execute(f"PRAGMA user_version={max(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreUnavailable, match="newer than this Verbund"):
        SqliteStore(tmp_path / "store.db")


def test_synchronous_mode_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(tmp_path / "store.db", synchronous="OFF")


def test_bulk_inserts_write_every_row_across_full_statements_and_the_tail(tmp_path: Path) -> None:
    from broker_adapter.storage.sqlite.bulk import insert_many

    conn = sqlite3.connect(tmp_path / "bulk.db", isolation_level=None)
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL)")
    rows = [(n, f"row {n}", n / 3) for n in range(1000)]  # 333 rows per statement: 3 full ones and 1 left
    insert_many(conn, "INSERT INTO t (a, b, c)", rows)
    insert_many(conn, "INSERT OR IGNORE INTO t (a, b, c)", [(5, "again", 0.0), (1000, "new", 1.5)])

    assert conn.execute("SELECT a, b, c FROM t ORDER BY a").fetchall() == [*rows, (1000, "new", 1.5)]
    with pytest.raises(sqlite3.IntegrityError):  # a plain insert still refuses a duplicate
        insert_many(
            conn, "INSERT INTO t (a, b, c)", [(n, "", 0.0) for n in range(2000, 2400)] + [(7, "", 0.0)]
        )
    conn.close()


def test_a_large_batch_stores_every_entity_and_its_history(tmp_path: Path) -> None:
    from broker_adapter.storage.history import InstanceQuery

    store = SqliteStore(tmp_path / "store.db", synchronous="NORMAL")
    try:
        ids = [f"urn:x:{n}" for n in range(700)]  # more rows per table than one statement takes
        outcomes = store.apply("t1", [Change(i, put(entity(i, n))) for n, i in enumerate(ids)])
        assert all(o.ok for o in outcomes)
        for n in (0, 333, 699):
            assert store.get_entity("t1", ids[n])["attrs"][A][0]["value"] == n
            (series,) = store.history.instances("t1", ids[n], InstanceQuery())
            assert [i["value"] for i in series.instances] == [n]
    finally:
        store.close()
