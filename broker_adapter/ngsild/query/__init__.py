"""The query layer: NGSI-LD q, type, scopeQ and geo-queries parsed once per request into a small AST
(`ast.py`) that store adapters compile and `evaluate.matches` interprets. Pure: no I/O."""

from broker_adapter.ngsild.query.ast import (
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
    combine,
)
from broker_adapter.ngsild.query.evaluate import matches
from broker_adapter.ngsild.query.geo import parse_geo_query
from broker_adapter.ngsild.query.q import parse_q, render_q
from broker_adapter.ngsild.query.selection import (
    Projection,
    parse_attrs,
    parse_pick_omit,
    parse_scope_query,
    parse_type_expression,
)

__all__ = [
    "And",
    "AttrPath",
    "Compare",
    "CompareOp",
    "Exists",
    "GeoQuery",
    "GeoRel",
    "InList",
    "InRange",
    "Literal",
    "Node",
    "Or",
    "Pattern",
    "Projection",
    "ScopeMatch",
    "TypeIs",
    "ValueType",
    "combine",
    "matches",
    "parse_attrs",
    "parse_geo_query",
    "parse_pick_omit",
    "parse_q",
    "parse_scope_query",
    "parse_type_expression",
    "render_q",
]
