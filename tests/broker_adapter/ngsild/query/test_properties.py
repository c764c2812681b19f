"""Property tests: rendering round-trips, and parsing and evaluation are total."""

import contextlib
import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.query.evaluate import matches
from broker_adapter.ngsild.query.patterns import PatternError, check_pattern
from broker_adapter.ngsild.query.q import parse_q, render_q
from broker_adapter.ngsild.query.selection import (
    parse_scope_query,
    parse_type_expression,
    render_scope_query,
    render_type_expression,
)
from broker_adapter.ngsild.termmap import core_term_map

TM = core_term_map()
DC = "https://uri.etsi.org/ngsi-ld/default-context/"
NAMES = ["temperature", "speed", "name", "address", "a", "b_c", "größe", "owner"]

name = st.sampled_from(NAMES)
path = st.builds(
    lambda parts, tail: ".".join(parts) + tail,
    st.lists(name, min_size=1, max_size=3),
    st.one_of(
        st.just(""),
        st.sampled_from([".observedAt", ".unitCode", ".datasetId", "[city]", "[a.b]", "[*]", "[en]"]),
    ),
)
number = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
string = st.text(max_size=12).map(lambda s: json.dumps(s, ensure_ascii=False))
datetime_ = st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z")
date_ = st.dates().map(lambda d: d.isoformat())
time_ = st.times().map(lambda t: t.isoformat(timespec="seconds"))
comparable = st.one_of(number, string, datetime_, date_, time_)
uri = st.sampled_from(["urn:ngsi-ld:Person:Bob", "https://example.org/x", "urn:x:1"])
value = st.one_of(comparable, st.sampled_from(["true", "false", "Male"]), uri)


@st.composite
def term(draw: st.DrawFn) -> str:
    p = draw(path)
    kind = draw(st.sampled_from(["exists", "not", "cmp", "eq", "list", "range", "pattern"]))
    if kind == "exists":
        return p
    if kind == "not":
        return "!" + p
    if kind == "cmp":
        return p + draw(st.sampled_from([">", ">=", "<", "<="])) + draw(comparable)
    op = draw(st.sampled_from(["==", "!="]))
    if kind == "eq":
        return p + op + draw(value)
    if kind == "list":
        return p + op + ",".join(draw(st.lists(value, min_size=2, max_size=4)))
    if kind == "range":
        bound = draw(st.sampled_from([number, string, datetime_, date_]))
        return f"{p}{op}{draw(bound)}..{draw(bound)}"
    return (
        p + draw(st.sampled_from(["~=", "!~="])) + json.dumps(draw(st.sampled_from(["^a", "b.*c", "(?i)x"])))
    )


def expression(leaf: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"{a};{b}", inner, inner),
            st.builds(lambda a, b: f"{a}|{b}", inner, inner),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=8,
    )


q_strings = expression(term())


@given(q_strings)
def test_q_round_trips_through_render(q: str) -> None:
    tree = parse_q(q, TM)
    assert parse_q(render_q(tree, TM), TM) == tree


@given(expression(st.sampled_from(["Building", "Vehicle", "A", "https://example.org/T"])))
def test_type_expressions_round_trip(expr: str) -> None:
    tree = parse_type_expression(expr, TM)
    assert parse_type_expression(render_type_expression(tree, TM), TM) == tree


@given(expression(st.sampled_from(["/A", "/A/B", "/+/B", "/A/#", "/#", "/Kaiserslautern/Lauter_1"])))
def test_scope_queries_round_trip(expr: str) -> None:
    tree = parse_scope_query(expr)
    assert parse_scope_query(render_scope_query(tree)) == tree


@given(st.text(max_size=80))
def test_parse_q_fails_only_with_ngsi_ld_errors(q: str) -> None:
    with contextlib.suppress(NgsiLdError):
        parse_q(q, TM)


@given(st.text(alphabet="ab()[]{}*+?|.\\^$:=!0129,-", max_size=30))
def test_check_pattern_accepts_only_compilable_patterns(pattern: str) -> None:
    try:
        check_pattern(pattern)
    except PatternError:
        return
    re.compile(pattern)


json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["city", "a", "b", "en", "@value", "@type"]), inner, max_size=3),
    ),
    max_leaves=6,
)
kinds = st.sampled_from(
    [
        ("Property", "value"),
        ("Relationship", "object"),
        ("LanguageProperty", "languageMap"),
        ("VocabProperty", "vocab"),
        ("JsonProperty", "json"),
        ("ListProperty", "valueList"),
        ("ListRelationship", "objectList"),
        ("GeoProperty", "value"),
        ("Nonsense", "value"),
    ]
)


@st.composite
def instance(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    kind, member = draw(kinds)
    out: dict[str, Any] = {
        "type": kind,
        member: draw(
            st.one_of(
                json_value,
                st.sampled_from(
                    [
                        {"type": "Point", "coordinates": [7.7, 49.4]},
                        {"@type": "DateTime", "@value": "2020-01-01T00:00:00.000Z"},
                        {"@type": "Time", "@value": "nonsense"},
                        {"en": ["a", 1]},
                    ]
                ),
            )
        ),
    }
    for m in draw(st.lists(st.sampled_from(["observedAt", "unitCode", "datasetId"]), max_size=2)):
        out[m] = draw(st.one_of(st.text(max_size=5), st.integers(), datetime_))
    if depth < 1:
        for sub in draw(st.lists(name, max_size=2)):
            out[DC + sub] = draw(instance(depth + 1))
    return out


entities = st.fixed_dictionaries(
    {
        "id": st.just("urn:x:1"),
        "type": st.one_of(st.lists(st.sampled_from([DC + "A", DC + "Vehicle"])), st.text(max_size=3)),
        "scope": st.one_of(st.none(), st.lists(st.sampled_from(["/A", "/A/B", "", "x", "/"]))),
        "attrs": st.dictionaries(
            st.sampled_from([DC + n for n in NAMES] + ["https://uri.etsi.org/ngsi-ld/location"]),
            st.one_of(st.lists(instance(), max_size=3), instance(), json_scalar),
            max_size=5,
        ),
    }
)


@settings(max_examples=300)
@given(entities, q_strings)
def test_evaluation_is_total(entity: dict[str, Any], q: str) -> None:
    assert matches(entity, parse_q(q, TM)) in (True, False)


@given(entities, expression(st.sampled_from(["/A", "/+/B", "/A/#", "/#"])))
def test_scope_evaluation_is_total(entity: dict[str, Any], expr: str) -> None:
    assert matches(entity, parse_scope_query(expr)) in (True, False)
