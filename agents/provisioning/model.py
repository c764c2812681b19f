"""Check provisioning bodies the way iotagent-node-lib's JSON-schema templates do, and keep API format.

Groups and devices are stored exactly in the API's field names (``entity_type``, ``static_attributes``,
...), so GET returns what POST received (plus ``service`` / ``subservice`` or ``service_path`` from the
headers). A body that does not fit is ``400 WRONG_SYNTAX``; a device without ``device_id`` is
``400 MISSING_ATTRIBUTES`` (deviceProvisioningServer.js ``checkMandatoryQueryParams``). Expressions are
parsed here too, so a syntax error surfaces at provisioning time rather than when the first measure arrives.
"""

from __future__ import annotations

import re
from typing import Any

from agents.errors import MissingAttributes, WrongSyntax
from agents.expressions.evaluator import EvaluationError, check_syntax

Group = dict[str, Any]
Device = dict[str, Any]

# Characters Orion forbids in ids and types (iotagent-node-lib createDevice.json: ^([^<>();'=\"]+)+$).
_FORBIDDEN = re.compile(r"[<>();'=\"\s]")
_STRINGS = (
    "entity_type",
    "entityNameExp",
    "timezone",
    "protocol",
    "transport",
    "endpoint",
    "cbHost",
    "trust",
    "description",
    "defaultEntityNameConjunction",
    "payloadType",
    "ngsiVersion",
    "resource",
    "apikey",
    "entity_name",
    "polling",
)
_BOOLEANS = ("timestamp", "autoprovision")
_LISTS = ("attributes", "lazy", "commands", "static_attributes")
GROUP_FIELDS = frozenset(
    (*_STRINGS, *_BOOLEANS, *_LISTS, "explicitAttrs", "internal_attributes", "service", "subservice")
) - {"entity_name", "polling"}
DEVICE_FIELDS = frozenset(
    (
        *_STRINGS,
        *_BOOLEANS,
        *_LISTS,
        "explicitAttrs",
        "internal_attributes",
        "device_id",
        "service",
        "service_path",
    )
) - {"resource", "cbHost", "trust", "description", "defaultEntityNameConjunction"}


def _check_name(value: Any, field: str) -> None:
    if not isinstance(value, str) or not value or _FORBIDDEN.search(value):
        raise WrongSyntax(f"{field} must be a non-empty string without <>();'=\" or spaces")


def _check_expression(value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise WrongSyntax(f"{field} must be a string")
    try:
        check_syntax(value)
    except EvaluationError as exc:
        raise WrongSyntax(f"{field} {value!r}: {exc}") from exc


def _check_attribute_list(items: Any, field: str, *, static: bool = False) -> None:
    if not isinstance(items, list):
        raise WrongSyntax(f"{field} must be an array")
    for n, item in enumerate(items):
        where = f"{field}[{n}]"
        if not isinstance(item, dict):
            raise WrongSyntax(f"{where} must be an object")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise WrongSyntax(f"{where}.name is mandatory")
        if not isinstance(item.get("type"), str) or not item["type"]:
            raise WrongSyntax(f"{where}.type is mandatory")
        if static and "value" not in item:
            raise WrongSyntax(f"{where}.value is mandatory")
        for key in ("object_id", "entity_name", "entity_type"):
            if key in item and not isinstance(item[key], str):
                raise WrongSyntax(f"{where}.{key} must be a string")
        if "expression" in item:
            _check_expression(item["expression"], f"{where}.expression")
        if "metadata" in item and not isinstance(item["metadata"], dict):
            raise WrongSyntax(f"{where}.metadata must be an object")


def _check_common(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in body.items():
        if key not in allowed:
            continue  # unknown fields are ignored, as the library's templates allow additional properties
        if key in _STRINGS and not isinstance(value, str):
            raise WrongSyntax(f"{key} must be a string")
        if key in _BOOLEANS and not isinstance(value, bool):
            raise WrongSyntax(f"{key} must be a boolean")
        if key in _LISTS:
            _check_attribute_list(value, key, static=key == "static_attributes")
        if key == "explicitAttrs" and not isinstance(value, bool | str | list):
            raise WrongSyntax("explicitAttrs must be a boolean, an array or an expression")
        if key == "internal_attributes" and not isinstance(value, dict | list):
            raise WrongSyntax("internal_attributes must be an object or an array")
        clean[key] = value
    if "entity_type" in clean:
        _check_name(clean["entity_type"], "entity_type")
    if "entityNameExp" in clean:
        _check_expression(clean["entityNameExp"], "entityNameExp")
    return clean


def groups_from_body(body: Any, key: str, service: str, subservice: str) -> list[Group]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list) or not body[key]:
        raise WrongSyntax()
    groups: list[Group] = []
    for item in body[key]:
        if not isinstance(item, dict):
            raise WrongSyntax()
        group = _check_common(item, GROUP_FIELDS)
        for field in ("apikey", "resource"):
            if not isinstance(group.get(field), str):
                raise WrongSyntax(f"{field} is mandatory")
        group["service"], group["subservice"] = service, subservice
        groups.append(group)
    return groups


def group_update(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WrongSyntax()
    changes = _check_common(body, GROUP_FIELDS)
    for fixed in ("service", "subservice", "resource", "apikey"):
        changes.pop(fixed, None)  # taken from the headers and the query, as handleModifyDeviceGroups does
    return changes


def devices_from_body(body: Any, service: str, subservice: str) -> list[Device]:
    if not isinstance(body, dict) or not isinstance(body.get("devices"), list) or not body["devices"]:
        raise WrongSyntax()
    devices: list[Device] = []
    for item in body["devices"]:
        if not isinstance(item, dict):
            raise WrongSyntax()
        if "device_id" not in item:
            raise MissingAttributes(["device_id"])
        device = _check_common(item, DEVICE_FIELDS)
        _check_name(device["device_id"], "device_id")
        if "entity_name" in device:
            _check_name(device["entity_name"], "entity_name")
        device["service"], device["service_path"] = service, subservice
        devices.append(device)
    return devices


def device_update(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WrongSyntax()
    changes = _check_common(body, DEVICE_FIELDS)
    if "entity_name" in changes:
        _check_name(changes["entity_name"], "entity_name")
    for fixed in ("service", "service_path"):
        changes.pop(fixed, None)
    return changes


def lorawan_settings(config: dict[str, Any]) -> dict[str, Any] | None:
    """``internal_attributes.lorawan`` as IoTAgent-LoRaWAN provisions it (an object, or a list with one)."""
    internal = config.get("internal_attributes")
    if isinstance(internal, list):
        internal = next((i for i in internal if isinstance(i, dict) and "lorawan" in i), None)
    if isinstance(internal, dict) and isinstance(internal.get("lorawan"), dict):
        return internal["lorawan"]
    return None
