"""The MongoDB adapter when no server answers: real pymongo against a loopback port nobody listens on.

Every operation fails within the server-selection timeout with StoreUnavailable (HTTP 503
ProblemDetails), never a hang and never a raw pymongo error; opening the store needs no server (it is
prepared on first use), so a broker can report itself unready instead of failing later."""

from __future__ import annotations

import socket

import pytest

from broker_adapter.ngsild.errors import StoreUnavailable
from broker_adapter.notifications import open_notify_store
from broker_adapter.storage.history import TemporalSelection
from broker_adapter.storage.mongo.connection import MongoOptions, database_prefix
from broker_adapter.storage.mongo.keys import decode_key, encode_key, tenant_database
from broker_adapter.storage.mongo.store import MongoStore
from broker_adapter.storage.port import Change, EntityQuery
from tests.broker_adapter.storage.test_store_conformance import entity, put


@pytest.fixture
def unreachable() -> MongoStore:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    store = MongoStore(f"mongodb://127.0.0.1:{port}/vt", MongoOptions(server_selection_timeout_ms=200))
    yield store
    store.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.ping(),
        lambda s: s.get_entity("t", "urn:x:1"),
        lambda s: s.apply("t", [Change("urn:x:1", put(entity("urn:x:1")))]),
        lambda s: s.query("t", EntityQuery(types=["https://example.org/T"])),
        lambda s: s.list_tenants(),
        lambda s: s.history.select_entities("t", TemporalSelection()),
        lambda s: open_notify_store(s).matcher_lease("me", 30),
    ],
    ids=["ping", "get", "apply", "query", "tenants", "history", "notify"],
)
def test_no_server_means_store_unavailable_within_the_timeout(unreachable: MongoStore, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreUnavailable) as caught:
        call(unreachable)
    assert caught.value.status == 503
    assert "127.0.0.1" in caught.value.detail


def test_keys_and_database_names_are_reversible_and_valid() -> None:
    for key in ["https://example.org/a.b", "$ref", "100%", "%2E", "a..b$", ""]:
        assert decode_key(encode_key(key)) == key
        assert "." not in encode_key(key) and not encode_key(key).startswith("$")
    assert tenant_database("verbund", "") == "verbund_default"
    assert tenant_database("verbund", "kaiserslautern") == "verbund_t_kaiserslautern"
    upper, long = tenant_database("verbund", "Landau"), tenant_database("verbund", "x" * 64)
    assert upper.startswith("verbund_h_") and long.startswith("verbund_h_") and upper != long
    assert all(len(n) <= 63 for n in (upper, long))
    assert database_prefix("mongodb://h/vb?replicaSet=rs0", MongoOptions()) == "vb"
    assert database_prefix("mongodb://h/", MongoOptions()) == "verbund"
    with pytest.raises(ValueError):
        database_prefix("mongodb://h/", MongoOptions(database="bad.name"))
