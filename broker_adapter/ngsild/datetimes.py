"""NGSI-LD DateTime, Date and Time values (ETSI GS CIM 009 clauses 4.6.3 and 4.8, annex C.6).

Accepted DateTime input is the RFC 3339 profile of ISO 8601, which is what the NGSI-LD OpenAPI
(`format: date-time`) requires: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`.

- A time zone is required. The spec gives every date and time in UTC (annex F) and RFC 3339 has no
  zone-less date-time, so "2026-11-25T19:00:00" is rejected rather than guessed at.
- Offsets other than Z are accepted and converted to UTC (lenient: devices often send local time with
  an offset).
- Fractions of 1 to 9 digits are accepted (some sensors send nanoseconds); parsing keeps microseconds.
- Leap seconds (":60") and hour 24 are rejected: Python's datetime cannot hold them.

The canonical output is `YYYY-MM-DDTHH:MM:SS.mmmZ`: always UTC, always exactly milliseconds (truncated,
never rounded, so a value never moves into the next second or day), always 24 characters for years
0001-9999. That is the form Orion-LD returns, the form `types.DateTimeStr` documents, and because it has
a fixed width, comparing two canonical strings orders them chronologically, so stored observedAt,
createdAt and modifiedAt strings can be indexed and sorted as text.

Parsing is one anchored regular expression over ASCII digits with only bounded quantifiers (no nested
repetition, so no backtracking blow-up) followed by datetime's own range checks.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

from broker_adapter.ngsild.errors import BadRequestData

_MAX_INPUT = 64  # longest valid form is 35 characters; anything far longer is not worth matching

_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?",
    re.ASCII,
)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_TIME = re.compile(
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?",
    re.ASCII,
)

_DATETIME_FORM = "YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or an offset such as +01:00"


def _show(s: str) -> str:
    """The offending input, quoted and cut short so a huge value cannot bloat the error."""
    return repr(s) if len(s) <= 40 else repr(s[:40]) + "..."


def _micro(fraction: str | None) -> int:
    return int((fraction or "")[:6].ljust(6, "0"))


def _offset(sign: str, hh: str, mm: str, s: str, path: str) -> timedelta:
    hours, minutes = int(hh), int(mm)
    if hours > 23 or minutes > 59:
        raise BadRequestData(f"{path}: time zone offset in {_show(s)} is out of range (at most ±23:59)")
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if sign == "-" else delta


def _check_clock(hh: str, ss: str, s: str, path: str) -> None:
    if ss == "60":
        raise BadRequestData(f"{path}: leap second in {_show(s)} is not supported; use :59.999")
    if hh == "24":
        raise BadRequestData(f"{path}: hour 24 in {_show(s)} is not supported; use 00 of the next day")


def parse_datetime(s: object, path: str) -> datetime:
    """Parse an NGSI-LD DateTime into an aware UTC datetime (microsecond precision)."""
    if not isinstance(s, str):
        raise BadRequestData(
            f"{path}: a DateTime must be a string ({_DATETIME_FORM}), got {type(s).__name__}"
        )
    m = _DATETIME.fullmatch(s) if len(s) <= _MAX_INPUT else None
    if m is None:
        raise BadRequestData(f"{path}: {_show(s)} is not a DateTime; expected {_DATETIME_FORM}")
    year, month, day, hh, mi, ss, fraction, zulu, sign, oh, om = m.groups()
    if zulu is None and sign is None:
        raise BadRequestData(
            f"{path}: {_show(s)} has no time zone; NGSI-LD DateTimes are UTC, append Z (or an offset)"
        )
    _check_clock(hh, ss, s, path)
    try:
        value = datetime(
            int(year), int(month), int(day), int(hh), int(mi), int(ss), _micro(fraction), tzinfo=UTC
        )
        if sign is not None:
            value -= _offset(sign, oh, om, s, path)
    except ValueError as exc:
        raise BadRequestData(f"{path}: {_show(s)} is not a valid DateTime: {exc}") from exc
    except OverflowError as exc:
        raise BadRequestData(f"{path}: {_show(s)} falls outside years 0001-9999 in UTC") from exc
    return value


def format_datetime(dt: datetime) -> str:
    """Render an aware datetime in the canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds).

    A naive datetime is a programming error inside the broker, not bad user input, hence ValueError.
    """
    offset = dt.utcoffset()
    if offset is None:
        raise ValueError("format_datetime needs an aware datetime; got a naive one")
    if offset:
        dt = dt.astimezone(UTC)
    # isoformat pads the year to 4 digits (strftime("%Y") does not on glibc) and truncates to milliseconds.
    return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_NORMALIZED: dict[str, str] = {}  # input → canonical; sensors repeat timestamps across a batch
_NORMALIZED_LIMIT = 4096


def normalize_datetime(s: object, path: str) -> str:
    """Validate a DateTime string and return its canonical form, so stored strings sort chronologically."""
    if isinstance(s, str):
        known = _NORMALIZED.get(s)
        if known is not None:
            return known
    canonical = _normalize(s, path)
    if len(_NORMALIZED) >= _NORMALIZED_LIMIT:
        _NORMALIZED.clear()
    _NORMALIZED[s] = canonical  # type: ignore[index]  # s is a str once _normalize accepted it
    return canonical


def _normalize(s: object, path: str) -> str:
    dt = parse_datetime(s, path)
    # A valid input of exactly 24 characters with "T" and "Z" can only be the canonical form itself.
    if isinstance(s, str) and len(s) == 24 and s[10] == "T" and s[23] == "Z":
        return s
    return format_datetime(dt)


def public_datetime(canonical: str) -> str:
    """How answers show a canonical DateTime: without a zero fraction ("…T12:03:00Z"), the form clients and
    the ETSI test-suite write. Stored strings keep the fixed width, so that they sort chronologically."""
    return canonical[:-5] + "Z" if canonical.endswith(".000Z") else canonical


def now_iso() -> str:
    """The current instant in canonical form, for createdAt / modifiedAt / notifiedAt."""
    return format_datetime(datetime.now(UTC))


def parse_date(s: object, path: str) -> date:
    """Parse an NGSI-LD Date value ("YYYY-MM-DD", ISO 8601 calendar date, no time zone)."""
    if not isinstance(s, str):
        raise BadRequestData(f"{path}: a Date must be a string (YYYY-MM-DD), got {type(s).__name__}")
    m = _DATE.fullmatch(s) if len(s) <= _MAX_INPUT else None
    if m is None:
        raise BadRequestData(f"{path}: {_show(s)} is not a Date; expected YYYY-MM-DD")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise BadRequestData(f"{path}: {_show(s)} is not a valid Date: {exc}") from exc


def parse_time(s: object, path: str) -> time:
    """Parse an NGSI-LD Time value ("HH:MM:SS[.fraction][Z|±HH:MM]").

    The zone is optional here because a Time is often a local time of day (opening hours); with Z or an
    offset the result carries that tzinfo, without one it is naive. It is not shifted to UTC: without a
    date, doing so could change the day the time belongs to.
    """
    if not isinstance(s, str):
        raise BadRequestData(f"{path}: a Time must be a string (HH:MM:SS), got {type(s).__name__}")
    m = _TIME.fullmatch(s) if len(s) <= _MAX_INPUT else None
    if m is None:
        raise BadRequestData(f"{path}: {_show(s)} is not a Time; expected HH:MM:SS[.fraction][Z]")
    hh, mi, ss, fraction, zulu, sign, oh, om = m.groups()
    _check_clock(hh, ss, s, path)
    tz: timezone | None = None
    if zulu is not None:
        tz = UTC
    elif sign is not None:
        tz = timezone(_offset(sign, oh, om, s, path))
    try:
        return time(int(hh), int(mi), int(ss), _micro(fraction), tzinfo=tz)
    except ValueError as exc:
        raise BadRequestData(f"{path}: {_show(s)} is not a valid Time: {exc}") from exc
