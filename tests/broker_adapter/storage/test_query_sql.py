"""The SQLite query compilation agrees with the reference evaluator (ngsild.query.evaluate.matches).

Generated stored entities are written to a real SQLite file through SqliteStore; generated q, type,
scopeQ and geo-queries are parsed as the API parses them; the ids the store returns (and its counts and
pages) must equal filtering the same entities with `matches`.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.query import (
    combine,
    matches,
    parse_geo_query,
    parse_q,
    parse_scope_query,
    parse_type_expression,
)
from broker_adapter.ngsild.termmap import core_term_map
from broker_adapter.storage.port import Change, EntityQuery, Store
from broker_adapter.storage.sqlite.schema import MIGRATIONS
from broker_adapter.storage.sqlite.store import SqliteStore
from tests.broker_adapter.ngsild.query.test_evaluate import ENTITY, Q_CASES

TM = core_term_map()
DC = "https://uri.etsi.org/ngsi-ld/default-context/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
_tenants = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path_factory.mktemp("q") / "q.db", synchronous="NORMAL")
    yield s
    s.close()


def load(store: Store, entities: list[dict[str, Any]]) -> str:
    tenant = f"t{next(_tenants)}"
    outcomes = store.apply(tenant, [Change(e["id"], lambda _, e=e: e) for e in entities])
    assert all(o.ok for o in outcomes)
    return tenant


def expected_ids(entities: list[dict[str, Any]], node: Any) -> list[str]:
    return sorted(e["id"] for e in entities if matches(e, node))


def found_ids(store: Store, tenant: str, **parts: Any) -> list[str]:
    result = store.query(tenant, EntityQuery(limit=10_000, count=True, **parts))
    ids = [e["id"] for e in result.entities]
    assert result.total == len(ids)
    return ids


# -- generated entities -------------------------------------------------------------------------------
NUMBERS = [0, 1, 2, 2.5, -3, 10, 1e3]
STRINGS = ["", "a", "ab", "Berlin", "b.c", "ß", "Z9"]
DATETIMES = ["2026-01-01T00:00:00.000Z", "2026-06-01T12:00:00.000Z", "2027-01-01T00:00:00.000Z"]
DATES = ["2026-01-01", "2026-06-01"]
TIMES = ["08:00:00", "12:00:00Z", "23:59:59"]
URIS = ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"]
VOCAB = [DC + "Male", DC + "Female"]
ATTRS = [DC + "a", DC + "b", DC + "c"]

scalar = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(STRINGS),
    st.booleans(),
    st.none(),
    st.sampled_from(DATETIMES + DATES + URIS),
    st.sampled_from(DATETIMES).map(lambda v: {"@type": "DateTime", "@value": v}),
    st.sampled_from(DATES).map(lambda v: {"@type": "Date", "@value": v}),
    st.sampled_from(TIMES).map(lambda v: {"@type": "Time", "@value": v}),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["x", "y", "en"]), inner, max_size=2),
    ),
    max_leaves=5,
)
point = st.tuples(st.sampled_from([0.0, 1.0, 2.0, 5.0]), st.sampled_from([0.0, 1.0, 3.0, 50.0]))
geometry = st.one_of(
    point.map(lambda p: {"type": "Point", "coordinates": list(p)}),
    st.lists(point, min_size=2, max_size=3, unique=True).map(
        lambda ps: {"type": "LineString", "coordinates": [list(p) for p in ps]}
    ),
    st.tuples(point, st.sampled_from([0.5, 1.0, 4.0])).map(
        lambda t: {
            "type": "Polygon",
            "coordinates": [
                [
                    [t[0][0], t[0][1]],
                    [t[0][0] + t[1], t[0][1]],
                    [t[0][0] + t[1], t[0][1] + t[1]],
                    [t[0][0], t[0][1] + t[1]],
                    [t[0][0], t[0][1]],
                ]
            ],
        }
    ),
)
text_or_list = st.one_of(st.sampled_from(STRINGS), st.lists(st.sampled_from(STRINGS), max_size=2))
instance_body = st.one_of(
    value.map(lambda v: {"type": "Property", "value": v}),
    geometry.map(lambda g: {"type": "GeoProperty", "value": g}),
    st.sampled_from(URIS).map(lambda o: {"type": "Relationship", "object": o}),
    st.lists(st.sampled_from(URIS), max_size=2).map(lambda o: {"type": "ListRelationship", "objectList": o}),
    st.one_of(st.sampled_from(VOCAB), st.lists(st.sampled_from(VOCAB), max_size=2)).map(
        lambda v: {"type": "VocabProperty", "vocab": v}
    ),
    st.dictionaries(st.sampled_from(["en", "de", "@none"]), text_or_list, max_size=2).map(
        lambda m: {"type": "LanguageProperty", "languageMap": m}
    ),
    value.map(lambda v: {"type": "JsonProperty", "json": v}),
    st.lists(scalar, max_size=3).map(lambda v: {"type": "ListProperty", "valueList": v}),
)


@st.composite
def instance(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    body = dict(draw(instance_body))
    if draw(st.booleans()):
        body["observedAt"] = draw(st.sampled_from(DATETIMES))
    if draw(st.booleans()):
        body["unitCode"] = draw(st.sampled_from(["MTR", "CEL", "a"]))
    if depth == 0 and draw(st.booleans()):
        body[draw(st.sampled_from(ATTRS))] = draw(instance(depth=1))
    return body


@st.composite
def entity(draw: st.DrawFn, n: int) -> dict[str, Any]:
    attrs: dict[str, list[dict[str, Any]]] = {}
    for iri in draw(st.lists(st.sampled_from([*ATTRS, LOCATION]), max_size=4, unique=True)):
        if iri == LOCATION:
            attrs[iri] = [{"type": "GeoProperty", "value": draw(geometry)}]
            continue
        count = draw(st.integers(1, 2))
        instances = [draw(instance()) for _ in range(count)]
        if count == 2:
            instances[1]["datasetId"] = "urn:ngsi-ld:Dataset:" + draw(st.sampled_from(["x", "y"]))
        attrs[iri] = instances
    e: dict[str, Any] = {
        "id": f"urn:ngsi-ld:E:{n:03d}",
        "type": draw(
            st.lists(st.sampled_from([DC + "T1", DC + "T2", DC + "T3"]), min_size=1, max_size=2, unique=True)
        ),
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
        "attrs": attrs,
    }
    scopes = draw(st.lists(st.sampled_from(["/a", "/a/b", "/a/b/c", "/x/b", "/", "/a//b"]), max_size=2))
    if scopes:
        e["scope"] = scopes
    return e


@st.composite
def entity_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(entity(n)) for n in range(draw(st.integers(1, 6)))]


entities = entity_lists()


# -- generated queries ----------------------------------------------------------------------------------
q_path = st.builds(
    lambda attrs, tail: ".".join(attrs) + tail,
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2),
    st.sampled_from(["", "", "", ".observedAt", ".unitCode", ".datasetId", "[x]", "[x.y]", "[en]", "[*]"]),
)
q_value = st.one_of(
    st.sampled_from([str(n) for n in NUMBERS]),
    st.sampled_from(STRINGS).map(json.dumps),
    st.sampled_from(["true", "false", "Male", *URIS, *DATES, "2026-06-01T12:00:00Z", *TIMES]),
    st.sampled_from(DATETIMES).map(lambda d: d.replace(".000", "")),
)
q_ordered = st.one_of(
    st.sampled_from([str(n) for n in NUMBERS]),
    st.sampled_from(STRINGS).map(json.dumps),
    st.sampled_from([*DATES, "2026-03-01T00:00:00Z", "12:00:00Z", "09:00:00"]),
)


@st.composite
def q_term(draw: st.DrawFn) -> str:
    p = draw(q_path)
    kind = draw(st.sampled_from(["exists", "not", "cmp", "eq", "list", "range", "pattern"]))
    if kind == "exists":
        return p
    if kind == "not":
        return "!" + p
    if kind == "cmp":
        return p + draw(st.sampled_from([">", ">=", "<", "<="])) + draw(q_ordered)
    op = draw(st.sampled_from(["==", "!="]))
    if kind == "eq":
        return p + op + draw(q_value)
    if kind == "list":
        return p + op + ",".join(draw(st.lists(q_value, min_size=2, max_size=3)))
    if kind == "range":
        low, high = draw(q_ordered), draw(q_ordered)
        return f"{p}{op}{low}..{high}"
    return (
        p
        + draw(st.sampled_from(["~=", "!~="]))
        + json.dumps(draw(st.sampled_from(["^a", "b.c", "(?i)z", "P:1$"])))
    )


q_expression = st.recursive(
    q_term(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a};{b}", inner, inner),
        st.builds(lambda a, b: f"{a}|{b}", inner, inner),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=4,
)


def parsed(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except NgsiLdError:
        return None  # e.g. a range with bounds of two types: a 400, nothing to compare


EXAMPLES = int(os.environ.get("QUERY_SQL_EXAMPLES", "200"))  # raise for a longer search
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(entities, q_expression)
def test_q_in_sql_selects_what_the_evaluator_selects(store: SqliteStore, ents: list, q: str) -> None:
    node = parsed(lambda s: parse_q(s, TM), q)
    if node is None:
        return
    tenant = load(store, ents)
    assert found_ids(store, tenant, q=node) == expected_ids(ents, node), q


type_expression = st.recursive(
    st.sampled_from(["T1", "T2", "T3"]),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a};{b}", inner, inner),
        st.builds(lambda a, b: f"{a}|{b}", inner, inner),
        st.builds(lambda a, b: f"{a},{b}", inner, inner),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=4,
)
scope_expression = st.recursive(
    st.sampled_from(["/a", "/a/b", "/a/#", "/+/b", "/#", "/a/+/c", "/x/#", "/a/b/c"]),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a};{b}", inner, inner),
        st.builds(lambda a, b: f"{a}|{b}", inner, inner),
    ),
    max_leaves=3,
)


@SETTINGS
@given(entities, type_expression, st.one_of(st.none(), scope_expression))
def test_type_and_scope_in_sql_select_what_the_evaluator_selects(
    store: SqliteStore, ents: list, types: str, scope: str | None
) -> None:
    type_node = parse_type_expression(types, TM)
    scope_node = parse_scope_query(scope) if scope else None
    tenant = load(store, ents)
    found = found_ids(store, tenant, type_expression=type_node, scope=scope_node)
    assert found == expected_ids(ents, combine(type_node, scope_node)), (types, scope)


georel = st.sampled_from(
    [
        "within",
        "contains",
        "intersects",
        "equals",
        "disjoint",
        "overlaps",
        "near;maxDistance==120000",
        "near;maxDistance==1000",
        "near;minDistance==120000",
    ]
)
reference = st.one_of(
    geometry.map(lambda g: (g["type"], json.dumps(g["coordinates"]))),
    st.just(("Polygon", "[[[-1,-1],[3,-1],[3,4],[-1,4],[-1,-1]]]")),
    st.just(("MultiPoint", "[[1,1],[2,3]]")),
)


@SETTINGS
@given(entities, georel, reference, st.one_of(st.none(), q_expression))
def test_geo_queries_select_what_the_evaluator_selects(
    store: SqliteStore, ents: list, rel: str, ref: tuple[str, str], q: str | None
) -> None:
    geometry_type, coordinates = ref
    if rel.startswith("near") and geometry_type != "Point":
        geometry_type, coordinates = "Point", "[1.0,1.0]"
    geo = parse_geo_query(rel, geometry_type, coordinates, None, TM)
    q_node = parsed(lambda s: parse_q(s, TM), q) if q else None
    tenant = load(store, ents)
    assert found_ids(store, tenant, geo=geo, q=q_node) == expected_ids(ents, combine(q_node, geo))


@SETTINGS
@given(entities, q_expression, st.integers(0, 7), st.integers(1, 4))
def test_pages_are_slices_of_the_whole_result(
    store: SqliteStore, ents: list, q: str, offset: int, limit: int
) -> None:
    node = parsed(lambda s: parse_q(s, TM), q)
    if node is None:
        return
    tenant = load(store, ents)
    everything = expected_ids(ents, node)
    page = store.query(tenant, EntityQuery(q=node, limit=limit, offset=offset, count=True))
    assert [e["id"] for e in page.entities] == everything[offset : offset + limit]
    assert page.total == len(everything)


# -- fixed regression cases ------------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "expected"), Q_CASES, ids=[c[0] for c in Q_CASES])
def test_the_evaluator_cases_hold_in_sql(store: SqliteStore, q: str, expected: bool) -> None:
    tenant = load(store, [ENTITY])
    assert found_ids(store, tenant, q=parse_q(q, TM)) == ([ENTITY["id"]] if expected else [])


def test_time_literals_are_finished_in_python_and_paged(store: SqliteStore) -> None:
    ents = [
        {
            "id": f"urn:ngsi-ld:E:{n:02d}",
            "type": [DC + "T1"],
            "createdAt": "2026-01-01T00:00:00.000Z",
            "modifiedAt": "2026-01-01T00:00:00.000Z",
            "attrs": {
                DC + "a": [{"type": "Property", "value": {"@type": "Time", "@value": f"{n:02d}:00:00"}}]
            },
        }
        for n in range(20)
    ]
    tenant = load(store, ents)
    node = parse_q("a>=10:00:00", TM)
    page = store.query(tenant, EntityQuery(q=node, limit=3, offset=2, count=True))
    assert [e["id"] for e in page.entities] == ["urn:ngsi-ld:E:12", "urn:ngsi-ld:E:13", "urn:ngsi-ld:E:14"]
    assert page.total == 10


def test_delete_entities_uses_the_full_query(store: SqliteStore) -> None:
    ents = [
        {
            "id": f"urn:ngsi-ld:E:{n}",
            "type": [DC + "T1"],
            "createdAt": "2026-01-01T00:00:00.000Z",
            "modifiedAt": "2026-01-01T00:00:00.000Z",
            "attrs": {LOCATION: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [n, 0]}}]},
        }
        for n in range(5)
    ]
    tenant = load(store, ents)
    geo = parse_geo_query("within", "Polygon", "[[[0.5,-1],[3.5,-1],[3.5,1],[0.5,1],[0.5,-1]]]", None, TM)
    deleted = store.delete_entities(tenant, EntityQuery(geo=geo))
    assert sorted(e["id"] for e in deleted) == ["urn:ngsi-ld:E:1", "urn:ngsi-ld:E:2", "urn:ngsi-ld:E:3"]
    assert found_ids(store, tenant, geo=geo) == []
    everywhere = parse_geo_query("intersects", "Polygon", "[[[-9,-9],[9,-9],[9,9],[-9,9],[-9,-9]]]", None, TM)
    assert found_ids(store, tenant, geo=everywhere) == ["urn:ngsi-ld:E:0", "urn:ngsi-ld:E:4"]


def test_moving_an_entity_moves_it_in_the_geo_index(store: SqliteStore) -> None:
    def at(x: float) -> dict[str, Any]:
        point = {"type": "Point", "coordinates": [x, 0.0]}
        return {
            "id": "urn:ngsi-ld:E:m",
            "type": [DC + "T1"],
            "createdAt": "2026-01-01T00:00:00.000Z",
            "modifiedAt": "2026-01-01T00:00:00.000Z",
            "attrs": {LOCATION: [{"type": "GeoProperty", "value": point}]},
        }

    tenant = load(store, [at(0.0)])
    store.apply(tenant, [Change("urn:ngsi-ld:E:m", lambda _: at(40.0))])
    near_old = parse_geo_query("near;maxDistance==1000", "Point", "[0,0]", None, TM)
    near_new = parse_geo_query("near;maxDistance==1000", "Point", "[40,0]", None, TM)
    assert found_ids(store, tenant, geo=near_old) == []
    assert found_ids(store, tenant, geo=near_new) == ["urn:ngsi-ld:E:m"]


def test_the_index_migration_indexes_existing_entities(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    s = SqliteStore(path, synchronous="NORMAL")
    try:
        s.write_hooks.clear()  # written as by a version without the query indexes
        tenant = load(s, [ENTITY])
        geo = parse_geo_query("near;maxDistance==100", "Point", "[7.7689,49.4447]", None, TM)
        fast = parse_q("speed>50;readings==2..3", TM)
        assert found_ids(s, tenant, geo=geo) == found_ids(s, tenant, q=fast) == []
        with sqlite3.connect(path) as conn:
            conn.executescript(
                "DROP TABLE geo_rtree; DROP TABLE geo_boxes; DROP TABLE attr_numbers; " + MIGRATIONS[2]
            )
        assert found_ids(s, tenant, geo=geo) == found_ids(s, tenant, q=fast) == [ENTITY["id"]]
    finally:
        s.close()
