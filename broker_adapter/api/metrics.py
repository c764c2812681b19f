"""Prometheus text metrics: requests and latency per route, store latency. A pure ASGI middleware
(BaseHTTPMiddleware would double the cost of every request)."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import defaultdict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    __slots__ = ("counts", "sum", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.sum = 0.0
        self.total = 0

    def observe(self, seconds: float) -> None:
        self.sum += seconds
        self.total += 1
        n = bisect_left(BUCKETS, seconds)  # the first bound >= seconds
        if n < _BUCKET_COUNT:
            self.counts[n] += 1


_BUCKET_COUNT = len(BUCKETS)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
        # Store timings come from the event loop and from worker threads. Each thread counts into its own
        # shard, so observing takes no lock; render() merges the shards (and folds in those of threads
        # that have exited, so the list does not grow with the worker pool's turnover).
        self._retired: dict[str, Histogram] = defaultdict(Histogram)
        self._shards: list[tuple[threading.Thread, dict[str, Histogram]]] = []
        self._local = threading.local()
        self._lock = threading.Lock()  # guards _shards and _retired

    def observe_store(self, operation: str, seconds: float) -> None:
        try:
            shard = self._local.shard
        except AttributeError:
            shard = self._local.shard = defaultdict(Histogram)
            with self._lock:
                self._shards.append((threading.current_thread(), shard))
        shard[operation].observe(seconds)

    @property
    def store_latency(self) -> dict[str, Histogram]:
        """Store latency per operation, all threads merged."""
        with self._lock:
            live = []
            for thread, shard in self._shards:
                if thread.is_alive():
                    live.append((thread, shard))
                else:
                    _merge(self._retired, list(shard.items()))
            self._shards = live
            merged: dict[str, Histogram] = defaultdict(Histogram)
            _merge(merged, list(self._retired.items()))
            for _, shard in live:
                _merge(merged, list(shard.items()))  # list(): one atomic copy while the owner may add
        return merged

    def render(self) -> str:
        lines = [
            "# HELP verbund_http_requests_total HTTP requests by route and status",
            "# TYPE verbund_http_requests_total counter",
        ]
        for (method, route, status), n in sorted(self.requests.items()):
            lines.append(
                f'verbund_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP verbund_http_request_duration_seconds HTTP request latency by route",
            "# TYPE verbund_http_request_duration_seconds histogram",
        ]
        for (method, route), hist in sorted(self.latency.items()):
            _histogram(
                lines, "verbund_http_request_duration_seconds", f'method="{method}",route="{route}"', hist
            )
        lines += [
            "# HELP verbund_store_operation_duration_seconds store call latency by operation",
            "# TYPE verbund_store_operation_duration_seconds histogram",
        ]
        for operation, hist in sorted(self.store_latency.items()):
            _histogram(lines, "verbund_store_operation_duration_seconds", f'operation="{operation}"', hist)
        return "\n".join(lines) + "\n"


def _merge(into: dict[str, Histogram], items: list[tuple[str, Histogram]]) -> None:
    for operation, hist in items:
        target = into[operation]
        # counts before total: the owner thread bumps total first, so no bucket can exceed +Inf
        target.counts = [a + b for a, b in zip(target.counts, hist.counts, strict=True)]
        target.total += hist.total
        target.sum += hist.sum


def _histogram(lines: list[str], name: str, labels: str, hist: Histogram) -> None:
    cumulative = 0
    for bound, count in zip(BUCKETS, hist.counts, strict=True):
        cumulative += count
        lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {cumulative}')
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {hist.total}')
    lines.append(f"{name}_sum{{{labels}}} {hist.sum:.6f}")
    lines.append(f"{name}_count{{{labels}}} {hist.total}")


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests[(method, template, status)] += 1
            self.metrics.latency[(method, template)].observe(time.perf_counter() - start)


class TimedStore:
    """Wraps a store so each call's latency lands in the metrics."""

    def __init__(self, store: Any, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target) or name.startswith("_"):
            return target
        observe, clock = self._metrics.observe_store, time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return target(*args, **kwargs)
            finally:
                observe(name, clock() - start)

        setattr(self, name, timed)  # build the wrapper once per method
        return timed
