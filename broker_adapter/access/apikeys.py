"""API keys: `vk_<id>_<secret>`, shown once at creation; the store keeps only SHA-256 of the secret.

The secret is 256 random bits, so a plain SHA-256 is enough: there is nothing to guess that a slow
password hash would protect (slow hashes are for low-entropy passwords), and checking stays in
microseconds. The id is public (it names the key in lists, revocations and the audit log).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Any

from broker_adapter.access.roles import ALL_TENANTS, ROLES, Principal, principal
from broker_adapter.ngsild.datetimes import format_datetime, now_iso, parse_datetime
from broker_adapter.ngsild.durations import parse_duration
from broker_adapter.ngsild.errors import BadRequestData

PREFIX = "vk_"
_KEY_RE = re.compile(r"vk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
MAX_NAME = 200


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def split_key(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    match = _KEY_RE.fullmatch(token)
    return (match[1], match[2]) if match else None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    *, name: str, role: str, tenants: list[str], created_by: str, expires_at: str | None = None,
    rate_limit: float | None = None,
) -> tuple[dict[str, Any], str]:  # fmt: skip
    """(the record to store, the key to show once)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = {
        "id": key_id,
        "kind": "apikey",
        "name": name,
        "role": role,
        "tenants": tenants,
        "hash": digest(secret),
        "createdAt": now_iso(),
        "createdBy": created_by,
        "expiresAt": expires_at,
        "revokedAt": None,
        "rateLimit": rate_limit,
    }
    return record, f"{PREFIX}{key_id}_{secret}"


def matches(record: dict[str, Any], secret: str) -> bool:
    return hmac.compare_digest(record.get("hash", ""), digest(secret))


def key_principal(record: dict[str, Any]) -> Principal:
    expires = record.get("expiresAt")
    return principal(
        f"apikey:{record['id']}",
        f"apikey:{record['id']}",
        ((record["role"], tenant) for tenant in record["tenants"]),
        rate=record.get("rateLimit"),
        expires=parse_datetime(expires, "expiresAt").timestamp() if expires else None,
    )


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a stored key: everything but the hash."""
    return {k: v for k, v in record.items() if k != "hash"}


def parse_request(body: Any, now: datetime) -> dict[str, Any]:
    """Check a POST /verbund/v1/credentials body: name, role, tenants, expiresAt or expiresIn, rateLimit."""
    if not isinstance(body, dict):
        raise BadRequestData("a credential request is a JSON object")
    unknown = sorted(set(body) - {"name", "role", "tenants", "expiresAt", "expiresIn", "rateLimit"})
    if unknown:
        raise BadRequestData(f"unknown member(s) {', '.join(repr(k)[:40] for k in unknown)}")
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise BadRequestData(f"name: expected a text of at most {MAX_NAME} characters")
    role = body.get("role")
    if role not in ROLES:
        raise BadRequestData(f"role: expected one of {', '.join(ROLES)}")
    tenants = body.get("tenants")
    if not isinstance(tenants, list) or not tenants or len(tenants) > 100:
        raise BadRequestData('tenants: expected a non-empty array of tenant ids (or ["*"] for every tenant)')
    for i, tenant in enumerate(tenants):
        if not isinstance(tenant, str) or not (tenant == ALL_TENANTS or _TENANT_RE.fullmatch(tenant)):
            raise BadRequestData(f"tenants[{i}]: not a tenant id")
    expires_at = None
    if "expiresAt" in body and "expiresIn" in body:
        raise BadRequestData("give expiresAt or expiresIn, not both")
    if "expiresAt" in body:
        when = parse_datetime(body["expiresAt"], "expiresAt")
        if when <= now:
            raise BadRequestData("expiresAt lies in the past")
        expires_at = format_datetime(when)
    elif "expiresIn" in body:
        duration = parse_duration(body["expiresIn"], "expiresIn")
        if not duration.is_exact or duration.ms <= 0:
            raise BadRequestData("expiresIn: expected a positive duration in days, hours, minutes or seconds")
        expires_at = format_datetime(datetime.fromtimestamp(now.timestamp() + duration.ms / 1000, now.tzinfo))
    rate = body.get("rateLimit")
    if rate is not None and (not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 0):
        raise BadRequestData("rateLimit: expected requests per second (0: unlimited)")
    return {
        "name": name,
        "role": role,
        "tenants": list(dict.fromkeys(tenants)),
        "expires_at": expires_at,
        "rate_limit": rate,
    }
