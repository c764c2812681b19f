"""Access control at start-up: the gate's parts, the audit log, the bootstrap platform-admin key.

VERBUND_AUTH=on (the default) checks every request. VERBUND_AUTH=off is for a local trial only: it is
refused unless the broker listens on loopback, and it is announced with a warning at every start.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from broker_adapter.access import apikeys
from broker_adapter.access.audit import AuditLog
from broker_adapter.access.authenticate import Authenticator
from broker_adapter.access.credentials import Credentials
from broker_adapter.access.gate import Access
from broker_adapter.access.jwt_tokens import JwtVerifier
from broker_adapter.access.ratelimit import RateLimiter
from broker_adapter.access.roles import PLATFORM_ADMIN, READER, WRITER, Principal, principal
from broker_adapter.api.deps import Broker
from broker_adapter.registry.service import Directory
from verbund.settings import Settings

log = logging.getLogger("verbund.access")
ADMIN_KEY_FILE = "admin.key"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_refusal(settings: Settings, what: str) -> str | None:
    """Why these settings may not run (VERBUND_AUTH=off on a non-loopback address), or None."""
    if settings.auth == "off" and not is_loopback(settings.host):
        return (
            f"VERBUND_AUTH=off is only allowed when listening on loopback (127.0.0.1, ::1), not on "
            f"{settings.host}: anyone who reaches the {what} could read and change every municipality's data"
        )
    return None


def check_auth_setting(settings: Settings, what: str) -> None:
    """Refuse VERBUND_AUTH=off on anything but loopback; warn loudly when it is off."""
    refusal = auth_refusal(settings, what)
    if refusal is not None:
        raise ValueError(refusal)
    if settings.auth == "off":
        log.warning(
            f"AUTHENTICATION IS OFF (VERBUND_AUTH=off): every local client may read and change every "
            f"tenant through the {what}. For a local trial only; never expose this port."
        )


def service_token(name: str, role: str) -> tuple[str, Principal]:
    """A credential that exists only in this process, for a service started with the broker."""
    token = "svc_" + secrets.token_urlsafe(32)
    return token, principal(f"service:{name}", f"service:{name}", [(role, "*")], rate=0)


# Services `verbund serve` runs beside the broker: the setting holding each one's broker credential, and
# the role it needs on every tenant. Fields another version does not have are skipped.
SERVE_SERVICES = (
    ("agents_broker_token", "agents", WRITER),
    ("catalog_broker_token", "catalog", READER),
    ("dashboard_broker_token", "dashboard", READER),
)


def serve_credentials(settings: Settings) -> tuple[dict[str, Principal], Settings]:
    """For `verbund serve`: in-process credentials for the services feeding from or reading this broker,
    unless auth is off or the service was given a credential (or, for the agents, a broker) of its own."""
    if settings.auth != "on":
        return {}, settings
    tokens: dict[str, Principal] = {}
    overrides: dict[str, str] = {}
    for field, name, role in SERVE_SERVICES:
        if not hasattr(settings, field) or getattr(settings, field):
            continue
        if name == "agents" and settings.agents_broker_url:
            continue
        token, who = service_token(name, role)
        tokens[token] = who
        overrides[field] = token
    return tokens, settings.with_overrides(**overrides)


def start(
    state: Any, broker: Broker, directory: Directory, service_tokens: Mapping[str, Principal]
) -> Access:
    """Build the gate into state.access and the audit log into state.audit; create the bootstrap key.
    (create_app has checked VERBUND_AUTH before.)"""
    settings, store = broker.settings, broker.store
    state.audit = AuditLog(Path(settings.data_dir) / "audit.log")
    limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
    authenticator = None
    if settings.auth == "on":
        verifier = None
        if settings.jwks:
            verifier = JwtVerifier(
                settings.jwks,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                roles_claim=settings.jwt_roles_claim,
                tenants_claim=settings.jwt_tenants_claim,
            )
        authenticator = Authenticator(store, verifier, service_tokens)
        if settings.admin_key:
            install_admin_key(store, settings.admin_key, state.audit)
        else:
            bootstrap_admin_key(store, Path(settings.data_dir), state.audit)
    state.access = Access(authenticator, limiter, directory)
    state.credentials = Credentials(broker, authenticator, state.audit)
    return state.access


def install_admin_key(store: Any, key: str, audit: AuditLog) -> None:
    """VERBUND_ADMIN_KEY: make that key a platform admin (once: revoked through the API, it stays revoked)."""
    parts = apikeys.split_key(key)
    if parts is None:
        raise ValueError("VERBUND_ADMIN_KEY is not an API key of the form vk_<16 hex digits>_<43 characters>")
    key_id, secret = parts
    if store.get_credential(key_id) is not None:
        return
    record, _ = apikeys.new_key(
        name="configured platform admin", role=PLATFORM_ADMIN, tenants=["*"], created_by="configuration"
    )
    record.update(id=key_id, hash=apikeys.digest(secret))
    store.put_credential(record)
    audit.record("configuration", "credential.create", f"apikey:{key_id}", role=PLATFORM_ADMIN, tenants=["*"])
    log.info("installed the configured platform-admin API key", extra={"credential": key_id})


def bootstrap_admin_key(store: Any, data_dir: Path, audit: AuditLog) -> Path | None:
    """On a store without a usable platform-admin key: create one and write it to <data dir>/admin.key
    (mode 0600). The key itself is never logged; the log says where it is."""
    for record in store.list_credentials():
        if record.get("role") == PLATFORM_ADMIN and not record.get("revokedAt"):
            return None
    record, key = apikeys.new_key(
        name="bootstrap platform admin", role=PLATFORM_ADMIN, tenants=["*"], created_by="bootstrap"
    )
    path = data_dir / ADMIN_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    os.chmod(path, 0o600)  # also when the file existed with wider permissions
    store.put_credential(record)
    audit.record(
        "bootstrap", "credential.create", f"apikey:{record['id']}", role=PLATFORM_ADMIN, tenants=["*"]
    )
    log.warning(
        f"created the first platform-admin API key {record['id']}: the key is in {path.resolve()} (readable "
        "only by this user); send it in the Authorization header as a bearer token and create further "
        "credentials with it (docs/access.md)",
        extra={"key_file": str(path.resolve()), "credential": record["id"]},
    )
    return path
