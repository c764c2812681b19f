"""In-memory evaluation of a parsed query against one stored (expanded) entity.

This is the reference semantics: the store adapters' compiled filters are property-tested against it,
and the subscription matcher uses it directly. It never raises for any entity shape; what it cannot
interpret does not match.

q semantics (clause 4.9):
- Target element: the attribute, then sub-attributes along the path. Every instance (datasetId) of an
  attribute is a candidate, and a term matches if any instance satisfies it ("the target value shall
  be any Value of such instances").
- Target value by kind: Property/GeoProperty value, Relationship object(s), ListRelationship objectList,
  ListProperty valueList, VocabProperty vocab (compared with the literal expanded as a vocab term),
  LanguageProperty: the strings of the languageMap ([tag] selects one language, [*] or nothing any),
  JsonProperty json; `.observedAt` etc. the member. A [a.b] path walks JSON objects (ECMA-262 member
  access); if it yields nothing the target element counts as absent.
- An array target (or a languageMap) is a collection: == matches if any element equals a query value
  ("is included in the target value"), != if no element does.
- Every operator needs the target element; a missing attribute matches only !attr.
- Types: a query value matches only a target value of the same data type. String and URI literals are
  the same (text) type, Numbers compare numerically (1 == 1.0), Booleans only with == and !=;
  DateTimes are typed values ({"@type": "DateTime", ...}) or the temporal members; a plain string that
  looks like a date is a String. For != a type mismatch counts as unequal, so it matches; for ==, <, >,
  ranges and patterns it does not.
- Relationship and ListRelationship targets match only with == and != (lists and ranges included).
- ~= needs a String target; !~= needs at least one String and matches when none matches the pattern.
- Strings order by code point (RFC 8259 section 8.3; the optional UCA collation is not applied).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from broker_adapter.ngsild import datetimes, geojson
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.query import patterns
from broker_adapter.ngsild.query.ast import (
    MEMBER_TYPES,
    And,
    AttrPath,
    Compare,
    CompareOp,
    Exists,
    GeoQuery,
    GeoRel,
    InList,
    InRange,
    Literal,
    Node,
    Or,
    Pattern,
    ScopeMatch,
    TypeIs,
    ValueType,
)
from broker_adapter.ngsild.query.geo import haversine_m, project_aeqd
from broker_adapter.ngsild.types import (
    LANGUAGE_PROPERTY,
    LIST_RELATIONSHIP,
    RELATIONSHIP,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    ExpandedEntity,
)

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

# A typed atom of a target value: (family, comparable key). Family None: nothing compares equal to it.
Atom = tuple[str | None, Any]
_TYPED_LITERALS = {"DateTime": ValueType.DATETIME, "Date": ValueType.DATE, "Time": ValueType.TIME}


class _Target:
    """The value(s) one instance offers to a q term."""

    __slots__ = ("atoms", "relationship", "vocab")

    def __init__(self, atoms: list[Atom], *, relationship: bool = False, vocab: bool = False) -> None:
        self.atoms = atoms
        self.relationship = relationship
        self.vocab = vocab


def matches(entity: ExpandedEntity, node: Node) -> bool:
    """Whether the entity satisfies the query node (q, type, scopeQ and geo nodes, combined freely)."""
    if isinstance(node, And):
        return all(matches(entity, item) for item in node.items)
    if isinstance(node, Or):
        return any(matches(entity, item) for item in node.items)
    if isinstance(node, TypeIs):
        types = entity.get("type")
        return node.iri in types if isinstance(types, list) else node.iri == types
    if isinstance(node, ScopeMatch):
        scopes = entity.get("scope")
        scopes = [scopes] if isinstance(scopes, str) else scopes
        return isinstance(scopes, list) and any(_scope_matches(node, s) for s in scopes if isinstance(s, str))
    if isinstance(node, GeoQuery):
        return _geo_matches(entity, node)
    if isinstance(node, Exists):
        present = next(_targets(entity, node.path), None) is not None
        return present != node.negated
    return any(_term_matches(node, target) for target in _targets(entity, node.path))


# -- q ----------------------------------------------------------------------------------------------


def _instances(container: Any, iri: str) -> list[dict[str, Any]]:
    found = container.get(iri) if isinstance(container, dict) else None
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list):
        return [i for i in found if isinstance(i, dict)]
    return []


def _targets(entity: ExpandedEntity, path: AttrPath) -> Iterator[_Target]:
    if not path.attrs:
        return
    elements = _instances(entity.get("attrs"), path.attrs[0])
    for sub in path.attrs[1:]:
        elements = [s for e in elements for s in _instances(e, sub)]
    for element in elements:
        target = _target(element, path)
        if target is not None:
            yield target


def _target(element: dict[str, Any], path: AttrPath) -> _Target | None:
    if path.member is not None:
        raw = element.get(path.member)
        if not isinstance(raw, str):
            return None
        kind = MEMBER_TYPES[path.member]
        return _Target([_text_atom(raw) if kind is not ValueType.DATETIME else ("datetime", raw)])
    kind = element.get("type")
    member = VALUE_MEMBER.get(kind) if isinstance(kind, str) else None
    if member is None or member not in element:
        return None
    value = element[member]
    if kind == LANGUAGE_PROPERTY:
        return _language_target(value, path.keys)
    if kind in (RELATIONSHIP, LIST_RELATIONSHIP, VOCAB_PROPERTY):
        if path.keys:
            return None
        items = value if isinstance(value, list) else [value]
        atoms = [_text_atom(i) if isinstance(i, str) else (None, None) for i in items]
        return _Target(atoms, relationship=kind != VOCAB_PROPERTY, vocab=kind == VOCAB_PROPERTY)
    for key in path.keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, list):
        return _Target([_atom(v) for v in value])
    return _Target([_atom(value)])


def _language_target(value: Any, keys: tuple[str, ...]) -> _Target | None:
    if not isinstance(value, dict) or len(keys) > 1:
        return None
    if keys and keys[0] != "*":
        if keys[0] not in value:
            return None
        texts = [value[keys[0]]]
    else:
        texts = list(value.values())
    flat = [t for text in texts for t in (text if isinstance(text, list) else [text])]
    return _Target([_text_atom(t) if isinstance(t, str) else (None, None) for t in flat])


def _text_atom(s: str) -> Atom:
    return ("text", s)


def _atom(v: Any) -> Atom:
    """The comparable form of a Property value (or an element of an array value)."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("number", v) if not (isinstance(v, float) and math.isnan(v)) else (None, None)
    if isinstance(v, str):
        return ("text", v)
    if isinstance(v, dict) and isinstance(v.get("@value"), str):
        literal_type = _TYPED_LITERALS.get(v.get("@type"))  # type: ignore[arg-type]
        if literal_type is not None:
            return _typed(literal_type, v["@value"])
    return (None, None)


def _typed(value_type: ValueType, value: Any) -> Atom:
    if value_type is ValueType.DATETIME:
        return ("datetime", value)
    if value_type is ValueType.DATE:
        return ("date", value)
    if value_type is ValueType.TIME:
        parsed = _parse_time(value)
        if parsed is None:
            return (None, None)
        return ("time-aware" if parsed.tzinfo is not None else "time-naive", parsed)
    if value_type is ValueType.NUMBER:
        return ("number", value)
    if value_type is ValueType.BOOLEAN:
        return ("bool", value)
    return ("text", value)  # STRING, URI


@lru_cache(maxsize=1024)
def _parse_time(s: str) -> time | None:
    try:
        return datetimes.parse_time(s, "value")
    except BadRequestData:
        return None


def _literal_atom(lit: Literal, vocab: bool) -> Atom:
    if vocab and lit.type in (ValueType.STRING, ValueType.URI) and lit.vocab is not None:
        return ("text", lit.vocab)
    return _typed(lit.type, lit.value)


def _equal(atom: Atom, lit: Atom) -> bool:
    return atom[0] is not None and atom[0] == lit[0] and atom[1] == lit[1]


def _ordered(atom: Atom, lit: Atom, op: CompareOp) -> bool:
    if atom[0] is None or atom[0] != lit[0] or atom[0] == "bool":
        return False
    a, b = atom[1], lit[1]
    if op is CompareOp.GT:
        return bool(a > b)
    if op is CompareOp.GE:
        return bool(a >= b)
    if op is CompareOp.LT:
        return bool(a < b)
    return bool(a <= b)


def _term_matches(node: Node, target: _Target) -> bool:
    atoms = target.atoms
    if isinstance(node, Compare):
        lit = _literal_atom(node.value, target.vocab)
        if node.op is CompareOp.EQ:
            return any(_equal(a, lit) for a in atoms)
        if node.op is CompareOp.NE:
            return not any(_equal(a, lit) for a in atoms)
        return not target.relationship and any(_ordered(a, lit, node.op) for a in atoms)
    if isinstance(node, InList):
        lits = [_literal_atom(v, target.vocab) for v in node.values]
        hit = any(_equal(a, lit) for a in atoms for lit in lits)
        return hit != node.negated
    if isinstance(node, InRange):
        low = _literal_atom(node.low, target.vocab)
        high = _literal_atom(node.high, target.vocab)
        hit = any(_ordered(a, low, CompareOp.GE) and _ordered(a, high, CompareOp.LE) for a in atoms)
        return hit != node.negated
    if isinstance(node, Pattern):
        if target.relationship:
            return False
        texts = [a[1] for a in atoms if a[0] == "text"]
        if not texts:
            return False
        regex = patterns.compiled(node.pattern)
        hit = any(regex.search(t) is not None for t in texts)
        return hit != node.negated
    return False


# -- scopeQ ---------------------------------------------------------------------------------------


def _scope_matches(query: ScopeMatch, scope: str) -> bool:
    levels = scope.split("/")[1:] if scope.startswith("/") else []
    if not levels:
        return False
    n = len(query.levels)
    if len(levels) < n or (not query.descendants and len(levels) != n):
        return False
    return all(q == "+" or q == level for q, level in zip(query.levels, levels, strict=False))


# -- geo ------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _reference(query: GeoQuery) -> BaseGeometry:
    import shapely  # lazily, as in geojson.to_shapely

    geometry = geojson.to_shapely(query.geometry())
    shapely.prepare(geometry)
    return geometry


def _geo_matches(entity: ExpandedEntity, query: GeoQuery) -> bool:
    from shapely.errors import ShapelyError

    for instance in _instances(entity.get("attrs"), query.geoproperty):
        value = instance.get("value")
        if not isinstance(value, dict) or value.get("type") not in geojson.GEOMETRY_TYPES:
            continue
        try:
            if _geo_instance_matches(value, query):
                return True
        except (BadRequestData, ShapelyError, ValueError, TypeError, IndexError, KeyError):
            continue  # an unreadable stored geometry does not match rather than failing the request
    return False


def _geo_instance_matches(value: dict[str, Any], query: GeoQuery) -> bool:
    import shapely
    from shapely.geometry import Point

    target = geojson.to_shapely(value)
    if target.is_empty:
        return False
    if query.georel is GeoRel.NEAR:
        lon0, lat0 = query.coordinates[0], query.coordinates[1]
        if query.max_distance is not None:
            # Within the buffer: every point of the target is close enough. The farthest point of a
            # line or polygon from the centre is one of its vertices.
            coords = shapely.get_coordinates(target)
            return all(haversine_m(lon0, lat0, x, y) <= query.max_distance for x, y in coords)
        projected = shapely.transform(target, lambda xy: _project_all(lon0, lat0, xy))
        return bool(Point(0.0, 0.0).distance(projected) > (query.min_distance or 0.0))
    reference = _reference(query)
    if query.georel is GeoRel.WITHIN:
        return bool(target.within(reference))
    if query.georel is GeoRel.CONTAINS:
        return bool(target.contains(reference))
    if query.georel is GeoRel.INTERSECTS:
        return bool(target.intersects(reference))
    if query.georel is GeoRel.EQUALS:
        return bool(target.equals(reference))
    if query.georel is GeoRel.DISJOINT:
        return bool(target.disjoint(reference))
    return bool(target.overlaps(reference))


def _project_all(lon0: float, lat0: float, xy: Any) -> Any:
    out = xy.copy()
    for i, (x, y) in enumerate(xy):
        out[i] = project_aeqd(lon0, lat0, float(x), float(y))
    return out
