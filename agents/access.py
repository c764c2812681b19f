"""Credentials on the agents' ports: provisioning needs `provision` on the fiware-service (municipality
admins), southbound measures need `ingest` on the device's service (the device role, or writers).

The agents keep no credentials of their own. A bearer token is checked by the broker that issued it
(GET /verbund/v1/auth/whoami with the same token), and a JWT, when VERBUND_JWKS is set, right here;
answers are cached for FRESH seconds, and while the broker is unreachable a known token keeps working
for up to STALE seconds, so devices keep delivering into the outbox during a broker outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio.to_thread
import httpx
from starlette.requests import Request

from agents.errors import AccessDenied, AuthUnavailable, Unauthorized
from broker_adapter.access import apikeys
from broker_adapter.access.gate import AUTH_OFF
from broker_adapter.access.jwt_tokens import JwtVerifier, TokenRejected
from broker_adapter.access.roles import Principal
from verbund.settings import Settings

log = logging.getLogger("verbund.agents.access")
FRESH = 60.0
STALE = 3600.0
CACHE_LIMIT = 10_000


class AgentAccess:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = settings.auth == "on"
        self._whoami = settings.agents_northbound_url + "/verbund/v1/auth/whoami"
        self._jwt = None
        if self.enabled and settings.jwks:
            self._jwt = JwtVerifier(
                settings.jwks,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                roles_claim=settings.jwt_roles_claim,
                tenants_claim=settings.jwt_tenants_claim,
            )
        self._clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}  # token -> (principal, checked at)
        self._http = httpx.AsyncClient(timeout=5.0)

    async def close(self) -> None:
        await self._http.aclose()

    async def require(self, request: Request, action: str, tenant: str) -> Principal:
        who = await self.principal(request)
        self.check(who, action, tenant)
        return who

    @staticmethod
    def check(who: Principal, action: str, tenant: str) -> None:
        if not who.may(action, tenant):
            raise AccessDenied(f"{who.subject} may not {action} in service {tenant!r}")

    async def principal(self, request: Request) -> Principal:
        if not self.enabled:
            return AUTH_OFF
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send Authorization: Bearer <API key or JWT> (VERBUND_AUTH is on)")
        now = self._clock()
        hit = self._cache.get(token)
        if hit is not None and now - hit[1] < FRESH:
            return hit[0]
        if self._jwt is not None and not apikeys.looks_like_key(token) and token.count(".") == 2:
            try:
                who = await anyio.to_thread.run_sync(self._jwt.verify, token)
            except TokenRejected as exc:
                raise Unauthorized(f"the bearer token was rejected: {exc}") from exc
        else:
            who = await self._ask_broker(token, hit, now)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = (who, now)
        return who

    async def _ask_broker(self, token: str, hit: tuple[Principal, float] | None, now: float) -> Principal:
        try:
            response = await self._http.get(self._whoami, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            response = None
            reason = type(exc).__name__
        else:
            reason = f"HTTP {response.status_code}"
        if response is not None and response.status_code == 200:
            body = response.json()
            grants = {tenant: frozenset(actions) for tenant, actions in body.get("grants", {}).items()}
            return Principal(body["subject"], body["subject"], grants)
        if response is not None and response.status_code == 401:
            self._cache.pop(token, None)
            raise Unauthorized("the broker does not accept this credential")
        if hit is not None and now - hit[1] < STALE:
            return hit[0]  # the broker is away: a credential it accepted recently still counts
        log.warning("cannot check a credential with the broker", extra={"reason": reason})
        raise AuthUnavailable(f"the credential cannot be checked right now ({reason}); retry later")
