"""Uplink messages of The Things Stack v3 and ChirpStack v4 (webhook / HTTP integration bodies and MQTT
payloads are the same JSON), reduced to what the agent needs.

TTS v3: ``end_device_ids.{device_id, dev_eui, application_ids.application_id}`` and ``uplink_message.{f_port,
frm_payload (base64), decoded_payload, received_at}``. ChirpStack v4 ``event=up``: ``deviceInfo.{devEui,
deviceName, applicationId}``, ``fPort``, ``data`` (base64), ``object`` (decoded), ``time``. Other messages
(joins, acks, status) are not uplinks: ``None``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from agents.errors import BadPayload


@dataclass(frozen=True, slots=True)
class Uplink:
    dev_eui: str
    device_name: str
    application_id: str
    f_port: int | None
    payload: bytes
    decoded: dict[str, Any] | None
    received_at: str | None


def _b64(value: Any, body: Any) -> bytes:
    if value in (None, ""):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise BadPayload(body, "the frame payload is not base64") from exc


def from_tts(body: Any) -> Uplink | None:
    if not isinstance(body, dict) or not isinstance(body.get("end_device_ids"), dict):
        raise BadPayload(body, "not a The Things Stack v3 message (end_device_ids missing)")
    message = body.get("uplink_message")
    if not isinstance(message, dict):
        return None
    ids = body["end_device_ids"]
    decoded = message.get("decoded_payload")
    return Uplink(
        dev_eui=str(ids.get("dev_eui") or "").lower(),
        device_name=str(ids.get("device_id") or ""),
        application_id=str((ids.get("application_ids") or {}).get("application_id") or ""),
        f_port=message.get("f_port"),
        payload=_b64(message.get("frm_payload"), body),
        decoded=decoded if isinstance(decoded, dict) else None,
        received_at=message.get("received_at") or body.get("received_at"),
    )


def from_chirpstack(body: Any) -> Uplink | None:
    if not isinstance(body, dict) or not isinstance(body.get("deviceInfo"), dict):
        raise BadPayload(body, "not a ChirpStack v4 event (deviceInfo missing)")
    if "fCnt" not in body and "data" not in body and "object" not in body:
        return None  # join, status, ack, ... events
    info = body["deviceInfo"]
    decoded = body.get("object")
    return Uplink(
        dev_eui=str(info.get("devEui") or "").lower(),
        device_name=str(info.get("deviceName") or ""),
        application_id=str(info.get("applicationId") or ""),
        f_port=body.get("fPort"),
        payload=_b64(body.get("data"), body),
        decoded=decoded if isinstance(decoded, dict) else None,
        received_at=body.get("time"),
    )
