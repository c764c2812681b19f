"""Live updates to open browsers as Server-Sent Events.

Publishing never waits for a browser: each one has its own bounded queue. A browser that falls behind
(its queue is full) loses the queued updates and is sent one ``snapshot`` event instead, which tells the
page to reload its data; the others are not slowed. Events carry ids ``<run>-<n>``; a browser that
reconnects with ``Last-Event-ID`` gets the events it missed while they are still in the recent window of
this run, and a ``snapshot`` otherwise (another run, or too long ago).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000  # how soon EventSource reconnects


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    tenant: str
    name: str  # sensor | alert | deleted
    data: bytes  # one line of JSON


class Client:
    def __init__(self, tenant: str | None, size: int) -> None:
        self.tenant = tenant  # None: every tenant (the region)
        self.size = size
        self.queue: deque[Event] = deque()
        self.lagged = False
        self.wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.tenant is not None and event.tenant != self.tenant:
            return
        if len(self.queue) >= self.size:
            self.queue.clear()  # the page reloads its data instead of replaying what it missed
            self.lagged = True
        elif not self.lagged:
            self.queue.append(event)
        self.wake.set()


class Hub:
    def __init__(self, queue_size: int, max_clients: int, recent: int = 2000) -> None:
        self.run = secrets.token_hex(4)
        self.seq = 0
        self.recent: deque[Event] = deque(maxlen=recent)
        self.clients: set[Client] = set()
        self.queue_size = queue_size
        self.max_clients = max_clients

    def publish(self, tenant: str, name: str, data: dict) -> None:
        self.seq += 1
        event = Event(self.seq, tenant, name, orjson.dumps(data))
        self.recent.append(event)
        for client in self.clients:
            client.offer(event)

    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def connect(self, tenant: str | None, last_event_id: str | None) -> Client:
        client = Client(tenant, self.queue_size)
        if last_event_id:
            missed = self._since(last_event_id)
            if missed is None:
                client.lagged = True
            else:
                for event in missed:
                    client.offer(event)
        self.clients.add(client)
        return client

    def _since(self, last_event_id: str) -> list[Event] | None:
        run, _, number = last_event_id.partition("-")
        if run != self.run or not number.isdigit():
            return None
        seq = int(number)
        oldest = self.recent[0].seq if self.recent else self.seq + 1
        if seq < oldest - 1:
            return None  # some of what it missed has left the window
        return [e for e in self.recent if e.seq > seq]

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    def position(self) -> str:
        """The id of the newest event: a page rendered now resumes its stream after it."""
        return self.event_id(self.seq)

    def event_id(self, seq: int) -> str:
        return f"{self.run}-{seq}"

    async def stream(self, client: Client) -> AsyncIterator[bytes]:
        """The text/event-stream of one browser, until it goes away."""
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while True:
                if client.lagged:
                    client.lagged = False
                    client.queue.clear()
                    yield f"id: {self.event_id(self.seq)}\nevent: snapshot\ndata: {{}}\n\n".encode()
                while client.queue and not client.lagged:
                    event = client.queue.popleft()
                    head = f"id: {self.event_id(event.seq)}\nevent: {event.name}\ndata: ".encode()
                    yield head + event.data + b"\n\n"
                if client.lagged:
                    continue
                client.wake.clear()
                try:
                    await asyncio.wait_for(client.wake.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
        finally:
            self.disconnect(client)
