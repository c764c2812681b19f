"""Prometheus text metrics: requests and latency per route, store latency. A pure ASGI middleware
(BaseHTTPMiddleware would double the cost of every request)."""

from __future__ import annotations

import threading
import time
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
        for n, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[n] += 1
                break


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
        self.store_latency: dict[str, Histogram] = defaultdict(Histogram)
        self._lock = threading.Lock()  # store timings come from worker threads

    def observe_store(self, operation: str, seconds: float) -> None:
        with self._lock:
            self.store_latency[operation].observe(seconds)

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
        with self._lock:
            for operation, hist in sorted(self.store_latency.items()):
                _histogram(
                    lines, "verbund_store_operation_duration_seconds", f'operation="{operation}"', hist
                )
        return "\n".join(lines) + "\n"


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
        metrics = self._metrics

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                metrics.observe_store(name, time.perf_counter() - start)

        setattr(self, name, timed)  # build the wrapper once per method
        return timed
