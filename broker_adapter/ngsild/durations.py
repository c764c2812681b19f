"""ISO 8601 durations (aggrPeriodDuration, retention periods) and instants as milliseconds since the epoch.

Accepted forms are the ones clause 4.5.19 names: `P[n]Y[n]M[n]DT[n]H[n]M[n]S` (any subset, at least one
element, a fraction only on the seconds) and `P[n]W`. Alternative forms (`P0003-06-04T12:30:05`) are
rejected as the spec says.

Days, weeks, hours, minutes and seconds are exact (NGSI-LD times are UTC, so a day is always 86,400 s);
years and months are calendar steps, added with the day clamped to the month's end (31 Jan + P1M =
28/29 Feb). Adapters bucket exact durations arithmetically and calendar ones by generated boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from broker_adapter.ngsild.datetimes import format_datetime, parse_datetime
from broker_adapter.ngsild.errors import BadRequestData

_DURATION = re.compile(
    r"P(?:([0-9]{1,4})Y)?(?:([0-9]{1,6})M)?(?:([0-9]{1,7})D)?"
    r"(?:T(?:([0-9]{1,9})H)?(?:([0-9]{1,9})M)?(?:([0-9]{1,9})(?:\.([0-9]{1,3}))?S)?)?",
    re.ASCII,
)
_WEEKS = re.compile(r"P([0-9]{1,6})W", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class Duration:
    months: int = 0  # calendar part (years × 12 + months)
    ms: int = 0  # exact part

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.ms == 0

    @property
    def is_exact(self) -> bool:
        return self.months == 0


def parse_duration(s: object, path: str) -> Duration:
    if not isinstance(s, str) or len(s) > 64:
        raise BadRequestData(f"{path}: expected an ISO 8601 duration such as PT1H, P1D or P1M")
    weeks = _WEEKS.fullmatch(s)
    if weeks:
        return Duration(ms=int(weeks[1]) * 7 * MS_PER_DAY)
    m = _DURATION.fullmatch(s)
    if m is None or s in ("P", "PT") or s.endswith("T"):
        raise BadRequestData(
            f"{path}: {s[:40]!r} is not an ISO 8601 duration; use P[n]Y[n]M[n]DT[n]H[n]M[n]S or P[n]W"
        )
    y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups()[:6])
    fraction = int(m[7].ljust(3, "0")) if m[7] else 0
    ms = (((d * 24 + h) * 60 + mi) * 60 + sec) * 1000 + fraction
    return Duration(months=y * 12 + mo, ms=ms)


# instants ------------------------------------------------------------------------------------------
def to_ms(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def parse_ms(s: object, path: str) -> int:
    """An NGSI-LD DateTime parameter as milliseconds since the epoch (BadRequestData if malformed)."""
    return to_ms(parse_datetime(s, path))


_MS_CACHE: dict[str, int] = {}


def canonical_to_ms(s: str) -> int:
    """A stored canonical DateTime ("YYYY-MM-DDTHH:MM:SS.mmmZ") in ms; cached, since a batch repeats a few."""
    ms = _MS_CACHE.get(s)
    if ms is None:
        ms = to_ms(parse_datetime(s, "DateTime"))
        if len(_MS_CACHE) >= 4096:
            _MS_CACHE.clear()
        _MS_CACHE[s] = ms
    return ms


def ms_to_canonical(ms: int) -> str:
    return format_datetime(from_ms(ms))


def add(ms: int, duration: Duration, times: int = 1) -> int:
    """`ms` plus `times` × `duration`: calendar months first (day clamped), then the exact part."""
    if duration.months:
        dt = from_ms(ms)
        total = dt.year * 12 + dt.month - 1 + duration.months * times
        year, month = divmod(total, 12)
        if not 1 <= year <= 9999:
            raise BadRequestData("the aggregation periods run outside years 0001-9999")
        day = min(dt.day, _days_in_month(year, month + 1))
        ms = to_ms(dt.replace(year=year, month=month + 1, day=day))
    return ms + duration.ms * times


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days
