"""Request dependencies as Annotated aliases: the broker's parts, the tenant, the caller's @context."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from starlette.requests import Request

from broker_adapter.access.roles import ANONYMOUS, Principal
from broker_adapter.contexts.resolver import ContextResolver
from broker_adapter.ngsild.core_context import CORE_CONTEXT_URL
from broker_adapter.ngsild.errors import BadRequestData, NonexistentTenant
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import DEFAULT_TENANT, Tenant
from broker_adapter.storage.port import Change, ItemResult, Outcome, Store
from smart_data_models import notes as sdm_notes
from smart_data_models.policy import Guard, SdmGate
from verbund.settings import Settings

T = TypeVar("T")
TENANT_HEADER = "ngsild-tenant"
_TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")


GROUP_MAX = 256  # requests committed together at most


@dataclass(slots=True)
class _Write:
    """One request's changes waiting for the writer thread, and where its answer goes."""

    tenant: Tenant
    changes: list[Change]
    done: asyncio.Future[tuple[list[Outcome], list[str]]]
    guard: Guard | None = None
    failure: Exception | None = None

    def settle(self, result: list[Outcome] | Exception) -> None:
        if self.done.done():  # the client went away; the write itself stands
            return
        if isinstance(result, Exception):
            self.done.set_exception(result)
        else:
            self.done.set_result((result, self.guard.notes if self.guard is not None else []))


@dataclass
class Broker:
    """Everything a handler needs, built once at start-up."""

    settings: Settings
    store: Store
    resolver: ContextResolver
    known_tenants: set[Tenant] = field(default_factory=lambda: {DEFAULT_TENANT})

    def tenant_exists(self, tenant: Tenant) -> bool:
        """Tenants are never dropped, so a positive answer is cached (saves a query per read)."""
        if tenant in self.known_tenants:
            return True
        if self.store.tenant_exists(tenant):
            self.known_tenants.add(tenant)
            return True
        return False

    writer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="verbund-writer")
    )
    sdm: SdmGate | None = None  # Smart Data Models validation on write (smart_data_models/policy.py)
    _pending: list[_Write] = field(default_factory=list)
    _pending_lock: threading.Lock = field(default_factory=threading.Lock)
    _flush_queued: bool = False

    async def apply(self, tenant: Tenant, changes: list[Change]) -> list[Outcome]:
        """Writes run on one writer thread: they wait on the disk (fsync) and must not block the loop,
        and SQLite takes one writer at a time anyway (one thread also means one connection's cache).
        Requests that arrive while a commit is under way are committed together by the next one (group
        commit), so concurrent writers share one fsync; each still succeeds or fails alone.

        Every entity write of the API passes here, so this is where the tenant's Smart Data Models policy
        wraps each change: enforce rejects that entity, warn lets it through with a response warning."""
        loop = asyncio.get_running_loop()
        write = _Write(tenant, changes, loop.create_future())
        with self._pending_lock:
            self._pending.append(write)
            start, self._flush_queued = not self._flush_queued, True
        if start:
            self.writer.submit(self._flush, loop)
        outcomes, notes = await write.done
        if notes:
            sdm_notes.note(notes)
        return outcomes

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the writer thread: commit what is pending (up to GROUP_MAX requests) in one transaction."""
        with self._pending_lock:
            group, self._pending = self._pending[:GROUP_MAX], self._pending[GROUP_MAX:]
            if self._pending:
                self.writer.submit(self._flush, loop)
            else:
                self._flush_queued = False
        items: list[tuple[Tenant, list[Change]]] = []
        for write in group:
            if self.sdm is not None:
                try:
                    write.guard = self.sdm.guard(self.store, write.tenant)
                except Exception as exc:  # reported to that request
                    write.failure = exc
                    continue
                items.append((write.tenant, write.guard.wrap(write.changes)))
            else:
                items.append((write.tenant, write.changes))
        try:
            results: list[ItemResult] = self.store.apply_group(items) if items else []
        except Exception as exc:  # the commit failed: none of them was written
            results = [exc] * len(items)
        answers = iter(results)
        for write in group:
            result = write.failure or next(answers)
            loop.call_soon_threadsafe(write.settle, result)

    async def run_write(self, fn: Callable[..., T], *args: Any) -> T:
        """Any other store write (purge, contexts) on the same writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn, *args)

    async def term_map(self, raw_context: Any) -> TermMap:
        return await self.resolver.resolve(raw_context)


async def get_broker(request: Request) -> Broker:
    return request.app.state.broker


BrokerDep = Annotated[Broker, Depends(get_broker)]


def tenant_of(request: Request) -> Tenant:
    raw = request.headers.get(TENANT_HEADER)
    return DEFAULT_TENANT if raw is None else check_tenant_name(raw)


def check_tenant_name(raw: str) -> Tenant:
    if not _TENANT_RE.fullmatch(raw):
        raise BadRequestData(
            f"NGSILD-Tenant {raw!r} is not a valid tenant name: use 1-64 letters, digits, '_' or '-'"
        )
    return raw


async def creating_tenant(request: Request) -> Tenant:
    """A tenant is created by its first write. (async: FastAPI runs sync dependencies in a thread.)"""
    return tenant_of(request)


async def existing_tenant(request: Request) -> Tenant:
    tenant = tenant_of(request)
    if not request.app.state.broker.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist (nothing has been written to it)")
    return tenant


# Operations that may create entities create the tenant too; all others need it to exist.
CreatingTenant = Annotated[Tenant, Depends(creating_tenant)]
ExistingTenant = Annotated[Tenant, Depends(existing_tenant)]


async def caller(request: Request) -> Principal:
    """Who the request acts as, set by the access gate (access/gate.py) before routing."""
    return request.scope.get("verbund.principal", ANONYMOUS)


Caller = Annotated[Principal, Depends(caller)]


def response_context_url(request: Request) -> str:
    """The @context URL a response names: the caller's Link, else the core context."""
    from broker_adapter.api.http import link_context

    return link_context(request) or CORE_CONTEXT_URL
