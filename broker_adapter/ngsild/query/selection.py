"""The smaller selection languages: entity type expressions (the `type` parameter), scopeQ (clause 4.19),
and the attribute lists of `attrs`, `pick` and `omit`.

Type expressions: the `type` parameter is a list of types separated by ',' (any of them), and since
v1.5 also an expression with ';' (AND: an entity with several types), '|' (OR) and parentheses, ';'
binding tighter. Names are terms, compact IRIs or IRIs, expanded with the caller's @context.

scopeQ (clause 4.19): scopes like /Madrid/Gardens, '+' for one level, a trailing '/#' for the scope and
everything below it, '/#' alone for "has any scope"; ',' and '|' are OR, ';' is AND. The ABNF only allows
';' inside one pair of parentheses; this parser accepts the general precedence form (a superset).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from broker_adapter.ngsild import names
from broker_adapter.ngsild.errors import BadRequestData, TooComplexQuery
from broker_adapter.ngsild.query._cursor import MAX_TERMS, Cursor, is_name_char, parse_boolean, wrap
from broker_adapter.ngsild.query.ast import And, Node, Or, ScopeMatch, TypeIs
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import Iri

_TYPE_STOP = frozenset(",;|() \t")
# Entity members that pick/omit name as they are; everything else is an attribute name to expand.
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt"})


def parse_type_expression(s: str, tm: TermMap) -> Node:
    """Parse the `type` parameter into TypeIs leaves under And/Or."""
    return parse_boolean(Cursor(s, "type"), lambda cur: _type_name(cur, tm), or_ops="|,")


def _type_name(cur: Cursor, tm: TermMap) -> TypeIs:
    start = cur.i
    while not cur.eof and cur.peek() not in _TYPE_STOP:
        cur.i += 1
    name = cur.s[start : cur.i]
    if not name:
        raise cur.unexpected("an entity type")
    try:
        names.check_name(name, "type")
        return TypeIs(tm.expand_name(name))
    except BadRequestData as exc:
        raise cur.wrap(exc, start) from exc


def parse_scope_query(s: str) -> Node:
    """Parse scopeQ into ScopeMatch leaves under And/Or."""
    return parse_boolean(Cursor(s, "scopeQ"), _scope, or_ops="|,")


def _scope(cur: Cursor) -> ScopeMatch:
    if cur.peek() != "/":
        raise cur.unexpected("a scope starting with '/'")
    levels: list[str] = []
    while cur.peek() == "/":
        cur.i += 1
        if cur.peek() == "#":
            cur.i += 1
            return ScopeMatch(tuple(levels), descendants=True)
        if cur.peek() == "+":
            cur.i += 1
            levels.append("+")
            continue
        start = cur.i
        while not cur.eof and is_name_char(cur.peek()) and (cur.i > start or cur.peek() != "-"):
            cur.i += 1
        if cur.i == start:
            raise cur.unexpected("a scope level, '+' or '#'")
        levels.append(cur.s[start : cur.i])
    return ScopeMatch(tuple(levels))


def parse_attrs(s: str, tm: TermMap, param: str = "attrs") -> tuple[Iri, ...]:
    """A comma-separated list of attribute names, expanded, duplicates dropped (order kept)."""
    out: dict[Iri, None] = {}
    for name, at in _split_names(s, param):
        try:
            names.check_attribute_name(name, param)
            out[tm.expand_name(name)] = None
        except BadRequestData as exc:
            raise wrap(exc, param, at) from exc
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Projection:
    """Which members of an entity a response keeps: `pick` (only these; None = all) minus `omit`.

    Entity members (ENTITY_MEMBERS) are kept as their names, attributes as expanded IRIs.
    """

    pick: frozenset[str] | None = None
    omit: frozenset[str] = frozenset()

    def keeps(self, member: str) -> bool:
        return (self.pick is None or member in self.pick) and member not in self.omit


def parse_pick_omit(pick: str | None, omit: str | None, tm: TermMap) -> Projection:
    """Parse the pick / omit parameters (v1.8 projection). Giving both is BadRequestData: which one
    would win is not something a client should have to guess."""
    if pick is not None and omit is not None:
        raise BadRequestData("pick and omit cannot be used together")
    if pick is not None:
        return Projection(pick=_members(pick, "pick", tm))
    if omit is not None:
        return Projection(omit=_members(omit, "omit", tm))
    return Projection()


def _members(s: str, param: str, tm: TermMap) -> frozenset[str]:
    out: set[str] = set()
    for name, at in _split_names(s, param):
        if "{" in name:
            raise BadRequestData(f"{param}: linked-entity projection is not supported at position {at}")
        if name in ENTITY_MEMBERS:
            out.add(name)
            continue
        try:
            names.check_attribute_name(name, param)
            out.add(tm.expand_name(name))
        except BadRequestData as exc:
            raise wrap(exc, param, at) from exc
    return frozenset(out)


def _split_names(s: str, param: str) -> list[tuple[str, int]]:
    Cursor(s, param)  # length bound
    parts: list[tuple[str, int]] = []
    at = 0
    for part in s.split(","):
        if not part:
            raise BadRequestData(f"{param}: empty name at position {at}")
        parts.append((part, at))
        at += len(part) + 1
    if len(parts) > MAX_TERMS:
        raise TooComplexQuery(f"{param}: more than {MAX_TERMS} names")
    return parts


def render_type_expression(node: Node, tm: TermMap) -> str:
    """The `type` string for a type AST (';' inside '|' needs no parentheses)."""
    return _render(node, lambda leaf: tm.compact_name(leaf.iri) if isinstance(leaf, TypeIs) else None)


def render_scope_query(node: Node) -> str:
    def leaf(n: Node) -> str | None:
        if not isinstance(n, ScopeMatch):
            return None
        text = "".join("/" + level for level in n.levels)
        return text + "/#" if n.descendants else text

    return _render(node, leaf)


def _render(node: Node, leaf: Callable[[Node], str | None]) -> str:
    if isinstance(node, Or):
        return "|".join(_render(item, leaf) for item in node.items)
    if isinstance(node, And):
        return ";".join(
            f"({_render(item, leaf)})" if isinstance(item, Or) else _render(item, leaf) for item in node.items
        )
    text = leaf(node)
    if text is None:
        raise ValueError(f"unexpected node {type(node).__name__}")
    return text
