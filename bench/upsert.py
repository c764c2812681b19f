"""Batch upsert load: pre-serialised batches POSTed over a fixed number of keep-alive connections.

Bounded twice: each batch is sent once, and no new batch starts after ``max_seconds``.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import orjson

from bench.payloads import Batch

UPSERT_PATH = "/ngsi-ld/v1/entityOperations/upsert?options=update"
# 201/204 from the broker, 200 from the raw no-op: the bench measures speed, the tests check conformance.
OK_STATUSES = (200, 201, 204)
MAX_KEPT_ERRORS = 5


@dataclass
class UpsertOutcome:
    entities_sent: int = 0
    entities_ok: int = 0
    entities_failed: int = 0
    requests: int = 0
    seconds: float = 0.0
    stopped_by_time: bool = False
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def entities_per_second(self) -> float:
        return self.entities_ok / self.seconds if self.seconds else 0.0

    def record(self, batch: Batch, response: httpx.Response) -> None:
        self.statuses[str(response.status_code)] += 1
        if response.status_code in OK_STATUSES:
            failed = 0
        elif response.status_code == 207:
            failed = _failed_in_batch_result(response, batch.count)
        else:
            failed = batch.count
        self.entities_ok += batch.count - failed
        self.entities_failed += failed
        if failed:
            self.keep_error(f"batch@{batch.first}: HTTP {response.status_code} {response.text[:300]}")

    def keep_error(self, message: str) -> None:
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(message)


def _failed_in_batch_result(response: httpx.Response, count: int) -> int:
    """Failures listed in a 207 BatchOperationResult; the whole batch if the body is not one."""
    try:
        errors = orjson.loads(response.content).get("errors")
    except (orjson.JSONDecodeError, AttributeError):
        return count
    return len(errors) if isinstance(errors, list) else count


def run_upsert(
    base_url: str, link_header: str, batches: list[Batch], *, clients: int, max_seconds: float
) -> UpsertOutcome:
    return asyncio.run(_post_batches(base_url, link_header, batches, clients, max_seconds))


async def _post_batches(
    base_url: str, link_header: str, batches: list[Batch], clients: int, max_seconds: float
) -> UpsertOutcome:
    outcome = UpsertOutcome()
    headers = {"Content-Type": "application/json", "Link": link_header}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    pending: Iterator[Batch] = iter(batches)  # shared by the workers: one event loop, no lock needed
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120.0) as client:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            for batch in pending:
                if time.perf_counter() > deadline:
                    outcome.stopped_by_time = True
                    return
                outcome.entities_sent += batch.count
                outcome.requests += 1
                try:
                    response = await client.post(UPSERT_PATH, content=batch.body, headers=headers)
                except httpx.HTTPError as exc:
                    outcome.statuses[type(exc).__name__] += 1
                    outcome.entities_failed += batch.count
                    outcome.keep_error(f"batch@{batch.first}: {type(exc).__name__}: {exc}")
                    continue
                outcome.record(batch, response)

        await asyncio.gather(*(worker() for _ in range(clients)))
        outcome.seconds = time.perf_counter() - started
    return outcome
