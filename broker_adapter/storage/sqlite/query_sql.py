"""Compile the parsed NGSI-LD query (ngsild.query.ast) to an SQLite condition over `entities e`.

The entity document is JSON (`e.doc`, see ngsild.types); a q term becomes an EXISTS over the
attribute's instances (`json_each`), with the target value read by kind exactly as the reference
evaluator (ngsild.query.evaluate) reads it. Every node compiles to either

- an exact condition: the SQL selects precisely the entities `matches(entity, node)` accepts, or
- a superset condition (`exact=False`): SQL prunes, and the caller finishes with the evaluator on the
  candidates only. That is the case for Time literals (Python compares aware times by UTC offset),
  integers beyond 2**53 (SQLite would compare them as doubles) and geo-queries (exact geometry).

Supersets compose because the AST has no general NOT: negation only exists inside leaves, and a
negated leaf's superset is "the target is present", which every non-existence term needs.

Positive numeric terms on a top-level attribute probe the attr_numbers index instead (number_index),
which holds exactly the Number atoms the evaluator reads there.

Type discipline (clause 4.9) mirrors the evaluator: an atom is compared with a literal only when both
are of one family (number, text, bool, DateTime and Date as typed {"@type", "@value"} objects or
temporal members), using json_type so that SQLite's cross-type ordering never leaks in; strings compare
by code point (SQLite's BINARY collation on UTF-8 orders by code point too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from broker_adapter.ngsild.query import patterns
from broker_adapter.ngsild.query.ast import (
    MEMBER_TYPES,
    And,
    AttrPath,
    Compare,
    CompareOp,
    Exists,
    GeoQuery,
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

_EXACT_INT = 2**53
_SQL_OP = {CompareOp.GT: ">", CompareOp.GE: ">=", CompareOp.LT: "<", CompareOp.LE: "<="}
_TYPED = {ValueType.DATETIME: "DateTime", ValueType.DATE: "Date"}
_TEXT = (ValueType.STRING, ValueType.URI)


def json_path(*keys: str) -> str:
    """A JSON path of quoted member names ('$."a"."b"'); IRIs and q keys never contain '"'."""
    return "$" + "".join(f'."{k}"' for k in keys)


def scope_matches(levels: str, descendants: int, scope: str | None) -> bool:
    """SQL function for scopeQ patterns with '+' (one level, any text): the evaluator's rule."""
    if not isinstance(scope, str) or not scope.startswith("/"):
        return False
    wanted = levels.split("/")[1:] if levels else []
    have = scope.split("/")[1:]
    if len(have) < len(wanted) or (not descendants and len(have) != len(wanted)):
        return False
    return all(w in ("+", h) for w, h in zip(wanted, have, strict=False))


def q_regexp(pattern: str, value: object) -> bool:
    """SQL function for ~=: only patterns accepted by patterns.check_pattern reach it (bounded)."""
    return isinstance(value, str) and patterns.compiled(pattern).search(value) is not None


def register_functions(conn) -> None:  # type: ignore[no-untyped-def]
    conn.create_function("ngsild_scope", 3, scope_matches, deterministic=True)
    conn.create_function("ngsild_regexp", 2, q_regexp, deterministic=True)


@dataclass
class Compiled:
    """An SQL condition with named parameters; exact=False: a superset to finish with the evaluator."""

    sql: str
    params: dict[str, object] = field(default_factory=dict)
    exact: bool = True


AtomTest = Callable[[str, str], str | None]  # (json type SQL, value SQL) -> condition, None: never


@dataclass(frozen=True, slots=True)
class _Branch:
    """One way an instance offers a target (a group of attribute kinds, or a core member).

    present: SQL, the instance offers a target on this branch; atoms(A): SQL, some atom of the target
    satisfies A; mode: which literal families can equal an atom (value: any _atom; text: strings
    only; datetime-member / text-member: the raw string of observedAt etc. / unitCode etc.)."""

    present: str
    atoms: Callable[[Callable[[str, str], str]], str]
    mode: str
    relationship: bool = False
    vocab: bool = False


class Compiler:
    """One compilation: binds parameters by name, so repeated fragments share them."""

    def __init__(self, tenant: str) -> None:
        self.params: dict[str, object] = {"tenant": tenant}
        self._names: dict[tuple[type, object], str] = {}
        self._alias = 0
        self.exact = True

    def compile(self, node: Node) -> Compiled:
        self.exact = True
        sql = self.node(node)
        return Compiled(sql, self.params, self.exact)

    def bind(self, value: object) -> str:
        key = (type(value), value)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"p{len(self._names)}"
            self.params[name] = value
        return ":" + name

    def alias(self, stem: str) -> str:
        self._alias += 1
        return f"{stem}{self._alias}"

    # structure ------------------------------------------------------------------------------------
    def node(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.node(n) for n in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.node(n) for n in node.items) + ")"
        if isinstance(node, TypeIs):
            return self.type_is(node.iri)
        if isinstance(node, ScopeMatch):
            return self._scope(node)
        if isinstance(node, GeoQuery):
            self.exact = False  # pruned by the geo index in the FROM clause, decided by the evaluator
            return "1"
        if isinstance(node, Exists):
            i = self.alias("i")
            present = " OR ".join(f"({b.present})" for b in self._branches(node.path, i))
            return ("NOT " if node.negated else "") + self._instances(node.path, i, present)
        return self._term(node)

    def type_is(self, iri: str) -> str:
        t = self.alias("t")
        return (
            f"EXISTS (SELECT 1 FROM entity_types {t} WHERE {t}.tenant = e.tenant"
            f" AND {t}.type = {self.bind(iri)} AND {t}.id = e.id)"
        )

    def _scope(self, node: ScopeMatch) -> str:
        s = self.alias("s")
        text = "".join("/" + level for level in node.levels)
        if "+" in node.levels:
            test = f"ngsild_scope({self.bind(text)}, {int(node.descendants)}, {s}.value)"
        elif not node.descendants:
            test = f"{s}.value = {self.bind(text)}"
        else:
            prefix = text + "/"
            test = f"substr({s}.value, 1, {len(prefix)}) = {self.bind(prefix)}"
            if text:
                test = f"({s}.value = {self.bind(text)} OR {test})"
        return f"EXISTS (SELECT 1 FROM json_each(e.doc, '$.scope') {s} WHERE {s}.type = 'text' AND {test})"

    # q leaves -------------------------------------------------------------------------------------
    def _instances(self, path: AttrPath, i: str, condition: str) -> str:
        """EXISTS an instance (alias i) of the attribute, down the sub-attribute path, satisfying it."""
        where = f"{i}.type = 'object'"
        if len(path.attrs) > 1:
            where += f" AND json_type({i}.value, {self.bind(json_path(*path.attrs[1:]))}) = 'object'"
        source = f"json_each(e.doc, {self.bind(json_path('attrs', path.attrs[0]))})"
        return f"EXISTS (SELECT 1 FROM {source} {i} WHERE {where} AND ({condition or '0'}))"

    def _branches(self, path: AttrPath, i: str) -> list[_Branch]:
        """The target one instance offers, by kind, exactly as evaluate._target reads it."""
        x = f"{i}.value"
        sub = path.attrs[1:]
        if path.member is not None:
            at = self.bind(json_path(*sub, path.member))
            mode = "datetime-member" if MEMBER_TYPES[path.member] is ValueType.DATETIME else "text-member"
            value = f"json_extract({x}, {at})"
            return [_Branch(f"json_type({x}, {at}) = 'text'", lambda test: test("'text'", value), mode)]
        kind = f"json_extract({x}, {self.bind(json_path(*sub, 'type'))})"
        branches = []
        for kinds, member in _VALUE_KINDS:
            at = self.bind(json_path(*sub, member, *path.keys))
            present = f"{kind} IN ({kinds}) AND json_type({x}, {at}) IS NOT NULL"
            branches.append(_Branch(present, self._each(x, at), "value"))
        if not path.keys:
            for name, member in _REFERENCE_KINDS:
                at = self.bind(json_path(*sub, member))
                present = f"{kind} = '{name}' AND json_type({x}, {at}) IS NOT NULL"
                vocab = name == "VocabProperty"
                branches.append(_Branch(present, self._each(x, at), "text", not vocab, vocab))
        if len(path.keys) <= 1:
            lang_map = self.bind(json_path(*sub, "languageMap"))
            present = f"{kind} = 'LanguageProperty' AND json_type({x}, {lang_map}) = 'object'"
            if path.keys and path.keys[0] != "*":
                at = self.bind(json_path(*sub, "languageMap", path.keys[0]))
                present += f" AND json_type({x}, {at}) IS NOT NULL"
                branches.append(_Branch(present, self._each(x, at), "text"))
            else:
                branches.append(_Branch(present, self._language_map(x, lang_map), "text"))
        return branches

    def _each(self, x: str, at: str) -> Callable[[Callable[[str, str], str]], str]:
        """Atoms of the JSON value at `at`: its elements if it is an array, else the value itself."""

        def atoms(test: Callable[[str, str], str]) -> str:
            a = self.alias("a")
            return (
                f"CASE json_type({x}, {at}) WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each({x}, {at}) {a}"
                f" WHERE {test(f'{a}.type', f'{a}.value')})"
                f" ELSE IFNULL({test(f'json_type({x}, {at})', f'json_extract({x}, {at})')}, 0) END"
            )

        return atoms

    def _language_map(self, x: str, lang_map: str) -> Callable[[Callable[[str, str], str]], str]:
        """Atoms of every language of a languageMap (a language may hold an array of strings)."""

        def atoms(test: Callable[[str, str], str]) -> str:
            m, a = self.alias("m"), self.alias("a")
            return (
                f"EXISTS (SELECT 1 FROM json_each({x}, {lang_map}) {m} WHERE CASE {m}.type WHEN 'array'"
                f" THEN EXISTS (SELECT 1 FROM json_each({m}.value) {a}"
                f" WHERE {test(f'{a}.type', f'{a}.value')})"
                f" ELSE {test(f'{m}.type', f'{m}.value')} END)"
            )

        return atoms

    def _term(self, node: Compare | InList | InRange | Pattern) -> str:
        i = self.alias("i")
        branches = self._branches(node.path, i)
        if not all(_exact_literal(lit) for lit in literals_of(node)):
            self.exact = False  # superset: every such term needs a target
            return self._instances(node.path, i, " OR ".join(f"({b.present})" for b in branches))
        indexed = self._number_index(node)
        if indexed is not None:
            return indexed
        parts = []
        for b in branches:
            if isinstance(node, Pattern):
                part = self._pattern(node, b)
            else:
                hit = self._hit_test(node, b)
                if _negative(node):
                    part = b.present if hit is None else f"{b.present} AND NOT {b.atoms(hit)}"
                else:
                    part = None if hit is None else f"{b.present} AND {b.atoms(hit)}"
            if part is not None:
                parts.append(f"({part})")
        return self._instances(node.path, i, " OR ".join(parts))

    def _number_index(self, node: Compare | InList | InRange | Pattern) -> str | None:
        """Positive numeric terms on a top-level attribute: an exact probe of attr_numbers."""
        path = node.path
        if len(path.attrs) != 1 or path.member is not None or path.keys:
            return None
        if not all(lit.type is ValueType.NUMBER for lit in literals_of(node)):
            return None
        n = self.alias("n")
        if isinstance(node, Compare) and node.op is not CompareOp.NE:
            test = f"{n}.num {_SQL_OP.get(node.op, '=')} {self.bind(node.value.value)}"
        elif isinstance(node, InRange) and not node.negated:
            test = f"{n}.num BETWEEN {self.bind(node.low.value)} AND {self.bind(node.high.value)}"
        elif isinstance(node, InList) and not node.negated:
            test = f"{n}.num IN (" + ", ".join(self.bind(v.value) for v in node.values) + ")"
        else:
            return None
        return (
            f"EXISTS (SELECT 1 FROM attr_numbers {n} WHERE {n}.tenant = e.tenant AND {n}.id = e.id"
            f" AND {n}.attr = {self.bind(path.attrs[0])} AND {test})"
        )

    def _hit_test(self, node: Compare | InList | InRange, b: _Branch) -> AtomTest | None:
        """A(t, v) for "this atom satisfies the positive form of the term" on branch b; None: never."""
        if isinstance(node, Compare):
            if node.op in (CompareOp.EQ, CompareOp.NE):
                return self._equal_test(node.value, b)
            if b.relationship:
                return None
            return self._ordered_test(node.value, _SQL_OP[node.op], b)
        if isinstance(node, InList):
            tests = [t for t in (self._equal_test(v, b) for v in node.values) if t is not None]
            if not tests:
                return None
            return lambda t, v: "(" + " OR ".join(test(t, v) or "0" for test in tests) + ")"
        low, high = self._ordered_test(node.low, ">=", b), self._ordered_test(node.high, "<=", b)
        if low is None or high is None:
            return None
        return lambda t, v: f"({low(t, v)} AND {high(t, v)})"

    def _equal_test(self, lit: Literal, b: _Branch) -> AtomTest | None:
        if lit.type is ValueType.BOOLEAN:
            if b.mode != "value":
                return None
            json_bool = "'true'" if lit.value else "'false'"
            return lambda t, v: f"{t} = {json_bool}"
        return self._ordered_test(lit, "=", b)

    def _ordered_test(self, lit: Literal, op: str, b: _Branch) -> AtomTest | None:
        """A(t, v) for "atom <op> literal" within one family (clause 4.9 typing), or None."""
        if lit.type in _TEXT:
            value = lit.vocab if b.vocab and lit.vocab is not None else lit.value
            if b.mode == "datetime-member":
                return None
            p = self.bind(value)
            if b.mode == "text-member":
                return lambda t, v: f"{v} {op} {p}"
            return lambda t, v: f"({t} = 'text' AND {v} {op} {p})"
        if b.mode == "datetime-member":
            if lit.type is not ValueType.DATETIME:
                return None
            p = self.bind(lit.value)
            return lambda t, v: f"{v} {op} {p}"
        if b.mode != "value":
            return None
        p = self.bind(lit.value)
        if lit.type is ValueType.NUMBER:
            return lambda t, v: f"({t} IN ('integer', 'real') AND {v} {op} {p})"
        typed = _TYPED.get(lit.type)
        if typed is None:
            return None  # Boolean: no order
        # CASE, not AND: SQLite does not promise to skip json_extract on a non-JSON text atom
        return lambda t, v: (
            f"CASE WHEN {t} = 'object' THEN json_extract({v}, '$.\"@type\"') IS '{typed}'"
            f" AND json_type({v}, '$.\"@value\"') IS 'text' AND json_extract({v}, '$.\"@value\"') {op} {p}"
            " ELSE 0 END"
        )

    def _pattern(self, node: Pattern, b: _Branch) -> str | None:
        if b.relationship or b.mode == "datetime-member":
            return None  # no String target: neither ~= nor !~= can match
        p = self.bind(node.pattern)
        if b.mode == "text-member":
            found = b.atoms(lambda t, v: f"ngsild_regexp({p}, {v})")
            return f"{b.present} AND {'NOT ' if node.negated else ''}{found}"
        found = b.atoms(lambda t, v: f"({t} = 'text' AND ngsild_regexp({p}, {v}))")
        if not node.negated:
            return f"{b.present} AND {found}"
        some_text = b.atoms(lambda t, v: f"{t} = 'text'")
        return f"{b.present} AND {some_text} AND NOT {found}"


_VALUE_KINDS = (
    ("'Property', 'GeoProperty'", "value"),
    ("'JsonProperty'", "json"),
    ("'ListProperty'", "valueList"),
)
_REFERENCE_KINDS = (
    ("Relationship", "object"),
    ("ListRelationship", "objectList"),
    ("VocabProperty", "vocab"),
)


def _exact_literal(lit: Literal) -> bool:
    if lit.type is ValueType.TIME:
        return False
    return not (
        isinstance(lit.value, int) and not isinstance(lit.value, bool) and abs(lit.value) > _EXACT_INT
    )


def _negative(node: Compare | InList | InRange) -> bool:
    if isinstance(node, Compare):
        return node.op is CompareOp.NE
    return node.negated
