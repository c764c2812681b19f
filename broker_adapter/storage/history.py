"""The history part of the store port: what the temporal API asks of every adapter.

Every entity write is recorded by the adapter itself (for SQLite: a write hook inside the entity
transaction), so the API only reads history here, plus the temporal provision operations that add,
change or remove instances directly. Times cross this port as milliseconds since the Unix epoch (UTC);
instances come back in the stored (expanded) form with canonical DateTime strings, including
`instanceId`, `createdAt`, `modifiedAt` and, for deletions, `deletedAt`.

Semantics every adapter keeps (see the temporal API module for the spec clauses):
- A changed attribute instance appends one history instance; a deleted one appends an instance with
  the NGSI-LD null value and `deletedAt`. Unchanged instances of a write append nothing.
- The time of an instance for `timeproperty=observedAt` is its observedAt, or, if it has none, the time
  it was recorded (so deletions and instances without observedAt still sort chronologically).
- timerel intervals as ngsild.temporal defines them (half-open, never overlapping).
- Instances come back per series (attribute + datasetId) in ascending time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker_adapter.ngsild.durations import Duration
from broker_adapter.ngsild.temporal import TimeFilter
from broker_adapter.ngsild.types import EntityId, Instance, Iri, Tenant


@dataclass(frozen=True, slots=True)
class TemporalSelection:
    """Which temporal entities: ids, an id pattern, any of some types; paged by limit/offset (id order)."""

    ids: Sequence[EntityId] | None = None
    id_pattern: str | None = None
    types: Sequence[Iri] | None = None
    limit: int | None = None  # None: all
    offset: int = 0


@dataclass(frozen=True, slots=True)
class TemporalEntityRecord:
    id: EntityId
    types: list[Iri]
    created_at: int
    deleted_at: int | None = None


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    attrs: Sequence[Iri] | None = None  # None: every attribute
    time: TimeFilter = field(default_factory=TimeFilter)
    last_n: int | None = None  # the most recent n per series (still returned in ascending order)
    limit: int = 1000  # at most this many per series; one more is fetched to tell truncation


@dataclass(slots=True)
class Series:
    """The instances of one attribute and datasetId; `times` are the time-property values (ms)."""

    attr: Iri
    dataset_id: str | None
    instances: list[Instance] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    next_time: int | None = None  # the time of the first instance left out (more matched than `limit`)

    @property
    def truncated(self) -> bool:
        return self.next_time is not None


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    methods: Sequence[str]
    period: Duration  # zero: one period over the whole range
    attrs: Sequence[Iri] | None = None
    time: TimeFilter = field(default_factory=TimeFilter)
    max_periods: int = 100_000


@dataclass(slots=True)
class AggregateSeries:
    """Per method, one [value, start ms, end ms] per period that holds instances."""

    attr: Iri
    dataset_id: str | None
    kind: str
    periods: dict[str, list[tuple[Any, int, int]]] = field(default_factory=dict)


class HistoryStore(Protocol):
    # reads -------------------------------------------------------------------------------------------
    def select_entities(
        self, tenant: Tenant, selection: TemporalSelection
    ) -> tuple[list[TemporalEntityRecord], int]:
        """Temporal entities (also deleted ones) in id order, and how many match without paging."""

    def get_entity(self, tenant: Tenant, entity_id: EntityId) -> TemporalEntityRecord | None: ...

    def instances(self, tenant: Tenant, entity_id: EntityId, query: InstanceQuery) -> list[Series]: ...

    def aggregate(self, tenant: Tenant, entity_id: EntityId, query: AggregateQuery) -> list[AggregateSeries]:
        """Aggregated in the database, one period per bucket that holds instances."""

    # temporal provision ------------------------------------------------------------------------------
    def add_instances(
        self, tenant: Tenant, entity_id: EntityId, types: list[Iri] | None, attrs: dict[Iri, list[Instance]]
    ) -> bool:
        """Append instances (their createdAt/modifiedAt already set); True if the temporal entity is new.

        `types` None: the entity must exist (ResourceNotFound otherwise)."""

    def delete_entity(self, tenant: Tenant, entity_id: EntityId) -> bool: ...

    def delete_attribute(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, *, dataset_id: str | None, delete_all: bool
    ) -> bool: ...

    def update_instance(
        self, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str, patch: Instance, now: int
    ) -> bool:
        """Replace the given members of one instance (value, observedAt, sub-attributes...)."""

    def delete_instance(self, tenant: Tenant, entity_id: EntityId, attr: Iri, instance_id: str) -> bool: ...

    # retention ---------------------------------------------------------------------------------------
    def set_retention(self, tenant: Tenant, period: str | None) -> None:
        """A tenant's retention period (ISO 8601 duration); None: back to the broker's default."""

    def purge_expired(self, now: int, default_period: Duration | None, batch_size: int) -> int:
        """Delete at most `batch_size` instances older than their tenant's period; the number deleted.

        Called repeatedly (each call one short transaction) until it returns less than batch_size."""
