"""Request dependencies as Annotated aliases: the broker's parts, the tenant, the caller's @context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends
from starlette.requests import Request

from broker_adapter.contexts.resolver import ContextResolver
from broker_adapter.ngsild.core_context import CORE_CONTEXT_URL
from broker_adapter.ngsild.errors import BadRequestData, NonexistentTenant
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import DEFAULT_TENANT, Tenant
from broker_adapter.storage.port import Change, Outcome, Store
from verbund.settings import Settings

TENANT_HEADER = "ngsild-tenant"
_TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")


@dataclass
class Broker:
    """Everything a handler needs, built once at start-up."""

    settings: Settings
    store: Store
    resolver: ContextResolver

    async def apply(self, tenant: Tenant, changes: list[Change]) -> list[Outcome]:
        """Writes run in a worker thread: they wait on the disk (fsync) and must not block the loop."""
        return await anyio.to_thread.run_sync(self.store.apply, tenant, changes)

    async def term_map(self, raw_context: Any) -> TermMap:
        return await self.resolver.resolve(raw_context)


def get_broker(request: Request) -> Broker:
    return request.app.state.broker


BrokerDep = Annotated[Broker, Depends(get_broker)]


def tenant_of(request: Request) -> Tenant:
    raw = request.headers.get(TENANT_HEADER)
    if raw is None:
        return DEFAULT_TENANT
    if not _TENANT_RE.fullmatch(raw):
        raise BadRequestData(
            f"NGSILD-Tenant {raw!r} is not a valid tenant name: use 1-64 letters, digits, '_' or '-'"
        )
    return raw


def write_tenant(request: Request) -> Tenant:
    """A tenant is created by its first write."""
    return tenant_of(request)


def read_tenant(request: Request) -> Tenant:
    tenant = tenant_of(request)
    if not request.app.state.broker.store.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist (nothing has been written to it)")
    return tenant


WriteTenant = Annotated[Tenant, Depends(write_tenant)]
ReadTenant = Annotated[Tenant, Depends(read_tenant)]


def response_context_url(request: Request) -> str:
    """The @context URL a response names: the caller's Link, else the core context."""
    from broker_adapter.api.http import link_context

    return link_context(request) or CORE_CONTEXT_URL
