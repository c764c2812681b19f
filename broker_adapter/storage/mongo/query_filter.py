"""Compile the parsed NGSI-LD query (ngsild.query.ast) to a MongoDB filter over the `entities` documents.

A q term becomes an `$elemMatch` over the attribute's instances (`attrs.<encoded IRI>`, down the
sub-attribute path), reading the target by kind exactly as the reference evaluator
(ngsild.query.evaluate) does. Like the SQLite compiler, every node compiles to either

- an exact filter: MongoDB selects precisely the entities `matches(entity, node)` accepts, or
- a superset filter (`exact=False`): MongoDB prunes and the caller finishes with the evaluator.

Supersets compose because the AST has no general NOT: negation lives only inside leaves, and a
negated leaf's superset is "the attribute is there" (or nothing, for `!attr`).

Why the exact filters are exact (MongoDB query semantics):
- A field that holds an array is matched element-wise ("any element"), one level deep, which is what
  the evaluator's atoms are: a scalar value, or the elements of an array value (nested arrays are no
  atoms, and MongoDB does not descend into them either).
- Comparison operators only match values of the literal's BSON type bracket: numbers (int, long,
  double, Decimal128) with numbers, strings with strings (binary UTF-8 order = code point order), and
  booleans are not numbers. That is the evaluator's type discipline (clause 4.9).
- `$nor` of "some atom satisfies X" is "no atom does", the evaluator's negative forms; ranges use
  `$elemMatch` so both bounds hold for the same element.
- DateTime and Date values are typed objects {"@type", "@value"}: compared through `@value` with the
  `@type` pinned, element-wise.

Superset (finished in Python): Time literals (compared by UTC offset), integers beyond 34 digits,
`[x.y]` paths into JSON values (MongoDB paths also walk arrays, the evaluator does not; this includes a
language tag `[de]`), regular expressions outside the portable
subset (Python `re` and MongoDB's PCRE differ on \\d, \\w, \\s, \\b and most inline flags), and
geo-queries (pruned by the geometry boxes, or on a real server by a 2dsphere operator; decided by the
evaluator's planar/haversine rules).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128

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
    literals_of,
)
from broker_adapter.ngsild.query.geo import EARTH_RADIUS_M
from broker_adapter.storage.geo_boxes import search_box
from broker_adapter.storage.mongo.codec import LANGUAGE_TEXTS
from broker_adapter.storage.mongo.keys import field

Filter = dict[str, Any]
MATCH_ALL: Filter = {}
MATCH_NONE: Filter = {"_id": {"$in": []}}
_OPS = {CompareOp.GT: "$gt", CompareOp.GE: "$gte", CompareOp.LT: "$lt", CompareOp.LE: "$lte"}
_TEXT = (ValueType.STRING, ValueType.URI)
_TYPED = {ValueType.DATETIME: "DateTime", ValueType.DATE: "Date"}
_INT64 = 2**63
# Regular expressions that mean the same in Python re and PCRE: printable ASCII, escapes of punctuation
# only (no \d \w \s \b ...), no inline flags or special groups except (?:...) and a leading (?i).
_PORTABLE = re.compile(
    r"(?:\(\?i\))?(?:[^\\(\x00-\x1f\x7f-\U0010ffff]|\\[^A-Za-z0-9\x00-\x1f]|\((?!\?)|\(\?:)*"
)


@dataclass
class Compiled:
    filter: Filter
    exact: bool = True


@dataclass(frozen=True, slots=True)
class _Branch:
    """One way an instance offers a target (a group of attribute kinds, or a core member).

    present: the instance offers a target on this branch; at: the field of the target; family:
    value (any atom), text (strings only: references, vocab, languages), datetime-member /
    text-member (the raw string of observedAt etc. / unitCode etc.)."""

    present: Filter
    at: str
    family: str
    relationship: bool = False
    vocab: bool = False


def portable_regex(pattern: str) -> bool:
    return _PORTABLE.fullmatch(pattern) is not None


def regex_filter(pattern: str) -> Filter | None:
    """`{"$regex": ...}` for a pattern MongoDB reads as Python does; None: decide in Python."""
    if not portable_regex(pattern):
        return None
    if pattern.startswith("(?i)"):
        return {"$regex": pattern[4:], "$options": "i"}
    return {"$regex": pattern}


def mongo_number(value: int | float) -> Any:
    """A number as MongoDB compares it; None when it cannot be represented exactly."""
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return Decimal128(Decimal(value)) if len(str(abs(value))) <= 34 else None
    return value


def _and(*parts: Filter) -> Filter:
    present = [p for p in parts if p]
    if not present:
        return {}
    return present[0] if len(present) == 1 else {"$and": present}


def _or(parts: list[Filter]) -> Filter:
    if not parts:
        return MATCH_NONE
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _nor(part: Filter) -> Filter:
    return {"$nor": [part]}


class FilterCompiler:
    """One compilation; `exact` turns False when some node compiled to a superset."""

    def __init__(self, *, native_geo: bool = False) -> None:
        self.native_geo = native_geo
        self.exact = True

    def compile(self, node: Node) -> Compiled:
        self.exact = True
        return Compiled(self.node(node), self.exact)

    # structure ------------------------------------------------------------------------------------
    def node(self, node: Node) -> Filter:
        if isinstance(node, And):
            return {"$and": [self.node(n) for n in node.items]}
        if isinstance(node, Or):
            return {"$or": [self.node(n) for n in node.items]}
        if isinstance(node, TypeIs):
            return {"type": node.iri}
        if isinstance(node, ScopeMatch):
            return {"scope": {"$regex": scope_regex(node)}}
        if isinstance(node, GeoQuery):
            self.exact = False
            return geo_filter(node, native=self.native_geo)
        if isinstance(node, Exists):
            return self._exists(node)
        return self._term(node)

    # q leaves -------------------------------------------------------------------------------------
    def _instances(self, path: AttrPath, condition: Filter) -> Filter:
        """Some instance of the attribute, down the sub-attribute path, satisfies the condition."""
        return {field("attrs", path.attrs[0]): {"$elemMatch": condition}}

    def _superset(self, path: AttrPath) -> Filter:
        """Every term but `!attr` needs the attribute (and sub-attribute) to be there."""
        self.exact = False
        return {field("attrs", *path.attrs): {"$exists": True}}

    def _exists(self, node: Exists) -> Filter:
        branches = self._branches(node.path)
        if branches is None:
            if node.negated:
                self.exact = False
                return MATCH_ALL
            return self._superset(node.path)
        found = self._instances(node.path, _or([b.present for b in branches]))
        return _nor(found) if node.negated else found

    def _branches(self, path: AttrPath) -> list[_Branch] | None:
        """The targets one instance offers, by kind, as evaluate._target reads them; None: the path
        walks into JSON values (only a superset is possible)."""
        sub = [field(*path.attrs[1:])] if len(path.attrs) > 1 else []

        def at(*keys: str) -> str:
            return ".".join([*sub, field(*keys)])

        if path.member is not None:
            member = at(path.member)
            family = "datetime-member" if MEMBER_TYPES[path.member] is ValueType.DATETIME else "text-member"
            return [_Branch({member: {"$type": "string"}}, member, family)]
        kind = at("type")
        if path.keys:
            return None
        branches = [
            _Branch(
                {kind: {"$in": ["Property", "GeoProperty"]}, at("value"): {"$exists": True}},
                at("value"),
                "value",
            ),
            _Branch({kind: "JsonProperty", at("json"): {"$exists": True}}, at("json"), "value"),
            _Branch({kind: "ListProperty", at("valueList"): {"$exists": True}}, at("valueList"), "value"),
            _Branch({kind: "Relationship", at("object"): {"$exists": True}}, at("object"), "text", True),
            _Branch(
                {kind: "ListRelationship", at("objectList"): {"$exists": True}},
                at("objectList"),
                "text",
                True,
            ),
            _Branch({kind: "VocabProperty", at("vocab"): {"$exists": True}}, at("vocab"), "text", vocab=True),
            # the atoms of a languageMap are its strings, kept beside it by the codec (its keys are data)
            _Branch(
                {kind: "LanguageProperty", at("languageMap"): {"$type": "object"}},
                ".".join([*sub, LANGUAGE_TEXTS]),
                "text",
            ),
        ]
        return branches

    def _term(self, node: Compare | InList | InRange | Pattern) -> Filter:
        branches = self._branches(node.path)
        if branches is None or not all(_exact_literal(lit) for lit in literals_of(node)):
            return self._superset(node.path)
        parts: list[Filter] = []
        for b in branches:
            if isinstance(node, Pattern):
                part = self._pattern(node, b)
                if part is None and not b.relationship and b.family != "datetime-member":
                    return self._superset(node.path)  # a regex MongoDB would read differently
            else:
                hit = self._hit(node, b)
                if _negative(node):
                    part = b.present if hit is None else _and(b.present, _nor(hit))
                else:
                    part = None if hit is None else _and(b.present, hit)
            if part is not None:
                parts.append(part)
        if not parts:
            return MATCH_NONE
        return self._instances(node.path, _or(parts))

    def _hit(self, node: Compare | InList | InRange, b: _Branch) -> Filter | None:
        """Some atom of the target satisfies the positive form of the term; None: never."""
        if isinstance(node, Compare):
            if node.op in (CompareOp.EQ, CompareOp.NE):
                return self._equal(node.value, b)
            if b.relationship:
                return None
            return self._ordered(node.value, {_OPS[node.op]: None}, b)
        if isinstance(node, InList):
            hits = [h for h in (self._equal(v, b) for v in node.values) if h is not None]
            return _or(hits) if hits else None
        if node.low.type != node.high.type:
            return None
        return self._ordered(node.low, {"$gte": None, "$lte": node.high}, b)

    def _equal(self, lit: Literal, b: _Branch) -> Filter | None:
        if lit.type is ValueType.BOOLEAN:
            return {b.at: lit.value} if b.family == "value" else None
        return self._ordered(lit, {"$eq": None}, b)

    def _ordered(self, lit: Literal, ops: dict[str, Any], b: _Branch) -> Filter | None:
        """Some atom satisfies every operator of `ops` against the literal (`None` stands for `lit`,
        another Literal for itself: ranges), within the literal's type family."""
        if lit.type in _TEXT:
            if b.family == "datetime-member":
                return None
            value = lit.vocab if b.vocab and lit.vocab is not None else lit.value
            cond = _bind(ops, lit, lambda x: x.vocab if b.vocab and x.vocab is not None else x.value, value)
            return _atoms(b.at, cond)
        if b.family == "datetime-member":
            if lit.type is not ValueType.DATETIME:
                return None
            return {b.at: _bind(ops, lit, lambda x: x.value, lit.value)}
        if b.family != "value":
            return None
        if lit.type is ValueType.NUMBER:
            return _atoms(b.at, _bind(ops, lit, lambda x: mongo_number(x.value), mongo_number(lit.value)))
        typed = _TYPED.get(lit.type)
        if typed is None:
            return None  # Boolean: no order
        cond = {"@type": typed, "@value": _bind(ops, lit, lambda x: x.value, lit.value)}
        return {
            "$or": [
                {b.at: {"$elemMatch": cond}},
                {b.at: {"$not": {"$type": "array"}}, **{f"{b.at}.{k}": v for k, v in cond.items()}},
            ]
        }

    def _pattern(self, node: Pattern, b: _Branch) -> Filter | None:
        if b.relationship or b.family == "datetime-member":
            return None  # no String target: neither ~= nor !~= can match
        regex = regex_filter(node.pattern)
        if regex is None:
            return None
        found = {b.at: regex}
        if not node.negated:
            return _and(b.present, found)
        return _and(b.present, {b.at: {"$type": "string"}}, _nor(found))


def _bind(ops: dict[str, Any], lit: Literal, convert: Callable[[Literal], Any], value: Any) -> dict[str, Any]:
    return {op: value if other is None else convert(other) for op, other in ops.items()}


def _atoms(at: str, cond: dict[str, Any]) -> Filter:
    """Some atom (the value, or an element of an array value) satisfies all of cond."""
    if len(cond) == 1:
        ((op, value),) = cond.items()
        return {at: value if op == "$eq" else cond}
    return {"$or": [{at: {"$elemMatch": cond}}, {at: {**cond, "$not": {"$type": "array"}}}]}


def _exact_literal(lit: Literal) -> bool:
    if lit.type is ValueType.TIME:
        return False
    if lit.type is ValueType.NUMBER:
        return mongo_number(lit.value) is not None and not (  # type: ignore[arg-type]
            isinstance(lit.value, float) and not math.isfinite(lit.value)
        )
    return True


def _negative(node: Compare | InList | InRange) -> bool:
    if isinstance(node, Compare):
        return node.op is CompareOp.NE
    return node.negated


# -- scopeQ -------------------------------------------------------------------------------------------


def scope_regex(node: ScopeMatch) -> str:
    """The evaluator's scope rule as an anchored regex over each scope string: '+' is one level of any
    text (also empty), a trailing '/#' allows deeper levels, "/#" alone any scope that starts with '/'."""
    if not node.levels:
        return "^/"
    levels = "/".join("[^/]*" if level == "+" else re.escape(level) for level in node.levels)
    return "^/" + levels + ("(/.*)?$" if node.descendants else "$")


# -- geo ------------------------------------------------------------------------------------------------


def geo_filter(query: GeoQuery, *, native: bool) -> Filter:
    """A superset of the entities the geo-query matches: boxes of the geoproperty's geometries that can
    meet the query's box (all of them for disjoint and minDistance); on a real server near;maxDistance
    also uses the 2dsphere field: a geometry within the spherical cap has every vertex within reach."""
    box = search_box(query)
    match: dict[str, Any] = {"a": query.geoproperty}
    if box is not None:
        gx0, gx1, gy0, gy1 = box
        if query.georel in (GeoRel.CONTAINS, GeoRel.EQUALS):
            # the target covers the reference, so its box covers the reference's box
            match.update(x0={"$lte": gx0}, x1={"$gte": gx1}, y0={"$lte": gy0}, y1={"$gte": gy1})
        else:
            match.update(x0={"$lte": gx1}, x1={"$gte": gx0}, y0={"$lte": gy1}, y1={"$gte": gy0})
    boxed = {"_box": {"$elemMatch": match}}
    if native and query.georel is GeoRel.NEAR and query.max_distance is not None:
        # 0.1 % + 1 m of margin: the cap only prunes, the evaluator's haversine decides
        radians = (query.max_distance * 1.001 + 1.0) / EARTH_RADIUS_M
        centre = [query.coordinates[0], query.coordinates[1]]
        cap = {
            field("_geo") + "." + field(query.geoproperty): {
                "$geoWithin": {"$centerSphere": [centre, radians]}
            }
        }
        unindexed = {"_box": {"$elemMatch": {**match, "n": False}}}
        return {"$and": [boxed, {"$or": [cap, unindexed]}]}
    return boxed
