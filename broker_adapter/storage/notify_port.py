"""The store port for subscriptions and notification delivery, implemented by each adapter.

Delivery is at-least-once and never on the write path:

    entity write ──(same transaction)──► change log ──matcher──► outbox ──claim (lease)──► sender
                                                      (one replica at a time)    (per subscription, in order)

- Every committed entity change of a tenant that has subscriptions is appended to a change log in the
  write's own transaction, so a matcher that runs after the commit (on any replica) sees it.
- The matcher reads a consistent snapshot (subscriptions version + changes), matches in memory and then
  consumes the changes and inserts the notifications in one transaction; consuming checks that the changes
  are still there, so two matchers never both produce them.
- A sender claims the oldest pending notifications of a subscription with a lease; while the lease holds,
  no replica claims anything else of that subscription, which keeps delivery in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker_adapter.ngsild.types import ExpandedEntity, Tenant


@dataclass(slots=True)
class StoredSubscription:
    tenant: Tenant
    id: str
    doc: dict[str, Any]  # the stored form (see ngsild/subscriptions.py)
    context: Any  # the raw @context it was created with (None: core only)
    since_seq: int = 0
    created_at: str = ""
    modified_at: str = ""
    times_sent: int = 0
    times_failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None
    last_matched: float | None = None
    next_periodic: float | None = None


@dataclass(slots=True)
class ChangeRecord:
    seq: int
    tenant: Tenant
    at: float  # epoch seconds of the write
    before: ExpandedEntity | None
    after: ExpandedEntity | None


@dataclass(slots=True)
class Snapshot:
    """What the matcher sees at one instant: pending changes and, if they changed, all subscriptions."""

    version: int
    changes: list[ChangeRecord]
    subscriptions: list[StoredSubscription] | None  # None: unchanged since the version the caller had


@dataclass(slots=True)
class NewNotification:
    tenant: Tenant
    sub_id: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class MatchResult:
    consumed: list[int]  # change sequence numbers
    notifications: list[NewNotification] = field(default_factory=list)
    matched: dict[tuple[Tenant, str], float] = field(default_factory=dict)  # last_matched (throttling)
    periodic: dict[tuple[Tenant, str], float] = field(default_factory=dict)  # next_periodic


@dataclass(slots=True)
class Pending:
    id: int
    body: bytes
    headers: dict[str, str]
    attempts: int


@dataclass(slots=True)
class Claim:
    """The oldest pending notifications of one subscription, leased to one sender, in order."""

    tenant: Tenant
    sub_id: str
    doc: dict[str, Any]
    items: list[Pending]
    lease_until: float


@dataclass(slots=True)
class Delivery:
    """The outcome of sending some of a claim's items: the first `sent` succeeded; then maybe one failed."""

    claim: Claim
    sent: int
    failed: bool
    at: str  # when (ISO), for lastNotification / lastSuccess / lastFailure
    retry_at: float = 0.0  # epoch seconds: when the failed item may be tried again


class NotifyStore(Protocol):
    # subscriptions (the API) -----------------------------------------------------------------------
    def create_subscription(self, sub: StoredSubscription) -> None:
        """Insert; AlreadyExists if the id is taken in the tenant. Creates the tenant."""

    def get_subscription(self, tenant: Tenant, sub_id: str) -> StoredSubscription | None: ...

    def list_subscriptions(
        self, tenant: Tenant, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]: ...

    def replace_subscription(self, sub: StoredSubscription) -> bool:
        """Replace doc/context (status members are kept); False if it does not exist."""

    def delete_subscription(self, tenant: Tenant, sub_id: str) -> bool:
        """Delete it and its pending notifications."""

    # matching -------------------------------------------------------------------------------------
    def install(self) -> None:
        """Start logging entity changes (the write hook)."""

    def matcher_lease(self, owner: str, seconds: float) -> bool:
        """Take or renew the matcher lease; False while another replica holds it."""

    def snapshot(self, known_version: int | None, limit: int) -> Snapshot: ...

    def commit_matches(self, owner: str, seconds: float, result: MatchResult) -> bool:
        """Consume the changes and insert the notifications atomically; False (nothing written) if
        the lease was lost or the changes were consumed by someone else."""

    def entities_of(
        self, tenant: Tenant, types: list[str] | None, ids: list[str] | None
    ) -> list[ExpandedEntity]:
        """Candidates for a periodic notification (the caller filters exactly)."""

    # delivery -------------------------------------------------------------------------------------
    def claim(
        self,
        owner: str,
        now: float,
        seconds: float,
        max_subs: int,
        per_sub: int,
        skip: set[tuple[Tenant, str]],
        record: Sequence[Delivery] = (),
    ) -> list[Claim]:
        """Lease the next notifications of up to max_subs subscriptions (not those in skip). `record`:
        deliveries to record() first, in the same transaction where the store can, since each write
        transaction of the notifier waits for the API's writer."""

    def record(self, deliveries: Sequence[Delivery]) -> None:
        """Delete what was sent, schedule the retry of what failed, release the rest; count on the
        subscription (timesSent, timesFailed, lastNotification, lastSuccess, lastFailure)."""
