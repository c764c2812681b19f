"""Moving a whole installation between stores (`verbund store copy`): what each adapter exports and imports.

The records are adapter-neutral: entities in the stored form (ngsild.types), history as the rows both
adapters keep per attribute instance (storage/sqlite/history_rows.py), subscriptions with their status and
their queued notifications. Every `put_*` is idempotent (replace, or delete-then-insert for one unit), so
a copy that was interrupted can repeat its last page safely. Pages are keyed (`after`: the last key
copied), so resuming never rescans what was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker_adapter.ngsild.types import EntityId, ExpandedEntity, Iri, Tenant
from broker_adapter.storage.notify_port import StoredSubscription


@dataclass(slots=True)
class HistoryRow:
    """One recorded attribute instance; times in ms since the epoch, `doc` the other members as JSON."""

    attr: Iri
    dataset: str  # '' for the default instance
    kind: str
    observed: int | None
    created: int
    modified: int | None
    deleted: int | None
    v: Any
    doc: str | None


@dataclass(slots=True)
class HistoryDump:
    """A temporal entity (types None: a key only) and all its rows, oldest first per series."""

    id: EntityId
    types: list[Iri] | None
    created: int
    deleted: int | None
    rows: list[HistoryRow] = field(default_factory=list)


@dataclass(slots=True)
class QueuedNotification:
    body: bytes
    headers: dict[str, str]
    created: float
    attempts: int
    next_at: float


@dataclass(slots=True)
class SubscriptionDump:
    sub: StoredSubscription
    queued: list[QueuedNotification] = field(default_factory=list)


class Transfer(Protocol):
    store: Any  # the entity store it reads and writes

    def tenants(self) -> list[Tenant]:
        """Every tenant with data, the default tenant "" first."""

    def entities(self, tenant: Tenant, after: str | None, limit: int) -> list[ExpandedEntity]:
        """Entities in id order, after the given id."""

    def put_entities(self, tenant: Tenant, entities: Sequence[ExpandedEntity]) -> None:
        """Write (replace) them with their indexes, recording no history and logging no change."""

    def history(self, tenant: Tenant, after: str | None, limit: int) -> list[HistoryDump]: ...

    def put_history(self, tenant: Tenant, dumps: Sequence[HistoryDump]) -> None:
        """Replace each entity's history with the dump."""

    def settings(self, tenant: Tenant) -> dict[str, Any]:
        """Tenant settings, and the history retention period under the key RETENTION."""

    def subscriptions(self, after: tuple[Tenant, str] | None, limit: int) -> list[SubscriptionDump]:
        """Subscriptions of every tenant in (tenant, id) order, with their queued notifications."""

    def put_subscriptions(self, dumps: Sequence[SubscriptionDump]) -> None:
        """Replace each subscription (status included) and its queue."""


RETENTION = "@history_retention"  # the key under which `settings` carries the retention period


def put_settings(transfer: Transfer, tenant: Tenant, values: dict[str, Any]) -> None:
    """Write what `settings` read, through the store port (the same for every adapter)."""
    for key, value in values.items():
        if key == RETENTION:
            transfer.store.history.set_retention(tenant, value)
        else:
            transfer.store.set_tenant_setting(tenant, key, value)


def open_transfer(store: Any) -> Transfer:
    from broker_adapter.storage.mongo.store import MongoStore
    from broker_adapter.storage.sqlite.store import SqliteStore

    if isinstance(store, SqliteStore):
        from broker_adapter.storage.sqlite.transfer import SqliteTransfer

        return SqliteTransfer(store)
    if isinstance(store, MongoStore):
        from broker_adapter.storage.mongo.transfer import MongoTransfer

        return MongoTransfer(store)
    raise ValueError(f"cannot copy from or to {type(store).__name__}")
