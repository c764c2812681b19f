"""The parsed form of NGSI-LD queries: q (clause 4.9), entity type selection, scopeQ (clause 4.19) and
geo-queries (clause 4.10), shared by every store adapter and by the subscription matcher.

A request's query strings are parsed once (`q.py`, `selection.py`, `geo.py`) into these small frozen
dataclasses; adapters compile them to SQL or MongoDB filters and `evaluate.py` interprets them in memory,
as the reference the compilers are tested against. All names are already expanded with the caller's
@context, so nothing here depends on a TermMap.

    Node = And | Or                                    boolean structure, items has at least 2 members
         | Exists | Compare | InList | InRange | Pattern  q leaves on an AttrPath
         | TypeIs                                       type selection leaf
         | ScopeMatch                                   scopeQ leaf
         | GeoQuery                                     geo-query (one per request)

Every node is hashable and compares by value, so parsed queries can be cached and deduplicated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from broker_adapter.ngsild.types import Iri


class ValueType(StrEnum):
    """The data type of a q literal; comparisons between different types never match (clause 4.9)."""

    STRING = "String"  # "quoted" (or a bare term, see Literal.vocab)
    NUMBER = "Number"  # JSON number; int and float are one type
    BOOLEAN = "Boolean"
    DATETIME = "DateTime"  # value: canonical UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" (sorts chronologically)
    DATE = "Date"  # value: "YYYY-MM-DD"
    TIME = "Time"  # value: the validated literal, e.g. "12:00:00Z"
    URI = "URI"  # unquoted absolute URI, e.g. urn:ngsi-ld:Building:1


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in a q term.

    vocab is the literal expanded as a vocabulary term with the request's @context; it is what a
    VocabProperty (stored expanded) is compared with. None when the text cannot be expanded.
    """

    type: ValueType
    value: str | int | float | bool
    vocab: str | None = None


# Core members of an attribute that a q path can address instead of the value (temperature.observedAt).
MEMBER_TYPES: dict[str, ValueType] = {
    "observedAt": ValueType.DATETIME,
    "createdAt": ValueType.DATETIME,
    "modifiedAt": ValueType.DATETIME,
    "deletedAt": ValueType.DATETIME,
    "unitCode": ValueType.STRING,
    "datasetId": ValueType.URI,
    "lang": ValueType.STRING,
}


@dataclass(frozen=True, slots=True)
class AttrPath:
    """Where a q term looks in an entity.

    attrs: the attribute IRI, then sub-attribute IRIs (q: a.b.c).
    member: a core member of the last element (MEMBER_TYPES) compared instead of its value.
    keys: the trailing [x.y] path, not expanded: JSON member names inside a compound value, or for a
        LanguageProperty one language tag ("*" = any language).
    """

    attrs: tuple[Iri, ...]
    member: str | None = None
    keys: tuple[str, ...] = ()


class CompareOp(StrEnum):
    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


@dataclass(frozen=True, slots=True)
class Exists:
    """q=attr (negated=False) or q=!attr: the target element is present / absent."""

    path: AttrPath
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    """attr <op> value with one literal."""

    path: AttrPath
    op: CompareOp
    value: Literal


@dataclass(frozen=True, slots=True)
class InList:
    """attr==a,b,c (negated: attr!=a,b,c); values has at least 2 members."""

    path: AttrPath
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class InRange:
    """attr==low..high, both bounds included (negated: attr!=low..high); low and high share a type."""

    path: AttrPath
    low: Literal
    high: Literal
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Pattern:
    """attr~=regex (negated: attr!~=regex); `pattern` is Python `re` syntax, already checked by
    patterns.check_pattern, and matches anywhere in the string (POSIX regexec semantics)."""

    path: AttrPath
    pattern: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class TypeIs:
    """The entity has this (expanded) type among its types."""

    iri: Iri


@dataclass(frozen=True, slots=True)
class ScopeMatch:
    """One scopeQ pattern: levels ('+' matches any one level); descendants: a trailing '/#'.

    levels == () with descendants == True is "/#": any entity that has a scope at all.
    """

    levels: tuple[str, ...]
    descendants: bool = False


class GeoRel(StrEnum):
    NEAR = "near"
    WITHIN = "within"
    CONTAINS = "contains"
    INTERSECTS = "intersects"
    EQUALS = "equals"
    DISJOINT = "disjoint"
    OVERLAPS = "overlaps"


Coordinates: TypeAlias = tuple  # nested tuples of floats, the GeoJSON coordinates made hashable


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A validated geo-query. For near exactly one of max_distance / min_distance is set (metres) and
    geometry_type is "Point"; for the other relations both are None."""

    georel: GeoRel
    geometry_type: str
    coordinates: Coordinates
    geoproperty: Iri
    max_distance: float | None = None
    min_distance: float | None = None

    def geometry(self) -> dict[str, object]:
        """The reference geometry as a GeoJSON object (lists, as shapely and JSON expect)."""
        return {"type": self.geometry_type, "coordinates": _to_lists(self.coordinates)}


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


QLeaf: TypeAlias = Exists | Compare | InList | InRange | Pattern
Node: TypeAlias = And | Or | QLeaf | TypeIs | ScopeMatch | GeoQuery


def literals_of(node: Compare | InList | InRange | Pattern) -> tuple[Literal, ...]:
    """The literals a comparison compares with (none for a pattern)."""
    if isinstance(node, Compare):
        return (node.value,)
    if isinstance(node, InList):
        return node.values
    if isinstance(node, InRange):
        return (node.low, node.high)
    return ()


def combine(*nodes: Node | None) -> Node | None:
    """AND of the given parts of a request (q, type, scopeQ, geo), skipping absent ones."""
    present = tuple(n for n in nodes if n is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)


def _to_lists(value: object) -> object:
    if isinstance(value, tuple):
        return [_to_lists(v) for v in value]
    return value
