"""Cayenne LPP v1 (myDevices): ``channel, type, data`` repeated; measures are named ``<kind>_<channel>``
as IoTAgent-LoRaWAN (and the cayennelpp libraries it builds on) name them, e.g. ``temperature_1``."""

from __future__ import annotations

from typing import Any

from agents.decoders.frames import DecodeError, Reader

# type → (name, bytes, signed, divisor)
_SCALARS: dict[int, tuple[str, int, bool, float]] = {
    0: ("digital_in", 1, False, 1),
    1: ("digital_out", 1, False, 1),
    2: ("analog_in", 2, True, 100),
    3: ("analog_out", 2, True, 100),
    101: ("luminosity", 2, False, 1),
    102: ("presence", 1, False, 1),
    103: ("temperature", 2, True, 10),
    104: ("relative_humidity", 1, False, 2),
    115: ("barometric_pressure", 2, False, 10),
}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)


def decode(payload: bytes, f_port: int | None = None) -> dict[str, Any]:
    if not payload:
        raise DecodeError("empty Cayenne LPP frame")
    reader = Reader(payload)
    out: dict[str, Any] = {}
    while reader.left():
        channel, kind = reader.u8(), reader.u8()
        if kind in _SCALARS:
            name, size, signed, divisor = _SCALARS[kind]
            raw = reader.signed(size) if signed else reader.unsigned(size)
            out[f"{name}_{channel}"] = _number(raw / divisor)
        elif kind in (113, 134):  # accelerometer (0.001 G), gyrometer (0.01 °/s)
            divisor = 1000 if kind == 113 else 100
            axes = [reader.s16be() / divisor for _ in range(3)]
            name = "accelerometer" if kind == 113 else "gyrometer"
            out[f"{name}_{channel}"] = {"x": axes[0], "y": axes[1], "z": axes[2]}
        elif kind == 136:  # GPS: latitude, longitude 0.0001 °, altitude 0.01 m, 3 bytes each, signed
            lat, lon, alt = (reader.signed(3) for _ in range(3))
            out[f"gps_{channel}"] = {
                "latitude": lat / 10_000,
                "longitude": lon / 10_000,
                "altitude": alt / 100,
            }
        else:
            raise DecodeError(f"unknown Cayenne LPP type {kind} on channel {channel}")
    return out
