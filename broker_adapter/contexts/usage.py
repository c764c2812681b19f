"""How often stored @contexts are used: numberOfHits and lastUsage (clause 5.13.3.5), kept off the hot path.

Every request that uses a stored @context (Hosted, Cached or ImplicitlyCreated) counts one hit. The entity
hot paths resolve the same @context thousands of times a second, so a hit is only a counter in memory; a
background flush writes the sums to the store at most once per `interval` (one write per @context used in
that interval). A crash loses at most the last interval of counts. Details reads add the hits not yet
written, so they are up to date for this process; other replicas' hits appear after their next flush.

The flush adds each sum with the store's atomic add_context_hits, so replicas flushing the same @context
at once lose nothing, and a flush never brings a deleted @context back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from time import time

import anyio
import anyio.to_thread

from broker_adapter.ngsild.datetimes import format_datetime
from broker_adapter.storage.port import ContextRecord, Store

log = logging.getLogger(__name__)


def iso(timestamp: float) -> str:
    return format_datetime(datetime.fromtimestamp(timestamp, UTC))


@dataclass(slots=True)
class _Usage:
    hits: int = 0
    last: float = 0.0  # time() of the latest hit


class UsageCounter:
    """Counts hits per stored @context id in memory and flushes them to the store in the background."""

    def __init__(self, store: Store, *, interval: float = 1.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._store = store
        self._interval = interval
        self._pending: dict[str, _Usage] = {}
        self._flusher: asyncio.Task[None] | None = None

    def count(self, context_ids: tuple[str, ...]) -> None:
        """One hit for each of context_ids (the stored @contexts one request used)."""
        if not context_ids:
            return
        now = time()
        for context_id in context_ids:
            usage = self._pending.get(context_id)
            if usage is None:
                usage = self._pending[context_id] = _Usage()
            usage.hits += 1
            usage.last = now
        if self._flusher is None or self._flusher.done():
            # asyncio rather than an anyio task group: the resolver has no start/stop of its own, and the
            # broker and the notifier both run on asyncio.
            self._flusher = asyncio.get_running_loop().create_task(self._flush_periodically())

    def current(self, record: ContextRecord) -> ContextRecord:
        """record with the hits not yet written added."""
        usage = self._pending.get(record.id)
        return record if usage is None else _added(record, usage)

    def forget(self, context_id: str) -> None:
        """Drop the unwritten hits of a deleted @context."""
        self._pending.pop(context_id, None)

    async def flush(self) -> None:
        """Write the pending hits now (the background flush calls this; so can a shutdown)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        failed = await anyio.to_thread.run_sync(self._write, batch)
        for context_id, usage in failed.items():  # kept for the next flush
            pending = self._pending.setdefault(context_id, _Usage())
            pending.hits += usage.hits
            pending.last = max(pending.last, usage.last)

    async def _flush_periodically(self) -> None:
        while self._pending:
            await asyncio.sleep(self._interval)
            await self.flush()

    def _write(self, batch: dict[str, _Usage]) -> dict[str, _Usage]:
        failed: dict[str, _Usage] = {}
        for context_id, usage in batch.items():
            try:
                self._store.add_context_hits(context_id, usage.hits, iso(usage.last))
            except Exception as exc:  # best effort: keep the counts and try again next time
                log.warning("@context hits not written", extra={"context": context_id, "error": str(exc)})
                failed[context_id] = usage
        return failed


def _added(record: ContextRecord, usage: _Usage) -> ContextRecord:
    last = iso(usage.last)
    return replace(
        record,
        hits=record.hits + usage.hits,
        last_usage=max(last, record.last_usage) if record.last_usage else last,
    )
