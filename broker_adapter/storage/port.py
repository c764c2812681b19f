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
from broker_adapter.ngsild.query.ast import GeoQuery, Node
from broker_adapter.ngsild.types import EntityId, ExpandedEntity, Iri, Tenant
from broker_adapter.storage.history import HistoryStore

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


WriteItem = tuple[Tenant, Sequence[Change]]  # one caller's changes to one tenant (apply_group)
ItemResult = list[Outcome] | Exception  # its outcomes, or what it failed with


@dataclass(frozen=True, slots=True)
class EntitySelector:
    """One member of a Query's `entities` (clause 5.2.33): its type and, if given, id or idPattern."""

    type_expression: Node | None = None
    id: EntityId | None = None
    id_pattern: str | None = None


@dataclass(slots=True)
class EntityQuery:
    """The selection part of a query; every part given must hold (AND).

    The parsed parts (`type_expression`, `q`, `scope`, `geo`) are ngsild.query AST nodes with expanded
    names; adapters compile them to their own query language (reference semantics: evaluate.matches).
    """

    types: Sequence[Iri] | None = None  # any of these types
    ids: Sequence[EntityId] | None = None
    id_pattern: str | None = None  # checked by ngsild.query.patterns (bounded)
    attrs: Sequence[Iri] | None = None  # entity has at least one of these attributes
    type_expression: Node | None = None  # TypeIs under And/Or (the `type` parameter)
    selectors: Sequence[EntitySelector] | None = None  # any of these (POST entityOperations/query)
    q: Node | None = None
    scope: Node | None = None  # scopeQ
    geo: GeoQuery | None = None
    local: bool = False  # only this broker's entities: the only kind there is without registrations
    limit: int = 20
    offset: int = 0
    count: bool = False


@dataclass(slots=True)
class QueryResult:
    entities: list[ExpandedEntity] = field(default_factory=list)
    total: int | None = None  # set when EntityQuery.count


@dataclass(slots=True)
class TypeSummary:
    """An entity type for discovery: how many entities have it, and their attributes' kinds."""

    iri: Iri
    entity_count: int = 0
    attributes: dict[Iri, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class AttributeSummary:
    """An attribute for discovery: instance count, kinds (Property, ...) and the entity types using it."""

    iri: Iri
    count: int = 0
    kinds: list[str] = field(default_factory=list)
    types: list[Iri] = field(default_factory=list)


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
    history: HistoryStore  # the temporal API (storage/history.py); adapters record every write

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

    def apply_group(self, items: Sequence[WriteItem]) -> list[ItemResult]:
        """Several independent `apply` calls committed together (group commit: one disk flush for all).

        Each item succeeds or fails alone (its result is its outcomes or the exception it raised); a
        failed commit raises, and then none of them was written. Adapters without a cheaper way may use
        `apply_each`."""

    def query(self, tenant: Tenant, query: EntityQuery) -> QueryResult:
        """Entities in a stable order (id ascending), paged by limit/offset."""

    def delete_entities(self, tenant: Tenant, query: EntityQuery) -> list[ExpandedEntity]:
        """Delete every entity the query selects (ignoring paging); return what was deleted."""

    # tenant settings -------------------------------------------------------------------------------
    def get_tenant_setting(self, tenant: Tenant, key: str) -> Any:
        """A per-tenant JSON value (e.g. "sdm_policy"), None when not set."""

    def set_tenant_setting(self, tenant: Tenant, key: str, value: Any) -> None:
        """Set (or with None remove) a per-tenant JSON value."""

    # discovery ---------------------------------------------------------------------------------------
    def list_types(self, tenant: Tenant) -> list[Iri]: ...

    def type_summaries(self, tenant: Tenant, type_iri: Iri | None = None) -> list[TypeSummary]:
        """All types, or the one given (empty when no entity has it)."""

    def list_attributes(self, tenant: Tenant) -> list[Iri]: ...

    def attribute_summaries(self, tenant: Tenant, attr: Iri | None = None) -> list[AttributeSummary]:
        """All attributes, or the one given (empty when no entity has it)."""

    # @contexts ---------------------------------------------------------------------------------------
    def put_context(self, record: ContextRecord) -> None:
        """Insert or replace by id."""

    def get_context(self, context_id: str) -> ContextRecord | None: ...

    def get_context_by_url(self, url: str) -> ContextRecord | None: ...

    def list_contexts(self, kind: str | None = None) -> list[ContextRecord]: ...

    def delete_context(self, context_id: str) -> bool: ...

    def add_context_hits(self, context_id: str, hits: int, when: str) -> None:
        """Add `hits` uses to a stored context and move its last_usage to `when` if later, in one atomic
        step (replicas flush their counts concurrently); nothing when the context is gone."""

    # municipality registry and credentials (records are JSON objects, as the admin API shows them) -----
    def get_municipality(self, tenant: Tenant) -> dict[str, Any] | None: ...

    def list_municipalities(self) -> list[dict[str, Any]]:
        """Every record (active and retired), ordered by tenant."""

    def put_municipality(self, record: dict[str, Any], *, create: bool = False) -> None:
        """Insert or replace by record["tenant"] and create that tenant; with create, AlreadyExists when a
        record for the tenant exists."""

    def get_credential(self, credential_id: str) -> dict[str, Any] | None: ...

    def list_credentials(self) -> list[dict[str, Any]]:
        """Every credential record (including revoked and expired ones), ordered by id."""

    def put_credential(self, record: dict[str, Any]) -> None:
        """Insert or replace by record["id"] (revocation is a replace with revokedAt set)."""

    def purge_tenant(self, tenant: Tenant) -> int:
        """Delete everything stored in a tenant (entities, history, subscriptions and their pending
        notifications, tenant settings) and the tenant itself; the municipality record and credentials stay.
        Returns the number of entities deleted."""


def run_changes(
    changes: Sequence[Change], stored: dict[EntityId, ExpandedEntity | None]
) -> tuple[list[Outcome], dict[EntityId, ExpandedEntity | None]]:
    """Every adapter's `apply` core: each change on the current state of its entity (the stored one, or what
    an earlier change of the same call made of it); an NgsiLdError rejects that change alone. Returns the
    outcomes in order and the new state of every entity some change touched."""
    outcomes: list[Outcome] = []
    working: dict[EntityId, ExpandedEntity | None] = {}
    for change in changes:
        eid = change.entity_id
        before = working[eid] if eid in working else stored.get(eid)
        try:
            after = change.apply(before)
        except NgsiLdError as exc:
            outcomes.append(Outcome(eid, before=before, error=exc))
            continue
        working[eid] = after
        outcomes.append(Outcome(eid, before=before, after=after))
    return outcomes, working


def apply_each(store: Store, items: Sequence[WriteItem]) -> list[ItemResult]:
    """`apply_group` as one `apply` per item, for adapters that gain nothing from grouping."""
    results: list[ItemResult] = []
    for tenant, changes in items:
        try:
            results.append(store.apply(tenant, changes))
        except Exception as exc:  # the item's own failure, reported to its caller
            results.append(exc)
    return results
