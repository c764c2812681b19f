"""Names in MongoDB: reversible field-name encoding and the database of each tenant.

Field names: MongoDB reserves `.` (path separator) and a leading `$` (operators), and attribute IRIs
are full of dots. Every key of a stored entity's attribute tree is escaped percent-style: `%` → `%25`,
`.` → `%2E`, a leading `$` → `%24`. The mapping is injective and its inverse is exact, and a key
without those characters (`type`, `value`, `observedAt`, `@value`) stays as it is, so core members
keep their names and can be queried directly.

Databases: one per tenant (see docs/mongodb.md). A tenant name (`[A-Za-z0-9][A-Za-z0-9_-]{0,63}`)
that is lowercase and short maps to `<prefix>_t_<tenant>`; anything else (upper case, which MongoDB
refuses next to a name differing only by case, or too long for the 63-byte limit) maps to
`<prefix>_h_<first 24 hex digits of its SHA-256>`. The default tenant is `<prefix>_default`. The
meta database `<prefix>` records every tenant with its database name.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from broker_adapter.ngsild.types import DEFAULT_TENANT, Tenant

_PLAIN_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,19}")


@lru_cache(maxsize=65_536)
def encode_key(key: str) -> str:
    if "%" in key or "." in key:
        key = key.replace("%", "%25").replace(".", "%2E")
    if key.startswith("$"):
        key = "%24" + key[1:]
    return key


@lru_cache(maxsize=65_536)
def decode_key(key: str) -> str:
    if "%" not in key:
        return key
    if key.startswith("%24"):
        key = "$" + key[3:]
    return key.replace("%2E", ".").replace("%25", "%")


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"MongoDB database prefix {prefix!r} must be 1-20 letters, digits, '_' or '-',"
            " starting with a letter"
        )
    return prefix


def tenant_database(prefix: str, tenant: Tenant) -> str:
    if tenant == DEFAULT_TENANT:
        return f"{prefix}_default"
    if _PLAIN_TENANT.fullmatch(tenant):
        return f"{prefix}_t_{tenant}"
    return f"{prefix}_h_{hashlib.sha256(tenant.encode()).hexdigest()[:24]}"


def encode_tree(value: Any) -> Any:
    """A JSON value with every object key encoded (values untouched)."""
    if isinstance(value, dict):
        return {encode_key(k): encode_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_tree(v) for v in value]
    return value


def decode_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {decode_key(k): decode_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_tree(v) for v in value]
    return value


def field(*keys: str) -> str:
    """A dotted MongoDB path from raw (unencoded) keys."""
    return ".".join(encode_key(k) for k in keys)
