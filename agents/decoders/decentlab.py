"""Decentlab DL-MBX ultrasonic distance / level sensor (decentlab-decoders DL-MBX, protocol version 2).

Frame: version (1 byte, 2), device id (2), flags (2, one bit per sensor group), then per present group its
16-bit big-endian words: group 0 ``distance`` [mm] and ``number_of_valid_samples``; group 1
``battery_voltage`` [mV / 1000 = V]. A distance of 0 with no valid samples means no echo: it is left out.
"""

from __future__ import annotations

from typing import Any

from agents.decoders.frames import DecodeError, Reader

PROTOCOL_VERSION = 2


def decode_dl_mbx(payload: bytes, f_port: int | None = None) -> dict[str, Any]:
    reader = Reader(payload)
    version = reader.u8()
    if version != PROTOCOL_VERSION:
        raise DecodeError(f"protocol version {version} doesn't match v2")
    out: dict[str, Any] = {"protocol_version": version, "device_id": reader.u16be()}
    flags = reader.u16be()
    if flags & 1:
        distance, samples = reader.u16be(), reader.u16be()
        out["number_of_valid_samples"] = samples
        if samples:
            out["distance"] = distance
    if flags & 2:
        out["battery_voltage"] = reader.u16be() / 1000
    if reader.left():
        raise DecodeError(f"{reader.left()} unexpected trailing bytes")
    return out
