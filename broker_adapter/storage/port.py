"""The store port: the operations the API needs, implemented by each adapter (sqlite, later mongo).

Writes go through one primitive, `apply`: the caller passes, per entity id, a pure function from the
current stored entity (or None) to the new one (or None to delete). The adapter runs all of them in one
transaction, so a request is either written and durable when `apply` returns, or not written at all.
A function that raises `NgsiLdError` rejects only its own entity: the others of the same call are still
written (batch semantics); the error is returned in that entity's `Outcome`.

Adapters are synchronous and thread-safe; the API calls them from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.types import EntityId, ExpandedEntity, Iri, Tenant

# Receives the stored entity (None if absent) and returns the new one (None deletes).
ChangeFn = Callable[[ExpandedEntity | None], ExpandedEntity | None]


@dataclass(frozen=True, slots=True)
class Change:
    entity_id: EntityId
    apply: ChangeFn


@dataclass(slots=True)
class Outcome:
    entity_id: EntityId
    before: ExpandedEntity | None = None
    after: ExpandedEntity | None = None
    error: NgsiLdError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class EntityQuery:
    """The selection part of a query. Issue-3 query features extend this (q, geoQ, scopeQ, ...)."""

    types: Sequence[Iri] | None = None  # any of these types
    ids: Sequence[EntityId] | None = None
    id_pattern: str | None = None
    attrs: Sequence[Iri] | None = None  # entity has at least one of these attributes
    limit: int = 20
    offset: int = 0
    count: bool = False


@dataclass(slots=True)
class QueryResult:
    entities: list[ExpandedEntity] = field(default_factory=list)
    total: int | None = None  # set when EntityQuery.count


@dataclass(slots=True)
class ContextRecord:
    """A stored @context (the /jsonldContexts API). kind: Hosted, Cached or ImplicitlyCreated."""

    id: str
    url: str
    kind: str
    document: Any
    created_at: str
    last_usage: str | None = None
    hits: int = 0


class Store(Protocol):
    def close(self) -> None: ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the database cannot answer."""

    # tenants -----------------------------------------------------------------------------------------
    def tenant_exists(self, tenant: Tenant) -> bool:
        """The default tenant "" always exists; others once something was written to them."""

    def list_tenants(self) -> list[Tenant]: ...

    # entities ----------------------------------------------------------------------------------------
    def get_entity(self, tenant: Tenant, entity_id: EntityId) -> ExpandedEntity | None: ...

    def apply(self, tenant: Tenant, changes: Sequence[Change]) -> list[Outcome]:
        """Run each change on the current state in one transaction; creates the tenant on first write.

        Changes to the same id in one call see each other's results, in order."""

    def query(self, tenant: Tenant, query: EntityQuery) -> QueryResult:
        """Entities in a stable order (id ascending), paged by limit/offset."""

    def delete_entities(self, tenant: Tenant, query: EntityQuery) -> list[ExpandedEntity]:
        """Delete every entity the query selects (ignoring paging); return what was deleted."""

    # @contexts ---------------------------------------------------------------------------------------
    def put_context(self, record: ContextRecord) -> None:
        """Insert or replace by id."""

    def get_context(self, context_id: str) -> ContextRecord | None: ...

    def get_context_by_url(self, url: str) -> ContextRecord | None: ...

    def list_contexts(self, kind: str | None = None) -> list[ContextRecord]: ...

    def delete_context(self, context_id: str) -> bool: ...

    def touch_context(self, context_id: str, when: str) -> None:
        """Count one use of a stored context (hits, last_usage); best effort."""
