"""OAuth2/OIDC bearer tokens: JWTs checked against a JWKS (a file, or a URL fetched and cached by PyJWT)
with issuer, audience and expiry, then mapped to a principal.

Claims → grants (names configurable):
    roles    (VERBUND_JWT_ROLES_CLAIM, dotted path, default "roles"): "writer@kusel", "reader@*",
             or a bare role such as "writer", which applies to every tenant in...
    tenants  (VERBUND_JWT_TENANTS_CLAIM, default "tenants"): ["kusel", "linz"]
Roles the platform does not know (an identity provider adds its own) grant nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt

from broker_adapter.access.roles import Principal, principal

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 30  # clock skew between the identity provider and the broker


class TokenRejected(Exception):
    """A JWT that is malformed, badly signed, expired, or for another issuer or audience."""


class JwtVerifier:
    def __init__(
        self,
        jwks: str,
        *,
        issuer: str,
        audience: str,
        roles_claim: str = "roles",
        tenants_claim: str = "tenants",
    ) -> None:
        if not issuer or not audience:
            raise ValueError("VERBUND_JWKS needs VERBUND_JWT_ISSUER and VERBUND_JWT_AUDIENCE")
        self.issuer, self.audience = issuer, audience
        self.roles_claim, self.tenants_claim = roles_claim.split("."), tenants_claim
        self._client: jwt.PyJWKClient | None = None
        self._keys: dict[str | None, Any] = {}
        if jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300, timeout=5)
        else:
            try:
                document = json.loads(Path(jwks).read_text())
                key_set = jwt.PyJWKSet.from_dict(document)
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise ValueError(f"VERBUND_JWKS: cannot read a JWK set from {jwks}: {exc}") from exc
            self._keys = {key.key_id: key for key in key_set.keys}

    def _signing_key(self, token: str) -> Any:
        try:
            if self._client is not None:
                return self._client.get_signing_key_from_jwt(token)
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"no usable signing key: {exc}") from exc
        key = self._keys.get(kid) or (
            next(iter(self._keys.values())) if kid is None and len(self._keys) == 1 else None
        )
        if key is None:
            raise TokenRejected("the token's key id is not in the configured JWKS")
        return key

    def verify(self, token: str) -> Principal:
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(str(exc)) from exc
        subject = f"jwt:{claims['sub']}"
        return principal(subject, subject, self._roles(claims), expires=float(claims["exp"]))

    def _roles(self, claims: dict[str, Any]) -> list[tuple[str, str]]:
        raw: Any = claims
        for part in self.roles_claim:
            raw = raw.get(part) if isinstance(raw, dict) else None
        roles = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        tenants = claims.get(self.tenants_claim)
        tenants = [tenants] if isinstance(tenants, str) else tenants if isinstance(tenants, list) else []
        pairs: list[tuple[str, str]] = []
        for item in roles:
            if not isinstance(item, str):
                continue
            role, sep, tenant = item.partition("@")
            if sep:
                pairs.append((role, tenant))
            else:
                pairs.extend((role, t) for t in tenants if isinstance(t, str))
        return pairs
