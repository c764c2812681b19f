"""The API ↔ storage conversion pair for MongoDB: one document per entity in the tenant's `entities`.

    {"_id": <entity id>, "type": [...], "scope": [...], "createdAt": ..., "modifiedAt": ...,
     "attrs": {<encoded IRI>: [<instance, keys encoded>, ...]},       # the stored entity (ngsild.types)
                                 # a LanguageProperty instance also holds "%lv": its strings (for q)
     "_names": [<attribute IRI>, ...],                                # indexed: attrs=, discovery
     "_box": [{"a": <IRI>, "x0": .., "x1": .., "y0": .., "y1": .., "n": <in _geo>}],  # geo pruning
     "_geo": {<encoded IRI>: [<GeoJSON>, ...]}}                       # 2dsphere fields (real servers)

Members starting with `_` are derived from the entity and dropped when it is read back; entity members
never start with `_`. Integers beyond BSON's int64 are stored as Decimal128 (exact up to 34 digits,
compared numerically by MongoDB) and come back as int; beyond that as {"%int": "<digits>"} (a key no
encoded key can equal, since `%` is always escaped).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128

from broker_adapter.ngsild import geojson
from broker_adapter.ngsild.types import ExpandedEntity
from broker_adapter.storage.geo_boxes import geometry_boxes
from broker_adapter.storage.mongo.keys import decode_key, encode_key

_INT64 = 2**63
_BIG = "%int"
# Derived member of a LanguageProperty instance: the strings of its languageMap, so that q can compare
# them without knowing the language keys. `%` is always escaped in real keys, so it cannot collide.
LANGUAGE_TEXTS = "%lv"
Document = dict[str, Any]


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {encode_key(k): _encode(v) for k, v in value.items()}
    if kind is list:
        return [_encode(v) for v in value]
    if kind is int:
        if -_INT64 <= value < _INT64:
            return value
        text = str(value)
        return Decimal128(Decimal(value)) if len(text.lstrip("-")) <= 34 else {_BIG: text}
    return value


def _decode(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        if len(value) == 1 and _BIG in value:
            return int(value[_BIG])
        return {decode_key(k): _decode(v) for k, v in value.items() if k != LANGUAGE_TEXTS}
    if kind is list:
        return [_decode(v) for v in value]
    if kind is Decimal128:
        return int(value.to_decimal())
    return value


def encode_json(value: Any) -> Any:
    """Any stored JSON value (settings, @context documents) in MongoDB's terms."""
    return _encode(value)


def decode_json(value: Any) -> Any:
    return _decode(value)


def _language_texts(instance: Any) -> None:
    """Add LANGUAGE_TEXTS to a LanguageProperty instance and to its LanguageProperty sub-attributes."""
    if not isinstance(instance, dict):
        return
    if instance.get("type") == "LanguageProperty" and isinstance(instance.get("languageMap"), dict):
        texts: list[Any] = []
        for text in instance["languageMap"].values():
            texts.extend(text if isinstance(text, list) else [text])
        instance[LANGUAGE_TEXTS] = [t for t in texts if isinstance(t, str)]
    for value in instance.values():
        if isinstance(value, dict) and value.get("type") == "LanguageProperty":
            _language_texts(value)


def entity_to_doc(entity: ExpandedEntity, *, native_geo: bool = False) -> Document:
    doc: Document = {"_id": entity["id"]}
    for key, value in entity.items():
        if key != "id":
            doc[key] = _encode(value) if key == "attrs" else value
    for instances in (doc.get("attrs") or {}).values():
        for instance in instances if isinstance(instances, list) else ():
            _language_texts(instance)
    attrs = entity.get("attrs") or {}
    doc["_names"] = list(attrs)
    boxes, geo = geo_fields(entity, native_geo)
    if boxes:
        doc["_box"] = boxes
    if geo:
        doc["_geo"] = geo
    return doc


def entity_from_doc(doc: Document) -> ExpandedEntity:
    entity: ExpandedEntity = {"id": doc["_id"]}
    for key, value in doc.items():
        if key[0] != "_":
            entity[key] = _decode(value) if key == "attrs" else value
    return entity


# the projection that reads an entity back without its derived fields
ENTITY_FIELDS = {"_names": 0, "_box": 0, "_geo": 0}


def geo_fields(entity: ExpandedEntity, native: bool) -> tuple[list[Document], Document]:
    """Boxes of every instance whose value is a readable GeoJSON geometry (as the evaluator reads
    them, whatever the attribute kind), and for native geo the geometries MongoDB can index."""
    boxes: list[Document] = []
    geo: Document = {}
    for attr, value, (minx, maxx, miny, maxy) in geometry_boxes(entity):
        box = {"a": attr, "x0": minx, "x1": maxx, "y0": miny, "y1": maxy}
        if native:
            box["n"] = _indexable(value, (minx, miny, maxx, maxy))  # n: in the 2dsphere field
            if box["n"]:
                geo.setdefault(encode_key(attr), []).append(value)
        boxes.append(box)
    return boxes, geo


def _indexable(value: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    """What a 2dsphere index accepts: WGS84 ranges and valid shapes (an invalid one would make MongoDB
    refuse the whole write). Anything else is still found through its box (see query_filter)."""
    minx, miny, maxx, maxy = box
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        return False
    try:
        shape = geojson.to_shapely(value)
    except Exception:
        return False
    return bool(shape.is_valid) and not shape.is_empty
