"""Helpers for access tests: a locally generated JWKS and tokens signed with it, and bearer headers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.verbund.test/realms/verbund"
AUDIENCE = "verbund-broker"


class Jwks:
    """An RSA key pair of our own; its public half as a JWKS file the broker is pointed at."""

    def __init__(self, folder: Path, kid: str = "test-key") -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.path = folder / "jwks.json"
        folder.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}))

    def env(self) -> dict[str, str]:
        return {
            "VERBUND_JWKS": str(self.path),
            "VERBUND_JWT_ISSUER": ISSUER,
            "VERBUND_JWT_AUDIENCE": AUDIENCE,
        }

    def token(self, sub: str = "user-1", *, key: Any = None, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}
