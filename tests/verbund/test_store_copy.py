"""`verbund store copy`: a whole installation moves from SQLite to MongoDB (mongomock here, a real server
when VERBUND_TEST_MONGO_URL is set) and back without losing or changing anything, and an interrupted
copy resumes from its checkpoint."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from broker_adapter.ngsild.query import AttrPath, Compare, CompareOp, Literal, ValueType, parse_geo_query
from broker_adapter.ngsild.termmap import core_term_map
from broker_adapter.notifications import open_notify_store
from broker_adapter.storage.history import InstanceQuery
from broker_adapter.storage.notify_port import Delivery, MatchResult, NewNotification, StoredSubscription
from broker_adapter.storage.open import open_store
from broker_adapter.storage.port import Change, ContextRecord, EntityQuery
from broker_adapter.storage.transfer import open_transfer
from tests.support import stores
from verbund.cli import main
from verbund.store_copy import Interrupted, copy_store, summarize

DC = "https://uri.etsi.org/ngsi-ld/default-context/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
HEIGHT = "https://example.org/water.height"
T = "https://example.org/WaterObserved"
HIGHER_THAN_1 = Compare(AttrPath((HEIGHT,)), CompareOp.GT, Literal(ValueType.NUMBER, 1))


def entity(n: int, height: float, at: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WaterObserved:{n:03d}",
        "type": [T],
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": at,
        "attrs": {
            HEIGHT: [
                {"type": "Property", "value": height, "observedAt": at, "createdAt": at, "modifiedAt": at}
            ],
            LOCATION: [
                {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [7.7 + n / 100, 49.4]},
                    "createdAt": at,
                    "modifiedAt": at,
                }
            ],
        },
    }


def populate(url: str) -> None:
    store = open_store(url, ".")
    notify = open_notify_store(store)
    try:
        for tenant in ("", "kaiserslautern", "Landau"):
            for step, at in enumerate(("2026-01-01T10:00:00.000Z", "2026-01-01T11:00:00.000Z")):
                store.apply(
                    tenant,
                    [
                        Change(
                            f"urn:ngsi-ld:WaterObserved:{n:03d}",
                            lambda _, n=n, s=step, a=at: entity(n, n + s / 2, a),
                        )
                        for n in range(7)
                    ],
                )
            store.apply(tenant, [Change("urn:ngsi-ld:WaterObserved:006", lambda _: None)])
        store.history.add_instances(
            "kaiserslautern",
            "urn:ngsi-ld:Sensor:x",
            ["https://example.org/Sensor"],
            {
                HEIGHT: [
                    {
                        "type": "Property",
                        "value": "dry",
                        "observedAt": "2025-12-01T00:00:00.000Z",
                        "datasetId": "urn:ds:1",
                    }
                ]
            },
        )
        store.set_tenant_setting("kaiserslautern", "sdm_policy", {"mode": "warn", "a.b": ["$x"]})
        store.history.set_retention("Landau", "P1Y")
        store.put_context(
            ContextRecord(
                "c1", "http://127.0.0.1/c.jsonld", "Cached", {"@context": {"x.y": DC + "x"}}, "2026-01-01"
            )
        )
        sub = StoredSubscription(
            "kaiserslautern",
            "urn:ngsi-ld:Subscription:1",
            {"id": "urn:ngsi-ld:Subscription:1", "type": "Subscription", "isActive": True, "q": "a>1"},
            None,
            created_at="2026-01-01T00:00:00.000Z",
            modified_at="2026-01-01T00:00:00.000Z",
        )
        notify.create_subscription(sub)
        assert notify.matcher_lease("m", 30)
        queued = [
            NewNotification(sub.tenant, sub.id, f"n{i}".encode(), {"Content-Type": "application/json"})
            for i in range(3)
        ]
        assert notify.commit_matches("m", 30, MatchResult(consumed=[], notifications=queued))
        (claim,) = notify.claim("s", time.time(), 30, 1, 1, set())
        notify.record([Delivery(claim, sent=1, failed=False, at="2026-01-01T12:00:00.000Z")])
    finally:
        store.close()


def summaries(url: str) -> dict[str, Any]:
    store = open_store(url, ".")
    try:
        transfer = open_transfer(store)
        return {tenant: summarize(transfer, tenant) for tenant in transfer.tenants()}
    finally:
        store.close()


@pytest.fixture(params=stores.params("mongomock", "mongodb"))
def mongo_url(request: pytest.FixtureRequest) -> Any:
    if request.param == "mongomock":
        url = f"mongomock://copy-{uuid.uuid4().hex}"
        yield url
        from broker_adapter.storage.mongo.connection import drop_mock

        drop_mock(url)
        return
    prefix = f"vc{uuid.uuid4().hex[:10]}"
    yield (
        stores.MONGO_URL.rstrip("/") + "/" + prefix
        if "?" not in stores.MONGO_URL
        else stores.MONGO_URL.replace("/?", f"/{prefix}?")
    )
    import pymongo

    client = pymongo.MongoClient(stores.MONGO_URL)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)
    client.close()


def test_sqlite_to_mongo_and_back_keeps_everything(tmp_path: Path, mongo_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    back = f"sqlite:///{tmp_path / 'back.db'}"
    populate(source)
    first = copy_store(source, mongo_url, checkpoint=tmp_path / "c1.json", progress=None, page=3)
    assert first.tenants["kaiserslautern"].entities == 6
    assert first.tenants["kaiserslautern"].temporal == 8  # 7 entities (one deleted) and a provisioned one
    assert first.subscriptions == 1 and first.queued == 2 and first.contexts == 1
    copy_store(mongo_url, back, checkpoint=tmp_path / "c2.json", progress=None, page=4)
    assert summaries(back) == summaries(source)

    # the copy works as a store: queries, geo-queries, history and the outbox
    mongo = open_store(mongo_url, ".")
    try:
        tm = core_term_map()
        near = parse_geo_query("near;maxDistance==1000", "Point", "[7.72,49.4]", None, tm)
        found = mongo.query("kaiserslautern", EntityQuery(geo=near, q=HIGHER_THAN_1))
        assert [e["id"] for e in found.entities] == [
            "urn:ngsi-ld:WaterObserved:001",  # 1.5, 724 m away
            "urn:ngsi-ld:WaterObserved:002",
            "urn:ngsi-ld:WaterObserved:003",
        ]
        (series,) = mongo.history.instances(
            "Landau", "urn:ngsi-ld:WaterObserved:001", InstanceQuery(attrs=[HEIGHT])
        )
        assert [i["value"] for i in series.instances] == [1.0, 1.5]
        assert mongo.get_tenant_setting("kaiserslautern", "sdm_policy") == {"mode": "warn", "a.b": ["$x"]}
        notify = open_notify_store(mongo)
        (claim,) = notify.claim("s", time.time(), 30, 5, 5, set())
        assert [i.body for i in claim.items] == [b"n1", b"n2"]
        assert notify.get_subscription("kaiserslautern", claim.sub_id).times_sent == 1
    finally:
        mongo.close()
    assert not (tmp_path / "c1.json").exists()


def test_an_interrupted_copy_resumes_from_its_checkpoint(tmp_path: Path, mongo_url: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    populate(source)
    checkpoint = tmp_path / "copy.json"
    pages: list[str] = []

    def die_in_the_middle(section: str, n: int) -> bool:
        pages.append(section)
        return section == "entities:kaiserslautern" and n == 1

    with pytest.raises(Interrupted):
        copy_store(
            source, mongo_url, checkpoint=checkpoint, progress=None, page=2, stop_after=die_in_the_middle
        )
    assert checkpoint.exists()
    resumed: list[str] = []
    copy_store(
        source,
        mongo_url,
        checkpoint=checkpoint,
        progress=None,
        page=2,
        stop_after=lambda s, n: bool(resumed.append(s)),
    )
    # the default tenant was done before: the resumed copy starts with kaiserslautern's second page
    assert resumed[0] == "entities:kaiserslautern" and "entities:" not in resumed
    assert summaries(mongo_url) == summaries(source)


def test_the_cli_copies_and_refuses_a_copy_onto_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    populate(source)
    assert main(["store", "copy", source, source, "--checkpoint", str(tmp_path / "c.json")]) == 1
    assert "same store" in capsys.readouterr().err
    assert main(["store", "copy", source, target, "--checkpoint", str(tmp_path / "c.json")]) == 0
    assert "verified" in capsys.readouterr().err
    assert summaries(target) == summaries(source)
