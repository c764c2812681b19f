"""Aggregated temporal values (clause 4.5.19) computed by SQLite: one GROUP BY per series.

Exact periods (weeks, days, hours, ...) are bucketed arithmetically, `(t - anchor) / period`, so only
buckets that hold instances exist and a long range costs nothing extra. Calendar periods (months,
years) have uneven lengths: their boundaries are generated here and joined in SQL (json_each), each
boundary probing the (series, time) index. The anchor (start of the first period) is timeAt when the
query has a lower bound (after, between), else the series' first instance in range.

Deletion instances are not aggregated. sum, avg, stddev and sumsq take the numeric values only; min and
max compare numbers numerically and strings by code point; distinctCount counts distinct values of any
kind. stddev is the sample standard deviation (n - 1), 0 for a single value; SQL returns count, sum and
sum of squares per bucket, the square root is taken here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from broker_adapter.ngsild.errors import StoreUnavailable
from broker_adapter.storage.history import AggregateQuery
from broker_adapter.storage.periods import Periods, calendar_bounds, periods, too_many

_NUM = "(CASE WHEN typeof(v) IN ('integer', 'real') THEN v END)"
_EXPRESSIONS = {
    "totalCount": ("count(*)",),
    "distinctCount": ("count(DISTINCT coalesce(v, doc))",),
    "sum": (f"sum({_NUM})",),
    "avg": (f"avg({_NUM})",),
    "min": ("min(v)",),
    "max": ("max(v)",),
    "sumsq": (f"sum({_NUM} * {_NUM})",),
    "stddev": (f"count({_NUM})", f"sum({_NUM})", f"sum({_NUM} * {_NUM})"),
}


def aggregate_series(
    conn: sqlite3.Connection, sid: int, query: AggregateQuery, time_where: tuple[str, str, list[Any]]
) -> Periods:
    expr, clauses, params = time_where
    where = f"sid = ? AND deleted_at IS NULL{clauses}"
    params = [sid, *params]
    selects = ", ".join(e for m in query.methods for e in _EXPRESSIONS[m])
    try:
        lower, upper = _range(conn, expr, where, params, query)
        if lower is None:
            return {m: [] for m in query.methods}
        period = query.period
        if period.is_zero:
            row = conn.execute(f"SELECT {selects} FROM history WHERE {where}", params).fetchone()
            return periods(query.methods, [(lower, upper, row)])
        if period.is_exact:
            rows = conn.execute(
                f"SELECT ({expr} - ?) / ? AS k, {selects} FROM history WHERE {where} GROUP BY k ORDER BY k",
                [lower, period.ms, *params],
            ).fetchall()
            if len(rows) > query.max_periods:
                raise too_many(len(rows), query.max_periods)
            buckets = []
            for k, *values in rows:
                start = lower + k * period.ms
                buckets.append((start, start + period.ms, values))
            return periods(query.methods, buckets)
        bounds = calendar_bounds(lower, upper, query)
        rows = conn.execute(
            f"SELECT b.key, {selects} FROM json_each(?) AS b CROSS JOIN history"
            f" WHERE {where} AND {expr} >= json_extract(b.value, '$[0]')"
            f" AND {expr} < json_extract(b.value, '$[1]')"
            " GROUP BY b.key ORDER BY b.key",
            [orjson.dumps(bounds).decode(), *params],
        ).fetchall()
        return periods(query.methods, [(*bounds[k], values) for k, *values in rows])
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(f"the SQLite store did not answer: {exc}") from exc


def _range(
    conn: sqlite3.Connection, expr: str, where: str, params: list[Any], query: AggregateQuery
) -> tuple[int | None, int]:
    """(anchor, upper end) of the aggregation; anchor None when nothing is in range."""
    time = query.time
    first, last = conn.execute(
        f"SELECT min({expr}), max({expr}) FROM history WHERE {where}", params
    ).fetchone()
    if first is None:
        return None, 0
    lower = time.time_at if time.timerel in ("after", "between") else first
    if time.timerel == "between":
        upper = time.end_time_at
    elif time.timerel == "before":
        upper = time.time_at
    else:
        upper = last
    return lower, upper
