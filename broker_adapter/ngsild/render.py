"""Stored entities rendered for a caller: compacted with its @context, in the format it asked for.

Formats: normalized, concise and simplified (keyValues); GeoJSON Features for application/geo+json.
Names are compacted with TermMap look-ups; nothing here runs a JSON-LD algorithm per entity.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from broker_adapter.ngsild.datetimes import public_datetime
from broker_adapter.ngsild.entity_input import CORE_ATTRIBUTE_MEMBERS
from broker_adapter.ngsild.errors import BadRequestData, InvalidRequest
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import (
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    CompactedEntity,
    ExpandedEntity,
    Instance,
    Iri,
)

NORMALIZED = "normalized"
CONCISE = "concise"
SIMPLIFIED = "simplified"
FORMATS = (NORMALIZED, CONCISE, SIMPLIFIED)
SYSTEM_MEMBERS = ("createdAt", "modifiedAt", "deletedAt")
LOCATION_IRI = "https://uri.etsi.org/ngsi-ld/location"
_PLAIN_KINDS = frozenset({PROPERTY, GEO_PROPERTY, RELATIONSHIP, JSON_PROPERTY, LANGUAGE_PROPERTY})
_COMPACTED_MEMBERS = frozenset({"vocab", "objectType", "objectList"})  # members holding names, not data
_PLAIN_MEMBERS = CORE_ATTRIBUTE_MEMBERS - _COMPACTED_MEMBERS  # no sub-attributes, nothing to compact
_HIDDEN = frozenset(("type", *SYSTEM_MEMBERS))
_HIDDEN_WITH_SYS_ATTRS = frozenset(("type",))


@dataclass(frozen=True, slots=True)
class RenderOptions:
    format: str = NORMALIZED
    sys_attrs: bool = False
    pick: Collection[Iri] | None = None  # None: all attributes; includes "id"/"type"/"scope" when picked
    omit: Collection[Iri] = ()
    lang: str | None = None
    # the datasetId parameter: only instances of these datasets ("@none": the default instance)
    datasets: Collection[str] | None = None


def _one_or_many(items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else items


def _pick_language(language_map: dict[str, Any], lang: str) -> tuple[str, Any]:
    """The spec's language selection: the requested tag, else '@none', else any (first) entry."""
    wanted = [tag.strip() for tag in lang.split(",") if tag.strip()]
    for tag in wanted:
        if tag == "*":
            break
        tag_key = tag.split(";")[0]
        if tag_key in language_map:
            return tag_key, language_map[tag_key]
    if "@none" in language_map:
        return "@none", language_map["@none"]
    first = next(iter(language_map))
    return first, language_map[first]


class Renderer:
    def __init__(self, term_map: TermMap, options: RenderOptions) -> None:
        self.tm = term_map
        self.opt = options
        self._hidden = _HIDDEN_WITH_SYS_ATTRS if options.sys_attrs else _HIDDEN
        self._plain = (
            options.format == NORMALIZED
            and not options.sys_attrs
            and options.pick is None
            and not options.omit
            and options.lang is None
            and options.datasets is None
        )

    # entities --------------------------------------------------------------------------------------
    def entity(self, entity: ExpandedEntity) -> CompactedEntity:
        if self._plain:
            return self._entity_plain(entity)
        opt = self.opt
        pick = opt.pick
        out: CompactedEntity = {}
        if (pick is None or "id" in pick) and "id" not in opt.omit:
            out["id"] = entity["id"]
        if (pick is None or "type" in pick) and "type" not in opt.omit:
            out["type"] = _one_or_many([self.tm.compact_name(t) for t in entity["type"]])
        if "scope" in entity and (pick is None or "scope" in pick) and "scope" not in opt.omit:
            out["scope"] = _one_or_many(entity["scope"]) if opt.format != SIMPLIFIED else entity["scope"]
        if opt.sys_attrs:
            for key in SYSTEM_MEMBERS:
                if key in entity:
                    out[key] = entity[key]
        datasets = opt.datasets
        for iri, instances in entity["attrs"].items():
            if (pick is not None and iri not in pick) or iri in opt.omit:
                continue
            if datasets is not None:
                instances = [i for i in instances if i.get("datasetId", "@none") in datasets]
                if not instances:
                    continue
            name = self.tm.compact_name(iri)
            rendered = [self.attribute(inst) for inst in instances]
            out[name] = _one_or_many(rendered)
        return out

    def _entity_plain(self, entity: ExpandedEntity) -> CompactedEntity:
        """entity() for the default options (normalized, no sysAttrs, pick, omit or lang), the hot path
        of every retrieve and query: the same output, without a method call per attribute."""
        compact = self.tm.compact_name
        types = entity["type"]
        out: CompactedEntity = {
            "id": entity["id"],
            "type": compact(types[0]) if len(types) == 1 else [compact(t) for t in types],
        }
        if "scope" in entity:
            out["scope"] = _one_or_many(entity["scope"])
        plain_kinds, plain_members, attribute = _PLAIN_KINDS, _PLAIN_MEMBERS, self.attribute
        for iri, instances in entity["attrs"].items():
            rendered = []
            for inst in instances:
                kind = inst.get("type", PROPERTY)
                if kind in plain_kinds and inst.keys() <= plain_members:
                    # attribute()'s common case: update() keeps "type" first, the pops drop the others
                    item = {"type": kind}
                    item.update(inst)
                    item.pop("createdAt", None)
                    item.pop("modifiedAt", None)
                    item.pop("deletedAt", None)
                    observed = item.get("observedAt")
                    if observed is not None:
                        item["observedAt"] = public_datetime(observed)
                    rendered.append(item)
                else:
                    rendered.append(attribute(inst))
            out[compact(iri)] = rendered[0] if len(rendered) == 1 else rendered
        return out

    def attribute(self, inst: Instance) -> Any:
        fmt = self.opt.format
        if fmt == SIMPLIFIED:
            return self._simple_value(inst)
        kind = inst.get("type", PROPERTY)
        if (
            fmt == NORMALIZED
            and kind in _PLAIN_KINDS
            and self.opt.lang is None
            and inst.keys() <= _PLAIN_MEMBERS
        ):
            # the common case (no sub-attributes, nothing to compact): one C-level comprehension
            hidden = self._hidden
            out = {"type": kind, **{k: v for k, v in inst.items() if k not in hidden}}
            if "observedAt" in out:
                out["observedAt"] = public_datetime(out["observedAt"])
            return out
        out: dict[str, Any] = {} if fmt == CONCISE else {"type": kind}
        hidden = self._hidden
        for key, item in inst.items():
            if key in CORE_ATTRIBUTE_MEMBERS:
                if key in hidden:
                    continue
                if key == "observedAt":
                    out[key] = public_datetime(item)
                else:
                    out[key] = self._member(kind, key, item) if key in _COMPACTED_MEMBERS else item
            else:
                out[self.tm.compact_name(key)] = self.attribute(item)
        if self.opt.lang is not None and kind == LANGUAGE_PROPERTY:
            tag, text = _pick_language(inst["languageMap"], self.opt.lang)
            del out["languageMap"]
            if fmt != CONCISE:
                out["type"] = PROPERTY
            out["value"] = text
            out["lang"] = tag
        if fmt == CONCISE:
            return self._concise(kind, out)
        return out

    def _concise(self, kind: str, out: dict[str, Any]) -> Any:
        """Concise form: drop "type"; a Property/GeoProperty with only a value becomes the bare value."""
        if list(out) == ["value"] and kind in (PROPERTY, GEO_PROPERTY):
            value = out["value"]
            if not isinstance(value, dict) or kind == GEO_PROPERTY:
                return value
        return out

    def _member(self, kind: str, key: str, item: Any) -> Any:
        if key == "vocab" and kind == VOCAB_PROPERTY:
            if isinstance(item, list):
                return [self.tm.compact_vocab(v) for v in item]
            return self.tm.compact_vocab(item)
        if key == "objectType":
            if isinstance(item, list):
                return [self.tm.compact_name(t) for t in item]
            return self.tm.compact_name(item)
        if key == "objectList" and kind == LIST_RELATIONSHIP:
            return [{"object": target} for target in item]
        return item

    def _simple_value(self, inst: Instance) -> Any:
        kind = inst.get("type", PROPERTY)
        if kind == LANGUAGE_PROPERTY:
            if self.opt.lang is not None:
                return _pick_language(inst["languageMap"], self.opt.lang)[1]
            return {"languageMap": inst["languageMap"]}
        if kind == VOCAB_PROPERTY:
            return {"vocab": self._member(kind, "vocab", inst["vocab"])}
        if kind == RELATIONSHIP:
            return inst["object"]
        if kind == JSON_PROPERTY:
            return {"json": inst["json"]}  # clause 4.5.4: the raw JSON stays recognisable
        return inst.get(VALUE_MEMBER.get(kind, "value"))

    # GeoJSON -----------------------------------------------------------------------------------------
    def feature(self, entity: ExpandedEntity, geometry_property: Iri) -> dict[str, Any]:
        """An entity as a GeoJSON Feature (application/geo+json)."""
        properties = self.entity(entity)
        feature_id = properties.pop("id", entity["id"])
        geometry = None
        instances = entity["attrs"].get(geometry_property) or ()
        # clause 4.5.16.1: the default instance (no datasetId) gives the geometry
        inst = next((i for i in instances if "datasetId" not in i), None)
        if inst is not None and inst.get("type") == GEO_PROPERTY:
            geometry = inst.get("value")
        return {"id": feature_id, "type": "Feature", "geometry": geometry, "properties": properties}


def parse_options(raw: str | None, *, allowed: Collection[str]) -> set[str]:
    """The `options` parameter: a comma list; unknown options are a 400 (the spec's InvalidRequest)."""
    if not raw:
        return set()
    options = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = options - set(allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown option(s) {', '.join(sorted(unknown))}; allowed here: {', '.join(sorted(allowed))}"
        )
    return options


_FORMATS = {"keyValues": SIMPLIFIED, "simplified": SIMPLIFIED, "concise": CONCISE, "normalized": NORMALIZED}


def output_format(options: set[str], format_param: str | None = None) -> str:
    """The representation: the v1.8 `format` parameter when given (clause 6.3.7: it takes precedence over
    `options`), else keyValues/simplified, concise or normalized from `options`."""
    if format_param:  # an empty format= is no format
        if format_param not in _FORMATS:
            raise InvalidRequest(f"unknown format {format_param!r}; use normalized, concise or simplified")
        return _FORMATS[format_param]
    chosen = set()
    if options & {"keyValues", "simplified"}:
        chosen.add(SIMPLIFIED)
    if "concise" in options:
        chosen.add(CONCISE)
    if "normalized" in options:
        chosen.add(NORMALIZED)
    if len(chosen) > 1:
        raise BadRequestData("options: choose one of normalized, concise and keyValues/simplified")
    return chosen.pop() if chosen else NORMALIZED
