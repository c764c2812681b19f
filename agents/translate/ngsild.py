"""A measure (attribute values by object_id) → NGSI-LD entity fragments for ``upsert?options=update``.

Follows iotagent-node-lib's NGSI-LD mode (doc/api.md "NGSI-LD data and metadata considerations",
"Measurement transformation", "Timestamp Processing"; lib/services/ngsi/entities-NGSI-LD.js):

* measures map to provisioned attributes by ``object_id`` (else by name); unmapped measures keep their name
  unless ``explicitAttrs`` says otherwise; ``id`` and ``type`` measures are ignored;
* expressions run in the order of ``attributes`` with the measures (and earlier results) as context; a
  null/undefined/NaN result is not sent (``skipValue`` changes which value is skipped);
* ``type`` decides the NGSI-LD form: Relationship → ``object``; geo:json / geo:point / GeoProperty / Point /
  LineString / Polygon ... → GeoProperty (GeoJSON, ``[x, y]`` or ``"x, y"``); Number / Float / Integer /
  Boolean cast; DateTime / Date / Time → ``{"@type", "@value"}``; Text / String / Property / structured values
  as they are; any other type → ``{"@type": <type>, "@value": value}``;
* ``TimeInstant`` becomes ``observedAt`` of every attribute (``timestamp: true`` uses the arrival time);
  ``metadata.unitCode`` becomes ``unitCode``, other metadata become sub-properties;
* an attribute with ``entity_name`` goes to its own entity (multi-entity), static attributes go along.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from agents.errors import BadPayload, BadTimestamp, InvalidExpression
from agents.expressions.evaluator import EvaluationError, Limits, evaluate
from agents.expressions.jsvalues import UNDEFINED, is_nullish, parse_float, parse_int
from agents.translate.config import DeviceConfig, entity_urn

TIME_INSTANT = "TimeInstant"
_GEO_TYPES = {
    "geo:json", "geo:point", "geo:line", "geo:polygon", "geoproperty", "point", "linestring", "polygon",
    "multipoint", "multilinestring", "multipolygon",
}  # fmt: skip
_AS_IS = {
    "property",
    "string",
    "text",
    "textunrestricted",
    "structuredvalue",
    "object",
    "array",
    "json",
    "none",
}
_NUMBERS = {"number", "float", "double", "integer", "int"}
_TEMPORAL = {"datetime": "DateTime", "date": "Date", "time": "Time", "iso8601": "DateTime"}

Fragment = tuple[str, dict[str, Any]]  # (entity id, fragment with "id" and "type")


def iso_timestamp(value: Any) -> str:
    """ISO 8601 in UTC with a ``Z`` (what observedAt needs); BadTimestamp when it is not a timestamp."""
    if not isinstance(value, str) or len(value) < 10:
        raise BadTimestamp(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadTimestamp(value) from exc
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def now_iso() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _geo(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, dict) and "type" in value and "coordinates" in value:
        return value
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) >= 2:
            value = parts
    if isinstance(value, list) and len(value) in (2, 3):
        coordinates = [parse_float(v) for v in value]
        if all(isinstance(c, int | float) and math.isfinite(c) for c in coordinates):
            return {"type": "Point", "coordinates": coordinates}
    raise BadPayload(value, f"attribute {name} is not a GeoJSON geometry, a coordinate pair or 'x, y'")


def _cast(attr_type: str, value: Any, name: str) -> dict[str, Any]:
    kind = attr_type.lower()
    if kind == "relationship":
        if not isinstance(value, str) or ":" not in value:
            raise BadPayload(value, f"relationship {name} needs a URI")
        return {"type": "Relationship", "object": value}
    if kind in _GEO_TYPES:
        return {"type": "GeoProperty", "value": _geo(value, name)}
    if kind in _NUMBERS:
        number = parse_int(value) if kind in ("integer", "int") else parse_float(value)
        if isinstance(value, bool) or not (isinstance(number, int) or math.isfinite(number)):
            raise BadPayload(value, f"attribute {name} of type {attr_type} is not a number")
        return {"type": "Property", "value": number}
    if kind == "boolean":
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise BadPayload(value, f"attribute {name} of type Boolean is not a boolean")
            return {"type": "Property", "value": value.lower() in ("true", "1")}
        return {"type": "Property", "value": bool(value)}
    if kind in _TEMPORAL:
        text = iso_timestamp(value) if kind in ("datetime", "iso8601") else str(value)
        return {"type": "Property", "value": {"@type": _TEMPORAL[kind], "@value": text}}
    if kind == "languageproperty":
        return {
            "type": "LanguageProperty",
            "languageMap": value if isinstance(value, dict) else {"en": str(value)},
        }
    if kind in _AS_IS or isinstance(value, dict | list):
        return {"type": "Property", "value": value}
    return {"type": "Property", "value": {"@type": attr_type, "@value": value}}


def _attribute(attr: dict[str, Any], value: Any, observed_at: str | None) -> dict[str, Any]:
    out = _cast(attr.get("type") or "Property", value, attr["name"])
    for key, meta in (attr.get("metadata") or {}).items():
        meta_value = meta.get("value") if isinstance(meta, dict) else meta
        if key == "unitCode":
            out["unitCode"] = str(meta_value)
        elif key not in ("observedAt", TIME_INSTANT):
            out[key] = {"type": "Property", "value": meta_value}
    if observed_at:
        out["observedAt"] = observed_at
    return out


def _explicit_names(config: DeviceConfig, context: dict[str, Any], limits: Limits) -> set[str] | None:
    """None: every measure goes; a set: only these attribute names (explicitAttrs true/array/expression)."""
    rule = config.explicit_attrs
    if isinstance(rule, str):
        try:
            rule = evaluate(rule, context, limits)
        except EvaluationError as exc:
            raise InvalidExpression(config.explicit_attrs, str(exc)) from exc  # type: ignore[arg-type]
    if rule is True:
        return {a["name"] for a in config.attributes} | {a["name"] for a in config.static_attributes}
    if isinstance(rule, list):
        names: set[str] = set()
        for item in rule:
            if isinstance(item, str):
                names.add(item)
            elif isinstance(item, dict) and item.get("object_id") in config.by_object_id:
                names.add(config.by_object_id[item["object_id"]]["name"])
        return names
    return None


def translate(
    config: DeviceConfig, measures: dict[str, Any], *, limits: Limits, received_at: str | None = None
) -> list[Fragment]:
    """One measure group → one fragment per target entity (the device's first, then multi-entity ones)."""
    measures = dict(measures)
    stamp = measures.pop(TIME_INSTANT, None)
    observed_at = (
        iso_timestamp(stamp)
        if stamp is not None
        else (received_at or now_iso())
        if config.timestamp
        else None
    )
    context: dict[str, Any] = {
        "id": config.device_id, "type": config.entity_type, "service": config.service,
        "subservice": config.subservice, "staticAttributes": config.static_attributes,
    }  # fmt: skip
    for static in config.static_attributes:
        context[static["name"]] = static.get("value")
    context.update(measures)
    entity_id = config.entity_id
    if entity_id is None:
        try:
            name = evaluate(config.entity_name_exp or "", context, limits)
        except EvaluationError as exc:
            raise InvalidExpression(config.entity_name_exp or "", str(exc)) from exc
        entity_id = entity_urn(str(name) if not is_nullish(name) else config.device_id, config.entity_type)
    context["entity_name"] = entity_id

    values: dict[str, tuple[dict[str, Any], Any]] = {}  # attribute name (+entity) → (definition, value)
    for key, value in measures.items():
        if key in ("id", "type"):
            continue
        attr = config.by_object_id.get(key) or {
            "name": key,
            "type": "Property" if not isinstance(value, str) else "Text",
        }
        values[_slot(attr)] = (attr, value)
    for attr in config.expressions:
        try:
            result = evaluate(attr["expression"], context, limits)
        except EvaluationError as exc:
            raise InvalidExpression(attr["expression"], str(exc)) from exc
        context[attr["name"]] = result
        skip = attr.get("skipValue")
        if (
            (skip is None and is_nullish(result))
            or (skip is not None and result == skip)
            or result is UNDEFINED
        ):
            continue
        values[_slot(attr)] = (attr, result)

    allowed = _explicit_names(config, context, limits)
    entities: dict[str, dict[str, Any]] = {entity_id: {"id": entity_id, "type": config.entity_type}}
    for attr, value in values.values():
        if allowed is not None and attr["name"] not in allowed:
            continue
        target = entity_id
        if attr.get("entity_name"):
            target_type = attr.get("entity_type") or config.entity_type
            target = entity_urn(attr["entity_name"], target_type)
            entities.setdefault(target, {"id": target, "type": target_type})
        entities[target][attr["name"]] = _attribute(attr, value, observed_at)
    for static in config.static_attributes:
        if allowed is None or static["name"] in allowed:
            entities[entity_id][static["name"]] = _attribute(static, static.get("value"), observed_at)
    return [(eid, fragment) for eid, fragment in entities.items() if len(fragment) > 2]


def _slot(attr: dict[str, Any]) -> str:
    return f"{attr.get('entity_name', '')}\x00{attr['name']}"
