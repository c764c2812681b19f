"""Credentials with authentication on: JWTs (signed with a locally generated key) and API keys."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.broker_adapter.access.conftest import Secured
from tests.support.access import AUDIENCE, ISSUER, bearer
from tests.support.ngsild import assert_problem
from tests.support.receivers import wait_for


def entities(s: Secured, token: str, tenant: str) -> httpx.Response:
    return httpx.get(
        s.broker + "/ngsi-ld/v1/entities",
        params={"type": "Room"},
        headers={**bearer(token), "NGSILD-Tenant": tenant},
    )


def test_a_valid_jwt_grants_its_roles(secured: Secured) -> None:
    token = secured.jwks.token("alice", roles=[f"reader@{secured.private}"])
    assert entities(secured, token, secured.private).status_code == 200
    who = httpx.get(secured.broker + "/verbund/v1/auth/whoami", headers=bearer(token)).json()
    assert who["subject"] == "jwt:alice"
    assert who["roles"] == [{"role": "reader", "tenant": secured.private}]


def test_bare_roles_apply_to_the_tenants_claim_and_a_dotted_roles_claim_is_not_configured(
    secured: Secured,
) -> None:
    token = secured.jwks.token("bob", roles=["reader"], tenants=[secured.private])
    assert entities(secured, token, secured.private).status_code == 200
    nested = secured.jwks.token("carol", realm_access={"roles": [f"reader@{secured.private}"]})
    assert_problem(entities(secured, nested, secured.private), 403, "AccessDenied")


def test_a_jwt_without_known_roles_is_authenticated_but_has_no_rights(secured: Secured) -> None:
    token = secured.jwks.token("dave", roles=["offline_access", "uma_authorization"])
    assert_problem(entities(secured, token, secured.private), 403, "AccessDenied")


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["platform-admin@*"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _bad_tokens(s: Secured) -> dict[str, str]:
    now = int(time.time())
    roles = {"roles": [f"writer@{s.private}"]}
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, **roles}, None, algorithm="none"
    )
    return {
        "expired": s.jwks.token(exp=now - 3600, iat=now - 7200, **roles),
        "wrong issuer": s.jwks.token(iss="https://evil.example/realms/verbund", **roles),
        "wrong audience": s.jwks.token(aud="another-service", **roles),
        "tampered": _tampered(s.jwks.token(**roles)),
        "signed by another key": s.jwks.token(key=stranger, **roles),
        "unknown key id": s.jwks.token(kid="rotated-away", **roles),
        "unsigned (alg none)": unsigned,
        "no subject": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, **roles}, s.jwks.key, algorithm="RS256",
            headers={"kid": s.jwks.kid},
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong issuer", "wrong audience", "tampered", "signed by another key", "unknown key id",
     "unsigned (alg none)", "no subject"],
)  # fmt: skip
def test_bad_jwts_are_401(secured: Secured, case: str) -> None:
    token = _bad_tokens(secured)[case]
    assert_problem(entities(secured, token, secured.private), 401, "Unauthorized")
    # ... on the agents' ports too
    south = httpx.post(
        secured.platform.south + "/iot/json",
        params={"k": "any", "i": "d1"},
        json={"t": 1},
        headers=bearer(token),
    )
    assert south.status_code == 401 and south.json()["name"] == "UNAUTHORIZED"


def test_an_api_key_is_shown_once_and_stored_without_its_secret(secured: Secured) -> None:
    with secured.client(secured.admin_key) as admin:
        created = admin.post("/verbund/v1/credentials", json={"name": "pegel app", "role": "reader",
                                                             "tenants": [secured.private]})  # fmt: skip
        assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
        key = created.json()["key"]
        shown = admin.get(created.headers["Location"]).json()
        assert shown["name"] == "pegel app" and "key" not in shown and "hash" not in shown
    db = (secured.platform.data_dir / "verbund.db").read_bytes()
    assert key.encode() not in db and key.rsplit("_", 1)[1].encode() not in db
    assert entities(secured, key, secured.private).status_code == 200


def test_a_revoked_key_is_refused_at_once(secured: Secured) -> None:
    key = secured.create_key(secured.admin_key, "reader", [secured.private])
    assert entities(secured, key, secured.private).status_code == 200  # now cached
    key_id = key.split("_")[1]
    with secured.client(secured.admin_key) as admin:
        assert admin.delete(f"/verbund/v1/credentials/{key_id}").status_code == 204
        assert admin.get(f"/verbund/v1/credentials/{key_id}").json()["revokedAt"]
    problem = assert_problem(entities(secured, key, secured.private), 401, "Unauthorized")
    assert "revoked" in problem["detail"]


def test_an_expired_key_is_refused(secured: Secured) -> None:
    key = secured.create_key(secured.admin_key, "reader", [secured.private], expiresIn="PT1S")
    wait_for(lambda: entities(secured, key, secured.private).status_code == 401, timeout=15)
    assert "expired" in entities(secured, key, secured.private).json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"role": "superuser", "tenants": ["a1"]}, "role"),
        ({"role": "reader", "tenants": []}, "tenants"),
        ({"role": "reader", "tenants": ["bad tenant"]}, "tenants[0]"),
        ({"role": "reader", "tenants": ["a1"], "expiresAt": "2001-01-01T00:00:00Z"}, "past"),
        ({"role": "reader", "tenants": ["a1"], "expiresIn": "P1M"}, "expiresIn"),
        ({"role": "reader", "tenants": ["a1"], "rateLimit": -1}, "rateLimit"),
        ({"role": "reader", "tenants": ["a1"], "secret": "mine"}, "unknown member"),
    ],
)
def test_bad_credential_requests_are_400(secured: Secured, body: dict[str, object], detail: str) -> None:
    with secured.client(secured.admin_key) as admin:
        problem = assert_problem(admin.post("/verbund/v1/credentials", json=body), 400, "BadRequestData")
    assert detail in problem["detail"]
