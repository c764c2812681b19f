"""The durable outbox between accepting a measure and sending it north (``<data dir>/agents-outbox.db``).

A measure is acknowledged to its sender only after its NGSI-LD fragments are committed here, so a crash or an
unreachable broker loses nothing. One thread owns the SQLite connection and serves three commands: append
(batched: every append waiting when the thread wakes shares one transaction, which is what lets hundreds of
concurrent senders be durable at the cost of one commit), fetch the oldest rows, and delete delivered rows.
The outbox is bounded: an append that would exceed ``limit`` rows fails with ``OutboxFull`` (the sender gets
503 and keeps its data) and the refusal is counted and logged.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import OutboxFull

log = logging.getLogger("verbund.agents.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, context TEXT NOT NULL,
    entity_id TEXT NOT NULL, device TEXT NOT NULL, body BLOB NOT NULL, created REAL NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One NGSI-LD entity fragment to upsert: ``body`` is its JSON, ``device`` says who sent it."""

    tenant: str
    context: str
    entity_id: str
    device: str
    body: bytes
    created: float


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    row: Row


class Outbox:
    def __init__(
        self, path: Path, *, limit: int, synchronous: str = "FULL", on_full: Callable[[], None] | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limit = limit
        self._on_full = on_full
        self._synchronous = synchronous
        self._commands: queue.SimpleQueue[tuple[str, Any, asyncio.Future[Any] | None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.pending = 0
        self.appended = asyncio.Event()  # set on every commit: wakes the northbound client

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="agents-outbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the outbox did not open")

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def stop(self) -> None:
        if self.alive():
            self._commands.put(("stop", None, None))
            await asyncio.to_thread(self._thread.join, 10)  # type: ignore[union-attr]

    # --- the async API ------------------------------------------------------------------------------

    def _submit(self, command: str, argument: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        self._commands.put((command, argument, future))
        return future

    async def append(self, rows: list[Row]) -> None:
        """Return once the rows are committed (all of them, or none: OutboxFull)."""
        await self._submit("append", rows)

    async def fetch(self, limit: int) -> list[Stored]:
        return await self._submit("fetch", limit)

    async def delete(self, ids: list[int]) -> None:
        await self._submit("delete", ids)

    # --- the writer thread --------------------------------------------------------------------------

    def _resolve(
        self, future: asyncio.Future[Any] | None, result: Any = None, error: BaseException | None = None
    ) -> None:
        if future is None:
            return

        def settle() -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        self._loop.call_soon_threadsafe(settle)

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.executescript(_SCHEMA)
        self.pending = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self._ready.set()
        try:
            while True:
                command, argument, future = self._commands.get()
                if command == "stop":
                    return
                if command == "append":
                    appends: list[tuple[list[Row], asyncio.Future[Any] | None]] = [(argument, future)]
                    later: list[tuple[str, Any, asyncio.Future[Any] | None]] = []
                    while True:  # group commit: every append already waiting shares the transaction
                        try:
                            item = self._commands.get_nowait()
                        except queue.Empty:
                            break
                        if item[0] == "append":
                            appends.append((item[1], item[2]))
                        else:
                            later.append(item)
                    self._append(db, appends)
                    for item in later:
                        if item[0] == "stop":
                            return
                        self._serve(db, *item)
                else:
                    self._serve(db, command, argument, future)
        finally:
            db.close()

    def _serve(
        self, db: sqlite3.Connection, command: str, argument: Any, future: asyncio.Future[Any] | None
    ) -> None:
        try:
            if command == "fetch":
                rows = db.execute(
                    "SELECT id, tenant, context, entity_id, device, body, created"
                    " FROM outbox ORDER BY id LIMIT ?",
                    (argument,),
                ).fetchall()
                self._resolve(future, [Stored(r[0], Row(*r[1:])) for r in rows])
            elif command == "delete":
                db.execute("BEGIN")
                db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in argument])
                db.execute("COMMIT")
                self.pending -= len(argument)
                self._resolve(future)
        except sqlite3.Error as exc:
            log.exception("outbox %s failed", command)
            self._resolve(future, error=exc)

    def _append(
        self, db: sqlite3.Connection, appends: list[tuple[list[Row], asyncio.Future[Any] | None]]
    ) -> None:
        accepted: list[tuple[list[Row], asyncio.Future[Any] | None]] = []
        room = self.limit - self.pending
        for rows, future in appends:
            if len(rows) > room:
                if self._on_full:
                    self._on_full()
                self._resolve(future, error=OutboxFull(self.limit))
                continue
            room -= len(rows)
            accepted.append((rows, future))
        if not accepted:
            return
        try:
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO outbox (tenant, context, entity_id, device, body, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.tenant, r.context, r.entity_id, r.device, r.body, r.created)
                    for rows, _ in accepted
                    for r in rows
                ],
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.exception("outbox append failed")
            if db.in_transaction:
                db.execute("ROLLBACK")
            for _, future in accepted:
                self._resolve(future, error=exc)
            return
        self.pending += sum(len(rows) for rows, _ in accepted)
        for _, future in accepted:
            self._resolve(future)
        self._loop.call_soon_threadsafe(self.appended.set)
