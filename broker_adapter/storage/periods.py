"""Aggregation periods shared by the adapters: calendar boundaries, and per-method results from the
per-bucket values the database computed (stddev from count, sum and sum of squares)."""

from __future__ import annotations

import math
from typing import Any

from broker_adapter.ngsild.durations import add
from broker_adapter.ngsild.errors import TooManyResults
from broker_adapter.storage.history import AggregateQuery

Periods = dict[str, list[tuple[Any, int, int]]]


def calendar_bounds(lower: int, upper: int, query: AggregateQuery) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    start = lower
    while start <= upper:
        if len(bounds) >= query.max_periods:
            raise too_many(len(bounds) + 1, query.max_periods)
        end = add(lower, query.period, len(bounds) + 1)
        bounds.append((start, end))
        start = end
    return bounds


def periods(methods: Any, buckets: list[tuple[int, int, Any]]) -> Periods:
    out: Periods = {m: [] for m in methods}
    for start, end, values in buckets:
        at = 0
        for method in methods:
            if method == "stddev":
                n, total, squares = values[at : at + 3]
                at += 3
                out[method].append((stddev(n, total, squares), start, end))
            else:
                out[method].append((values[at], start, end))
                at += 1
    return out


def stddev(n: int, total: float | None, squares: float | None) -> float | None:
    if not n or total is None or squares is None:
        return None
    if n == 1:
        return 0.0
    return math.sqrt(max(0.0, (squares - total * total / n) / (n - 1)))


def too_many(count: int, limit: int) -> TooManyResults:
    return TooManyResults(
        f"the aggregation would produce more than {limit} periods ({count}); use a longer aggrPeriodDuration "
        "or a shorter time range"
    )
