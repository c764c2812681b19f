"""Issuing, listing and revoking API keys, with the rule of who may do it for whom:

    platform-admin        any role for any tenants, including "*"
    municipality-admin    municipality-admin, writer, reader or device for tenants it administers
                          (never "*"), and sees and revokes only keys for tenants it administers

A key the caller may not see answers 404 like a key that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from broker_adapter.access import apikeys
from broker_adapter.access.audit import AuditLog
from broker_adapter.access.authenticate import Authenticator
from broker_adapter.access.roles import ADMIN, ALL_TENANTS, GRANTABLE, MUNICIPALITY_ADMIN, PLATFORM, Principal
from broker_adapter.api.deps import Broker
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.errors import AccessDenied, ResourceNotFound
from broker_adapter.ngsild.types import Tenant


class Credentials:
    def __init__(self, broker: Broker, authenticator: Authenticator | None, audit: AuditLog) -> None:
        self.broker = broker
        self.authenticator = authenticator
        self.audit = audit

    async def issue(self, caller: Principal, body: Any) -> dict[str, Any]:
        """A new key as requested; the answer carries the key itself, which is never shown again."""
        wanted = apikeys.parse_request(body, datetime.now(UTC))
        self._check_grant(caller, wanted["role"], wanted["tenants"])
        return await self._create(caller, **wanted)

    async def issue_first(self, caller: Principal, tenant: Tenant) -> dict[str, Any]:
        """The new municipality's first credential: its municipality admin."""
        return await self._create(
            caller, name=f"{tenant} municipality admin", role=MUNICIPALITY_ADMIN, tenants=[tenant]
        )

    async def _create(
        self, caller: Principal, *, name: str, role: str, tenants: list[str], expires_at: str | None = None,
        rate_limit: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        record, key = apikeys.new_key(
            name=name, role=role, tenants=tenants, created_by=caller.subject, expires_at=expires_at,
            rate_limit=rate_limit,
        )  # fmt: skip
        await self.broker.run_write(self.broker.store.put_credential, record)
        self.audit.record(caller, "credential.create", f"apikey:{record['id']}", role=role, tenants=tenants)
        return {**apikeys.public_view(record), "key": key}

    async def list(self, caller: Principal) -> list[dict[str, Any]]:
        records = await anyio.to_thread.run_sync(self.broker.store.list_credentials)
        return [apikeys.public_view(r) for r in records if _visible(caller, r)]

    async def get(self, caller: Principal, key_id: str) -> dict[str, Any]:
        record = await anyio.to_thread.run_sync(self.broker.store.get_credential, key_id)
        if record is None or not _visible(caller, record):
            raise ResourceNotFound(f"there is no credential {key_id[:40]!r}")
        return record

    async def revoke(self, caller: Principal, key_id: str) -> None:
        record = await self.get(caller, key_id)
        if record.get("revokedAt"):
            return
        await self._revoke(caller, record)

    async def revoke_tenant(self, caller: Principal, tenant: Tenant) -> int:
        """Revoke every key for this tenant alone (a retired municipality's); keys for more stay."""
        records = await anyio.to_thread.run_sync(self.broker.store.list_credentials)
        gone = [r for r in records if r.get("tenants") == [tenant] and not r.get("revokedAt")]
        for record in gone:
            await self._revoke(caller, record)
        return len(gone)

    async def _revoke(self, caller: Principal, record: dict[str, Any]) -> None:
        await self.broker.run_write(self.broker.store.put_credential, {**record, "revokedAt": now_iso()})
        if self.authenticator is not None:
            self.authenticator.forget()  # no cached verification may outlive the revocation here
        self.audit.record(caller, "credential.revoke", f"apikey:{record['id']}")

    @staticmethod
    def _check_grant(caller: Principal, role: str, tenants: list[str]) -> None:
        if caller.may(PLATFORM, ALL_TENANTS):
            return
        grantable = GRANTABLE.get(MUNICIPALITY_ADMIN, frozenset())
        if role not in grantable or ALL_TENANTS in tenants:
            raise AccessDenied(f"{caller.subject} may not create {role} credentials for {', '.join(tenants)}")
        for tenant in tenants:
            if not caller.may(ADMIN, tenant):
                raise AccessDenied(f"{caller.subject} may not create credentials for tenant {tenant!r}")


def _visible(caller: Principal, record: dict[str, Any]) -> bool:
    if caller.may(PLATFORM, ALL_TENANTS):
        return True
    tenants = record.get("tenants", [])
    return ALL_TENANTS not in tenants and all(caller.may(ADMIN, t) for t in tenants)
