"""The MongoDB query compilation (storage/mongo/query_filter.py) agrees with the reference evaluator.

Two kinds of checks:
- per construct, the filter the compiler emits (what MongoDB is asked), and whether it is exact;
- generated entities written through MongoStore and generated q, type, scopeQ and geo-queries, as in
  test_query_sql: the ids, counts and pages the store returns must equal filtering with `matches`.
  This runs on mongomock always and on a real MongoDB when VERBUND_TEST_MONGO_URL is set.

mongomock evaluates filters with Python equality, where True == 1 and False == 0; MongoDB (and the
evaluator) keep booleans and numbers apart. On mongomock the generated data therefore never holds a
boolean next to the numbers 0 and 1 (`no_bool_number_clash`); on a real server it does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker_adapter.ngsild.query import (
    combine,
    parse_geo_query,
    parse_q,
    parse_scope_query,
    parse_type_expression,
)
from broker_adapter.storage.mongo.query_filter import FilterCompiler, portable_regex, scope_regex
from broker_adapter.storage.port import Change, EntityQuery, EntitySelector
from tests.broker_adapter.ngsild.query.test_evaluate import ENTITY, Q_CASES
from tests.broker_adapter.storage.test_query_sql import (
    DC,
    LOCATION,
    TM,
    entities,
    expected_ids,
    found_ids,
    georel,
    load,
    parsed,
    q_expression,
    reference,
    scope_expression,
    type_expression,
)
from tests.support import stores

MOCK_BOOL_NUMBER = {"active==1"}  # ENTITY's `active` is a boolean
A = DC + "a"


@pytest.fixture(scope="module", params=stores.params("mongomock", "mongodb"))
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with stores.open_store(request.param, tmp_path_factory.mktemp("mq")) as s:
        yield s


def _clash(value: Any, found: set[str]) -> None:
    if isinstance(value, bool):
        found.add("bool")
    elif isinstance(value, int | float) and value in (0, 1):
        found.add("01")
    elif isinstance(value, dict):
        for v in value.values():
            _clash(v, found)
    elif isinstance(value, list):
        for v in value:
            _clash(v, found)


def no_bool_number_clash(store: Any, ents: list[dict[str, Any]]) -> bool:
    """False when mongomock would read this data differently from MongoDB (see the module doc)."""
    if not store.conn.mock:
        return True
    found: set[str] = set()
    for e in ents:
        _clash(e.get("attrs"), found)
    return found != {"bool", "01"}


EXAMPLES = int(os.environ.get("QUERY_MONGO_EXAMPLES", "60"))  # raise for a longer search
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- generated: the store selects what the evaluator selects ------------------------------------------
@SETTINGS
@given(entities, q_expression)
def test_q_selects_what_the_evaluator_selects(store: Any, ents: list, q: str) -> None:
    node = parsed(lambda s: parse_q(s, TM), q)
    if node is None or not no_bool_number_clash(store, ents):
        return
    tenant = load(store, ents)
    assert found_ids(store, tenant, q=node) == expected_ids(ents, node), q


@SETTINGS
@given(entities, type_expression, st.one_of(st.none(), scope_expression))
def test_type_and_scope_select_what_the_evaluator_selects(
    store: Any, ents: list, types: str, scope: str | None
) -> None:
    type_node = parse_type_expression(types, TM)
    scope_node = parse_scope_query(scope) if scope else None
    tenant = load(store, ents)
    found = found_ids(store, tenant, type_expression=type_node, scope=scope_node)
    assert found == expected_ids(ents, combine(type_node, scope_node)), (types, scope)


@SETTINGS
@given(entities, georel, reference, st.one_of(st.none(), q_expression))
def test_geo_queries_select_what_the_evaluator_selects(
    store: Any, ents: list, rel: str, ref: tuple[str, str], q: str | None
) -> None:
    geometry_type, coordinates = ref
    if rel.startswith("near") and geometry_type != "Point":
        geometry_type, coordinates = "Point", "[1.0,1.0]"
    geo = parse_geo_query(rel, geometry_type, coordinates, None, TM)
    q_node = parsed(lambda s: parse_q(s, TM), q) if q else None
    if not no_bool_number_clash(store, ents):
        return
    tenant = load(store, ents)
    assert found_ids(store, tenant, geo=geo, q=q_node) == expected_ids(ents, combine(q_node, geo))


@SETTINGS
@given(entities, q_expression, st.integers(0, 7), st.integers(1, 4))
def test_pages_are_slices_of_the_whole_result(
    store: Any, ents: list, q: str, offset: int, limit: int
) -> None:
    node = parsed(lambda s: parse_q(s, TM), q)
    if node is None or not no_bool_number_clash(store, ents):
        return
    tenant = load(store, ents)
    everything = expected_ids(ents, node)
    page = store.query(tenant, EntityQuery(q=node, limit=limit, offset=offset, count=True))
    assert [e["id"] for e in page.entities] == everything[offset : offset + limit]
    assert page.total == len(everything)


@pytest.mark.parametrize(("q", "expected"), Q_CASES, ids=[c[0] for c in Q_CASES])
def test_the_evaluator_cases_hold(store: Any, q: str, expected: bool) -> None:
    if store.conn.mock and q in MOCK_BOOL_NUMBER:
        pytest.skip("mongomock compares with Python equality (True == 1); checked on a real MongoDB")
    tenant = load(store, [ENTITY])
    assert found_ids(store, tenant, q=parse_q(q, TM)) == ([ENTITY["id"]] if expected else [])


def _entity(n: int, attrs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:E:{n:02d}",
        "type": [DC + "T1"],
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
        "attrs": attrs,
        **extra,
    }


def test_id_patterns_selectors_and_attrs(store: Any) -> None:
    ents = [_entity(n, {A: [{"type": "Property", "value": n}]} if n % 2 else {}) for n in range(6)]
    tenant = load(store, ents)
    assert found_ids(store, tenant, id_pattern=r"E:0[12]$") == ["urn:ngsi-ld:E:01", "urn:ngsi-ld:E:02"]
    # \d is read differently by PCRE and Python: decided in Python, same answer
    assert found_ids(store, tenant, id_pattern=r"E:0\d$") == [e["id"] for e in ents]
    assert found_ids(store, tenant, attrs=[A]) == ["urn:ngsi-ld:E:01", "urn:ngsi-ld:E:03", "urn:ngsi-ld:E:05"]
    selectors = [
        EntitySelector(type_expression=parse_type_expression("T1", TM), id="urn:ngsi-ld:E:04"),
        EntitySelector(id_pattern=r"E:0[5]"),
        EntitySelector(type_expression=parse_type_expression("T2", TM)),
    ]
    assert found_ids(store, tenant, selectors=selectors) == ["urn:ngsi-ld:E:04", "urn:ngsi-ld:E:05"]
    inexact = [EntitySelector(id_pattern=r"E:0\d"), EntitySelector(id="urn:ngsi-ld:E:01")]
    assert found_ids(store, tenant, selectors=inexact, ids=["urn:ngsi-ld:E:01", "urn:ngsi-ld:E:02"]) == [
        "urn:ngsi-ld:E:01",
        "urn:ngsi-ld:E:02",
    ]


def test_time_literals_are_finished_in_python_and_paged(store: Any) -> None:
    ents = [
        _entity(n, {A: [{"type": "Property", "value": {"@type": "Time", "@value": f"{n:02d}:00:00"}}]})
        for n in range(20)
    ]
    tenant = load(store, ents)
    page = store.query(tenant, EntityQuery(q=parse_q("a>=10:00:00", TM), limit=3, offset=2, count=True))
    assert [e["id"] for e in page.entities] == ["urn:ngsi-ld:E:12", "urn:ngsi-ld:E:13", "urn:ngsi-ld:E:14"]
    assert page.total == 10


def test_delete_entities_uses_the_full_query_and_moves_leave_the_geo_index(store: Any) -> None:
    ents = [
        _entity(n, {LOCATION: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [n, 0]}}]})
        for n in range(5)
    ]
    tenant = load(store, ents)
    geo = parse_geo_query("within", "Polygon", "[[[0.5,-1],[3.5,-1],[3.5,1],[0.5,1],[0.5,-1]]]", None, TM)
    deleted = store.delete_entities(tenant, EntityQuery(geo=geo))
    assert sorted(e["id"] for e in deleted) == ["urn:ngsi-ld:E:01", "urn:ngsi-ld:E:02", "urn:ngsi-ld:E:03"]
    assert found_ids(store, tenant, geo=geo) == []
    moved = _entity(
        0, {LOCATION: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [40, 0]}}]}
    )
    store.apply(tenant, [Change(moved["id"], lambda _: moved)])
    near_old = parse_geo_query("near;maxDistance==1000", "Point", "[0,0]", None, TM)
    near_new = parse_geo_query("near;maxDistance==1000", "Point", "[40,0]", None, TM)
    assert found_ids(store, tenant, geo=near_old) == []
    assert found_ids(store, tenant, geo=near_new) == ["urn:ngsi-ld:E:00"]


# -- per construct: the filter MongoDB is asked --------------------------------------------------------
def compiled(q: str) -> tuple[dict[str, Any], bool]:
    result = FilterCompiler().compile(parse_q(q, TM))
    return result.filter, result.exact


A_FIELD = "attrs." + A.replace(".", "%2E")


def test_a_number_comparison_is_one_exact_elem_match_per_kind_group() -> None:
    f, exact = compiled("a>5")
    assert exact
    branches = f[A_FIELD]["$elemMatch"]["$or"]
    assert branches[0]["$and"][0] == {
        "type": {"$in": ["Property", "GeoProperty"]},
        "value": {"$exists": True},
    }
    assert branches[0]["$and"][1] == {"value": {"$gt": 5}}
    # references and vocab have no order; a languageMap holds no numbers: three branches remain
    assert len(branches) == 3


def test_a_range_holds_for_one_element() -> None:
    f, exact = compiled("a==1..3")
    hit = f[A_FIELD]["$elemMatch"]["$or"][0]["$and"][1]
    assert exact and hit == {
        "$or": [
            {"value": {"$elemMatch": {"$gte": 1, "$lte": 3}}},
            {"value": {"$gte": 1, "$lte": 3, "$not": {"$type": "array"}}},
        ]
    }


def test_negative_terms_need_a_target_and_no_matching_atom() -> None:
    f, exact = compiled("a!=1")
    value_branch, *_, language = f[A_FIELD]["$elemMatch"]["$or"]
    assert exact and value_branch["$and"][1] == {"$nor": [{"value": 1}]}
    # no string equals 1: a languageMap satisfies != 1 whenever it is there
    assert language == {"type": "LanguageProperty", "languageMap": {"$type": "object"}}
    not_exists, _ = compiled("!a")
    assert list(not_exists) == ["$nor"]


def test_datetime_values_are_compared_through_their_typed_form() -> None:
    f, exact = compiled("a>2026-01-01T00:00:00Z")
    hit = f[A_FIELD]["$elemMatch"]["$or"][0]["$and"][1]
    assert exact and hit["$or"][0] == {
        "value": {"$elemMatch": {"@type": "DateTime", "@value": {"$gt": "2026-01-01T00:00:00.000Z"}}}
    }
    member, member_exact = compiled("a.observedAt>2026-01-01T00:00:00Z")
    assert member_exact and member[A_FIELD]["$elemMatch"] == {
        "$and": [{"observedAt": {"$type": "string"}}, {"observedAt": {"$gt": "2026-01-01T00:00:00.000Z"}}]
    }


@pytest.mark.parametrize(
    "q",
    ["a>09:00:00", "a[x.y]==1", 'a~="\\\\d"', 'a[de]=="Haus"'],
    ids=["time", "json-path", "non-portable-regex", "language-tag"],
)
def test_what_mongodb_cannot_decide_exactly_is_a_superset(q: str) -> None:
    f, exact = compiled(q)
    assert not exact
    assert f == {A_FIELD: {"$exists": True}}


def test_text_terms_read_language_maps_through_their_strings() -> None:
    f, exact = compiled('a=="Haus"')
    *_, language = f[A_FIELD]["$elemMatch"]["$or"]
    assert exact and language == {
        "$and": [{"type": "LanguageProperty", "languageMap": {"$type": "object"}}, {"%lv": "Haus"}]
    }


def test_scope_and_regex_translation() -> None:
    assert scope_regex(parse_scope_query("/a/+/c")) == "^/a/[^/]*/c$"  # type: ignore[arg-type]
    assert scope_regex(parse_scope_query("/a/#")) == "^/a(/.*)?$"  # type: ignore[arg-type]
    assert scope_regex(parse_scope_query("/#")) == "^/"  # type: ignore[arg-type]
    assert portable_regex("^urn:x:[12]$") and portable_regex("(?i)ab(?:c|d)")
    assert not any(map(portable_regex, [r"\d", r"\w+", "(?s).", "ä", "(?P<n>a)"]))


def test_geo_filters_prune_by_box_and_near_uses_the_sphere_on_a_server() -> None:
    within = parse_geo_query("within", "Polygon", "[[[0,0],[2,0],[2,2],[0,2],[0,0]]]", None, TM)
    boxed = FilterCompiler().compile(within)
    assert not boxed.exact
    assert boxed.filter == {
        "_box": {
            "$elemMatch": {
                "a": LOCATION,
                "x0": {"$lte": 2.0},
                "x1": {"$gte": 0.0},
                "y0": {"$lte": 2.0},
                "y1": {"$gte": 0.0},
            }
        }
    }
    near = parse_geo_query("near;maxDistance==1000", "Point", "[7,49]", None, TM)
    native = FilterCompiler(native_geo=True).compile(near).filter
    cap = native["$and"][1]["$or"][0]
    ((path, op),) = cap.items()
    assert path == "_geo." + LOCATION.replace(".", "%2E")
    centre, radians = op["$geoWithin"]["$centerSphere"]
    assert centre == [7.0, 49.0] and 1000 / 6_371_008.8 < radians < 1010 / 6_371_008.8
