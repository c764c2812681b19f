"""The temporal query (clauses 5.7 and 4.11; HTTP binding 6.18-6.22) parsed once per request.

timerel intervals are half-open and never overlap: before = t < timeAt, after = t > timeAt,
between = timeAt <= t < endTimeAt (so a day's bucket holds the reading taken at its midnight).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from broker_adapter.ngsild.durations import Duration, parse_duration, parse_ms
from broker_adapter.ngsild.errors import BadRequestData

NORMALIZED = "normalized"
TEMPORAL_VALUES = "temporalValues"
AGGREGATED_VALUES = "aggregatedValues"
OPTIONS = (TEMPORAL_VALUES, AGGREGATED_VALUES, "sysAttrs", "count", "normalized")
TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
AGGREGATION_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """Times in ms since the Unix epoch (UTC)."""

    timerel: str | None = None  # None, "before", "after" or "between"
    time_at: int | None = None
    end_time_at: int | None = None
    timeproperty: str = "observedAt"


@dataclass(frozen=True, slots=True)
class TemporalRequest:
    time: TimeFilter = TimeFilter()
    last_n: int | None = None
    format: str = NORMALIZED
    sys_attrs: bool = False
    count: bool = False
    methods: tuple[str, ...] = ()
    period: Duration = field(default_factory=Duration)


def parse_temporal_request(params: Mapping[str, Any]) -> TemporalRequest:
    """The temporal parts of a request (query string, or a Query's temporalQ flattened into it)."""
    options = _list(params.get("options"), "options")
    unknown = set(options) - set(OPTIONS)
    if unknown & {"keyValues", "simplified", "concise"}:
        raise BadRequestData("options: temporal queries offer temporalValues (the simplified temporal form)")
    if unknown:
        raise BadRequestData(f"options: unknown option(s) {', '.join(sorted(unknown))}")
    fmt = params.get("format")
    formats = {o for o in options if o in (TEMPORAL_VALUES, AGGREGATED_VALUES, NORMALIZED)}
    if fmt is not None:
        if fmt not in (TEMPORAL_VALUES, AGGREGATED_VALUES, NORMALIZED):
            raise BadRequestData(
                f"format: {str(fmt)[:40]!r} is not normalized, temporalValues or aggregatedValues"
            )
        formats.add(fmt)
    if len(formats) > 1:
        raise BadRequestData("choose one representation: normalized, temporalValues or aggregatedValues")
    chosen = formats.pop() if formats else NORMALIZED
    methods: tuple[str, ...] = ()
    period = Duration()
    if chosen == AGGREGATED_VALUES:
        methods = tuple(dict.fromkeys(_list(params.get("aggrMethods"), "aggrMethods")))
        if not methods:
            raise BadRequestData("aggregatedValues needs aggrMethods (e.g. aggrMethods=max,avg)")
        bad = [m for m in methods if m not in AGGREGATION_METHODS]
        if bad:
            raise BadRequestData(
                f"aggrMethods: unknown method(s) {', '.join(bad)}; use {', '.join(AGGREGATION_METHODS)}"
            )
        raw_period = params.get("aggrPeriodDuration")
        if raw_period is not None:
            period = parse_duration(raw_period, "aggrPeriodDuration")
    return TemporalRequest(
        time=parse_time_filter(params),
        last_n=_last_n(params.get("lastN")),
        format=chosen,
        sys_attrs="sysAttrs" in options,
        count="count" in options or params.get("count") in ("true", True),
        methods=methods,
        period=period,
    )


def parse_time_filter(params: Mapping[str, Any]) -> TimeFilter:
    timerel = params.get("timerel")
    raw_at, raw_end = params.get("timeAt"), params.get("endTimeAt")
    timeproperty = params.get("timeproperty") or "observedAt"
    if timeproperty not in TIME_PROPERTIES:
        raise BadRequestData(
            f"timeproperty: {str(timeproperty)[:40]!r} is not one of {', '.join(TIME_PROPERTIES)}"
        )
    if timerel is None:
        if raw_at is not None or raw_end is not None:
            raise BadRequestData("timeAt and endTimeAt need timerel (before, after or between)")
        return TimeFilter(timeproperty=timeproperty)
    if timerel not in ("before", "after", "between"):
        raise BadRequestData(f"timerel: {str(timerel)[:40]!r} is not before, after or between")
    if raw_at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    time_at = parse_ms(raw_at, "timeAt")
    end = None
    if timerel == "between":
        if raw_end is None:
            raise BadRequestData("timerel=between needs endTimeAt")
        end = parse_ms(raw_end, "endTimeAt")
        if end <= time_at:
            raise BadRequestData("endTimeAt must be after timeAt")
    elif raw_end is not None:
        raise BadRequestData("endTimeAt is only allowed with timerel=between")
    return TimeFilter(timerel, time_at, end, timeproperty)


def _last_n(raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise BadRequestData(f"lastN must be a positive integer, not {str(raw)[:40]!r}") from exc
    if isinstance(raw, bool) or value < 1:
        raise BadRequestData(f"lastN must be a positive integer, not {raw!r}")
    return value


def _list(raw: Any, name: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list):
        items = raw
    elif isinstance(raw, str):
        items = [item.strip() for item in raw.split(",")]
    else:
        raise BadRequestData(f"{name} must be a comma-separated list")
    if not all(isinstance(item, str) and item for item in items):
        raise BadRequestData(f"{name}: empty or non-text item")
    return items
