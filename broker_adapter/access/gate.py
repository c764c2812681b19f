"""The access gate: every request to /ngsi-ld/v1/ and /verbund/v1/ is authenticated, rate-limited and
authorised here, before routing, so no handler (nor the retrieve fast path) can forget it.

    request ─► classify (method, path → action, and where its tenant is named)
            ─► authenticate (Authorization: Bearer <API key | JWT>; none: anonymous)
            ─► rate limit (per credential; anonymous: per client address)
            ─► authorise (the principal's grants for that tenant; open-data reads; retired tenants)
            ─► scope["verbund.principal"] for handlers that filter further (lists, credentials)

The decision depends only on the principal and the tenant named, never on whether the tenant or an
entity exists, so a 403 tells nothing about another tenant's data. Other paths (/health, the platform
@context, mounted services) pass untouched.
"""

from __future__ import annotations

import logging
import re

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from broker_adapter.access.authenticate import Authenticator
from broker_adapter.access.ratelimit import RateLimiter
from broker_adapter.access.roles import (
    ADMIN,
    ANONYMOUS,
    PLATFORM,
    PLATFORM_ADMIN,
    READ,
    SUBSCRIBE,
    WRITE,
    Principal,
    principal,
)  # fmt: skip
from broker_adapter.api.http import problem_response
from broker_adapter.ngsild.errors import (
    AccessDenied,
    BadRequestData,
    NgsiLdError,
    TooManyRequests,
    Unauthorized,
)
from broker_adapter.registry.service import Directory

log = logging.getLogger("verbund.access")
PRINCIPAL = "verbund.principal"  # the scope key handlers read (api/deps.py Caller)
TENANTS = "verbund.tenants"  # a regional query's tenants, those the caller may read (api/regional.py)
MAX_REGIONAL_TENANTS = 100
_REGIONAL_PATHS = {("GET", "/ngsi-ld/v1/entities"), ("POST", "/ngsi-ld/v1/entityOperations/query")}
_TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
NGSI = "/ngsi-ld/v1/"
ADMIN_API = "/verbund/v1/"
# pseudo-actions of classify(): any authenticated caller / anyone, the handler decides the rest
AUTHENTICATED, ANYONE, WRITE_ANYWHERE = "authenticated", "anyone", "write-anywhere"
# With VERBUND_AUTH=off every caller acts as this (loopback only; see access/__init__.py).
AUTH_OFF = principal("auth-off", "auth-off", [(PLATFORM_ADMIN, "*")])


# What a request needs: (action, the tenant it is needed on (None: no tenant), whether it changes data
# (refused on a retired municipality's tenant)). A plain tuple: classify runs on every request.
Need = tuple[str, str | None, bool]
_CONTEXT_READ: Need = (AUTHENTICATED, None, False)
_CONTEXT_WRITE: Need = (WRITE_ANYWHERE, None, True)
_CONTEXT_DELETE: Need = (PLATFORM, "*", True)
_ON_PLATFORM: Need = (PLATFORM, "*", True)
_ANYONE: Need = (ANYONE, None, False)
_AUTHENTICATED: Need = (AUTHENTICATED, None, False)
_QUERIES = ("entityOperations/query", "temporal/entityOperations/query")
_SUBSCRIPTIONS = ("subscriptions", "csourceSubscriptions")


def classify(method: str, path: str, header_tenant: str) -> Need:
    """What a request needs, from its method and path alone."""
    reading = method == "GET" or method == "HEAD"
    if path.startswith(NGSI):
        rest = path[12:]  # len(NGSI)
        if rest.startswith(_SUBSCRIPTIONS):
            return (SUBSCRIBE, header_tenant, not reading)
        if rest.startswith("jsonldContexts"):  # @contexts are not per tenant
            if reading:
                return _CONTEXT_READ
            return _CONTEXT_DELETE if method == "DELETE" else _CONTEXT_WRITE
        if reading or (method == "POST" and rest in _QUERIES):
            return (READ, header_tenant, False)
        return (WRITE, header_tenant, True)
    parts = path[len(ADMIN_API) :].rstrip("/").split("/")
    if parts[0] == "municipalities":
        if len(parts) == 1:
            return _ANYONE if reading else _ON_PLATFORM
        if len(parts) == 2:
            return _ANYONE if reading else (ADMIN, parts[1], True)
        return _ON_PLATFORM  # retire, export
    if parts[0] == "tenants" and len(parts) >= 2:
        return (READ, parts[1], False) if reading else (ADMIN, parts[1], True)
    if parts[0] == "audit":
        return _ON_PLATFORM
    return _AUTHENTICATED  # credentials, whoami, models: the handler decides


class Access:
    """The gate's parts, built at start-up (app.state.access)."""

    def __init__(
        self, authenticator: Authenticator | None, limiter: RateLimiter, directory: Directory
    ) -> None:
        self.authenticator = authenticator  # None: VERBUND_AUTH=off
        self.limiter = limiter
        self.directory = directory
        self._anonymous_by_address: dict[str, Principal] = {}

    async def admit(self, scope: Scope) -> Principal:
        authorization = tenant = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value
            elif key == b"ngsild-tenant":
                tenant = value
        header_tenant = tenant.decode("latin-1") if tenant is not None else ""
        need = classify(scope["method"], scope["path"], header_tenant)
        if self.authenticator is None:
            who = AUTH_OFF
        else:
            who = await self._authenticate(scope, authorization)
            wait = self.limiter.take(who.key, who.rate)
            if wait:
                raise TooManyRequests(
                    f"rate limit of {who.subject} reached; retry in {wait} s", retry_after=wait
                )
        if (scope["method"], scope["path"]) in _REGIONAL_PATHS and self._is_regional(header_tenant):
            scope[TENANTS] = self._regional(who, header_tenant)
        else:
            self._authorise(who, need)
        return who

    def _anonymous(self, scope: Scope) -> Principal:
        """The anonymous principal of the client's address (its own rate-limit bucket), built once."""
        client = scope.get("client")
        address = client[0] if client else "unknown"
        found = self._anonymous_by_address.get(address)
        if found is None:
            if len(self._anonymous_by_address) >= 10_000:
                self._anonymous_by_address.clear()
            found = self._anonymous_by_address[address] = Principal(ANONYMOUS.subject, f"address:{address}")
        return found

    def _is_regional(self, header_tenant: str) -> bool:
        return "," in header_tenant or header_tenant in self.directory.fresh().regions

    def _regional(self, who: Principal, header_tenant: str) -> tuple[str, ...]:
        """NGSILD-Tenant naming a region, or a comma list of tenants and regions: the tenants in it the
        caller may read (or that are open data), in order. Tenants the caller may not read are left out,
        so the answer is the same whether or not they exist."""
        directory = self.directory.fresh()
        named: list[str] = []
        for item in (part.strip() for part in header_tenant.split(",")):
            if item in directory.regions:
                named.extend(directory.regions[item])
            elif _TENANT_RE.fullmatch(item):
                named.append(item)
            else:
                raise BadRequestData(
                    f"NGSILD-Tenant: {item[:64]!r} is neither a region nor a valid tenant name"
                )
        tenants = tuple(dict.fromkeys(named))
        if len(tenants) > MAX_REGIONAL_TENANTS:
            raise BadRequestData(f"NGSILD-Tenant names more than {MAX_REGIONAL_TENANTS} tenants")
        readable = tuple(t for t in tenants if who.may(READ, t) or t in directory.open_data)
        if not readable:
            if not who.authenticated:
                raise Unauthorized("this query needs a credential: send Authorization: Bearer <token>")
            raise AccessDenied(f"{who.subject} may read none of the tenants named")
        return readable

    async def _authenticate(self, scope: Scope, authorization: bytes | None) -> Principal:
        if authorization is None:
            return self._anonymous(scope)
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send Authorization: Bearer <API key or JWT>")
        assert self.authenticator is not None
        found = self.authenticator.cached(token)
        if found is not None:
            return found
        try:
            return await anyio.to_thread.run_sync(self.authenticator.verify, token)
        except Unauthorized:
            # failed attempts count against the caller's address, so guessing is rate limited too
            client = self._anonymous(scope)
            wait = self.limiter.take(client.key)
            if wait:
                raise TooManyRequests(
                    f"too many failed attempts; retry in {wait} s", retry_after=wait
                ) from None
            raise

    def _authorise(self, who: Principal, need: Need) -> None:
        action, tenant, changes = need
        if action == ANYONE:
            return
        if action in (AUTHENTICATED, WRITE_ANYWHERE):
            if not who.authenticated:
                raise Unauthorized("this operation needs a credential: send Authorization: Bearer <token>")
            if action == WRITE_ANYWHERE and who.tenants_for(WRITE) == frozenset():
                raise AccessDenied(f"{who.subject} may not write in any tenant")
            return
        assert tenant is not None
        directory = self.directory.fresh()
        if changes and tenant in directory.retired:
            raise AccessDenied(f"municipality {tenant!r} is retired: its data can be read, not changed")
        if who.may(action, tenant):
            return
        if action == READ and tenant in directory.open_data:
            return  # open data: anyone may read
        if not who.authenticated:
            raise Unauthorized("this operation needs a credential: send Authorization: Bearer <token>")
        where = "the platform" if tenant == "*" else f"tenant {tenant!r}" if tenant else "the default tenant"
        raise AccessDenied(f"{who.subject} may not {action} in {where}")


class AccessControl:
    """ASGI middleware around the broker (inside metrics, outside the retrieve fast path and FastAPI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(NGSI) or path.startswith(ADMIN_API):
                access: Access = scope["app"].state.access
                try:
                    scope[PRINCIPAL] = await access.admit(scope)
                except NgsiLdError as exc:
                    await problem_response(exc, _headers(exc))(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _headers(exc: NgsiLdError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="verbund"'}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return None
