"""What the simulated sensors measure at a (simulated) time: river levels with a flood wave, traffic with
a daily and weekly rhythm, and the device frames that carry them (Decentlab DL-MBX, Parametric PCR2)."""

from __future__ import annotations

import math
import random
import struct
import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from visualisation.demo.places import Gauge

LOCAL = ZoneInfo("Europe/Berlin")
WAVE_SHAPE = 3.0  # steeper rise than recession, as river flood waves are


def _noise(*key: object) -> float:
    """Deterministic noise in [-1, 1] for a key (the same instant measures the same)."""
    return random.Random(zlib.crc32(repr(key).encode())).uniform(-1, 1)


def wave(hours_since_rise: float, hours_to_peak: float) -> float:
    """0 before the rise, 1 at the crest, then a slow recession."""
    if hours_since_rise <= 0:
        return 0.0
    x = hours_since_rise / hours_to_peak
    return x**WAVE_SHAPE * math.exp(WAVE_SHAPE * (1 - x))


def level(gauge: Gauge, at: datetime, start: datetime) -> float:
    """The water level (m) of `gauge` at `at`; the flood wave is placed relative to the demo's `start`."""
    hours = (at - start).total_seconds() / 3600 - gauge.rise_starts
    daily = 0.015 * gauge.base * math.sin(2 * math.pi * at.timestamp() / 86400)
    jitter = 0.004 * gauge.base * _noise(gauge.device, int(at.timestamp() // 60))
    return round(
        gauge.base + (gauge.peak - gauge.base) * wave(hours, gauge.hours_to_peak) + daily + jitter, 3
    )


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def traffic_share(at: datetime, direction: str) -> float:
    """The share of the rush-hour volume passing at local time `at` (forward: into town in the morning)."""
    local = at.astimezone(LOCAL)
    hour = local.hour + local.minute / 60
    morning, evening = (1.0, 0.75) if direction == "forward" else (0.7, 1.0)
    if local.weekday() >= 5:
        share = 0.05 + 0.55 * _bump(hour, 13.5, 3.5)
    else:
        share = 0.04 + morning * _bump(hour, 7.6, 1.2) + evening * _bump(hour, 17.0, 1.6)
        share += 0.45 * _bump(hour, 12.5, 2.5)
    return max(0.0, share)


def vehicles(peak_per_hour: int, direction: str, start: datetime, period: timedelta, key: str) -> int:
    """Vehicles counted in [start, start + period) in one lane."""
    mid = start + period / 2
    expected = peak_per_hour * traffic_share(mid, direction) * period.total_seconds() / 3600
    spread = 1 + 0.12 * _noise(key, int(start.timestamp()))
    return max(0, round(expected * spread))


def dl_mbx_frame(distance_mm: int, device_id: int = 0x0214, battery_mv: int = 3050) -> bytes:
    """A Decentlab DL-MBX uplink (protocol 2) with distance and battery groups."""
    return struct.pack(">BHHHHH", 2, device_id, 0b11, distance_mm, 12, battery_mv)


def pcr2_frame(ltr: int, rtl: int, ltr_sum: int, rtl_sum: int, temp_c: float = 11.5) -> bytes:
    """A Parametric PCR2 extended v4 uplink (FPort 14): counts since the last uplink and running sums."""
    return bytes((0xBE, 0x01, 0x04)) + struct.pack(
        ">HHHHHHh",
        ltr & 0xFFFF,
        rtl & 0xFFFF,
        ltr_sum & 0xFFFF,
        rtl_sum & 0xFFFF,
        3700,  # SBX battery (mV)
        1200,  # SBX PV power
        round(temp_c * 10),
    )
