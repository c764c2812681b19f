"""The background side of notifications: the matcher (change log → outbox) and the senders.

Why a change log and an asynchronous matcher rather than matching inside the write hook: the write
path then costs one small insert per changed entity, whatever the number of subscriptions, and renders
nothing; the matcher sees subscriptions and changes in one snapshot, so a change is matched against
exactly the subscriptions committed before it, on whichever replica holds the matcher lease. Matching
and rendering run in a worker thread; sending runs on the event loop (httpx) or in threads (paho).

Per subscription, notifications are delivered one after the other in outbox order (a failed one is
retried, with exponential backoff, before any later one is tried); per endpoint (scheme://host:port) at
most `notify_endpoint_concurrency` deliveries are in flight, so a dead receiver ties up only its own
slots. Results are recorded in batches; a crash before recording means a resend (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import anyio.to_thread

from broker_adapter.contexts.resolver import ContextResolver
from broker_adapter.ngsild.datetimes import format_datetime, now_iso
from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.types import Tenant
from broker_adapter.notifications.matching import Compiled, SubscriptionIndex, events_of
from broker_adapter.notifications.policy import EndpointPolicy, EndpointRefused
from broker_adapter.notifications.senders import DeliveryFailed, HttpSender, MqttSender
from broker_adapter.storage.notify_port import (
    Claim,
    Delivery,
    MatchResult,
    NewNotification,
    NotifyStore,
    Snapshot,
)
from verbund.settings import Settings

log = logging.getLogger("verbund.notifications")
Key = tuple[Tenant, str]
_CHANGES_PER_ROUND = 500
_MAX_IN_FLIGHT = 256


def _is_ip_literal(host: str | None) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
    event.clear()


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: NotifyStore,
        resolver: ContextResolver,
        policy: EndpointPolicy,
        *,
        log_changes: bool = True,
    ) -> None:
        self.settings = settings
        self.log_changes = log_changes  # False in a notifier process: the API process logs the changes
        self.store = store
        self.resolver = resolver
        self.policy = policy
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.http = HttpSender(settings.notify_timeout)
        self.mqtt = MqttSender(settings.notify_timeout)
        self._version: int | None = None
        self._compiled: dict[Key, Compiled] = {}
        self._index = SubscriptionIndex([])
        self._last_matched: dict[Key, float] = {}
        self._next_periodic: dict[Key, float] = {}
        self._in_flight: set[Key] = set()
        self._results: list[Delivery] = []
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._match_wake = asyncio.Event()
        self._deliver_wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.log_changes:
            self.store.on_change = self._changed  # type: ignore[attr-defined]
            self.store.install()
        self._tasks = [
            asyncio.create_task(self._forever(self._match_once, self._match_wake), name="notify-matcher"),
            asyncio.create_task(self._forever(self._deliver_once, self._deliver_wake), name="notify-sender"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sending:
            await asyncio.wait(self._sending, timeout=2)
            for task in self._sending:
                task.cancel()
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self._flush()
        await self.http.close()
        await self.mqtt.close()

    def _changed(self) -> None:
        """Called by the store inside an entity write (writer thread): wake the matcher."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # RuntimeError: the loop is shutting down; the next start polls the change up
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._match_wake.set)

    def wake(self) -> None:
        """A change was logged (by this process or, through a pipe, by the API process): match now."""
        self._match_wake.set()

    async def _forever(self, step, wake: asyncio.Event) -> None:
        poll = self.settings.notify_poll_interval
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notification step failed; retrying")
                await asyncio.sleep(max(poll, 0.5))
            await _wait(wake, poll)

    # matching ----------------------------------------------------------------------------------------
    async def _match_once(self) -> None:
        s = self.settings
        if not await anyio.to_thread.run_sync(self.store.matcher_lease, self.owner, s.notify_lease_seconds):
            return
        # A wake comes from inside a write: let it commit, and let a burst of writes share one round.
        await asyncio.sleep(min(self.settings.notify_poll_interval, 0.01))
        while True:
            snap = await anyio.to_thread.run_sync(self.store.snapshot, self._version, _CHANGES_PER_ROUND)
            if snap.subscriptions is not None:
                await self._load(snap)
            result = await anyio.to_thread.run_sync(self._match, snap)
            if not (result.consumed or result.notifications or result.periodic):
                return
            if not await anyio.to_thread.run_sync(
                self.store.commit_matches, self.owner, s.notify_lease_seconds, result
            ):
                self._version = None  # lost the lease or the changes: start again from the store
                return
            self._last_matched.update(result.matched)
            self._next_periodic.update(result.periodic)
            if result.notifications:
                self._deliver_wake.set()
            if len(snap.changes) < _CHANGES_PER_ROUND:
                return

    async def _load(self, snap: Snapshot) -> None:
        compiled: dict[Key, Compiled] = {}
        for sub in snap.subscriptions or ():
            key = (sub.tenant, sub.id)
            known = self._compiled.get(key)
            if known is not None and known.sub.modified_at == sub.modified_at:
                compiled[key] = known
                continue
            try:
                # the notifier's own bookkeeping: no hits on the contexts (numberOfHits counts requests)
                q_terms = await self.resolver.resolve(sub.context, count=False)
                notify_terms = await self.resolver.resolve(sub.doc["jsonldContext"], count=False)
                compiled[key] = Compiled(sub, q_terms, notify_terms)
            except NgsiLdError as exc:
                log.warning("subscription skipped", extra={"subscription": sub.id, "detail": exc.detail})
                continue
            if sub.last_matched is not None:
                self._last_matched[key] = sub.last_matched
            self._next_periodic[key] = sub.next_periodic or 0.0
        self._compiled = compiled
        self._index = SubscriptionIndex(list(compiled.values()))
        self._version = snap.version

    def _match(self, snap: Snapshot) -> MatchResult:
        """CPU work, in a worker thread: events → subscriptions → rendered notifications."""
        now = time.time()
        iso = now_iso()
        result = MatchResult(consumed=[c.seq for c in snap.changes])
        index = self._index
        last_matched = dict(self._last_matched)
        for change in snap.changes:
            entity = change.after if change.after is not None else change.before
            if entity is None:
                continue
            candidates = index.candidates(change.tenant, entity)
            if not candidates:
                continue
            events = events_of(change.before, change.after)
            for c in candidates:
                if change.seq <= c.sub.since_seq or not c.live(now):
                    continue
                reason = c.reason(events)
                if reason is None or not c.selects(entity):
                    continue
                if c.throttling is not None:
                    last = last_matched.get(c.key)
                    if last is not None and now - last < c.throttling:
                        continue
                    last_matched[c.key] = result.matched[c.key] = now
                data = [c.renderer.entity(change.before, change.after, reason, iso)]
                body = c.renderer.body(c.sub.id, data, reason, iso)
                result.notifications.append(NewNotification(c.sub.tenant, c.sub.id, body, c.renderer.headers))
        for c in index.periodic():
            if c.live(now) and self._next_periodic.get(c.key, 0.0) <= now:
                self._periodic(c, now, iso, result)
        return result

    def _periodic(self, c: Compiled, now: float, iso: str, result: MatchResult) -> None:
        """timeInterval: the current state of every selected entity, whether it changed or not."""
        ids = [s.id for s in c.selectors if s.id is not None]
        exact = len(ids) == len(c.selectors)
        types = sorted({s.type for s in c.selectors})
        entities = self.store.entities_of(c.sub.tenant, types, ids if exact else None)
        data = [c.renderer.entity(None, e, None, iso) for e in entities if c.selects(e)]
        if data:
            body = c.renderer.body(c.sub.id, data, None, iso)
            result.notifications.append(NewNotification(c.sub.tenant, c.sub.id, body, c.renderer.headers))
        result.periodic[c.key] = now + float(c.interval or 0)

    # delivery ----------------------------------------------------------------------------------------
    async def _deliver_once(self) -> None:
        """Record the finished deliveries and claim new ones in one store call (one write transaction
        in SQLite, where every notifier transaction waits its turn after the API's writer)."""
        free = _MAX_IN_FLIGHT - len(self._in_flight)
        if free <= 0:
            await self._flush()
            return
        s = self.settings
        results, self._results = self._results, []
        claims = await anyio.to_thread.run_sync(
            self.store.claim, self.owner, time.time(), s.notify_lease_seconds, free, s.notify_batch,
            set(self._in_flight), results,
        )  # fmt: skip
        for claim in claims:
            key = (claim.tenant, claim.sub_id)
            self._in_flight.add(key)
            task = asyncio.create_task(self._deliver(claim))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _flush(self) -> None:
        if self._results:
            results, self._results = self._results, []
            await anyio.to_thread.run_sync(self.store.record, results)

    def _backoff(self, attempts: int, endpoint: dict) -> float:
        s = self.settings
        delay = min(s.notify_retry_max, s.notify_retry_base * 2 ** max(attempts - 1, 0))
        return max(delay, endpoint.get("cooldown", 0) / 1000)

    async def _deliver(self, claim: Claim) -> None:
        endpoint = claim.doc["notification"]["endpoint"]
        uri = endpoint["uri"]
        parts = urlsplit(uri)
        sender = self.mqtt if parts.scheme.startswith("mqtt") else self.http
        slot = self._slots.get(f"{parts.scheme}://{parts.netloc}")
        if slot is None:
            slot = self._slots[f"{parts.scheme}://{parts.netloc}"] = asyncio.Semaphore(
                self.settings.notify_endpoint_concurrency
            )
        sent, failed, retry_at = 0, False, 0.0
        try:
            async with slot:
                if _is_ip_literal(parts.hostname):  # nothing to resolve: no thread hop
                    self.policy.check(uri, claim.tenant)
                else:
                    await anyio.to_thread.run_sync(self.policy.check, uri, claim.tenant)
                check_peer = self.policy.peer_check(uri, claim.tenant)
                for item in claim.items:
                    if time.time() + self.settings.notify_timeout > claim.lease_until:
                        break  # do not outlive the lease: another replica may take over then
                    await sender.send(claim.tenant, endpoint, item.body, item.headers, check_peer)
                    sent += 1
        except (DeliveryFailed, EndpointRefused) as exc:
            failed = True
            attempts = claim.items[sent].attempts + 1
            retry_at = time.time() + self._backoff(attempts, endpoint)
            log.info(
                "notification failed",
                extra={"subscription": claim.sub_id, "attempt": attempts, "detail": str(exc)},
            )
        finally:
            at = format_datetime(datetime.now(UTC))
            self._results.append(Delivery(claim, sent, failed, at, retry_at))
            self._in_flight.discard((claim.tenant, claim.sub_id))
            if sent < len(claim.items) and not failed:
                self._deliver_wake.set()  # stopped early: claim the rest now; else the next poll records
