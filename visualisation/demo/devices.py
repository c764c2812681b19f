"""The demo's devices as the IoT agents know them (FIWARE provisioning API) and the messages they send
(IoTA-JSON measures, The Things Stack v3 uplinks)."""

from __future__ import annotations

import base64
import zlib
from datetime import datetime
from typing import Any

from visualisation.demo.places import LANES, Counter, Gauge

JSON_KEY = "demo-pegel"  # API key of the HTTP (IoTA-JSON) gauges
LORA_KEY = "demo-lora"  # API key of the LoRaWAN devices (the TTS webhook's ?k=)
MOUNTING_MM = 4000  # ultrasonic sensor height above the river bed (DL-MBX)
REFERENCE_M = 12.0  # FloodMonitoring: river bed to sensor tip


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _static(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


def _place(name: str, where: tuple[float, float]) -> list[dict[str, Any]]:
    return [
        _static("name", "Text", name),
        _static("location", "geo:json", {"type": "Point", "coordinates": list(where)}),
    ]


def groups() -> list[dict[str, Any]]:
    return [
        {"apikey": JSON_KEY, "resource": "/iot/json", "entity_type": "WaterObserved"},
        {"apikey": LORA_KEY, "resource": "/iot/lorawan", "entity_type": "TrafficFlowObserved",
         "autoprovision": False},
    ]  # fmt: skip


def gauge_entity(gauge: Gauge) -> tuple[str, str]:
    kind = "FloodMonitoring" if gauge.transport == "flood" else "WaterObserved"
    return f"urn:ngsi-ld:{kind}:{gauge.device}", kind


def gauge_device(gauge: Gauge) -> dict[str, Any]:
    entity_id, kind = gauge_entity(gauge)
    metres = {"unitCode": {"type": "Text", "value": "MTR"}}
    static = [
        *_place(f"{gauge.name} ({gauge.river})", gauge.where),
        _static("stationID", "Text", gauge.device),
        _static("alertLevel", "Number", gauge.alert),
        _static("dangerLevel", "Number", gauge.danger),
    ]
    device: dict[str, Any] = {
        "device_id": gauge.device,
        "entity_name": entity_id,
        "entity_type": kind,
        "apikey": JSON_KEY,
        "static_attributes": static,
    }
    if gauge.transport == "json":
        device["attributes"] = [{"object_id": "h", "name": "height", "type": "Number", "metadata": metres}]
    elif gauge.transport == "flood":
        device["attributes"] = [
            {"object_id": "d", "name": "measuredDistance", "type": "Number", "metadata": metres},
            {"name": "currentLevel", "type": "Number", "expression": "referenceLevel - d",
             "metadata": metres},
        ]  # fmt: skip
        static.append(_static("referenceLevel", "Number", REFERENCE_M))
    else:  # a Decentlab DL-MBX ultrasonic sensor over LoRaWAN
        device["apikey"] = LORA_KEY
        device["protocol"] = "LORAWAN"
        device["attributes"] = [
            {"object_id": "distance", "name": "distance", "type": "Number",
             "metadata": {"unitCode": {"type": "Text", "value": "MMT"}}},
            {"name": "height", "type": "Number", "expression": "(mountingHeight - distance) / 1000",
             "metadata": metres},
        ]  # fmt: skip
        device["explicitAttrs"] = True
        static.append(_static("mountingHeight", "Number", MOUNTING_MM))
        device["internal_attributes"] = {
            "lorawan": {"dev_eui": dev_eui(gauge), "data_model": "decentlab_dl_mbx"}
        }
    return device


def dev_eui(gauge: Gauge) -> str:
    """A stable DevEUI for a LoRaWAN gauge (derived from its device id)."""
    return "70B3D57BA000" + f"{zlib.crc32(gauge.device.encode()) & 0xFFFF:04X}"


def lane_entity(counter: Counter, lane: int) -> str:
    return f"urn:ngsi-ld:TrafficFlowObserved:{counter.site}-lane{lane}"


def lane_eui(counter: Counter, lane: int) -> str:
    return counter.dev_eui[:-1] + str(lane)


def lane_devices(counter: Counter) -> list[dict[str, Any]]:
    devices = []
    for lane, direction in LANES:
        devices.append(
            {
                "device_id": f"{counter.site}-lane{lane}",
                "entity_name": lane_entity(counter, lane),
                "entity_type": "TrafficFlowObserved",
                "apikey": LORA_KEY,
                "protocol": "LORAWAN",
                "explicitAttrs": True,
                "attributes": [{"object_id": "LTR", "name": "intensity", "type": "Integer"}],
                "static_attributes": [
                    *_place(counter.name, counter.where),
                    _static("laneId", "Integer", lane),
                    _static("laneDirection", "Text", direction),
                    _static("refRoadSegment", "Relationship", f"urn:ngsi-ld:RoadSegment:{counter.site}"),
                ],
                "internal_attributes": {
                    "lorawan": {"dev_eui": lane_eui(counter, lane), "data_model": "parametric_pcr2"}
                },
            }
        )
    return devices


def tts_uplink(
    eui: str, device_id: str, frame: bytes, port: int, at: datetime, counter: int
) -> dict[str, Any]:
    """A The Things Stack v3 uplink webhook body."""
    return {
        "end_device_ids": {
            "device_id": device_id,
            "dev_eui": eui,
            "application_ids": {"application_id": "verbund-demo"},
        },
        "received_at": stamp(at),
        "uplink_message": {
            "f_port": port,
            "f_cnt": counter,
            "frm_payload": base64.b64encode(frame).decode(),
            "received_at": stamp(at),
        },
    }
