"""A LoRaWAN uplink → the device it comes from and its measures, decoded as the device's data model says."""

from __future__ import annotations

from typing import Any

from agents.decoders import APPLICATION_SERVER, DecodeError, decoder_for
from agents.errors import BadPayload, DeviceNotFound
from agents.lorawan.uplinks import Uplink
from agents.provisioning.model import Device
from agents.provisioning.store import ProvisioningStore
from agents.translate.config import DeviceConfig


def find_device(store: ProvisioningStore, uplink: Uplink) -> list[Device]:
    """By ``internal_attributes.lorawan.dev_eui``, else a device whose id is the DevEUI or NS device name."""
    found = store.devices_with_dev_eui(uplink.dev_eui) if uplink.dev_eui else []
    for name in (uplink.dev_eui, uplink.dev_eui.upper(), uplink.device_name):
        if not found and name:
            found = store.devices_with_id(name)
    if not found:
        raise DeviceNotFound(uplink.dev_eui or uplink.device_name)
    return found


def measures(config: DeviceConfig, uplink: Uplink) -> list[dict[str, Any]]:
    data_model = str(
        config.lorawan.get("data_model") or (APPLICATION_SERVER if uplink.decoded else "cayennelpp")
    )
    try:
        decoder = decoder_for(data_model)
    except KeyError as exc:
        raise BadPayload(data_model, f"no decoder named {data_model!r}") from exc
    if decoder is None:
        if uplink.decoded is None:
            raise BadPayload(uplink.payload.hex(), "the network server sent no decoded payload")
        decoded = dict(uplink.decoded)
    else:
        try:
            decoded = decoder(uplink.payload, uplink.f_port)
        except DecodeError as exc:
            raise BadPayload(uplink.payload.hex(), f"{data_model}: {exc}") from exc
    history = decoded.pop("history", None)
    groups: list[dict[str, Any]] = []
    if isinstance(history, list):  # stored readings the device sends later, each with its own time
        for item in history:
            groups.append({"distance": item["distance"], "TimeInstant": item["timestamp"]})
    if decoded:
        if uplink.received_at:
            decoded["TimeInstant"] = uplink.received_at
        groups.append(decoded)
    return groups
