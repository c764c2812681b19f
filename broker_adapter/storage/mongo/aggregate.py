"""Aggregated temporal values (clause 4.5.19) as MongoDB aggregation pipelines, one `$group` per series.

Exact periods are bucketed arithmetically with integers, `(t - anchor - (t - anchor) mod p) / p`, so
only buckets that hold instances exist and there is no floating-point rounding at bucket edges.
Calendar periods (months, years) have uneven lengths: their boundaries are generated here (shared with
the SQLite adapter, storage.periods) and used as `$bucket` boundaries. The anchor is timeAt when the
query has a lower bound (after, between), else the series' first instance in range — as in SQLite.

Each instance document carries `n`, its value when that is a number (null otherwise), next to `v`:
sum, avg, sumsq and stddev read `n`; min and max are taken over numbers and over strings separately and
combined in BSON order (numbers before strings), which is also SQLite's order.
"""

from __future__ import annotations

from typing import Any

from broker_adapter.storage.history import AggregateQuery
from broker_adapter.storage.periods import Periods, calendar_bounds, periods, too_many

_IS_NUMBER = {"$ne": ["$n", None]}
_NUMBER_COUNT = {"$sum": {"$cond": [_IS_NUMBER, 1, 0]}}
_TEXT = {"$cond": [_IS_NUMBER, None, "$v"]}
_ACCUMULATORS: dict[str, dict[str, Any]] = {
    "totalCount": {"count": {"$sum": 1}},
    "distinctCount": {"distinct": {"$addToSet": {"$ifNull": ["$v", "$doc"]}}},
    "sum": {"numbers": _NUMBER_COUNT, "sum": {"$sum": "$n"}},
    "avg": {"avg": {"$avg": "$n"}},
    "min": {"min_n": {"$min": "$n"}, "min_s": {"$min": _TEXT}},
    "max": {"max_n": {"$max": "$n"}, "max_s": {"$max": _TEXT}},
    "sumsq": {"numbers": _NUMBER_COUNT, "squares": {"$sum": {"$multiply": ["$n", "$n"]}}},
    "stddev": {
        "numbers": _NUMBER_COUNT,
        "sum": {"$sum": "$n"},
        "squares": {"$sum": {"$multiply": ["$n", "$n"]}},
    },
}


def _values(method: str, row: dict[str, Any]) -> list[Any]:
    """The per-bucket values storage.periods expects for a method."""
    numbers = row.get("numbers", 0)
    if method == "totalCount":
        return [row["count"]]
    if method == "distinctCount":
        return [len([v for v in row["distinct"] if v is not None])]
    if method == "sum":
        return [row["sum"] if numbers else None]
    if method == "avg":
        return [row["avg"]]
    if method == "min":
        return [row["min_n"] if row.get("min_n") is not None else row.get("min_s")]
    if method == "max":
        return [row["max_s"] if row.get("max_s") is not None else row.get("max_n")]
    if method == "sumsq":
        return [row["squares"] if numbers else None]
    return [numbers, row["sum"] if numbers else None, row["squares"] if numbers else None]


def aggregate_series(collection: Any, series: dict[str, Any], query: AggregateQuery) -> Periods:
    from broker_adapter.storage.mongo.history import time_match  # the same time fields as reads

    at, time_filter = time_match(query.time)
    match = {"$and": [series, {"x": None}, time_filter]}
    lower, upper = _range(collection, at, match, query)
    if lower is None:
        return {m: [] for m in query.methods}
    output: dict[str, Any] = {}
    for method in query.methods:
        output.update(_ACCUMULATORS[method])
    period = query.period
    field = "$" + at
    buckets: list[tuple[int, int, dict[str, Any]]] = []
    if period.is_zero:
        rows = list(collection.aggregate([{"$match": match}, {"$group": {"_id": None, **output}}]))
        buckets = [(lower, upper, rows[0])] if rows else []
    elif period.is_exact:
        offset = {"$subtract": [field, lower]}
        key = {"$divide": [{"$subtract": [offset, {"$mod": [offset, period.ms]}]}, period.ms]}
        rows = list(
            collection.aggregate(
                [{"$match": match}, {"$group": {"_id": key, **output}}, {"$sort": {"_id": 1}}]
            )
        )
        if len(rows) > query.max_periods:
            raise too_many(len(rows), query.max_periods)
        for row in rows:
            start = lower + int(row["_id"]) * period.ms
            buckets.append((start, start + period.ms, row))
    else:
        bounds = calendar_bounds(lower, upper, query)
        edges = [start for start, _ in bounds] + [bounds[-1][1]]
        stage = {"groupBy": field, "boundaries": edges, "default": "outside", "output": output}
        starts = {start: end for start, end in bounds}
        for row in collection.aggregate([{"$match": match}, {"$bucket": stage}]):
            if row["_id"] in starts:
                buckets.append((row["_id"], starts[row["_id"]], row))
        buckets.sort(key=lambda b: b[0])
    values = [
        (start, end, [v for m in query.methods for v in _values(m, row)]) for start, end, row in buckets
    ]
    return periods(query.methods, values)


def _range(collection: Any, at: str, match: dict[str, Any], query: AggregateQuery) -> tuple[int | None, int]:
    rows = list(
        collection.aggregate(
            [
                {"$match": match},
                {"$group": {"_id": None, "first": {"$min": "$" + at}, "last": {"$max": "$" + at}}},
            ]
        )
    )
    if not rows or rows[0]["first"] is None:
        return None, 0
    time = query.time
    lower = time.time_at if time.timerel in ("after", "between") else rows[0]["first"]
    if time.timerel == "between":
        upper = time.end_time_at
    elif time.timerel == "before":
        upper = time.time_at
    else:
        upper = rows[0]["last"]
    return lower, upper
