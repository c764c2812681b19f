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
