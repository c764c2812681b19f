"""What the catalog keeps of one NGSI-LD entity: its place, when it was observed, and its attributes.

Entities arrive normalized and compacted with the platform @context (notifications and queries alike). A
summary is all the catalog needs for a dataset's spatial and temporal extent and its attribute table; the
data themselves stay in the broker and are streamed from there for downloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_CORE = frozenset(
    {"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt", "observationSpace"}
)
_ATTRIBUTE_KINDS = frozenset(
    {
        "Property",
        "Relationship",
        "GeoProperty",
        "LanguageProperty",
        "VocabProperty",
        "JsonProperty",
        "ListProperty",
        "ListRelationship",
    }
)
# Smart Data Models name the time of an observation in a property when sensors do not set observedAt.
_DATE_PROPERTIES = ("dateObserved", "dateObservedTo", "dateLastValueReported", "dateModified")
MAX_COORDINATES = 100_000  # bound on the points of one geometry (a bounding box needs no more)


class MalformedEntity(ValueError):
    """The input is not an NGSI-LD entity the catalog can summarise."""


@dataclass
class AttributeInfo:
    kind: str
    unit: str | None = None
    sample: Any = None  # the latest value (scalars only), for the attribute table

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "unit": self.unit, "sample": self.sample}


@dataclass
class EntitySummary:
    id: str
    type: str
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    first_observed: str | None = None  # ISO 8601 UTC, "Z"
    last_observed: str | None = None
    modified: str | None = None
    attributes: dict[str, AttributeInfo] = field(default_factory=dict)


def summarize(entity: Any) -> EntitySummary:
    """The summary of one normalized entity; MalformedEntity when it is not one."""
    if not isinstance(entity, dict):
        raise MalformedEntity("an entity must be a JSON object")
    entity_id, entity_type = entity.get("id"), entity.get("type")
    if not isinstance(entity_id, str) or ":" not in entity_id or len(entity_id) > 2048:
        raise MalformedEntity("an entity needs an id that is a URI")
    if isinstance(entity_type, list) and entity_type:
        entity_type = entity_type[0]
    if not isinstance(entity_type, str) or not entity_type or len(entity_type) > 512:
        raise MalformedEntity(f"{entity_id}: an entity needs a type")
    summary = EntitySummary(entity_id, entity_type)
    times: list[str] = []
    for name, raw in entity.items():
        if name in _CORE:
            continue
        for instance in raw if isinstance(raw, list) else [raw]:
            if not isinstance(instance, dict):
                continue
            _take_attribute(summary, name, instance, times)
    if times:
        summary.first_observed, summary.last_observed = min(times), max(times)
    modified = _timestamp(entity.get("modifiedAt"))
    summary.modified = modified or summary.last_observed
    return summary


def _take_attribute(summary: EntitySummary, name: str, instance: dict[str, Any], times: list[str]) -> None:
    kind = instance.get("type", "Property")
    if kind not in _ATTRIBUTE_KINDS:
        kind = "Property"
    value = instance.get("value", instance.get("object"))
    if kind == "GeoProperty" and name == "location":
        box = geometry_bbox(value)
        if box is not None:
            summary.bbox = box
    observed = _timestamp(instance.get("observedAt"))
    if observed is None and name in _DATE_PROPERTIES:
        observed = _timestamp(_date_value(value))
    if observed is not None:
        times.append(observed)
    unit = instance.get("unitCode")
    sample = value if isinstance(value, str | int | float | bool) else None
    if isinstance(sample, str) and len(sample) > 200:
        sample = sample[:200] + "…"
    summary.attributes[name] = AttributeInfo(kind, unit if isinstance(unit, str) else None, sample)


def _date_value(value: Any) -> Any:
    if isinstance(value, dict) and value.get("@type") == "DateTime":  # the DateTime value object
        return value.get("@value")
    return value


def _timestamp(raw: Any) -> str | None:
    """An ISO 8601 date-time normalised to UTC with millisecond precision, or None."""
    if not isinstance(raw, str) or not 10 <= len(raw) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def geometry_bbox(geometry: Any) -> tuple[float, float, float, float] | None:
    """The bounding box of a GeoJSON geometry (WGS 84 lon/lat), or None when it is not a usable one."""
    if not isinstance(geometry, dict):
        return None
    points: list[tuple[float, float]] = []
    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            box = geometry_bbox(part)
            if box is not None:
                points += [(box[0], box[1]), (box[2], box[3])]
    else:
        _collect(geometry.get("coordinates"), points, depth=0)
    if not points:
        return None
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return (min(lons), min(lats), max(lons), max(lats))


def _collect(coordinates: Any, out: list[tuple[float, float]], depth: int) -> None:
    if not isinstance(coordinates, list) or depth > 4 or len(out) > MAX_COORDINATES:
        return
    if len(coordinates) >= 2 and all(isinstance(c, int | float) for c in coordinates[:2]):
        lon, lat = float(coordinates[0]), float(coordinates[1])
        if -180 <= lon <= 180 and -90 <= lat <= 90:
            out.append((lon, lat))
        return
    for item in coordinates:
        _collect(item, out, depth + 1)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
