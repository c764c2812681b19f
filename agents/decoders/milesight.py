"""Milesight EM500-UDL and EM310-UDL ultrasonic distance sensors (Milesight-IoT/SensorDecoders).

Both send ``channel id, channel type, data`` records: ``01 75`` battery [%] (1 byte), ``03 82`` distance
[mm] (uint16 little-endian); the EM310-UDL adds ``04 00`` position (0 normal, 1 tilt), the EM500-UDL
``20 CE`` historical data (uint32 LE unix time + uint16 LE distance) and ``83 E9`` distance alarms.
``FF xx`` records carry device information (versions, serial number, class) and are decoded too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agents.decoders.frames import DecodeError, Reader

_INFO_SIZES = {0x01: 1, 0x09: 2, 0x0A: 2, 0xFF: 2, 0x16: 8, 0x0F: 1, 0xFE: 1, 0x0B: 1}


def _info(reader: Reader, kind: int, out: dict[str, Any]) -> None:
    if kind not in _INFO_SIZES:
        raise DecodeError(f"unknown device information record ff {kind:02x}")
    data = reader.take(_INFO_SIZES[kind])
    if kind == 0x01:
        out["ipso_version"] = f"v{data[0] >> 4}.{data[0] & 0x0F}"
    elif kind == 0x09:
        out["hardware_version"] = f"v{data[0]}.{data[1] >> 4}"
    elif kind == 0x0A:
        out["firmware_version"] = f"v{data[0]}.{data[1]}"
    elif kind == 0x16:
        out["sn"] = data.hex()
    elif kind == 0x0F:
        out["lorawan_class"] = ["Class A", "Class B", "Class C", "Class CtoB"][data[0] & 3]


def _decode(payload: bytes, model: str) -> dict[str, Any]:
    if not payload:
        raise DecodeError("empty frame")
    reader = Reader(payload)
    out: dict[str, Any] = {}
    while reader.left():
        channel, kind = reader.u8(), reader.u8()
        if channel == 0xFF:
            _info(reader, kind, out)
        elif (channel, kind) == (0x01, 0x75):
            out["battery"] = reader.u8()
        elif (channel, kind) == (0x03, 0x82):
            out["distance"] = reader.u16le()
        elif model == "EM310-UDL" and (channel, kind) == (0x04, 0x00):
            out["position"] = "tilt" if reader.u8() == 1 else "normal"
        elif model == "EM500-UDL" and (channel, kind) == (0x20, 0xCE):
            stamp, distance = reader.u32le(), reader.u16le()
            out.setdefault("history", []).append(
                {
                    "timestamp": datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "distance": distance,
                }
            )
        elif model == "EM500-UDL" and (channel, kind) == (0x83, 0xE9):
            out["distance"] = reader.u16le()
            out["distance_mutation"] = reader.u16le()
            out["distance_alarm"] = reader.u8()
        else:
            raise DecodeError(f"unknown {model} record {channel:02x} {kind:02x}")
    return out


def decode_em500_udl(payload: bytes, f_port: int | None = None) -> dict[str, Any]:
    return _decode(payload, "EM500-UDL")


def decode_em310_udl(payload: bytes, f_port: int | None = None) -> dict[str, Any]:
    return _decode(payload, "EM310-UDL")
