"""The MongoDB client of a store: options, transactions, and the error boundary.

- Writes use `w: majority` (acknowledged only once a majority of the replica set has them, so a
  fail-over never loses an acknowledged write) and retryable writes/reads.
- Transactions need a replica set or a sharded cluster. On a standalone server (and on mongomock, the
  in-process stand-in used by tests and `mongomock://` URLs) `run_write` falls back to one process-wide
  lock and ordered writes without a transaction; docs/mongodb.md says what that gives up.
- Every pymongo error that means "the database cannot answer now" (no primary, connection lost,
  timeouts) becomes `StoreUnavailable` (HTTP 503 ProblemDetails) at this boundary; pymongo reconnects by
  itself once a server is selectable again, so recovery needs nothing from us.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pymongo
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from broker_adapter.ngsild.errors import StoreUnavailable
from broker_adapter.storage.mongo.keys import check_prefix

R = TypeVar("R")
Op = tuple[Any, ...]
MOCK_SCHEME = "mongomock://"
_MOCKS: dict[str, Any] = {}  # mongomock clients by URL: one in-process "server" per name
_MOCKS_LOCK = threading.Lock()
# Server error codes that mean "not now": no primary, shutting down, interrupted by a step-down.
_UNAVAILABLE_CODES = frozenset({6, 7, 89, 91, 189, 10107, 11600, 11602, 13435, 13436, 262})


@dataclass(frozen=True, slots=True)
class MongoOptions:
    """Connection options (VERBUND_MONGO_* settings); times in milliseconds."""

    max_pool_size: int = 100
    min_pool_size: int = 0
    server_selection_timeout_ms: int = 5_000  # how long a request waits for a primary before 503
    connect_timeout_ms: int = 5_000
    socket_timeout_ms: int = 30_000  # one operation's network time
    wait_queue_timeout_ms: int = 5_000  # waiting for a pooled connection
    database: str = ""  # the database prefix; empty: the URL's database, else "verbund"

    def __post_init__(self) -> None:
        for name in (
            "max_pool_size",
            "server_selection_timeout_ms",
            "connect_timeout_ms",
            "socket_timeout_ms",
            "wait_queue_timeout_ms",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"mongo {name} must be positive")
        if self.min_pool_size < 0 or self.min_pool_size > self.max_pool_size:
            raise ValueError("mongo min_pool_size must be between 0 and max_pool_size")


def is_mock(url: str) -> bool:
    return url.startswith(MOCK_SCHEME)


def database_prefix(url: str, options: MongoOptions) -> str:
    if options.database:
        return check_prefix(options.database)
    path = urlsplit(url).path.strip("/")
    return check_prefix(path) if path and not is_mock(url) else "verbund"


def make_client(url: str, options: MongoOptions) -> Any:
    if is_mock(url):
        import mongomock  # test-only stand-in: in-process, no transactions, no geo operators

        with _MOCKS_LOCK:
            client = _MOCKS.get(url)
            if client is None:
                client = _MOCKS[url] = mongomock.MongoClient()
        return client
    return pymongo.MongoClient(
        url,
        w="majority",
        retryWrites=True,
        retryReads=True,
        maxPoolSize=options.max_pool_size,
        minPoolSize=options.min_pool_size,
        serverSelectionTimeoutMS=options.server_selection_timeout_ms,
        connectTimeoutMS=options.connect_timeout_ms,
        socketTimeoutMS=options.socket_timeout_ms,
        waitQueueTimeoutMS=options.wait_queue_timeout_ms,
        appname="verbund",
        tz_aware=False,
    )


def drop_mock(url: str) -> None:
    """Forget an in-process mongomock server (tests)."""
    with _MOCKS_LOCK:
        _MOCKS.pop(url, None)


def unavailable(exc: PyMongoError) -> bool:
    if isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    return isinstance(exc, OperationFailure) and exc.code in _UNAVAILABLE_CODES


@contextmanager
def translate(what: str = "the MongoDB store did not answer") -> Iterator[None]:
    """Map "cannot answer now" errors to StoreUnavailable (503); other pymongo errors are bugs or data
    problems and stay as they are (500, logged)."""
    try:
        yield
    except PyMongoError as exc:
        if unavailable(exc):
            raise StoreUnavailable(f"{what}: {exc}") from exc
        raise


class Connection:
    """A client, its meta database and how writes run (with or without transactions)."""

    def __init__(self, url: str, options: MongoOptions | None = None) -> None:
        self.url = url
        self.options = options or MongoOptions()
        self.mock = is_mock(url)
        self.prefix = database_prefix(url, self.options)
        self.client = make_client(url, self.options)
        self.meta = self.client[self.prefix]
        self._lock = threading.RLock()
        self._transactions: bool | None = None
        self._done: set[str] = set()
        self._done_lock = threading.RLock()  # preparations nest (notify needs meta)

    def once(self, key: str, prepare: Callable[[], None]) -> None:
        """Run prepare (indexes, initial documents) until it has succeeded once in this process: a
        server that is down at start-up is prepared on first use after it returns."""
        if key in self._done:
            return
        with self._done_lock, translate("cannot reach MongoDB to prepare the store"):
            if key not in self._done:
                prepare()
                self._done.add(key)

    def forget(self, key: str) -> None:
        """Prepare `key` again on next use (its database was dropped)."""
        with self._done_lock:
            self._done.discard(key)

    @property
    def transactions(self) -> bool:
        """Whether the deployment runs multi-document transactions (replica set or sharded cluster)."""
        if self._transactions is None:
            if self.mock:
                self._transactions = False
            else:
                with translate():
                    hello = self.client.admin.command("hello")
                self._transactions = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
        return self._transactions

    def run_write(self, body: Callable[[Any], R]) -> R:
        """Run body(session) as one transaction (retried by the driver on transient errors, so body
        must be repeatable: change functions are pure), or under the process lock without one."""
        with translate():
            if not self.transactions:
                with self._lock:
                    return body(None)
            with self.client.start_session() as session:
                return session.with_transaction(
                    body,
                    read_concern=ReadConcern("snapshot"),
                    write_concern=WriteConcern("majority"),
                )

    def bulk(self, collection: Any, ops: list[Op], session: Any) -> dict[int, str]:
        """One unordered bulk write of ("insert", doc) / ("replace", filter, doc) / ("update", filter,
        update) / ("delete", filter) ops (replace and update upsert); the errors by op index. Inside a
        transaction an error aborts everything instead."""
        if not ops:
            return {}
        if self.mock:  # mongomock's bulk_write does not take pymongo 4's op objects: one by one
            for op in ops:
                _apply_one(collection, op)
            return {}
        try:
            collection.bulk_write([_pymongo_op(op) for op in ops], ordered=False, session=session)
        except BulkWriteError as exc:
            if session is not None:
                raise
            return {e["index"]: e.get("errmsg", "write failed") for e in exc.details.get("writeErrors", [])}
        return {}

    def ping(self) -> None:
        """Raise StoreUnavailable unless a primary answers (what /ready reports)."""
        with translate("no MongoDB primary is reachable"):
            if self.mock:
                return
            self.client.admin.command("ping", read_preference=pymongo.ReadPreference.PRIMARY)

    def close(self) -> None:
        if not self.mock:
            self.client.close()


def _pymongo_op(op: Op) -> Any:
    kind = op[0]
    if kind == "insert":
        return InsertOne(op[1])
    if kind == "replace":
        return ReplaceOne(op[1], op[2], upsert=True)
    if kind == "update":
        return UpdateOne(op[1], op[2], upsert=True)
    return DeleteOne(op[1])


def _apply_one(collection: Any, op: Op) -> None:
    kind = op[0]
    if kind == "insert":
        collection.insert_one(op[1])
    elif kind == "replace":
        collection.replace_one(op[1], op[2], upsert=True)
    elif kind == "update":
        collection.update_one(op[1], op[2], upsert=True)
    else:
        collection.delete_one(op[1])
