"""The store test-suite every adapter must pass: SQLite (a real file), MongoDB on mongomock, and a real
MongoDB when VERBUND_TEST_MONGO_URL is set (tests/support/stores.py).

Plain functions over the Store port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker_adapter.ngsild.errors import AlreadyExists, ResourceNotFound
from broker_adapter.ngsild.types import ExpandedEntity
from broker_adapter.storage.port import Change, ContextRecord, EntityQuery, Store
from broker_adapter.storage.sqlite.codec import entity_from_row, entity_to_row
from tests.support import stores

T = "https://example.org/T"
A = "https://example.org/a"


@pytest.fixture(params=stores.params())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with stores.open_store(request.param, tmp_path) as adapter:
        yield adapter


def entity(entity_id: str, value: object = 1, types: tuple[str, ...] = (T,)) -> ExpandedEntity:
    now = "2026-11-25T10:00:00.000Z"
    return {
        "id": entity_id,
        "type": list(types),
        "createdAt": now,
        "modifiedAt": now,
        "attrs": {A: [{"type": "Property", "value": value, "createdAt": now, "modifiedAt": now}]},
    }


def put(new: ExpandedEntity):
    return lambda current: new


def create(new: ExpandedEntity):
    def change(current):
        if current is not None:
            raise AlreadyExists(new["id"])
        return new

    return change


def test_apply_creates_and_get_reads_back_exactly(store: Store) -> None:
    e = entity("urn:x:1", {"nested": [1, 2.5, "s", None, True]})
    (outcome,) = store.apply("t1", [Change("urn:x:1", put(e))])
    assert outcome.ok and outcome.before is None and outcome.after == e
    assert store.get_entity("t1", "urn:x:1") == e


def test_failed_change_writes_nothing_of_its_entity_but_keeps_the_others(store: Store) -> None:
    store.apply("t1", [Change("urn:x:1", put(entity("urn:x:1", 1)))])
    outcomes = store.apply(
        "t1", [Change("urn:x:1", create(entity("urn:x:1", 2))), Change("urn:x:2", create(entity("urn:x:2")))]
    )
    assert [o.ok for o in outcomes] == [False, True]
    assert isinstance(outcomes[0].error, AlreadyExists)
    assert store.get_entity("t1", "urn:x:1")["attrs"][A][0]["value"] == 1
    assert store.get_entity("t1", "urn:x:2") is not None


def test_changes_to_one_id_in_one_call_see_each_other(store: Store) -> None:
    seen: list[object] = []

    def bump(current):
        seen.append(current["attrs"][A][0]["value"] if current else None)
        return entity("urn:x:1", (seen[-1] or 0) + 1)

    store.apply("t1", [Change("urn:x:1", bump), Change("urn:x:1", bump), Change("urn:x:1", bump)])
    assert seen == [None, 1, 2]
    assert store.get_entity("t1", "urn:x:1")["attrs"][A][0]["value"] == 3


def test_delete_by_returning_none(store: Store) -> None:
    store.apply("t1", [Change("urn:x:1", put(entity("urn:x:1")))])
    (outcome,) = store.apply("t1", [Change("urn:x:1", lambda current: None)])
    assert outcome.before is not None and outcome.after is None
    assert store.get_entity("t1", "urn:x:1") is None


def test_an_unexpected_exception_rolls_back_the_whole_call(store: Store) -> None:
    def boom(current):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        store.apply("t1", [Change("urn:x:1", put(entity("urn:x:1"))), Change("urn:x:2", boom)])
    assert store.get_entity("t1", "urn:x:1") is None
    assert not store.tenant_exists("t1")


def test_a_group_commits_each_item_alone(store: Store) -> None:
    """apply_group: the failing item leaves nothing of itself, the others stand."""

    def boom(current):
        raise RuntimeError("bug")

    results = store.apply_group(
        [
            ("t1", [Change("urn:x:1", put(entity("urn:x:1", 1)))]),
            ("t2", [Change("urn:x:2", put(entity("urn:x:2"))), Change("urn:x:3", boom)]),
            (
                "t1",
                [Change("urn:x:1", create(entity("urn:x:1", 2))), Change("urn:x:4", put(entity("urn:x:4")))],
            ),
        ]
    )
    first, second, third = results
    assert [o.ok for o in first] == [True]
    assert isinstance(second, RuntimeError)
    assert [type(o.error) for o in third] == [AlreadyExists, type(None)]  # sees the first item's write
    assert store.get_entity("t1", "urn:x:1")["attrs"][A][0]["value"] == 1
    assert store.get_entity("t1", "urn:x:4") is not None
    assert store.get_entity("t2", "urn:x:2") is None
    assert not store.tenant_exists("t2")


def test_tenants_are_created_by_writes_and_isolated(store: Store) -> None:
    assert store.tenant_exists("")
    assert not store.tenant_exists("a")
    store.apply("a", [Change("urn:x:1", put(entity("urn:x:1", "a")))])
    store.apply("b", [Change("urn:x:1", put(entity("urn:x:1", "b")))])
    assert store.list_tenants() == ["a", "b"]
    assert store.get_entity("a", "urn:x:1")["attrs"][A][0]["value"] == "a"
    assert store.get_entity("b", "urn:x:1")["attrs"][A][0]["value"] == "b"
    assert store.get_entity("", "urn:x:1") is None


def test_query_by_type_pages_in_id_order_and_counts(store: Store) -> None:
    ids = [f"urn:x:{n:03d}" for n in range(25)]
    store.apply("t1", [Change(i, put(entity(i))) for i in reversed(ids)])
    store.apply("t1", [Change("urn:y:1", put(entity("urn:y:1", types=("https://example.org/Other",))))])
    first = store.query("t1", EntityQuery(types=[T], limit=10, offset=0, count=True))
    rest = store.query("t1", EntityQuery(types=[T], limit=20, offset=10))
    assert first.total == 25
    assert [e["id"] for e in first.entities + rest.entities] == ids


def test_query_by_id_pattern_and_attrs(store: Store) -> None:
    store.apply("t1", [Change(f"urn:x:{n}", put(entity(f"urn:x:{n}"))) for n in range(3)])
    found = store.query("t1", EntityQuery(id_pattern=r"urn:x:[12]$", attrs=[A]))
    assert [e["id"] for e in found.entities] == ["urn:x:1", "urn:x:2"]
    assert store.query("t1", EntityQuery(attrs=["https://example.org/none"])).entities == []


def test_delete_entities_removes_exactly_the_selection(store: Store) -> None:
    store.apply(
        "t1",
        [
            Change("urn:x:1", put(entity("urn:x:1"))),
            Change("urn:y:1", put(entity("urn:y:1", types=("https://example.org/Other",)))),
        ],
    )
    deleted = store.delete_entities("t1", EntityQuery(types=[T]))
    assert [e["id"] for e in deleted] == ["urn:x:1"]
    assert store.get_entity("t1", "urn:x:1") is None
    assert store.get_entity("t1", "urn:y:1") is not None


def test_contexts_round_trip_and_count_hits(store: Store) -> None:
    record = ContextRecord(
        id="c1",
        url="http://127.0.0.1/c.jsonld",
        kind="Cached",
        document={"@context": {"a": "https://example.org/a"}},
        created_at="2026-01-01",
    )
    store.put_context(record)
    assert store.get_context("c1") == record
    assert store.get_context_by_url(record.url) == record
    store.add_context_hits("c1", 3, "2026-02-02")
    store.add_context_hits("c1", 2, "2026-01-15")  # a replica's older flush: hits add, last_usage stays
    touched = store.get_context("c1")
    assert (touched.hits, touched.last_usage) == (5, "2026-02-02")
    store.add_context_hits("gone", 1, "2026-02-02")
    assert store.get_context("gone") is None
    assert [r.id for r in store.list_contexts("Cached")] == ["c1"]
    assert store.list_contexts("Hosted") == []
    assert store.delete_context("c1") and not store.delete_context("c1")


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    def writer(prefix: str) -> None:
        for n in range(50):
            store.apply("t1", [Change(f"urn:{prefix}:{n}", put(entity(f"urn:{prefix}:{n}")))])

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.query("t1", EntityQuery(id_pattern="^urn:", limit=1000, count=True)).total == 150


def test_resource_not_found_from_a_change_is_reported(store: Store) -> None:
    def must_exist(current):
        if current is None:
            raise ResourceNotFound("urn:x:9")
        return current

    (outcome,) = store.apply("t1", [Change("urn:x:9", must_exist)])
    assert isinstance(outcome.error, ResourceNotFound)


def test_sqlite_codec_round_trips() -> None:
    e = entity("urn:x:1", {"ü": "ß", "n": 1.5})
    created, modified, doc = entity_to_row(e)
    assert (created, modified) == (e["createdAt"], e["modifiedAt"])
    assert entity_from_row(doc) == e


def test_tenant_settings_are_per_tenant_json_values(store: Store) -> None:
    assert store.get_tenant_setting("a", "sdm_policy") is None
    store.set_tenant_setting("a", "sdm_policy", {"mode": "enforce", "known": ["x"]})
    store.set_tenant_setting("b", "sdm_policy", "warn")
    assert store.get_tenant_setting("a", "sdm_policy") == {"mode": "enforce", "known": ["x"]}
    assert store.get_tenant_setting("b", "sdm_policy") == "warn"
    store.set_tenant_setting("a", "sdm_policy", None)
    assert store.get_tenant_setting("a", "sdm_policy") is None


def test_awkward_names_and_values_round_trip(store: Store) -> None:
    """Keys with '.', '$' and '%' (MongoDB reserves the first two), integers up to the uint64 range
    orjson reads (BSON stops at int64), nested arrays."""
    e = entity("urn:x:1", {"a.b": {"$c": [[1, 2**64 - 1], {"%2E": -(2**63)}]}, "$ref": "x", "5%": 2**63})
    e["attrs"]["https://example.org/odd.name$%"] = [{"type": "Property", "value": None}]
    e["scope"] = ["/a/b"]
    store.apply("t1", [Change("urn:x:1", put(e))])
    assert store.get_entity("t1", "urn:x:1") == e
    (found,) = store.query("t1", EntityQuery(attrs=["https://example.org/odd.name$%"])).entities
    assert found == e


def test_discovery_summarises_types_and_attributes(store: Store) -> None:
    u = "https://example.org/U"
    b = "https://example.org/b.x"
    first = entity("urn:x:1")
    second = entity("urn:x:2", types=(T, u))
    second["attrs"][b] = [
        {"type": "Relationship", "object": "urn:x:1"},
        {"type": "Property", "value": 1, "datasetId": "urn:d"},
    ]
    store.apply("t1", [Change("urn:x:1", put(first)), Change("urn:x:2", put(second))])
    assert store.list_types("t1") == [T, u]
    assert store.list_attributes("t1") == [A, b]
    types = {s.iri: (s.entity_count, s.attributes) for s in store.type_summaries("t1")}
    assert types == {
        T: (2, {A: ["Property"], b: ["Property", "Relationship"]}),
        u: (1, {A: ["Property"], b: ["Property", "Relationship"]}),
    }
    (only,) = store.type_summaries("t1", u)
    assert only.entity_count == 1
    attrs = {s.iri: (s.count, s.kinds, s.types) for s in store.attribute_summaries("t1")}
    assert attrs == {A: (2, ["Property"], [T, u]), b: (2, ["Property", "Relationship"], [T, u])}
    assert store.attribute_summaries("t1", "https://example.org/none") == []
    assert store.type_summaries("t2") == [] and store.list_types("t2") == []


def test_counts_without_a_page_and_combined_selections(store: Store) -> None:
    from broker_adapter.ngsild.query import And, AttrPath, Compare, CompareOp, Literal, ScopeMatch, ValueType

    ents = []
    for n in range(10):
        e = entity(f"urn:x:{n}", n)
        e["scope"] = ["/city/north" if n % 2 else "/city/south"]
        ents.append(e)
    store.apply("t1", [Change(e["id"], put(e)) for e in ents])
    q = Compare(AttrPath((A,)), CompareOp.GE, Literal(ValueType.NUMBER, 4))
    north = ScopeMatch(("city", "north"))
    result = store.query("t1", EntityQuery(types=[T], q=q, scope=north, limit=0, count=True))
    assert (result.entities, result.total) == ([], 3)  # 5, 7, 9
    page = store.query("t1", EntityQuery(q=And((q, north)), limit=2, offset=1))
    assert [e["id"] for e in page.entities] == ["urn:x:7", "urn:x:9"]
    assert page.total is None


# municipality registry and credentials ---------------------------------------------------------------------


def test_municipalities_are_stored_listed_and_replaced(store: Store) -> None:
    kl = {
        "tenant": "kaiserslautern",
        "name": "Stadt Kaiserslautern",
        "regions": ["suedwest"],
        "openData": True,
    }
    kusel = {"tenant": "kusel", "name": "Kusel", "regions": []}
    store.put_municipality(kusel, create=True)
    store.put_municipality(kl, create=True)
    assert store.get_municipality("kaiserslautern") == kl
    assert store.get_municipality("linz") is None
    assert [r["tenant"] for r in store.list_municipalities()] == ["kaiserslautern", "kusel"]
    assert store.tenant_exists("kusel")  # registering creates the tenant
    with pytest.raises(AlreadyExists):
        store.put_municipality({**kusel, "name": "Other"}, create=True)
    store.put_municipality({**kusel, "status": "retired"})
    assert store.get_municipality("kusel") == {**kusel, "status": "retired"}


def test_credentials_are_stored_by_id(store: Store) -> None:
    key = {"id": "k1", "role": "reader", "tenants": ["kusel"], "hash": "ab" * 32, "revokedAt": None}
    store.put_credential(key)
    store.put_credential({**key, "id": "k0"})
    assert store.get_credential("k1") == key
    assert store.get_credential("nope") is None
    store.put_credential({**key, "revokedAt": "2026-11-25T10:00:00Z"})
    assert [c["id"] for c in store.list_credentials()] == ["k0", "k1"]
    assert store.get_credential("k1")["revokedAt"] == "2026-11-25T10:00:00Z"


def test_purge_tenant_deletes_its_data_and_nothing_else(store: Store) -> None:
    for tenant in ("gone", "kept"):
        store.apply(
            tenant, [Change("urn:x:1", put(entity("urn:x:1"))), Change("urn:x:2", put(entity("urn:x:2")))]
        )
        store.set_tenant_setting(tenant, "sdm_policy", "warn")
    store.put_municipality({"tenant": "gone", "name": "Gone"})
    assert store.purge_tenant("gone") == 2
    assert not store.tenant_exists("gone")
    assert store.get_entity("gone", "urn:x:1") is None
    assert store.get_tenant_setting("gone", "sdm_policy") is None
    assert store.history.get_entity("gone", "urn:x:1") is None
    assert store.get_municipality("gone") == {"tenant": "gone", "name": "Gone"}
    assert store.get_entity("kept", "urn:x:2") is not None
    assert store.get_tenant_setting("kept", "sdm_policy") == "warn"
    assert store.history.get_entity("kept", "urn:x:1") is not None
    # the tenant can start again from nothing
    store.apply("gone", [Change("urn:x:3", put(entity("urn:x:3")))])
    assert [e["id"] for e in store.query("gone", EntityQuery()).entities] == ["urn:x:3"]
