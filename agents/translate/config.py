"""One device's effective configuration: its own provisioning over its config group's (device wins).

Built once per (device, group) pair and cached while both records are unchanged (the store replaces a
record on every update, so object identity is a sound cache key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.provisioning.model import Device, Group, lorawan_settings

URN_PREFIX = "urn:ngsi-ld:"


def entity_urn(name: str, entity_type: str) -> str:
    """iotagent-node-lib's NGSI-LD ids: a URN stays, anything else becomes urn:ngsi-ld:<type>:<name>."""
    return name if name.startswith("urn:") else f"{URN_PREFIX}{entity_type}:{name}"


@dataclass(slots=True)
class DeviceConfig:
    device_id: str
    service: str
    subservice: str
    entity_type: str
    entity_id: str | None  # None: computed from entityNameExp per measure
    entity_name_exp: str | None
    attributes: list[dict[str, Any]]
    by_object_id: dict[str, dict[str, Any]]
    expressions: list[dict[str, Any]]
    static_attributes: list[dict[str, Any]]
    explicit_attrs: bool | str | list[Any]
    timestamp: bool
    protocol: str
    lorawan: dict[str, Any] = field(default_factory=dict)


def _merge_named(
    group_items: list[dict[str, Any]], device_items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for item in [*group_items, *device_items]:
        key = item.get("object_id") or item["name"]
        merged.pop(key, None)  # the later (device) definition replaces and moves to the end
        merged[key] = item
    return list(merged.values())


def build_config(device: Device, group: Group | None) -> DeviceConfig:
    g = group or {}
    entity_type = device.get("entity_type") or g.get("entity_type") or "Thing"
    attributes = _merge_named(g.get("attributes", []), device.get("attributes", []))
    statics = _merge_named(g.get("static_attributes", []), device.get("static_attributes", []))
    name = device.get("entity_name")
    exp = None if name else g.get("entityNameExp")
    if name:
        entity_id: str | None = entity_urn(name, entity_type)
    elif exp:
        entity_id = None
    else:
        entity_id = f"{URN_PREFIX}{entity_type}:{device['device_id']}"
    explicit = device.get("explicitAttrs", g.get("explicitAttrs", False))
    return DeviceConfig(
        device_id=device["device_id"],
        service=device["service"],
        subservice=device["service_path"],
        entity_type=entity_type,
        entity_id=entity_id,
        entity_name_exp=exp,
        attributes=attributes,
        by_object_id={a.get("object_id") or a["name"]: a for a in attributes},
        expressions=[a for a in attributes if "expression" in a],
        static_attributes=statics,
        explicit_attrs=explicit,
        timestamp=bool(device.get("timestamp", g.get("timestamp", False))),
        protocol=device.get("protocol") or g.get("protocol") or "",
        lorawan=lorawan_settings(device) or lorawan_settings(g) or {},
    )


class ConfigCache:
    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._cache: dict[tuple[int, int], tuple[Device, Group | None, DeviceConfig]] = {}

    def get(self, device: Device, group: Group | None) -> DeviceConfig:
        key = (id(device), id(group))
        hit = self._cache.get(key)
        if hit is not None and hit[0] is device and hit[1] is group:
            return hit[2]
        config = build_config(device, group)
        if len(self._cache) >= self.size:
            self._cache.clear()
        self._cache[key] = (device, group, config)
        return config
