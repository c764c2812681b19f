"""OpenAPI descriptions of the admin API's bodies (the routes read raw JSON and check it in registry/model.py,
so FastAPI cannot infer these; they document shared contract 1)."""

from __future__ import annotations

from typing import Any

from broker_adapter.registry.model import DATA_MODES, DATA_MODES_DOC, KINDS

_TEXT = {"type": "string", "maxLength": 300}
POLYGON = {"type": "object", "description": "GeoJSON Polygon or MultiPolygon (RFC 7946)"}

MUNICIPALITY: dict[str, Any] = {
    "type": "object",
    "required": ["tenant", "name", "kind"],
    "description": "A municipality (one NGSI-LD tenant). Give ags and/or regionalschluessel, and area and/or "
    "bbox. status, createdAt, modifiedAt and retiredAt are set by the registry.",
    "properties": {
        "tenant": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,49}$", "description": "NGSILD-Tenant id"},
        "name": {**_TEXT, "description": "official name"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "ags": {"type": "string", "pattern": "^[0-9]{8}$", "description": "Amtlicher Gemeindeschlüssel"},
        "regionalschluessel": {"type": "string", "pattern": "^[0-9]{12}$"},
        "area": POLYGON,
        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
        "contactPoint": {
            "type": "object",
            "properties": {"name": _TEXT, "email": _TEXT, "url": _TEXT, "phone": _TEXT},
        },
        "licence": {"type": "string", "default": "dl-by-de/2.0", "description": "dcat-ap.de licence id"},
        "licenceAttribution": {**_TEXT, "description": "dcatde:licenseAttributionByText"},
        "openData": {"type": "boolean", "default": False},
        "sdmPolicy": {"description": 'off, warn, enforce or {"mode": ..., "requireKnownTypes": bool}'},
        "historyRetention": {"type": "string", "description": "ISO 8601 duration, e.g. P5Y"},
        "regions": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "enum": ["active", "retired"], "readOnly": True},
        "createdAt": {"type": "string", "format": "date-time", "readOnly": True},
        "modifiedAt": {"type": "string", "format": "date-time", "readOnly": True},
        "retiredAt": {"type": "string", "format": "date-time", "readOnly": True},
    },
}
RETIRE: dict[str, Any] = {
    "type": "object",
    "properties": {"data": {"type": "string", "enum": list(DATA_MODES), "default": "keep"}},
    "description": DATA_MODES_DOC,
}
PROBLEM = {"description": "ProblemDetails (RFC 7807) with an NGSI-LD error type"}


def body(schema: dict[str, Any], *media: str, required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": required,
            "content": {m: {"schema": schema} for m in (media or ("application/json",))},
        }
    }


def answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}
