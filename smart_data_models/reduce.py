"""An NGSI-LD entity reduced to the keyValues view a Smart Data Models schema describes.

The broker stores entities expanded (broker_adapter/ngsild/types.py). A schema speaks of terms
("height") and plain values, so each attribute becomes term -> value:

    Property          value; a typed literal {"@type": "DateTime", "@value": s} becomes s
    GeoProperty       the GeoJSON geometry
    Relationship      the object URI (or list of URIs)
    ListProperty      valueList (typed literals unwrapped)
    ListRelationship  objectList (URIs)
    LanguageProperty  the "@none" string, else the first language's
    VocabProperty     the vocab compacted to its term (or list of terms)
    JsonProperty      json

An attribute IRI becomes its term in the platform @context, else its local name (the part after the last
'/' or '#'): an entity written with the Smart Data Models context, the platform context or the core
context alone (default-context IRIs) reduces to the same view. Of several instances (datasetId), the
default one is used, else the first; metadata (observedAt, unitCode, sub-attributes) is not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker_adapter.ngsild.types import ExpandedEntity
from smart_data_models.catalog import local_name

_MEMO_LIMIT = 50_000


class Compactor:
    """IRI -> term, memoised: the platform terms first, the IRI's local name otherwise."""

    def __init__(self, platform_terms: Mapping[str, str]) -> None:
        self._platform = dict(platform_terms)  # IRI -> term
        self._memo: dict[str, tuple[str, bool]] = {}

    def term(self, iri: str) -> tuple[str, bool]:
        """(term, known): known when the platform @context maps the IRI."""
        hit = self._memo.get(iri)
        if hit is None:
            platform = self._platform.get(iri)
            hit = (platform, True) if platform is not None else (local_name(iri), False)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[iri] = hit
        return hit


def _plain(value: Any) -> Any:
    if type(value) is dict and "@value" in value:
        return value["@value"]
    return value


def _instance_value(instance: Mapping[str, Any], compactor: Compactor) -> Any:
    kind = instance.get("type")
    if kind == "Property" or kind == "GeoProperty":
        return _plain(instance.get("value"))
    if kind == "Relationship":
        return instance.get("object")
    if kind == "ListProperty":
        return [_plain(v) for v in instance.get("valueList", [])]
    if kind == "ListRelationship":
        return list(instance.get("objectList", []))
    if kind == "LanguageProperty":
        languages = instance.get("languageMap") or {}
        return languages.get("@none", next(iter(languages.values()), None))
    if kind == "VocabProperty":
        vocab = instance.get("vocab")
        if isinstance(vocab, list):
            return [compactor.term(v)[0] for v in vocab]
        return compactor.term(vocab)[0] if isinstance(vocab, str) else vocab
    if kind == "JsonProperty":
        return instance.get("json")
    return _plain(instance.get("value"))


def key_values_view(entity: ExpandedEntity, type_name: str, compactor: Compactor) -> dict[str, Any]:
    """The view a model's schema validates: id, type (the model's name), one value per attribute."""
    view: dict[str, Any] = {"id": entity["id"], "type": type_name}
    from_platform: set[str] = set()
    for iri, instances in entity.get("attrs", {}).items():
        if not instances:
            continue
        term, known = compactor.term(iri)
        if term in from_platform or (term in view and not known):
            continue  # two IRIs with one local name: the one the platform @context maps wins
        instance = next((i for i in instances if "datasetId" not in i), instances[0])
        view[term] = _instance_value(instance, compactor)
        if known:
            from_platform.add(term)
    return view
