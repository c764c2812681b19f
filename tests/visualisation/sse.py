"""Reading a Server-Sent Events stream over real HTTP in a test."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx


class EventStream:
    """Events of one open stream, read by a thread so a test can wait with a deadline."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.status: int | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()
        self._opened.wait(10)

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                self._opened.set()
                event: dict[str, Any] = {}
                for line in response.iter_lines():
                    if not line:
                        if "event" in event:
                            self.events.put(event)
                        event = {}
                    elif line.startswith(("id:", "event:", "data:")):
                        key, _, value = line.partition(":")
                        event[key] = value.strip()
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()

    def next(
        self, name: str | None = None, timeout: float = 15.0, where: Callable[[Any], bool] | None = None
    ) -> dict[str, Any]:
        """The next event (of that name, whose data passes `where`); its data parsed. queue.Empty if none
        comes within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            event["data"] = json.loads(event.get("data") or "{}")
            if (name is None or event["event"] == name) and (where is None or where(event["data"])):
                return event

    def close(self) -> None:
        self._client.close()


@contextmanager
def stream(url: str, headers: dict[str, str] | None = None) -> Iterator[EventStream]:
    s = EventStream(url, headers)
    try:
        yield s
    finally:
        s.close()
