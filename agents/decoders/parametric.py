"""Parametric PCR2 radar people / traffic counter (vendor decoder in TheThingsNetwork/lorawan-devices).

Application payloads come on FPort 14: the ELSYS format (``0A`` LTR, ``16`` RTL, ``01`` CPU temperature,
big-endian, records in any order) or the extended format ``BE 01 03`` (v3) / ``BE 01 04`` (v4):
LTR, RTL, LTR_SUM, RTL_SUM, then the SBX solar charger's battery and PV power, then the CPU temperature
(0.1 °C, reported in whole degrees). ``DIFF`` = |LTR_SUM − RTL_SUM| as the vendor decoder computes it.
FPort 190 carries configuration, which is not a measure: it decodes to nothing.
"""

from __future__ import annotations

import math
from typing import Any

from agents.decoders.frames import DecodeError, Reader

APPLICATION_PORT, CONFIGURATION_PORT = 14, 190


def _elsys(reader: Reader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    while reader.left():
        kind = reader.u8()
        if kind == 0x01:
            out["TEMP"] = math.floor(reader.s16be() / 10)
        elif kind == 0x0A:
            out["LTR"] = reader.u16be()
        elif kind == 0x16:
            out["RTL"] = reader.u16be()
        else:
            raise DecodeError(f"unknown PCR2 record {kind:02x}")
    return out


def _extended(reader: Reader, version: int) -> dict[str, Any]:
    out = {"LTR": reader.u16be(), "RTL": reader.u16be(), "LTR_SUM": reader.u16be(), "RTL_SUM": reader.u16be()}
    out["SBX_BATT"] = reader.u8() if version == 3 else reader.u16be()
    out["SBX_PV"] = reader.u16be()
    out["DIFF"] = abs(out["LTR_SUM"] - out["RTL_SUM"])
    out["TEMP"] = math.floor(reader.s16be() / 10)
    return out


def decode_pcr2(payload: bytes, f_port: int | None = None) -> dict[str, Any]:
    if f_port == CONFIGURATION_PORT:
        return {}
    if f_port not in (None, APPLICATION_PORT):
        raise DecodeError(f"PCR2 application payloads use FPort 14, not {f_port}")
    reader = Reader(payload)
    if payload[:2] == b"\xbe\x01" and len(payload) > 2 and payload[2] in (3, 4):
        reader.take(3)
        out = _extended(reader, payload[2])
    elif payload[:1] == b"\x0a":
        out = _elsys(reader)
    else:
        raise DecodeError("a PCR2 application payload starts with 0a or be0103 / be0104")
    return out
