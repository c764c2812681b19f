"""Roles, the actions they allow, and the principal a request acts as.

    role                 actions (on each tenant it is granted for; "*" grants every tenant)
    platform-admin       everything, and the platform itself (register municipalities, any credential)
    municipality-admin   read, write, subscribe, provision, ingest, admin (its municipality, credentials)
    writer               read, write, subscribe, ingest
    reader               read, subscribe
    device               ingest (IoT agents' southbound only)

A principal's grants are precomputed as {tenant: actions}, so an authorisation is two dict look-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

READ, WRITE, SUBSCRIBE, PROVISION, INGEST, ADMIN, PLATFORM = (
    "read", "write", "subscribe", "provision", "ingest", "admin", "platform",
)  # fmt: skip
ALL_TENANTS = "*"
PLATFORM_ADMIN, MUNICIPALITY_ADMIN, WRITER, READER, DEVICE = (
    "platform-admin", "municipality-admin", "writer", "reader", "device",
)  # fmt: skip
ROLES: dict[str, frozenset[str]] = {
    PLATFORM_ADMIN: frozenset({READ, WRITE, SUBSCRIBE, PROVISION, INGEST, ADMIN, PLATFORM}),
    MUNICIPALITY_ADMIN: frozenset({READ, WRITE, SUBSCRIBE, PROVISION, INGEST, ADMIN}),
    WRITER: frozenset({READ, WRITE, SUBSCRIBE, INGEST}),
    READER: frozenset({READ, SUBSCRIBE}),
    DEVICE: frozenset({INGEST}),
}
# Which roles a role may hand out in credentials (a municipality admin never creates a platform admin).
GRANTABLE: dict[str, frozenset[str]] = {
    PLATFORM_ADMIN: frozenset(ROLES),
    MUNICIPALITY_ADMIN: frozenset({MUNICIPALITY_ADMIN, WRITER, READER, DEVICE}),
}
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as. `key` names the credential for rate limiting and the audit log."""

    subject: str
    key: str
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)
    roles: tuple[tuple[str, str], ...] = ()  # (role, tenant) pairs as granted, for display
    rate: float | None = None  # requests per second; None: the platform default
    expires: float | None = None  # epoch seconds; None: never

    def may(self, action: str, tenant: str) -> bool:
        grants = self.grants
        return action in grants.get(tenant, _NONE) or action in grants.get(ALL_TENANTS, _NONE)

    def tenants_for(self, action: str) -> frozenset[str] | None:
        """The tenants action is granted on; None means every tenant."""
        if action in self.grants.get(ALL_TENANTS, _NONE):
            return None
        return frozenset(t for t, actions in self.grants.items() if action in actions)

    @property
    def authenticated(self) -> bool:
        return self.subject != ANONYMOUS.subject

    def describe(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "roles": [{"role": role, "tenant": tenant} for role, tenant in self.roles],
            "grants": {tenant: sorted(actions) for tenant, actions in sorted(self.grants.items())},
        }


def principal(
    subject: str, key: str, roles: Iterable[tuple[str, str]], *, rate: float | None = None,
    expires: float | None = None,
) -> Principal:  # fmt: skip
    """A principal from (role, tenant) pairs; unknown roles grant nothing."""
    pairs = tuple(dict.fromkeys((role, tenant) for role, tenant in roles if role in ROLES))
    grants: dict[str, frozenset[str]] = {}
    for role, tenant in pairs:
        grants[tenant] = grants.get(tenant, _NONE) | ROLES[role]
    return Principal(subject, key, grants, pairs, rate, expires)


ANONYMOUS = Principal("anonymous", "anonymous")
