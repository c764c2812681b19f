"""Scanning helpers shared by the query-language parsers: a cursor over the input that reports
errors with their position, and the AND/OR/parentheses layer the q, type and scopeQ grammars share.

Precedence follows clause 4.9: AND (';') binds tighter than OR ('|', and ',' where a grammar allows
it), parentheses group. Nested AND/OR nodes are flattened, so equal queries give equal trees.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from broker_adapter.ngsild.errors import BadRequestData, TooComplexQuery
from broker_adapter.ngsild.query.ast import And, Node, Or

MAX_LENGTH = 4096
MAX_DEPTH = 32
MAX_TERMS = 256


def show_char(c: str) -> str:
    return repr(c) if c.isprintable() else f"U+{ord(c):04X}"


def is_name_char(c: str) -> bool:
    """Letters (with combining marks), decimal digits, '_' and '-': the characters of a short term."""
    if c.isascii():
        return c.isalnum() or c in "_-"
    cat = unicodedata.category(c)
    return cat[0] in "LM" or cat == "Nd"


def wrap(exc: BadRequestData, param: str, pos: int) -> BadRequestData:
    """Another validator's error, with the parameter and position added."""
    detail = exc.detail if exc.detail.startswith(param + ":") else f"{param}: {exc.detail}"
    return BadRequestData(f"{detail} (at position {pos})")


class Cursor:
    """A position in one query parameter; `fail` builds an error naming the parameter and position."""

    __slots__ = ("depth", "i", "param", "s", "terms")

    def __init__(self, s: str, param: str) -> None:
        if len(s) > MAX_LENGTH:
            raise TooComplexQuery(f"{param}: longer than {MAX_LENGTH} characters")
        self.s = s
        self.param = param
        self.i = 0
        self.depth = 0
        self.terms = 0

    @property
    def eof(self) -> bool:
        return self.i >= len(self.s)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def fail(self, message: str, pos: int | None = None) -> BadRequestData:
        return BadRequestData(f"{self.param}: {message} at position {self.i if pos is None else pos}")

    def unexpected(self, expected: str = "") -> BadRequestData:
        what = "unexpected end of input" if self.eof else f"unexpected {show_char(self.s[self.i])}"
        return self.fail(what + (f", expected {expected}" if expected else ""))

    def wrap(self, exc: BadRequestData, pos: int) -> BadRequestData:
        return wrap(exc, self.param, pos)

    def count_term(self) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise TooComplexQuery(f"{self.param}: more than {MAX_TERMS} terms")


def parse_boolean(
    cur: Cursor,
    leaf: Callable[[Cursor], Node],
    *,
    or_ops: str = "|",
    and_ops: str = ";",
) -> Node:
    """Parse the whole input as leaf terms joined by and_ops/or_ops, with parentheses."""
    cur.skip_ws()
    if cur.eof:
        raise cur.fail("empty expression")
    node = _or(cur, leaf, or_ops, and_ops)
    cur.skip_ws()
    if not cur.eof:
        if cur.peek() == ")":
            raise cur.fail("unexpected ')' without a matching '('")
        raise cur.unexpected(f"{_ops_text(or_ops + and_ops)} or the end")
    return node


def _ops_text(ops: str) -> str:
    return ", ".join(repr(c) for c in ops)


def _or(cur: Cursor, leaf: Callable[[Cursor], Node], or_ops: str, and_ops: str) -> Node:
    items = [_and(cur, leaf, or_ops, and_ops)]
    cur.skip_ws()
    while cur.peek() and cur.peek() in or_ops:
        cur.i += 1
        items.append(_and(cur, leaf, or_ops, and_ops))
        cur.skip_ws()
    return _flat(Or, items)


def _and(cur: Cursor, leaf: Callable[[Cursor], Node], or_ops: str, and_ops: str) -> Node:
    items = [_primary(cur, leaf, or_ops, and_ops)]
    cur.skip_ws()
    while cur.peek() and cur.peek() in and_ops:
        cur.i += 1
        items.append(_primary(cur, leaf, or_ops, and_ops))
        cur.skip_ws()
    return _flat(And, items)


def _primary(cur: Cursor, leaf: Callable[[Cursor], Node], or_ops: str, and_ops: str) -> Node:
    cur.skip_ws()
    if cur.peek() == "(":
        open_at = cur.i
        cur.depth += 1
        if cur.depth > MAX_DEPTH:
            raise TooComplexQuery(f"{cur.param}: parentheses nested deeper than {MAX_DEPTH}")
        cur.i += 1
        node = _or(cur, leaf, or_ops, and_ops)
        cur.skip_ws()
        if cur.peek() != ")":
            if cur.eof:
                raise cur.fail("'(' is not closed", open_at)
            raise cur.unexpected(f"{_ops_text(or_ops + and_ops)} or ')'")
        cur.i += 1
        cur.depth -= 1
        return node
    if cur.eof or cur.peek() in or_ops + and_ops + ")":
        raise cur.unexpected("a term")
    cur.count_term()
    return leaf(cur)


def _flat(kind: type[And] | type[Or], items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))
