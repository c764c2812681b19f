"""Drain the outbox into the broker with ``POST /ngsi-ld/v1/entityOperations/upsert?options=update``.

Order: rows leave the outbox oldest first; a batch holds one tenant and @context and never the same entity
twice, so every measure of a device reaches the broker (and its history) in the order it was accepted.
Failures: the broker unreachable, a 5xx or 429 keeps the rows and retries with exponential backoff (one log
line when the outage starts and one when it ends, a gauge meanwhile); a 4xx is the data's fault, so the
batch is split to find the offending fragments, each is logged with its device and the broker's detail and
dropped; a 207 keeps the entities whose error is a 5xx and drops (and logs) the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
import orjson

from agents.metrics import Metrics
from agents.north.outbox import Outbox, Stored

log = logging.getLogger("verbund.agents.north")
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


class NorthboundClient:
    def __init__(
        self,
        outbox: Outbox,
        metrics: Metrics,
        broker_url: str,
        *,
        batch_max: int = 500,
        timeout: float = 10.0,
        retry_base: float = 0.2,
        retry_max: float = 10.0,
        token: str = "",
    ) -> None:
        self.outbox = outbox
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self.metrics = metrics
        self.url = broker_url.rstrip("/") + "/ngsi-ld/v1/entityOperations/upsert?options=update"
        self.batch_max = batch_max
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.broker_down_since: float | None = None
        self._http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=4))
        self._task: asyncio.Task[None] | None = None
        metrics.gauge("broker_unavailable", lambda: 1 if self.broker_down_since is not None else 0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="agents-northbound")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()

    async def _run(self) -> None:
        delay = self.retry_base
        while True:
            self.outbox.appended.clear()
            rows = await self.outbox.fetch(self.batch_max * 4)
            if not rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.outbox.appended.wait(), timeout=1.0)
                continue
            batch = _batch(rows, self.batch_max)
            try:
                done = await self._deliver(batch)
            except Exception:  # never let one bad batch stop delivery
                log.exception("northbound delivery failed unexpectedly")
                done = False
            if done:
                delay = self.retry_base
                continue
            self.metrics.inc("northbound_retries_total")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _post(self, batch: list[Stored]) -> httpx.Response | None:
        first = batch[0].row
        headers = {"Content-Type": "application/json", "Link": f"<{first.context}>; {LINK_REL}", **self._auth}
        if first.tenant:
            headers["NGSILD-Tenant"] = first.tenant
        body = b"[" + b",".join(s.row.body for s in batch) + b"]"
        try:
            response = await self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._broker_down(f"{type(exc).__name__}: {exc}")
            return None
        if response.status_code >= 500 or response.status_code == 429:
            self._broker_down(f"HTTP {response.status_code}: {response.text[:300]}")
            return None
        if self.broker_down_since is not None:
            log.warning(
                "broker reachable again; delivering the measures kept meanwhile",
                extra={"down_seconds": round(time.monotonic() - self.broker_down_since, 1),
                       "pending": self.outbox.pending},
            )  # fmt: skip
            self.broker_down_since = None
        return response

    def _broker_down(self, reason: str) -> None:
        if self.broker_down_since is None:
            self.broker_down_since = time.monotonic()
            log.warning(
                "broker unreachable; measures are kept in the outbox and retried",
                extra={"reason": reason, "pending": self.outbox.pending},
            )

    async def _deliver(self, batch: list[Stored]) -> bool:
        """True when every row of the batch is settled (delivered or rejected for good)."""
        response = await self._post(batch)
        if response is None:
            return False
        status = response.status_code
        if status == 207:  # some entities failed: BatchOperationResult
            return await self._partial(batch, response)
        if status < 300:
            await self._settle(batch, delivered=len(batch))
            return True
        if len(batch) > 1:  # one fragment spoils the request: find it
            for stored in batch:
                if not await self._deliver([stored]):
                    return False
            return True
        _reject(batch[0], status, response.text)
        self.metrics.inc("northbound_rejected_total")
        await self.outbox.delete([batch[0].id])
        return True

    async def _partial(self, batch: list[Stored], response: httpx.Response) -> bool:
        try:
            errors = orjson.loads(response.content).get("errors", [])
        except (orjson.JSONDecodeError, AttributeError):
            errors = []
        failed: dict[str, dict[str, Any]] = {
            e.get("entityId", ""): e.get("error") or {} for e in errors if isinstance(e, dict)
        }
        retry = [s for s in batch if _status(failed.get(s.row.entity_id)) >= 500]
        settled = [s for s in batch if s not in retry]
        for stored in settled:
            if stored.row.entity_id in failed:
                _reject(
                    stored,
                    _status(failed[stored.row.entity_id]),
                    orjson.dumps(failed[stored.row.entity_id]).decode(),
                )
                self.metrics.inc("northbound_rejected_total")
        await self._settle(settled, delivered=sum(1 for s in settled if s.row.entity_id not in failed))
        if retry:
            self._broker_down("the broker failed some entities with a server error")
            return False
        return True

    async def _settle(self, rows: list[Stored], *, delivered: int) -> None:
        if rows:
            await self.outbox.delete([s.id for s in rows])
        self.metrics.inc("northbound_delivered_total", delivered)


def _status(problem: dict[str, Any] | None) -> int:
    if problem is None:
        return 0
    status = problem.get("status")
    return status if isinstance(status, int) else 400


def _reject(stored: Stored, status: int, detail: str) -> None:
    log.error(
        "the broker rejected a measure; it is dropped",
        extra={"device": stored.row.device, "tenant": stored.row.tenant, "entity": stored.row.entity_id,
               "status": status, "detail": detail[:1000]},
    )  # fmt: skip


def _batch(rows: list[Stored], limit: int) -> list[Stored]:
    """The oldest row's tenant and @context, in order, up to the first repeated entity."""
    first = rows[0].row
    batch: list[Stored] = []
    seen: set[str] = set()
    for stored in rows:
        row = stored.row
        if row.tenant != first.tenant:
            continue  # other tenants' entities are independent: their order is kept among themselves
        if row.context != first.context or row.entity_id in seen or len(batch) == limit:
            break
        seen.add(row.entity_id)
        batch.append(stored)
    return batch
