"""The notification side of the store port (storage/notify_port.py), for every adapter: subscriptions,
the change log written inside entity writes, the matcher lease, consuming changes exactly once, and
claiming the outbox with leases so that two replicas never send the same notification."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker_adapter.ngsild.errors import AlreadyExists
from broker_adapter.notifications import open_notify_store
from broker_adapter.storage.notify_port import Delivery, MatchResult, NewNotification, StoredSubscription
from broker_adapter.storage.port import Change
from tests.broker_adapter.storage.test_store_conformance import entity, put
from tests.support import stores


@pytest.fixture(params=stores.params())
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with stores.open_store(request.param, tmp_path) as store:
        notify = open_notify_store(store)
        notify.install()
        yield store, notify


def subscription(tenant: str, sub_id: str, **doc: Any) -> StoredSubscription:
    now = "2026-11-25T10:00:00.000Z"
    return StoredSubscription(
        tenant=tenant,
        id=sub_id,
        doc={"id": sub_id, "type": "Subscription", "isActive": True, **doc},
        context={"@context": {"a.b": "https://example.org/a.b"}},
        created_at=now,
        modified_at=now,
    )


def queue(notify: Any, tenant: str, sub_id: str, bodies: list[bytes], owner: str = "m1") -> None:
    assert notify.matcher_lease(owner, 30)
    result = MatchResult(
        consumed=[], notifications=[NewNotification(tenant, sub_id, b, {"X": "1"}) for b in bodies]
    )
    assert notify.commit_matches(owner, 30, result)


def test_subscriptions_round_trip_per_tenant(pair: tuple[Any, Any]) -> None:
    store, notify = pair
    first = subscription("t1", "urn:s:1", q="a>1")
    notify.create_subscription(first)
    notify.create_subscription(subscription("t1", "urn:s:2"))
    notify.create_subscription(subscription("t2", "urn:s:1"))
    with pytest.raises(AlreadyExists):
        notify.create_subscription(subscription("t1", "urn:s:1"))
    got = notify.get_subscription("t1", "urn:s:1")
    assert (got.doc, got.context, got.times_sent) == (first.doc, first.context, 0)
    page, total = notify.list_subscriptions("t1", limit=1, offset=1)
    assert ([s.id for s in page], total) == (["urn:s:2"], 2)
    assert store.tenant_exists("t2")
    changed = subscription("t1", "urn:s:1", q="a>2", isActive=False)
    assert notify.replace_subscription(changed)
    assert notify.get_subscription("t1", "urn:s:1").doc["q"] == "a>2"
    assert not notify.replace_subscription(subscription("t1", "urn:s:9"))
    assert notify.delete_subscription("t1", "urn:s:1") and not notify.delete_subscription("t1", "urn:s:1")
    assert notify.get_subscription("t2", "urn:s:1") is not None


def test_changes_are_logged_only_for_tenants_with_subscriptions(pair: tuple[Any, Any]) -> None:
    store, notify = pair
    store.apply("quiet", [Change("urn:x:1", put(entity("urn:x:1")))])
    notify.create_subscription(subscription("busy", "urn:s:1"))
    since = notify.get_subscription("busy", "urn:s:1").since_seq
    store.apply(
        "busy", [Change("urn:x:1", put(entity("urn:x:1", 1))), Change("urn:x:2", put(entity("urn:x:2")))]
    )
    store.apply("busy", [Change("urn:x:1", lambda current: None)])
    snap = notify.snapshot(None, 100)
    assert [(c.tenant, (c.before or {}).get("id"), (c.after or {}).get("id")) for c in snap.changes] == [
        ("busy", None, "urn:x:1"),
        ("busy", None, "urn:x:2"),
        ("busy", "urn:x:1", None),
    ]
    assert all(c.seq > since for c in snap.changes)
    assert snap.changes[0].after == entity("urn:x:1", 1)
    assert [s.id for s in snap.subscriptions] == ["urn:s:1"]
    assert notify.snapshot(snap.version, 100).subscriptions is None  # unchanged version: not reloaded


def test_a_rolled_back_write_logs_no_change(pair: tuple[Any, Any]) -> None:
    store, notify = pair
    notify.create_subscription(subscription("t", "urn:s:1"))

    def boom(current: Any) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        store.apply("t", [Change("urn:x:1", put(entity("urn:x:1"))), Change("urn:x:2", boom)])
    assert notify.snapshot(None, 100).changes == []


def test_one_matcher_at_a_time_and_changes_are_consumed_once(pair: tuple[Any, Any]) -> None:
    store, notify = pair
    notify.create_subscription(subscription("t", "urn:s:1"))
    store.apply("t", [Change("urn:x:1", put(entity("urn:x:1")))])
    assert notify.matcher_lease("a", 30)
    assert not notify.matcher_lease("b", 30)
    seqs = [c.seq for c in notify.snapshot(None, 10).changes]
    result = MatchResult(consumed=seqs, notifications=[NewNotification("t", "urn:s:1", b"n1", {})])
    assert notify.commit_matches("a", 30, result)
    assert not notify.commit_matches("a", 30, result)  # already consumed: nothing written twice
    assert not notify.commit_matches("b", 30, MatchResult(consumed=[]))  # not the lease holder
    assert notify.snapshot(None, 10).changes == []
    (claim,) = notify.claim("s1", time.time(), 30, 10, 10, set())
    assert [i.body for i in claim.items] == [b"n1"]


def test_two_senders_never_claim_the_same_subscription(pair: tuple[Any, Any]) -> None:
    _, notify = pair
    for n in range(3):
        notify.create_subscription(subscription("t", f"urn:s:{n}"))
        queue(notify, "t", f"urn:s:{n}", [f"{n}-a".encode(), f"{n}-b".encode()])
    now = time.time()
    first = notify.claim("r1", now, 30, 2, 10, set())
    second = notify.claim("r2", now, 30, 10, 10, set())
    assert len(first) == 2 and len(second) == 1
    assert {c.sub_id for c in first}.isdisjoint(c.sub_id for c in second)
    assert [i.body for i in second[0].items] == [
        f"{second[0].sub_id[-1]}-a".encode(),
        f"{second[0].sub_id[-1]}-b".encode(),
    ]
    assert notify.claim("r3", now, 30, 10, 10, set()) == []  # all leased
    # a lease that ran out is taken over
    assert len(notify.claim("r3", now + 31, 30, 10, 10, set())) == 3


def test_record_deletes_sent_retries_the_failed_and_counts(pair: tuple[Any, Any]) -> None:
    _, notify = pair
    notify.create_subscription(subscription("t", "urn:s:1"))
    queue(notify, "t", "urn:s:1", [b"1", b"2", b"3"])
    now = time.time()
    (claim,) = notify.claim("r1", now, 30, 10, 10, set())
    notify.record([Delivery(claim, sent=1, failed=True, at="2026-11-25T10:00:01.000Z", retry_at=now + 60)])
    sub = notify.get_subscription("t", "urn:s:1")
    assert (sub.times_sent, sub.times_failed) == (2, 1)
    assert (sub.last_success, sub.last_failure) == ("2026-11-25T10:00:01.000Z", "2026-11-25T10:00:01.000Z")
    assert notify.claim("r1", now + 1, 30, 10, 10, set()) == []  # the failed one waits for its retry
    (retry,) = notify.claim("r2", now + 61, 30, 10, 10, set())
    assert [(i.body, i.attempts) for i in retry.items] == [(b"2", 1), (b"3", 0)]
    notify.record([Delivery(retry, sent=2, failed=False, at="2026-11-25T10:01:02.000Z")])
    assert notify.claim("r2", now + 62, 30, 10, 10, set()) == []
    queue(notify, "t", "urn:s:1", [b"4"])  # queued again after the outbox ran empty
    (again,) = notify.claim("r2", now + 62, 30, 10, 10, set())
    assert [i.body for i in again.items] == [b"4"]


def test_claim_records_first_and_claims_what_that_freed(pair: tuple[Any, Any]) -> None:
    _, notify = pair
    notify.create_subscription(subscription("t", "urn:s:1"))
    queue(notify, "t", "urn:s:1", [b"1", b"2", b"3"])
    now = time.time()
    (first,) = notify.claim("r1", now, 30, 10, 2, set())
    assert [i.body for i in first.items] == [b"1", b"2"]
    assert notify.claim("r1", now, 30, 10, 2, set()) == []  # still leased
    done = Delivery(first, sent=2, failed=False, at="2026-11-25T10:00:01.000Z")
    (second,) = notify.claim("r1", now, 30, 10, 2, set(), record=[done])

    assert [i.body for i in second.items] == [b"3"]
    assert notify.get_subscription("t", "urn:s:1").times_sent == 2
    # only results to record: recorded, nothing claimed
    last = Delivery(second, sent=1, failed=False, at="2026-11-25T10:00:02.000Z")
    assert notify.claim("r1", now, 30, 10, 2, set(), record=[last]) == []
    assert notify.get_subscription("t", "urn:s:1").times_sent == 3


def test_inactive_expired_skipped_and_deleted_subscriptions_are_not_claimed(pair: tuple[Any, Any]) -> None:
    _, notify = pair
    notify.create_subscription(subscription("t", "urn:s:off", isActive=False))
    notify.create_subscription(subscription("t", "urn:s:old", expiresAt="2020-01-01T00:00:00Z"))
    notify.create_subscription(subscription("t", "urn:s:busy"))
    notify.create_subscription(subscription("t", "urn:s:gone"))
    for sub_id in ("urn:s:off", "urn:s:old", "urn:s:busy", "urn:s:gone"):
        queue(notify, "t", sub_id, [b"x"])
    notify.delete_subscription("t", "urn:s:gone")
    assert notify.claim("r", time.time(), 30, 10, 10, {("t", "urn:s:busy")}) == []
    assert [c.sub_id for c in notify.claim("r", time.time(), 30, 10, 10, set())] == ["urn:s:busy"]


def test_periodic_candidates_by_type_or_id(pair: tuple[Any, Any]) -> None:
    store, notify = pair
    store.apply("t", [Change(f"urn:x:{n}", put(entity(f"urn:x:{n}"))) for n in range(3)])
    store.apply("t", [Change("urn:y:1", put(entity("urn:y:1", types=("https://example.org/U",))))])
    assert [e["id"] for e in notify.entities_of("t", ["https://example.org/U"], None)] == ["urn:y:1"]
    assert [e["id"] for e in notify.entities_of("t", None, ["urn:x:2", "urn:x:0"])] == ["urn:x:0", "urn:x:2"]
