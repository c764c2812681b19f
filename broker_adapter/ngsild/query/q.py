"""The NGSI-LD Query Language (ETSI GS CIM 009 clause 4.9): a hand-written recursive-descent parser
from the `q` string to the AST in `ast.py`, and the inverse renderer.

    Query     = Term *(("; " / "|") Term), with "(" Query ")" as a Term; ';' binds tighter than '|'
    Term      = ["!"] Path | Path Op Value | Path ("==" / "!=") (List / Range) | Path ("~=" / "!~=") Regex
    Path      = Name *("." Name) ["[" Key *("." Key) "]"]
    Value     = "quoted JSON string" / number / true / false / DateTime / Date / Time / URI / term

Decisions beyond the ABNF (each keeps a query meaning what its author evidently meant):
- `!attr` (non-existence) is accepted, as Orion-LD and Stellio do.
- Parentheses nest (the ABNF allows one level; example 6 of clause 4.9 uses two), bounded by MAX_DEPTH.
- Spaces and tabs between tokens are skipped.
- A bare term (`gender==Male`, clause 4.9 example 12) is a String literal that also carries its
  expansion as a vocabulary term, which is what a VocabProperty is compared with.
- An unquoted URI or regex ends at ';', '|', ')' or (URI only) ','; quote it if it contains them.
- `name.observedAt` (and createdAt, modifiedAt, deletedAt, unitCode, datasetId, lang) addresses that core
  member of the attribute; other core member names in a path are rejected.
- `a{b}` (linked-entity paths, clause 4.5.23) needs other entities, which a pure filter cannot see:
  rejected as not supported.

Names are expanded with the caller's TermMap (clause 5.5.7); keys inside [...] are JSON member names or a
language tag and stay as written. Limits: MAX_LENGTH characters, MAX_DEPTH nesting, MAX_TERMS terms
(TooComplexQuery); everything else is BadRequestData naming the position.
"""

from __future__ import annotations

import json
import math
import re

from broker_adapter.ngsild import datetimes, names
from broker_adapter.ngsild.errors import BadRequestData, OperationNotSupported
from broker_adapter.ngsild.query import patterns
from broker_adapter.ngsild.query._cursor import Cursor, is_name_char, parse_boolean, show_char
from broker_adapter.ngsild.query.ast import (
    MEMBER_TYPES,
    And,
    AttrPath,
    Compare,
    CompareOp,
    Exists,
    InList,
    InRange,
    Literal,
    Node,
    Or,
    Pattern,
    ValueType,
)
from broker_adapter.ngsild.termmap import TermMap

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII)
_OPERATORS = ("==", "!=", "!~=", "~=", ">=", "<=", ">", "<")  # longest first where prefixes overlap
_ORDERED = frozenset({ValueType.NUMBER, ValueType.STRING, ValueType.DATETIME, ValueType.DATE, ValueType.TIME})
_BARE_STOP = frozenset(";|,) \t")


def parse_q(s: str, tm: TermMap) -> Node:
    """Parse a q string into a q AST; BadRequestData / TooComplexQuery name what is wrong and where."""
    return parse_boolean(Cursor(s, "q"), lambda cur: _term(cur, tm))


def _term(cur: Cursor, tm: TermMap) -> Node:
    if cur.peek() == "!":
        cur.i += 1
        return Exists(_path(cur, tm), negated=True)
    path = _path(cur, tm)
    cur.skip_ws()
    op = next((o for o in _OPERATORS if cur.s.startswith(o, cur.i)), None)
    if op is None:
        if cur.eof or cur.peek() in ";|)":
            return Exists(path)
        raise cur.unexpected("an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' or ')'")
    cur.i += len(op)
    cur.skip_ws()
    if op in ("~=", "!~="):
        return Pattern(path, _regex(cur), negated=op == "!~=")
    compare_op = CompareOp(op)
    first_at = cur.i
    first = _value(cur, tm)
    if cur.s.startswith("..", cur.i):
        if compare_op not in (CompareOp.EQ, CompareOp.NE):
            raise cur.fail(f"a range is only allowed after == or !=, not {op}")
        cur.i += 2
        high_at = cur.i
        high = _value(cur, tm)
        for lit, pos in ((first, first_at), (high, high_at)):
            if lit.type not in _ORDERED:
                raise cur.fail(f"a range bound must be a number, string or date/time, not a {lit.type}", pos)
        if high.type is not first.type:
            raise cur.fail(f"range bounds must have the same type ({first.type} and {high.type})", high_at)
        return InRange(path, first, high, negated=compare_op is CompareOp.NE)
    if cur.peek() == ",":
        if compare_op not in (CompareOp.EQ, CompareOp.NE):
            raise cur.fail(f"a list of values is only allowed after == or !=, not {op}")
        values = [first]
        while cur.peek() == ",":
            cur.i += 1
            cur.count_term()
            values.append(_value(cur, tm))
        return InList(path, tuple(values), negated=compare_op is CompareOp.NE)
    if compare_op not in (CompareOp.EQ, CompareOp.NE) and first.type not in _ORDERED:
        raise cur.fail(f"{op} needs a number, string, DateTime, Date or Time, not a {first.type}", first_at)
    return Compare(path, compare_op, first)


def _name(cur: Cursor, what: str) -> tuple[str, int]:
    """A term or compact IRI (prefix:suffix) made of name characters."""
    start = cur.i
    while not cur.eof and (is_name_char(cur.peek()) or (cur.peek() == ":" and cur.i > start)):
        cur.i += 1
    if cur.i == start:
        raise cur.unexpected(what)
    return cur.s[start : cur.i], start


def _path(cur: Cursor, tm: TermMap) -> AttrPath:
    attrs: list[str] = []
    member: str | None = None
    while True:
        name, at = _name(cur, "an attribute name")
        if attrs and name in MEMBER_TYPES:
            member = name
        elif name in names.RESERVED_ATTRIBUTE_NAMES:
            raise cur.fail(f"{name!r} is an NGSI-LD core member, not an attribute", at)
        else:
            attrs.append(_expand(cur, tm, name, at))
        if cur.peek() != ".":
            break
        if member is not None:
            raise cur.fail(f"nothing can follow the core member {member!r}")
        cur.i += 1
    keys: tuple[str, ...] = ()
    if cur.peek() == "[":
        if member is not None:
            raise cur.fail(f"a [...] path cannot follow the core member {member!r}")
        keys = _keys(cur)
        if cur.peek() == "[":
            raise cur.fail("only one [...] path is allowed; write a[b.c] for nested members")
    if cur.peek() == "{":
        raise OperationNotSupported(
            f"q: linked-entity paths ('{{' at position {cur.i}) are not supported by this broker"
        )
    return AttrPath(tuple(attrs), member, keys)


def _expand(cur: Cursor, tm: TermMap, name: str, at: int) -> str:
    try:
        names.check_name(name, cur.param)
        return tm.expand_name(name)
    except BadRequestData as exc:
        raise cur.wrap(exc, at) from exc


def _keys(cur: Cursor) -> tuple[str, ...]:
    cur.i += 1  # "["
    if cur.peek() == "*" and cur.peek(1) == "]":
        cur.i += 2
        return ("*",)
    keys = []
    while True:
        start = cur.i
        if cur.peek() == "@":
            cur.i += 1
        while not cur.eof and is_name_char(cur.peek()):
            cur.i += 1
        if cur.i == start or cur.s[start : cur.i] == "@":
            raise cur.unexpected("a member name inside [...]")
        keys.append(cur.s[start : cur.i])
        if cur.peek() == "]":
            cur.i += 1
            return tuple(keys)
        if cur.peek() != ".":
            raise cur.unexpected("'.' or ']'")
        cur.i += 1


def _value(cur: Cursor, tm: TermMap) -> Literal:
    if cur.peek() == '"':
        text = _quoted(cur)
        return Literal(ValueType.STRING, text, _vocab(text, tm))
    start = cur.i
    while not cur.eof and cur.peek() not in _BARE_STOP and not cur.s.startswith("..", cur.i):
        cur.i += 1
    token = cur.s[start : cur.i]
    if not token:
        raise cur.unexpected("a value")
    return _bare(cur, token, start, tm)


def _bare(cur: Cursor, token: str, at: int, tm: TermMap) -> Literal:
    if token in ("true", "false"):
        return Literal(ValueType.BOOLEAN, token == "true")
    if _NUMBER.fullmatch(token):
        number: int | float = float(token) if any(c in token for c in ".eE") else int(token)
        if isinstance(number, float) and not math.isfinite(number):
            raise cur.fail(f"number {token!r} is out of range", at)
        return Literal(ValueType.NUMBER, number)
    try:
        if _DATE.match(token) and "T" in token.upper():
            return Literal(ValueType.DATETIME, datetimes.normalize_datetime(token, cur.param))
        if _DATE.fullmatch(token):
            return Literal(ValueType.DATE, datetimes.parse_date(token, cur.param).isoformat())
        if _TIME.match(token):
            datetimes.parse_time(token, cur.param)
            return Literal(ValueType.TIME, token)
    except BadRequestData as exc:
        raise cur.wrap(exc, at) from exc
    if token[0].isdigit() or token[0] in "-+.":
        raise cur.fail(f"{token[:40]!r} is not a valid number, DateTime, Date or Time", at)
    if ":" in token:
        if not names.is_uri(token):
            raise cur.fail(f'{token[:40]!r} is not a valid URI (quote strings: "...")', at)
        return Literal(ValueType.URI, token, _vocab(token, tm))
    if token == "null" or not all(is_name_char(c) for c in token):
        bad = next((i for i, c in enumerate(token) if not is_name_char(c)), 0)
        raise cur.fail(f'unexpected {show_char(token[bad])} in a value (quote strings: "...")', at + bad)
    return Literal(ValueType.STRING, token, _vocab(token, tm))


def _vocab(text: str, tm: TermMap) -> str | None:
    """The text expanded as a vocabulary term, if it is a name the @context can expand."""
    if not text or len(text) > names.MAX_URI_LENGTH:
        return None
    try:
        names.check_name(text, "value")
        return tm.expand_vocab(text)
    except BadRequestData:
        return None


def _quoted(cur: Cursor) -> str:
    """A JSON string (RFC 8259 section 7) starting at the cursor."""
    start = cur.i
    j = start + 1
    while j < len(cur.s) and cur.s[j] != '"':
        j += 2 if cur.s[j] == "\\" else 1
    if j >= len(cur.s):
        raise cur.fail("string is not closed (missing '\"')", start)
    try:
        text = json.loads(cur.s[start : j + 1])
    except json.JSONDecodeError as exc:
        raise cur.fail(f"invalid string: {exc.msg}", start + exc.pos) from exc
    cur.i = j + 1
    return text


def _regex(cur: Cursor) -> str:
    start = cur.i
    if cur.peek() == '"':
        pattern = _quoted(cur)
        offset = start + 1  # approximate for patterns with escapes; exact otherwise
    else:
        depth = 0
        while not cur.eof:
            c = cur.peek()
            if c == "\\":
                cur.i += 2
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            elif c in ";|" and depth == 0:
                break
            cur.i += 1
        pattern = cur.s[start : min(cur.i, len(cur.s))]
        cur.i = min(cur.i, len(cur.s))
        offset = start
    try:
        return patterns.check_pattern(pattern)
    except patterns.PatternError as exc:
        raise cur.fail(exc.message, offset + exc.index) from exc


# -- rendering ------------------------------------------------------------------------------------


def render_q(node: Node, tm: TermMap) -> str:
    """The q string for a q AST, names compacted with tm; parse_q(render_q(n, tm), tm) == n."""
    if isinstance(node, Or):
        return "|".join(render_q(item, tm) for item in node.items)
    if isinstance(node, And):
        return ";".join(
            f"({render_q(item, tm)})" if isinstance(item, Or) else render_q(item, tm) for item in node.items
        )
    if isinstance(node, Exists):
        return ("!" if node.negated else "") + _render_path(node.path, tm)
    if isinstance(node, Compare):
        return f"{_render_path(node.path, tm)}{node.op.value}{render_literal(node.value)}"
    op = "!=" if getattr(node, "negated", False) else "=="
    if isinstance(node, InList):
        return _render_path(node.path, tm) + op + ",".join(render_literal(v) for v in node.values)
    if isinstance(node, InRange):
        return f"{_render_path(node.path, tm)}{op}{render_literal(node.low)}..{render_literal(node.high)}"
    if isinstance(node, Pattern):
        return f"{_render_path(node.path, tm)}{'!~=' if node.negated else '~='}{json.dumps(node.pattern)}"
    raise ValueError(f"not a q node: {type(node).__name__}")


def _render_path(path: AttrPath, tm: TermMap) -> str:
    out = ".".join(tm.compact_name(iri) for iri in path.attrs)
    if path.member is not None:
        out += "." + path.member
    if path.keys:
        out += "[" + ".".join(path.keys) + "]"
    return out


def render_literal(lit: Literal) -> str:
    if lit.type is ValueType.STRING:
        return json.dumps(lit.value, ensure_ascii=False)
    if lit.type is ValueType.BOOLEAN:
        return "true" if lit.value else "false"
    return str(lit.value) if not isinstance(lit.value, float) else repr(lit.value)
