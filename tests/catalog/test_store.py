"""The catalog's own state: reconcile replaces what the broker no longer holds, notifications only move
observations forward, and everything survives a restart."""

from __future__ import annotations

import time
from pathlib import Path

from catalog.store import CatalogStore
from catalog.summary import summarize
from tests.catalog.support import municipality, water


def test_reconcile_drops_what_is_gone_but_keeps_what_a_notification_wrote_meanwhile(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalog.db")
    store.upsert("kl", [summarize(water(n, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z")) for n in (1, 2)])
    since = time.time()
    store.upsert("kl", [summarize(water(3, 1.0, 7.9, 49.5, "2026-11-25T10:00:00Z"))])  # raced the query
    dropped = store.replace_type(
        "kl", "WaterObserved", [summarize(water(1, 1.1, 7.7, 49.4, "2026-11-21T10:00:00Z"))], since
    )
    assert dropped
    [row] = store.datasets()
    assert row.count == 2  # pegel-1 (reconciled) and pegel-3 (notified after the query began)
    assert row.bbox == (7.7, 49.4, 7.9, 49.5)
    store.close()


def test_the_first_observation_only_moves_back_and_the_last_only_forward(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalog.db")
    store.upsert("kl", [summarize(water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))])
    store.upsert("kl", [summarize(water(1, 1.2, 7.7, 49.4, "2026-11-22T10:00:00Z"))])
    store.upsert("kl", [summarize(water(1, 1.1, 7.7, 49.4, "2026-11-21T10:00:00Z"))])  # late delivery
    store.set_first_observed("kl", "urn:ngsi-ld:WaterObserved:pegel-1", "2026-01-01T00:00:00.000Z")
    [row] = store.datasets()
    assert (row.first_observed, row.last_observed) == ("2026-01-01T00:00:00.000Z", "2026-11-22T10:00:00.000Z")
    store.close()


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalog.db")
    store.put_municipalities([municipality("kl")])
    store.upsert("kl", [summarize(water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))])
    before = store.datasets()
    store.close()
    reopened = CatalogStore(tmp_path / "catalog.db")
    assert reopened.datasets() == before
    assert reopened.municipalities()["kl"]["name"] == "Stadt Kaiserslautern"
    reopened.close()
