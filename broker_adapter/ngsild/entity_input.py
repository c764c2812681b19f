"""Incoming entities and attributes: validated and turned into the stored (expanded, normalized) form.

Accepts the normalized and the concise representation (and keyValues where the caller allows it);
everything is checked before anything is written, so a rejected request changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from broker_adapter.ngsild import datetimes, geojson, names
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.limits import DEFAULT_MAX_DEPTH, check_depth
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import (
    ATTRIBUTE_KINDS,
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    ExpandedEntity,
    Instance,
    Iri,
)

NGSILD_NULL = "urn:ngsi-ld:null"
_SCALARS = frozenset({str, int, float, bool})
_FAST_PROPERTY_MEMBERS = frozenset({"type", "value", "unitCode", "observedAt"})
_FAST_RELATIONSHIP_MEMBERS = frozenset({"type", "object", "observedAt"})
_FAST_GEO_MEMBERS = frozenset({"type", "value", "observedAt"})

# Members of an attribute that are not sub-attributes.
CORE_ATTRIBUTE_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "objectType",
        "languageMap",
        "vocab",
        "json",
        "valueList",
        "objectList",
        "observedAt",
        "unitCode",
        "datasetId",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
    }
)
# Members the broker sets itself; ignored in input (the spec says they are not user-provided).
SYSTEM_MEMBERS = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
# Which concise member identifies which kind.
_KIND_BY_MEMBER = {member: kind for kind, member in VALUE_MEMBER.items() if kind != GEO_PROPERTY}
_GEO_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,8}")  # BCP 47 shape, bounded
_NOT_ATTRIBUTES = frozenset({"id", "@id", "@context", "createdAt", "modifiedAt", "deletedAt"})
ENTITY_CORE_MEMBERS = frozenset({"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"})


class _Absent:
    """Marks a member not given (distinct from JSON null)."""


ABSENT = _Absent()


def is_null(value: Any) -> bool:
    """NGSI-LD null: JSON null is not allowed in JSON-LD terms, so the spec uses urn:ngsi-ld:null."""
    return value is None or value == NGSILD_NULL


def _is_null_form(kind: str, value: Any) -> bool:
    """The NGSI-LD null of each kind's value member (clause 4.5.5): urn:ngsi-ld:null itself, a languageMap
    {"@none": urn:ngsi-ld:null}, or a list holding only it (or only {"object": urn:ngsi-ld:null})."""
    if value == NGSILD_NULL:
        return True
    if kind == LANGUAGE_PROPERTY:
        return value == {"@none": NGSILD_NULL}
    if kind in (LIST_PROPERTY, LIST_RELATIONSHIP):
        return value == [NGSILD_NULL] or value == [{"object": NGSILD_NULL}]
    return False


def _looks_like_geometry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in _GEO_TYPES
        and ("coordinates" in value or "geometries" in value)
    )


def attribute_kind(raw: Any, *, key_values: bool = False) -> str:
    """The kind of an attribute given in normalized, concise or keyValues form."""
    if isinstance(raw, dict) and not key_values:
        declared = raw.get("type")
        if isinstance(declared, str) and declared in ATTRIBUTE_KINDS:
            return declared
        if _looks_like_geometry(raw):
            return GEO_PROPERTY
        for member, kind in _KIND_BY_MEMBER.items():
            if member in raw:
                if kind == PROPERTY and _looks_like_geometry(raw["value"]):
                    return GEO_PROPERTY
                return kind
        if declared is not None and isinstance(declared, str) and declared not in _GEO_TYPES:
            raise BadRequestData(
                f"unknown attribute type {declared!r}; expected one of {sorted(ATTRIBUTE_KINDS)}"
            )
        return PROPERTY
    if _looks_like_geometry(raw):
        return GEO_PROPERTY
    return PROPERTY


def _concise_to_normalized(raw: Any, kind: str, *, key_values: bool, partial: bool = False) -> dict[str, Any]:
    """A bare value (concise/keyValues) becomes {"value": raw}; objects keep their members.

    An object with no value member is a compound value in concise form, unless it carries attribute
    members (observedAt, unitCode, ...) or is a fragment (`partial`: merge-patch, partial update),
    where its keys are members and sub-attributes."""
    if key_values or not isinstance(raw, dict):
        return {"value": raw}
    if kind == GEO_PROPERTY and "value" not in raw and _looks_like_geometry(raw):
        return {"value": raw}
    if kind == PROPERTY and not partial and not any(m in raw for m in CORE_ATTRIBUTE_MEMBERS):
        return {"value": raw}
    return raw


class AttributeParser:
    """Validates attributes against one TermMap; `now` stamps createdAt/modifiedAt."""

    def __init__(
        self,
        term_map: TermMap,
        now: str,
        *,
        key_values: bool = False,
        allow_null: bool = False,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ):
        self.tm = term_map
        self.now = now
        self.key_values = key_values
        self.allow_null = allow_null  # merge-patch: urn:ngsi-ld:null deletes
        self.max_depth = max_depth  # nesting bound for the whole entity (entity = level 1)
        self.fast = not (key_values or allow_null)  # fragments and keyValues take the generic path

    # names ---------------------------------------------------------------------------------------
    def attribute_iri(self, name: str, path: str) -> Iri:
        names.check_name(name, path)
        if name in names.RESERVED_ATTRIBUTE_NAMES:
            raise BadRequestData(f"{path}: {name!r} is a reserved name and cannot be used as an attribute")
        return self.tm.expand_name(name)

    # attributes ----------------------------------------------------------------------------------
    def instances(self, name: str, raw: Any, path: str, *, partial: bool = False) -> list[Instance]:
        """One attribute of an entity fragment: a single instance or an array of datasetId instances."""
        if (
            isinstance(raw, list)
            and raw
            and not self.key_values
            and all(isinstance(i, dict) and _is_instance_object(i) for i in raw)
        ):
            parsed = [self.instance(item, f"{path}[{n}]", depth=3) for n, item in enumerate(raw)]
            seen: set[str | None] = set()
            for inst in parsed:
                ds = inst.get("datasetId")
                if ds in seen:
                    what = f"datasetId {ds!r}" if ds else "the default instance (no datasetId)"
                    raise BadRequestData(f"{path}: {what} appears twice")
                seen.add(ds)
            return parsed
        return [self.instance(raw, path, partial=partial)]

    def instance(self, raw: Any, path: str, *, partial: bool = False, depth: int = 2) -> Instance:
        """One attribute instance in normalized form. `partial` allows the value member to be absent.

        `depth` is the nesting level of `raw` in the payload, so sub-attributes cannot nest without bound."""
        if depth >= self.max_depth:
            raise BadRequestData(f"{path}: attributes nest deeper than {self.max_depth} levels")
        if self.fast:
            fast = self._fast_instance(raw, path)
            if fast is not None:
                return fast
        if self.allow_null and is_null(raw):
            return {"value": NGSILD_NULL, "type": PROPERTY}
        declared = raw.get("type") if type(raw) is dict and not self.key_values else None
        if declared in ATTRIBUTE_KINDS:  # normalized form: the common case, no guessing needed
            kind, body = declared, raw
        else:
            kind = attribute_kind(raw, key_values=self.key_values)
            body = _concise_to_normalized(raw, kind, key_values=self.key_values, partial=partial)
        out: Instance = {"type": kind}
        value_member = VALUE_MEMBER[kind]
        for key, item in body.items():
            if key == value_member:
                out[key] = self._value(kind, item, path, key, depth)
            elif key in CORE_ATTRIBUTE_MEMBERS:
                if key == "type":
                    if item != kind and not (kind == GEO_PROPERTY and item in _GEO_TYPES):
                        raise BadRequestData(f"{path}.type: {item!r} is not a valid attribute type")
                elif key not in SYSTEM_MEMBERS:
                    out[key] = self._core_member(kind, key, item, path)
            elif key == "@context":
                raise BadRequestData(f"{path}.@context: @context is only allowed at the top of a payload")
            else:
                member_path = f"{path}.{key}"
                sub_iri = self.attribute_iri(key, member_path)
                if self.allow_null and is_null(item):
                    out[sub_iri] = {"type": PROPERTY, "value": NGSILD_NULL}
                    continue
                out[sub_iri] = self.instance(item, member_path, partial=partial, depth=depth + 1)
        if value_member not in out and not partial:
            raise BadRequestData(f"{path}: a {kind} needs a {value_member!r} member")
        out["createdAt"] = self.now
        out["modifiedAt"] = self.now
        return out

    def _fast_instance(self, raw: Any, path: str) -> Instance | None:
        """The shapes of almost every measurement, checked without the generic member loop.

        None means "not one of those shapes": the generic path then decides (and reports errors)."""
        if type(raw) is not dict:
            return None
        kind = raw.get("type")
        if kind == PROPERTY:
            if not raw.keys() <= _FAST_PROPERTY_MEMBERS or type(raw.get("value")) not in _SCALARS:
                return None
            if raw["value"] == NGSILD_NULL:
                return None
        elif kind == RELATIONSHIP:
            target = raw.get("object")
            if (
                not raw.keys() <= _FAST_RELATIONSHIP_MEMBERS
                or target == NGSILD_NULL
                or not names.is_uri(target)
            ):
                return None
        elif kind == GEO_PROPERTY:
            if not raw.keys() <= _FAST_GEO_MEMBERS or type(raw.get("value")) is not dict:
                return None
            geojson.validate_geometry(raw["value"], path + ".value")
        else:
            return None
        out = dict(raw)
        observed = raw.get("observedAt")
        if observed is not None:
            if type(observed) is not str:
                return None
            out["observedAt"] = datetimes.normalize_datetime(observed, path + ".observedAt")
        unit = raw.get("unitCode")
        if unit is not None and (type(unit) is not str or not unit):
            return None
        out["createdAt"] = self.now
        out["modifiedAt"] = self.now
        return out

    def _core_member(self, kind: str, key: str, item: Any, attr_path: str) -> Any:
        if key == "observedAt" and type(item) is str:
            return datetimes.normalize_datetime(item, attr_path + ".observedAt")
        if key == "unitCode" and type(item) is str and item:
            return item
        path = f"{attr_path}.{key}"  # only formatted into error details
        if key == "observedAt":
            raise BadRequestData(f"{path}: must be a DateTime string")
        if key == "unitCode":
            raise BadRequestData(f"{path}: must be a non-empty string (UN/CEFACT code)")
        if key == "datasetId":
            if not isinstance(item, str) or not names.is_uri(item):
                raise BadRequestData(f"{path}: must be a URI")
            return item
        if key == "objectType" and kind in (RELATIONSHIP, LIST_RELATIONSHIP):
            types = item if isinstance(item, list) else [item]
            if not types or not all(isinstance(t, str) for t in types):
                raise BadRequestData(f"{path}: must be an entity type name or a list of them")
            for t in types:
                names.check_name(t, path)
            expanded = [self.tm.expand_name(t) for t in types]
            return expanded if isinstance(item, list) else expanded[0]
        if key == "lang" and kind == PROPERTY:
            if not isinstance(item, str):
                raise BadRequestData(f"{path}: must be a language tag")
            return item
        raise BadRequestData(f"{path}: {key!r} is not a member of a {kind}")

    def _value(self, kind: str, value: Any, attr_path: str, key: str, depth: int) -> Any:
        if kind == PROPERTY and type(value) in _SCALARS:
            if value == NGSILD_NULL and not self.allow_null:
                raise BadRequestData(f"{attr_path}.{key}: null is not a valid value")
            return value
        path = f"{attr_path}.{key}"
        if value is None:  # clause 4.5.5: JSON null is no value; NGSI-LD null is urn:ngsi-ld:null
            raise BadRequestData(f"{path}: null is not a valid value (NGSI-LD null is {NGSILD_NULL!r})")
        if self.allow_null and _is_null_form(kind, value):
            return NGSILD_NULL
        if isinstance(value, dict | list) and kind != GEO_PROPERTY:  # GeoJSON is checked structurally
            # clause 5.5.4: urn:ngsi-ld:null inside a value is only meaningful in merge operations
            check_depth(
                value, self.max_depth - depth, path, forbidden=None if self.allow_null else NGSILD_NULL
            )
        if value == NGSILD_NULL:  # allowed (merge-patch) forms returned above
            raise BadRequestData(f"{path}: null is not a valid value")
        if kind == PROPERTY:
            return _check_typed_literal(value, path)
        if kind == GEO_PROPERTY:
            if not isinstance(value, dict):
                raise BadRequestData(f"{path}: a GeoProperty value must be a GeoJSON geometry object")
            geojson.validate_geometry(value, path)
            return value
        if kind == RELATIONSHIP:
            targets = value if isinstance(value, list) else [value]
            for n, target in enumerate(targets):
                if not isinstance(target, str) or not names.is_uri(target):
                    where = f"{path}[{n}]" if isinstance(value, list) else path
                    raise BadRequestData(f"{where}: a Relationship object must be a URI, got {target!r}")
            return value
        if kind == LANGUAGE_PROPERTY:
            return _check_language_map(value, path)
        if kind == VOCAB_PROPERTY:
            vocabs = value if isinstance(value, list) else [value]
            if not vocabs or not all(isinstance(v, str) and v for v in vocabs):
                raise BadRequestData(f"{path}: a vocab must be a term or IRI, or a list of them")
            expanded = [self.tm.expand_vocab(v) for v in vocabs]
            return expanded if isinstance(value, list) else expanded[0]
        if kind == JSON_PROPERTY:
            if not isinstance(value, dict | list):
                raise BadRequestData(f"{path}: a JsonProperty's json must be a JSON object or array")
            return value
        if kind == LIST_PROPERTY:
            if not isinstance(value, list):
                raise BadRequestData(f"{path}: a ListProperty's valueList must be an array")
            return value
        if kind == LIST_RELATIONSHIP:
            if not isinstance(value, list):
                raise BadRequestData(f"{path}: a ListRelationship's objectList must be an array")
            out = []
            for n, item in enumerate(value):
                target = item.get("object") if isinstance(item, dict) else item
                if not isinstance(target, str) or not names.is_uri(target):
                    raise BadRequestData(f"{path}[{n}]: each object must be a URI")
                out.append(target)
            return out
        raise BadRequestData(f"{path}: unsupported attribute type {kind!r}")  # pragma: no cover


def _is_instance_object(item: dict[str, Any]) -> bool:
    return item.get("type") in ATTRIBUTE_KINDS or any(m in item for m in _KIND_BY_MEMBER)


def _check_typed_literal(value: Any, path: str) -> Any:
    """JSON-LD typed values ({"@type": "DateTime", "@value": ...}) are checked and normalized."""
    if isinstance(value, dict) and "@value" in value:
        literal_type = value.get("@type")
        literal = value["@value"]
        if literal_type == "DateTime":
            if not isinstance(literal, str):
                raise BadRequestData(f"{path}: a DateTime @value must be a string")
            return {"@type": "DateTime", "@value": datetimes.normalize_datetime(literal, path)}
        if literal_type == "Date":
            return {"@type": "Date", "@value": datetimes.parse_date(literal, path).isoformat()}
        if literal_type == "Time":
            datetimes.parse_time(literal, path)
            return value
    return value


def _check_language_map(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise BadRequestData(f"{path}: a languageMap must be a non-empty object of language tag → string")
    for tag, text in value.items():
        if not (tag == "@none" or (isinstance(tag, str) and _LANGUAGE_TAG.fullmatch(tag))):
            raise BadRequestData(f"{path}: {tag!r} is not a language tag (BCP 47) or '@none'")
        texts = text if isinstance(text, list) else [text]
        if not all(isinstance(t, str) for t in texts):
            raise BadRequestData(f"{path}.{tag}: must be a string or a list of strings")
    return value


# entities ----------------------------------------------------------------------------------------
def entity_types(raw: Any, tm: TermMap, path: str = "type") -> list[Iri]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise BadRequestData(f"{path}: an entity needs at least one type")
    out: list[Iri] = []
    for n, item in enumerate(items):
        where = f"{path}[{n}]" if isinstance(raw, list) else path
        if not isinstance(item, str):
            raise BadRequestData(f"{where}: an entity type must be a string")
        names.check_name(item, where)
        iri = tm.expand_name(item)
        if iri[0] == "@":  # e.g. "type" itself, which the core @context maps to the keyword @type
            raise BadRequestData(f"{where}: {item!r} is a JSON-LD keyword in this @context, not a type")
        if iri not in out:
            out.append(iri)
    return out


def parse_entity(
    body: Any,
    tm: TermMap,
    now: str,
    *,
    key_values: bool = False,
    require_type: bool = True,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ExpandedEntity:
    """A whole entity (create, replace, upsert): id, type, scope and attributes, expanded."""
    if not isinstance(body, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity_id = body.get("id", body.get("@id"))
    if entity_id is None:
        raise BadRequestData("the entity has no 'id'")
    names.check_entity_id(entity_id, "id")
    entity: ExpandedEntity = {"id": entity_id}
    raw_type = body.get("type", body.get("@type", ABSENT))
    if raw_type is ABSENT:
        if require_type:
            raise BadRequestData(f"entity {entity_id}: 'type' is missing")
    else:
        entity["type"] = entity_types(raw_type, tm)
    entity.update(parse_fragment(body, tm, now, key_values=key_values, max_depth=max_depth))
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    return entity


def parse_fragment(
    body: Any,
    tm: TermMap,
    now: str,
    *,
    key_values: bool = False,
    allow_null: bool = False,
    path_prefix: str = "",
    max_depth: int = DEFAULT_MAX_DEPTH,
    partial: bool = False,
) -> dict[str, Any]:
    """The attribute part of a payload: {"attrs": {iri: [instances]}} plus "scope"/"type" when present.

    `partial`: a merge-patch fragment, whose attributes may omit their value member."""
    if not isinstance(body, dict):
        raise BadRequestData("the payload must be a JSON object")
    parser = AttributeParser(tm, now, key_values=key_values, allow_null=allow_null, max_depth=max_depth)
    attrs: dict[Iri, list[Instance]] = {}
    out: dict[str, Any] = {"attrs": attrs}
    for key, raw in body.items():
        if key in _NOT_ATTRIBUTES:
            continue
        if key in ("type", "@type"):
            if path_prefix or "id" not in body:
                out["type"] = entity_types(raw, tm)
            continue
        if key == "scope":
            if allow_null and is_null(raw):
                out["scope"] = None
            else:
                out["scope"] = names.check_scope(raw, "scope")
            continue
        path = f"{path_prefix}{key}" if path_prefix else key
        iri = parser.attribute_iri(key, path)
        if iri in attrs:
            raise BadRequestData(f"{path}: the attribute is given twice (as {key!r} and another term)")
        attrs[iri] = parser.instances(key, raw, path, partial=partial)
    return out
