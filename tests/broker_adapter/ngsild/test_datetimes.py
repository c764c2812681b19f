import re
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker_adapter.ngsild.datetimes import (
    format_datetime,
    normalize_datetime,
    now_iso,
    parse_date,
    parse_datetime,
    parse_time,
)
from broker_adapter.ngsild.errors import BadRequestData

PATH = "temperature.observedAt"
CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z", re.ASCII)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-25T19:00:00Z", "2026-11-25T19:00:00.000Z"),
        ("2026-11-25T19:00:00.000Z", "2026-11-25T19:00:00.000Z"),
        ("2026-11-25T19:00:00.5Z", "2026-11-25T19:00:00.500Z"),
        ("2026-11-25T19:00:00.123456789Z", "2026-11-25T19:00:00.123Z"),
        ("2026-11-25T19:00:00.9999Z", "2026-11-25T19:00:00.999Z"),  # truncated, never rounded up
        ("2026-11-25t19:00:00z", "2026-11-25T19:00:00.000Z"),  # RFC 3339 allows lower case
        ("2026-11-25T20:00:00+01:00", "2026-11-25T19:00:00.000Z"),
        ("2026-11-25T14:30:00-04:30", "2026-11-25T19:00:00.000Z"),
        ("2026-11-25T19:00:00-00:00", "2026-11-25T19:00:00.000Z"),
        ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000Z"),  # crosses the year
        ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_normalize_datetime_accepts(text, canonical):
    assert normalize_datetime(text, PATH) == canonical
    parsed = parse_datetime(text, PATH)
    assert parsed.tzinfo is UTC


def test_parse_datetime_keeps_microseconds():
    assert parse_datetime("2026-11-25T19:00:00.1234567Z", PATH).microsecond == 123456


INVALID = [
    ("2026-11-25T19:00:00", "no time zone"),
    ("2026-11-25", "not a DateTime"),
    ("2026-11-25 19:00:00Z", "not a DateTime"),
    ("2026-11-25T19:00Z", "not a DateTime"),
    ("2026-11-25T19:00:00.Z", "not a DateTime"),
    ("2026-11-25T19:00:00.1234567890Z", "not a DateTime"),
    ("2026-11-25T19:00:00+0100", "not a DateTime"),
    ("2026-11-25T19:00:00+01", "not a DateTime"),
    ("2026-11-25T19:00:00ZZ", "not a DateTime"),
    (" 2026-11-25T19:00:00Z", "not a DateTime"),
    ("2026-11-25T19:00:00Z\n", "not a DateTime"),
    ("26-11-25T19:00:00Z", "not a DateTime"),
    ("+2026-11-25T19:00:00Z", "not a DateTime"),
    ("2026-W48-3T19:00:00Z", "not a DateTime"),
    ("٢٠٢٦-11-25T19:00:00Z", "not a DateTime"),  # Arabic-Indic digits are not ASCII digits
    ("2026-13-25T19:00:00Z", "month must be in 1..12"),
    ("2026-02-30T19:00:00Z", "day is out of range"),
    ("2025-02-29T19:00:00Z", "day is out of range"),
    ("2026-11-25T25:00:00Z", "hour must be in 0..23"),
    ("2026-11-25T24:00:00Z", "hour 24"),
    ("2026-11-25T19:60:00Z", "minute must be in 0..59"),
    ("2016-12-31T23:59:60Z", "leap second"),
    ("2026-11-25T19:00:00+24:00", "offset"),
    ("2026-11-25T19:00:00+01:60", "offset"),
    ("0000-01-01T00:00:00Z", "year 0 is out of range"),
    ("0001-01-01T00:00:00+01:00", "outside years 0001-9999"),
    ("9999-12-31T23:00:00-01:00", "outside years 0001-9999"),
    ("", "not a DateTime"),
    ("x" * 100_000, "not a DateTime"),
]


@pytest.mark.parametrize(("text", "words"), INVALID)
def test_parse_datetime_rejects_with_path(text, words):
    with pytest.raises(BadRequestData) as info:
        parse_datetime(text, PATH)
    assert info.value.detail.startswith(PATH + ":"), info.value.detail
    assert words in info.value.detail
    assert len(info.value.detail) < 300


@pytest.mark.parametrize("value", [None, 1732561200, 1.5, ["2026-11-25T19:00:00Z"], {"@value": "x"}, True])
def test_parse_datetime_rejects_non_strings(value):
    with pytest.raises(BadRequestData, match=r"^temperature\.observedAt: a DateTime must be a string"):
        parse_datetime(value, PATH)


def test_format_datetime_converts_offsets_and_pads_years():
    dt = datetime(999, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(dt) == "0999-01-02T01:04:05.678Z"


def test_format_datetime_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        format_datetime(datetime(2026, 11, 25, 19))


def test_now_iso_is_canonical_and_current():
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    stamp = now_iso()
    assert CANONICAL.fullmatch(stamp)
    assert before <= parse_datetime(stamp, "now") <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-11-25", date(2026, 11, 25)), ("2024-02-29", date(2024, 2, 29)), ("0001-01-01", date(1, 1, 1))],
)
def test_parse_date_accepts(text, expected):
    assert parse_date(text, "birthdate.value") == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-11-25T00:00:00Z", "not a Date"),
        ("20261125", "not a Date"),
        ("2026-11-5", "not a Date"),
        ("2026-02-30", "day is out of range"),
        (20261125, "must be a string"),
    ],
)
def test_parse_date_rejects_with_path(text, words):
    with pytest.raises(BadRequestData) as info:
        parse_date(text, "birthdate.value")
    assert info.value.detail.startswith("birthdate.value:")
    assert words in info.value.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07:00:00", time(7, 0, 0)),
        ("07:00:00Z", time(7, 0, 0, tzinfo=UTC)),
        ("23:59:59.123456789", time(23, 59, 59, 123456)),
        ("12:30:00+02:00", time(12, 30, tzinfo=timezone(timedelta(hours=2)))),
        ("12:30:00-05:30", time(12, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    ],
)
def test_parse_time_accepts(text, expected):
    parsed = parse_time(text, "opens.value")
    assert parsed == expected
    assert parsed.tzinfo == expected.tzinfo


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("7:00:00", "not a Time"),
        ("07:00", "not a Time"),
        ("07:00:00.Z", "not a Time"),
        ("25:00:00", "hour must be in 0..23"),
        ("24:00:00", "hour 24"),
        ("23:59:60Z", "leap second"),
        ("07:00:00+25:00", "offset"),
        (None, "must be a string"),
    ],
)
def test_parse_time_rejects_with_path(text, words):
    with pytest.raises(BadRequestData) as info:
        parse_time(text, "opens.value")
    assert info.value.detail.startswith("opens.value:")
    assert words in info.value.detail


_aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
).filter(lambda d: d.utcoffset() is not None)
_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)
# A day away from the ends of the range so that any offset stays representable.
_utc_ms = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
)


@given(_utc_ms)
def test_parse_inverts_format_at_millisecond_precision(dt):
    assert parse_datetime(format_datetime(dt), "p") == dt


@given(_aware)
def test_format_output_is_canonical_and_a_fixed_point(dt):
    text = format_datetime(dt)
    assert CANONICAL.fullmatch(text)
    assert normalize_datetime(text, "p") == text


@given(_utc_ms, _offsets)
def test_offsets_denote_the_same_instant(dt, tz):
    local = dt.astimezone(tz)
    minutes = int(local.utcoffset().total_seconds()) // 60
    sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:"
        f"{local.second:02d}.{local.microsecond // 1000:03d}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    )
    assert normalize_datetime(text, "p") == format_datetime(dt)


@given(_aware, _aware)
def test_canonical_strings_sort_chronologically(a, b):
    fa, fb = format_datetime(a), format_datetime(b)
    ta, tb = parse_datetime(fa, "a"), parse_datetime(fb, "b")
    assert (fa < fb) == (ta < tb)
    assert (fa == fb) == (ta == tb)
    if a < b:  # truncation to milliseconds never reverses the order
        assert fa <= fb
