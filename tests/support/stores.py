"""The store adapters the shared store test-suite runs on.

`sqlite` (a real file) and `mongomock` (the MongoDB adapter on mongomock, in-process) always run;
`mongodb` runs against a real MongoDB when VERBUND_TEST_MONGO_URL is set (e.g. mongodb://127.0.0.1:27017
for a replica set started with --replSet, as the mongo CI workflow does). Each test gets fresh databases
under a unique prefix, dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

MONGO_URL = os.environ.get("VERBUND_TEST_MONGO_URL", "")
NEEDS_SERVER = "needs a real MongoDB (set VERBUND_TEST_MONGO_URL)"
KINDS = ["sqlite", "mongomock", "mongodb"]
_n = itertools.count()

real_mongo = pytest.mark.skipif(not MONGO_URL, reason=NEEDS_SERVER)


def params(*kinds: str) -> list[Any]:
    """pytest params for the given kinds; `mongodb` is skipped (with the reason shown) without a server."""
    out = []
    for kind in kinds or KINDS:
        marks = [real_mongo] if kind == "mongodb" else []
        out.append(pytest.param(kind, marks=marks, id=kind))
    return out


@contextmanager
def open_store(kind: str, tmp_path: Path, **sqlite_options: Any) -> Iterator[Any]:
    if kind == "sqlite":
        from broker_adapter.storage.sqlite.store import SqliteStore

        store = SqliteStore(tmp_path / "store.db", **sqlite_options)
        try:
            yield store
        finally:
            store.close()
        return
    from broker_adapter.storage.mongo.connection import MongoOptions, drop_mock
    from broker_adapter.storage.mongo.store import MongoStore

    if kind == "mongomock":
        url = f"mongomock://test-{uuid.uuid4().hex}"
        store = MongoStore(url)
        try:
            yield store
        finally:
            store.close()
            drop_mock(url)
        return
    prefix = f"vt{os.getpid() % 100000}x{next(_n)}"
    store = MongoStore(MONGO_URL, MongoOptions(database=prefix, server_selection_timeout_ms=5000))
    try:
        yield store
    finally:
        for name in store.conn.client.list_database_names():
            if name == prefix or name.startswith(prefix + "_"):
                store.conn.client.drop_database(name)
        store.close()
