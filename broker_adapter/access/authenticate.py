"""Bearer credentials → principals, with verified results cached so a request costs a dict look-up.

A cached API key is re-read from the store after KEY_TTL seconds, so a key revoked through another
replica stops working within that time (through this replica: at once). A JWT stays cached until it
expires, at most JWT_TTL seconds. Service tokens are the in-process credentials of services started
together with the broker (`verbund serve`: the IoT agents); they exist only in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from broker_adapter.access import apikeys
from broker_adapter.access.jwt_tokens import JwtVerifier, TokenRejected
from broker_adapter.access.roles import Principal
from broker_adapter.ngsild.errors import Unauthorized

KEY_TTL = 10.0
JWT_TTL = 300.0
CACHE_LIMIT = 10_000
MAX_TOKEN = 8192


class Authenticator:
    def __init__(
        self,
        store: Any,
        jwt: JwtVerifier | None = None,
        service_tokens: Mapping[str, Principal] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._jwt = jwt
        self._service = dict(service_tokens or {})
        self._clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified recently, else None (then call `verify`, off the loop)."""
        hit = self._service.get(token) or self._cache.get(token)
        if hit is None:
            return None
        if isinstance(hit, Principal):
            return hit
        if hit[1] > self._clock():
            return hit[0]
        del self._cache[token]
        return None

    def verify(self, token: str) -> Principal:
        """Check a bearer token fully (may read the store or fetch the JWKS); Unauthorized if bad."""
        now = self._clock()
        if len(token) > MAX_TOKEN:
            raise Unauthorized("the bearer token is too long")
        if apikeys.looks_like_key(token):
            found = self._api_key(token, now)
            valid_until = now + KEY_TTL
        elif self._jwt is not None and token.count(".") == 2:
            try:
                found = self._jwt.verify(token)
            except TokenRejected as exc:
                raise Unauthorized(f"the bearer token was rejected: {exc}") from exc
            valid_until = now + JWT_TTL
        else:
            raise Unauthorized("the bearer token is neither an API key of this platform nor an accepted JWT")
        if found.expires is not None:
            valid_until = min(valid_until, found.expires)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = (found, valid_until)
        return found

    def _api_key(self, token: str, now: float) -> Principal:
        parts = apikeys.split_key(token)
        record = self._store.get_credential(parts[0]) if parts else None
        if record is None or parts is None or not apikeys.matches(record, parts[1]):
            raise Unauthorized("unknown API key")
        if record.get("revokedAt"):
            raise Unauthorized(f"API key {record['id']} was revoked")
        found = apikeys.key_principal(record)
        if found.expires is not None and found.expires <= now:
            raise Unauthorized(f"API key {record['id']} expired at {record['expiresAt']}")
        return found

    def forget(self) -> None:
        """Drop every cached verification (a key was revoked through this replica)."""
        self._cache.clear()
