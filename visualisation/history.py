"""The series a chart draws, read through the temporal API, and the CSV of exactly that series.

    24 h   every instance (temporalValues), paged while the broker answers 206
    7 d    hourly avg/min/max (aggregatedValues, PT1H)
    30 d   three-hourly avg/min/max (PT3H)

Traffic charts are hourly sums of each lane's intensity (vehicles counted per observation period).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from visualisation.broker import BrokerClient
from visualisation.sensors import parse_time

RANGES: dict[str, tuple[timedelta, str | None]] = {
    "24h": (timedelta(hours=24), None),
    "7d": (timedelta(days=7), "PT1H"),
    "30d": (timedelta(days=30), "PT3H"),
}
TRAFFIC_RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
MAX_PAGES = 10
TREND_WINDOW = timedelta(hours=1)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Series:
    attribute: str
    range: str
    start: str
    end: str
    period: str | None  # None: every instance; else the aggregation period
    # raw: [time, value]; aggregated: [start, end, avg, min, max]
    points: list[list[Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "range": self.range,
            "start": self.start,
            "end": self.end,
            "period": self.period,
            "points": self.points,
        }


def _instances(body: dict[str, Any], attribute: str) -> list[tuple[str, float]]:
    attr = body.get(attribute)
    if isinstance(attr, list):  # several datasetIds: the default instance (no datasetId) or the first
        attr = next(
            (a for a in attr if isinstance(a, dict) and "datasetId" not in a), attr[0] if attr else {}
        )
    values = attr.get("values") if isinstance(attr, dict) else None
    out = []
    for pair in values or ():
        if not (isinstance(pair, list) and len(pair) >= 2 and isinstance(pair[1], str)):
            continue
        if isinstance(pair[0], int | float) and not isinstance(pair[0], bool):
            out.append((pair[1], float(pair[0])))
    return out


def _aggregates(body: dict[str, Any], attribute: str, method: str) -> dict[tuple[str, str], float]:
    attr = body.get(attribute)
    if isinstance(attr, list):
        attr = attr[0] if attr else {}
    rows = attr.get(method) if isinstance(attr, dict) else None
    out = {}
    for row in rows or ():
        if isinstance(row, list) and len(row) >= 3 and isinstance(row[0], int | float):
            out[(str(row[1]), str(row[2]))] = float(row[0])
    return out


async def raw_values(
    client: BrokerClient, tenant: str, entity_id: str, attribute: str, start: datetime, end: datetime
) -> list[tuple[str, float]]:
    """Every instance in [start, end), following the broker's pages (206) up to MAX_PAGES."""
    found: list[tuple[str, float]] = []
    since = iso(start)
    for _ in range(MAX_PAGES):
        params = {
            "attrs": attribute,
            "timerel": "between",
            "timeAt": since,
            "endTimeAt": iso(end),
            "options": "temporalValues",
        }
        answer = await client.temporal(tenant, entity_id, params)
        page = _instances(answer.body, attribute)
        last = found[-1][0] if found else ""
        found.extend(p for p in page if p[0] > last)
        if answer.status != 206 or not page or page[-1][0] == since:
            break
        since = page[-1][0]
    found.sort(key=lambda p: p[0])
    return found


async def gauge_series(
    client: BrokerClient, tenant: str, entity_id: str, attribute: str, range_key: str, now: datetime
) -> Series:
    span, period = RANGES[range_key]
    start, end = now - span, now + timedelta(seconds=1)
    series = Series(attribute, range_key, iso(start), iso(now), period)
    if period is None:
        series.points = [
            [t, v] for t, v in await raw_values(client, tenant, entity_id, attribute, start, end)
        ]
        return series
    params = {
        "attrs": attribute,
        "timerel": "between",
        "timeAt": iso(start),
        "endTimeAt": iso(end),
        "options": "aggregatedValues",
        "aggrMethods": "avg,min,max",
        "aggrPeriodDuration": period,
    }
    body = (await client.temporal(tenant, entity_id, params)).body
    avg, low, high = (_aggregates(body, attribute, m) for m in ("avg", "min", "max"))
    series.points = [[s, e, v, low.get((s, e), v), high.get((s, e), v)] for (s, e), v in sorted(avg.items())]
    return series


def trend(values: list[tuple[str, float]], now: datetime) -> dict[str, Any]:
    """Rising, falling or steady over the last hour, with the rate per hour."""
    recent = [(parse_time(t), v) for t, v in values]
    recent = [(t, v) for t, v in recent if t is not None and now - t <= TREND_WINDOW]
    if len(recent) < 2:
        return {"direction": "unknown", "perHour": None}
    (t0, v0), (t1, v1) = recent[0], recent[-1]
    hours = (t1 - t0).total_seconds() / 3600
    if hours < 5 / 60:
        return {"direction": "unknown", "perHour": None}
    rate = (v1 - v0) / hours
    steady = max(0.01, 0.005 * abs(v1))
    direction = "steady" if abs(rate) < steady else ("rising" if rate > 0 else "falling")
    return {"direction": direction, "perHour": round(rate, 4)}


async def recent_trend(
    client: BrokerClient, tenant: str, entity_id: str, attribute: str, now: datetime
) -> dict[str, Any]:
    values = await raw_values(
        client, tenant, entity_id, attribute, now - TREND_WINDOW, now + timedelta(seconds=1)
    )
    return trend(values, now)


def hour_floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


async def traffic_series(
    client: BrokerClient, tenant: str, lanes: list[dict[str, Any]], range_key: str, now: datetime
) -> dict[str, Any]:
    """Hourly vehicle counts per lane: {"hours": [start...], "lanes": [{"id", "label", "counts": [...]}]}."""
    span = TRAFFIC_RANGES[range_key]
    first = hour_floor(now) - span + timedelta(hours=1)
    hours = [first + timedelta(hours=h) for h in range(int(span.total_seconds() // 3600))]
    keys = [iso(h) for h in hours]
    out_lanes = []
    for lane in lanes:
        params = {
            "attrs": "intensity",
            "timerel": "between",
            "timeAt": iso(first),
            "endTimeAt": iso(hour_floor(now) + timedelta(hours=1)),
            "options": "aggregatedValues",
            "aggrMethods": "sum",
            "aggrPeriodDuration": "PT1H",
        }
        body = (await client.temporal(tenant, lane["id"], params)).body
        sums = {_canonical(s): _count(v) for (s, _), v in _aggregates(body, "intensity", "sum").items()}
        out_lanes.append({**lane, "counts": [sums.get(k) for k in keys]})
    return {"range": range_key, "hours": keys, "lanes": out_lanes}


def _count(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def _canonical(raw: str) -> str:
    parsed = parse_time(raw)
    return iso(parsed) if parsed else raw


# CSV -------------------------------------------------------------------------------------------------------
def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def gauge_csv(series: Series, unit: str) -> str:
    if series.period is None:
        rows: list[list[Any]] = [["observedAt", f"{series.attribute} ({unit})"]]
        rows += series.points
    else:
        rows = [["periodStart", "periodEnd", f"avg ({unit})", f"min ({unit})", f"max ({unit})"]]
        rows += series.points
    return _csv(rows)


def traffic_csv(series: dict[str, Any]) -> str:
    rows: list[list[Any]] = [["hourStart", "lane", "entity", "intensity (vehicles per hour)"]]
    for lane in series["lanes"]:
        for hour, count in zip(series["hours"], lane["counts"], strict=True):
            rows.append([hour, lane.get("label", ""), lane["id"], "" if count is None else count])
    return _csv(rows)
