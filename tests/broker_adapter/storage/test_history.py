"""History in every store adapter (SQLite, MongoDB on mongomock, a real MongoDB when
VERBUND_TEST_MONGO_URL is set): what every write path records, reads by time, aggregation in the
database, the temporal provision operations, and retention. Written through Store.apply /
delete_entities exactly as the API writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker_adapter.ngsild.durations import Duration, parse_duration, parse_ms
from broker_adapter.ngsild.errors import ResourceNotFound
from broker_adapter.ngsild.temporal import TimeFilter
from broker_adapter.storage.history import AggregateQuery, InstanceQuery, TemporalSelection
from broker_adapter.storage.port import Change, EntityQuery, Store
from broker_adapter.storage.sqlite.store import SqliteStore
from tests.support import stores

T = "https://example.org/Sensor"
H = "https://example.org/height"
F = "https://example.org/flow"
DS = "urn:ngsi-ld:Dataset:backup"
ID = "urn:ngsi-ld:Sensor:1"
NULL = "urn:ngsi-ld:null"


def at(s: str) -> str:
    return f"2024-01-{s}.000Z"


def ms(s: str) -> int:
    return parse_ms(at(s), "t")


def inst(value: Any, observed: str | None, when: str, **extra: Any) -> dict[str, Any]:
    out = {"type": "Property", "value": value, **extra, "createdAt": at(when), "modifiedAt": at(when)}
    if observed is not None:
        out["observedAt"] = at(observed)
    return out


def entity(when: str, attrs: dict[str, list[dict[str, Any]]], entity_id: str = ID) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": [T],
        "createdAt": at("01T00:00:00"),
        "modifiedAt": at(when),
        "attrs": attrs,
    }


@pytest.fixture(params=stores.params())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with stores.open_store(request.param, tmp_path, synchronous="NORMAL") as s:
        yield s


def write(store: Store, new: dict[str, Any] | None, entity_id: str = ID) -> None:
    (outcome,) = store.apply("", [Change(entity_id, lambda current: new)])
    assert outcome.ok


def history(store: Store, **query: Any) -> dict[tuple[str, str | None], list[tuple]]:
    """(attribute, datasetId) → [(value, observedAt, deletedAt)] in time order."""
    out = {}
    for series in store.history.instances("", ID, InstanceQuery(**query)):
        out[(series.attr, series.dataset_id)] = [
            (i.get("value"), i.get("observedAt"), i.get("deletedAt")) for i in series.instances
        ]
    return out


def test_every_write_records_changed_instances_only(store: Store) -> None:
    write(store, entity("01T10:00:00", {H: [inst(1.0, "01T09:00:00", "01T10:00:00")]}))
    # the same reading again (an idempotent upsert) records nothing
    write(store, entity("01T10:05:00", {H: [inst(1.0, "01T09:00:00", "01T10:05:00")]}))
    # a new reading, a second attribute, a datasetId instance
    write(
        store,
        entity(
            "01T11:00:00",
            {
                H: [
                    inst(2.0, "01T10:00:00", "01T11:00:00"),
                    inst(9.0, "01T10:00:00", "01T11:00:00", datasetId=DS),
                ],
                F: [inst("low", None, "01T11:00:00")],
            },
        ),
    )
    # the datasetId instance is deleted, flow is unchanged
    write(
        store,
        entity(
            "01T12:00:00",
            {H: [inst(3.0, "01T11:00:00", "01T12:00:00")], F: [inst("low", None, "01T11:00:00")]},
        ),
    )

    assert history(store) == {
        (F, None): [("low", None, None)],
        (H, None): [
            (1.0, at("01T09:00:00"), None),
            (2.0, at("01T10:00:00"), None),
            (3.0, at("01T11:00:00"), None),
        ],
        (H, DS): [(9.0, at("01T10:00:00"), None), (NULL, None, at("01T12:00:00"))],
    }


def test_deleting_the_entity_records_a_deletion_per_instance(store: Store) -> None:
    write(
        store,
        entity(
            "01T10:00:00", {H: [inst(1, "01T09:00:00", "01T10:00:00")], F: [inst(5, None, "01T10:00:00")]}
        ),
    )

    write(store, None)

    found = history(store)
    assert found[(H, None)][0] == (1, at("01T09:00:00"), None)
    assert found[(H, None)][1][:2] == (NULL, None) and found[(H, None)][1][2] is not None
    assert [row[0] for row in found[(F, None)]] == [5, NULL]
    (record,) = store.history.select_entities("", TemporalSelection())[0]
    assert record.id == ID and record.types == [T] and record.deleted_at is not None


def test_a_deleted_temporal_entity_stays_deleted_while_the_entity_changes(store: Store) -> None:
    write(store, entity("01T10:00:00", {H: [inst(1.0, "01T09:00:00", "01T10:00:00")]}))
    assert store.history.delete_entity("", ID)

    write(store, entity("01T11:00:00", {H: [inst(2.0, "01T10:00:00", "01T11:00:00")]}))

    assert store.history.get_entity("", ID) is None
    assert store.history.select_entities("", TemporalSelection()) == ([], 0)
    assert not store.history.delete_entity("", ID)


def test_a_reopened_store_appends_to_the_same_series(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "history.db", synchronous="NORMAL")
    write(first, entity("01T10:00:00", {H: [inst(1.0, "01T09:00:00", "01T10:00:00")]}))
    first.close()
    store = SqliteStore(tmp_path / "history.db", synchronous="NORMAL")  # SQLite keeps series keys cached

    write(store, entity("01T11:00:00", {H: [inst(2.0, "01T10:00:00", "01T11:00:00")]}))

    assert history(store) == {(H, None): [(1.0, at("01T09:00:00"), None), (2.0, at("01T10:00:00"), None)]}
    store.close()


def test_series_from_the_first_write_and_added_later_survive_a_restart(tmp_path: Path) -> None:
    """SQLite lists an entity's first series in its own row and adds later ones as rows of their own:
    after a restart both are read, extended, deleted and re-added without mixing up their instances."""
    first = SqliteStore(tmp_path / "history.db", synchronous="NORMAL")
    write(first, entity("01T10:00:00", {H: [inst(1.0, "01T09:00:00", "01T10:00:00")]}))
    both = {
        H: [inst(2.0, "01T10:00:00", "01T11:00:00"), inst(7.0, "01T10:00:00", "01T11:00:00", datasetId=DS)],
        F: [inst(5.0, "01T10:00:00", "01T11:00:00")],
    }
    write(first, entity("01T11:00:00", both))
    first.close()
    store = SqliteStore(tmp_path / "history.db", synchronous="NORMAL")
    try:
        assert store.history.delete_attribute("", ID, H, dataset_id=None, delete_all=False)
        later = {
            H: [
                inst(3.0, "01T11:00:00", "01T12:00:00"),
                inst(8.0, "01T11:00:00", "01T12:00:00", datasetId=DS),
            ],
            F: [inst(6.0, "01T11:00:00", "01T12:00:00")],
        }
        write(store, entity("01T12:00:00", later))

        assert history(store) == {
            (F, None): [(5.0, at("01T10:00:00"), None), (6.0, at("01T11:00:00"), None)],
            (H, None): [(3.0, at("01T11:00:00"), None)],  # the deleted history does not come back
            (H, DS): [(7.0, at("01T10:00:00"), None), (8.0, at("01T11:00:00"), None)],
        }
        assert [s.attr for s in store.history.instances("", ID, InstanceQuery(attrs=[F]))] == [F]
    finally:
        store.close()


def test_a_failed_commit_leaves_no_history_key_behind(tmp_path: Path) -> None:
    """A write transaction that fails at COMMIT (a full disk, an I/O error) rolls back every key it chose:
    the next writes record each entity's history under its own keys, never another's."""
    import sqlite3

    store = SqliteStore(tmp_path / "history.db", synchronous="NORMAL")

    class CommitFailsOnce:  # the writer's sqlite3 connection, with the disk full at the next COMMIT
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn, self.armed = conn, True

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "COMMIT" and self.armed:
                self.armed = False
                raise sqlite3.OperationalError("database or disk is full")
            return self.conn.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.conn, name)

    b, c = "urn:ngsi-ld:Sensor:b", "urn:ngsi-ld:Sensor:c"
    try:
        write(store, entity("01T10:00:00", {H: [inst(1.0, "01T09:00:00", "01T10:00:00")]}))
        store._local.conn = CommitFailsOnce(store._conn)
        readings = {H: [inst(2.0, "01T10:00:00", "01T10:00:00")]}
        with pytest.raises(Exception, match="commit failed"):  # two items in one transaction
            store.apply_group(
                [
                    ("", [Change(b, lambda _: entity("01T10:00:00", readings, b))]),
                    ("", [Change(ID, lambda _: entity("01T10:00:00", readings))]),
                ]
            )
        store._local.conn = store._conn.conn

        write(store, entity("01T11:00:00", {H: [inst(4.0, "01T11:00:00", "01T11:00:00")]}, b), b)
        write(store, entity("01T12:00:00", {H: [inst(5.0, "01T12:00:00", "01T12:00:00")]}, c), c)
        write(store, entity("01T13:00:00", {H: [inst(6.0, "01T13:00:00", "01T13:00:00")]}, b), b)

        def values_of(entity_id: str) -> list[Any]:
            return [
                i["value"]
                for s in store.history.instances("", entity_id, InstanceQuery())
                for i in s.instances
            ]

        assert (values_of(ID), values_of(b), values_of(c)) == ([1.0], [4.0, 6.0], [5.0])
        assert store.history.get_entity("", b) is not None
    finally:
        store.close()


def test_a_file_with_the_old_series_layout_is_migrated(tmp_path: Path) -> None:
    """Schema 6 kept every series as a row with a key of its own: migration 7 moves them to keys per
    entity, and the history reads and grows exactly as before."""
    import sqlite3

    from broker_adapter.storage.sqlite.schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number in range(1, 7):
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version=6")
    other = "urn:ngsi-ld:Sensor:2"
    conn.execute("INSERT INTO history_attrs (aid, iri) VALUES (1, ?), (2, ?)", (H, F))
    conn.execute(
        "INSERT INTO history_entities (eid, tenant, id, types, created_at)"
        " VALUES (1, '', ?, ?, ?), (2, '', ?, ?, ?)",
        (ID, f'["{T}"]', ms("01T00:00:00"), other, f'["{T}"]', ms("01T00:00:00")),
    )
    # series keys interleaved across the two entities, as concurrent writes leave them
    series = [(1, 1, 1, ""), (2, 2, 1, ""), (3, 1, 2, ""), (4, 1, 1, DS)]
    conn.executemany(
        "INSERT INTO history_series (sid, eid, aid, dataset, kind) VALUES (?, ?, ?, ?, 'Property')", series
    )
    conn.executemany(
        "INSERT INTO history (sid, observed_at, created_at, v, doc) VALUES (?, ?, ?, ?, NULL)",
        [(sid, ms(f"01T0{sid}:00:00"), ms(f"01T0{sid}:00:00"), float(sid)) for sid, *_ in series],
    )
    # an instance of no series, as a failed write could leave behind: unreadable, so it is dropped
    conn.execute("INSERT INTO history (sid, created_at, v) VALUES (99, 0, -1.0)")
    conn.close()

    store = SqliteStore(path, synchronous="NORMAL")
    try:
        new_attr = "https://example.org/new"
        readings = {H: [inst(9.0, "01T11:00:00", "01T12:00:00")], new_attr: [inst(0.0, None, "01T12:00:00")]}
        write(store, entity("01T12:00:00", readings))

        assert history(store) == {
            (F, None): [(3.0, at("01T03:00:00"), None)],
            (H, None): [(1.0, at("01T01:00:00"), None), (9.0, at("01T11:00:00"), None)],
            (H, DS): [(4.0, at("01T04:00:00"), None)],
            (new_attr, None): [(0.0, None, None)],
        }
        (theirs,) = store.history.instances("", other, InstanceQuery())
        assert (theirs.attr, [i["value"] for i in theirs.instances]) == (H, [2.0])
        assert store.history.delete_entity("", other)
        assert store.history.instances("", other, InstanceQuery()) == [] and len(history(store)) == 4
        assert store._conn.execute("SELECT count(*) FROM history WHERE v = -1.0").fetchone() == (0,)
    finally:
        store.close()


def test_writes_past_the_key_cache_limit_keep_every_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full key cache starts again mid-stream: a write mixing entities it still knows, entities it
    dropped and new ones records each reading in the series it belongs to (no failed write)."""
    from broker_adapter.storage.sqlite import history as sqlite_history

    monkeypatch.setattr(sqlite_history, "_CACHE_LIMIT", 3)
    store = SqliteStore(tmp_path / "history.db", synchronous="NORMAL")
    ids = [f"urn:ngsi-ld:Sensor:{n}" for n in range(6)]
    for hour, group in enumerate((ids[:2], ids[:4], ids)):  # known, dropped and new entities mixed
        when = f"01T1{hour}:00:00"
        readings = {eid: entity(when, {H: [inst(hour, when, when)], F: [inst(-hour, when, when)]}, eid)
                    for eid in group}  # fmt: skip
        outcomes = store.apply("", [Change(eid, lambda _, new=new: new) for eid, new in readings.items()])
        assert all(o.ok for o in outcomes)

    for n, eid in enumerate(ids):
        got = {
            s.attr: [i["value"] for i in s.instances]
            for s in store.history.instances("", eid, InstanceQuery())
        }
        first = 0 if n < 2 else 1 if n < 4 else 2
        assert got == {H: list(range(first, 3)), F: [-h for h in range(first, 3)]}, eid
    store.close()


def test_purge_records_deletions_too(store: Store) -> None:
    write(store, entity("01T10:00:00", {H: [inst(1, "01T09:00:00", "01T10:00:00")]}))

    store.delete_entities("", EntityQuery(types=[T]))

    assert [row[0] for row in history(store)[(H, None)]] == [1, NULL]


def test_history_off_records_nothing(store: Store) -> None:
    store.history.set_recording(False)

    write(store, entity("01T10:00:00", {H: [inst(1, "01T09:00:00", "01T10:00:00")]}))

    assert history(store) == {}
    assert store.history.get_entity("", ID) is None


@pytest.fixture
def readings(store: Store) -> Store:
    """height observed 00:00, 06:00, 12:00, 18:00 on 1 and 2 January with the values 1..8."""
    times = [f"{day}T{hour}:00:00" for day in ("01", "02") for hour in ("00", "06", "12", "18")]
    for n, t in enumerate(times, start=1):
        write(store, entity(t, {H: [inst(float(n), t, t)]}))
    return store


def values(store: Store, **query: Any) -> list[Any]:
    return [v for v, _, _ in history(store, **query)[(H, None)]]


def test_timerel_intervals_are_half_open(readings: Store) -> None:
    assert values(readings, time=TimeFilter("before", ms("01T12:00:00"))) == [1.0, 2.0]
    assert values(readings, time=TimeFilter("after", ms("01T12:00:00"))) == [4.0, 5.0, 6.0, 7.0, 8.0]
    between = TimeFilter("between", ms("01T06:00:00"), ms("02T00:00:00"))
    assert values(readings, time=between) == [2.0, 3.0, 4.0]


def test_last_n_returns_the_most_recent_in_time_order(readings: Store) -> None:
    assert values(readings, last_n=3) == [6.0, 7.0, 8.0]
    assert values(readings, last_n=2, time=TimeFilter("before", ms("02T00:00:00"))) == [3.0, 4.0]


def test_a_cut_series_says_where_it_stopped(readings: Store) -> None:
    (series,) = readings.history.instances("", ID, InstanceQuery(limit=3))

    assert [i["value"] for i in series.instances] == [1.0, 2.0, 3.0]
    assert series.truncated and series.next_time == ms("01T18:00:00")


def aggregate(store: Store, methods: list[str], period: str, time: TimeFilter | None = None) -> dict:
    query = AggregateQuery(methods, parse_duration(period, "p"), time=time or TimeFilter())
    (series,) = store.history.aggregate("", ID, query)
    return series.periods


def test_daily_aggregates_are_computed_per_day(readings: Store) -> None:
    methods = ["totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq"]

    found = aggregate(readings, methods, "P1D")

    day1, day2 = ms("01T00:00:00"), ms("02T00:00:00")
    day3 = ms("03T00:00:00")
    assert found["totalCount"] == [(4, day1, day2), (4, day2, day3)]
    assert found["distinctCount"] == [(4, day1, day2), (4, day2, day3)]
    assert found["sum"] == [(10.0, day1, day2), (26.0, day2, day3)]
    assert found["avg"] == [(2.5, day1, day2), (6.5, day2, day3)]
    assert found["min"] == [(1.0, day1, day2), (5.0, day2, day3)]
    assert found["max"] == [(4.0, day1, day2), (8.0, day2, day3)]
    assert found["sumsq"] == [(30.0, day1, day2), (174.0, day2, day3)]
    # sample standard deviation of 1, 2, 3, 4 (and of 5..8): sqrt(5/3)
    assert [round(v, 6) for v, _, _ in found["stddev"]] == [1.290994, 1.290994]


def test_periods_start_at_time_at_and_empty_periods_are_left_out(readings: Store) -> None:
    between = TimeFilter("between", ms("01T03:00:00"), ms("02T03:00:00"))

    found = aggregate(readings, ["max"], "PT12H", between)

    assert found["max"] == [
        (3.0, ms("01T03:00:00"), ms("01T15:00:00")),
        (5.0, ms("01T15:00:00"), ms("02T03:00:00")),
    ]


def test_zero_period_spans_the_whole_range(readings: Store) -> None:
    assert aggregate(readings, ["sum"], "PT0S")["sum"] == [(36.0, ms("01T00:00:00"), ms("02T18:00:00"))]


def test_monthly_periods_follow_the_calendar(store: Store) -> None:
    observed = ["2024-01-31T12:00:00.000Z", "2024-02-29T23:59:59.999Z", "2024-03-01T00:00:00.000Z"]
    instances = [{"type": "Property", "value": n, "observedAt": t} for n, t in enumerate(observed)]
    store.history.add_instances("", ID, [T], {H: instances})
    between = TimeFilter(
        "between", parse_ms("2024-01-01T00:00:00Z", "t"), parse_ms("2024-04-01T00:00:00Z", "t")
    )

    found = aggregate(store, ["totalCount", "max"], "P1M", between)

    jan, feb, mar, apr = (parse_ms(f"2024-{m}-01T00:00:00Z", "t") for m in ("01", "02", "03", "04"))
    assert found["totalCount"] == [(1, jan, feb), (1, feb, mar), (1, mar, apr)]
    assert found["max"] == [(0, jan, feb), (1, feb, mar), (2, mar, apr)]


def test_provision_adds_changes_and_removes_instances(store: Store) -> None:
    now = at("05T00:00:00")
    created = store.history.add_instances(
        "", ID, [T], {H: [inst(1, "01T00:00:00", "05T00:00:00"), inst(2, "01T01:00:00", "05T00:00:00")]}
    )
    again = store.history.add_instances(
        "", ID, None, {H: [inst(3, "01T02:00:00", "05T00:00:00", datasetId=DS)]}
    )
    assert (created, again) == (True, False)
    (default, _) = store.history.instances("", ID, InstanceQuery())
    first_id, second_id = (i["instanceId"] for i in default.instances)

    assert store.history.update_instance(
        "", ID, H, first_id, {"type": "Property", "value": 10}, ms("06T00:00:00")
    )
    assert store.history.delete_instance("", ID, H, second_id)
    assert not store.history.delete_instance("", ID, H, "urn:ngsi-ld:attribute:instance:999")
    assert history(store) == {
        (H, None): [(10, at("01T00:00:00"), None)],
        (H, DS): [(3, at("01T02:00:00"), None)],
    }
    changed = store.history.instances("", ID, InstanceQuery())[0].instances[0]
    assert (changed["createdAt"], changed["modifiedAt"]) == (now, at("06T00:00:00"))

    assert store.history.delete_attribute("", ID, H, dataset_id=DS, delete_all=False)
    assert list(history(store)) == [(H, None)]
    assert store.history.delete_entity("", ID)
    assert store.history.get_entity("", ID) is None and history(store) == {}


def test_adding_to_a_missing_temporal_entity_is_not_found(store: Store) -> None:
    with pytest.raises(ResourceNotFound):
        store.history.add_instances("", ID, None, {H: [inst(1, "01T00:00:00", "01T00:00:00")]})


def test_retention_removes_exactly_what_is_older_than_the_period(store: Store) -> None:
    now = parse_ms("2029-01-01T00:00:00Z", "now")
    cutoff = parse_ms("2024-01-01T00:00:00Z", "cutoff")  # now - P5Y
    observed = [cutoff - 1, cutoff, cutoff + 1]
    for tenant in ("", "keep-all", "short"):
        store.history.add_instances(
            tenant,
            ID,
            [T],
            {H: [{"type": "Property", "value": n, "observedAt": _iso(t)} for n, t in enumerate(observed)]},
        )
    store.history.set_retention("keep-all", "P100Y")
    store.history.set_retention("short", "P5Y1D")  # cutoff one day earlier: nothing to remove

    assert store.history.purge_expired(now, Duration(months=60), batch_size=10) == 1
    assert store.history.purge_expired(now, Duration(months=60), batch_size=10) == 0

    def left(tenant: str) -> list[int]:
        return [i["value"] for i in store.history.instances(tenant, ID, InstanceQuery())[0].instances]

    assert left("") == [1, 2]
    assert left("keep-all") == [0, 1, 2]
    assert left("short") == [0, 1, 2]


def test_retention_deletes_in_batches(store: Store) -> None:
    store.history.add_instances(
        "", ID, [T], {H: [{"type": "Property", "value": n, "observedAt": _iso(n * 1000)} for n in range(25)]}
    )
    now = parse_ms("2030-01-01T00:00:00Z", "now")

    batches = []
    while (deleted := store.history.purge_expired(now, Duration(months=12), batch_size=10)) or not batches:
        batches.append(deleted)

    assert batches == [10, 10, 5]
    assert store.history.instances("", ID, InstanceQuery()) == []


def _iso(epoch_ms: int) -> str:
    from broker_adapter.ngsild.durations import ms_to_canonical

    return ms_to_canonical(epoch_ms)
