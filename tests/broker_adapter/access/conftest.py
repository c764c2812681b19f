"""One `verbund serve` with authentication on (broker and agents), two municipalities and a credential of
every role, shared by the access tests (each test uses its own entities or devices)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.agents.support import PlatformProcess
from tests.support.access import Jwks, bearer

BOX = [7.6, 49.3, 7.9, 49.5]


@dataclass
class Secured:
    platform: PlatformProcess
    jwks: Jwks
    admin_key: str
    private: str  # a municipality that is not open data
    public: str  # an open-data municipality
    region: str  # both are in it
    keys: dict[str, str] = field(default_factory=dict)  # name -> bearer token

    @property
    def broker(self) -> str:
        return self.platform.broker_url

    def client(self, token: str | None, tenant: str | None = None) -> httpx.Client:
        headers = {**bearer(token), **({"NGSILD-Tenant": tenant} if tenant is not None else {})}
        return httpx.Client(base_url=self.broker, headers=headers, timeout=20)

    def create_key(self, issuer: str, role: str, tenants: list[str], **members: object) -> str:
        with self.client(issuer) as c:
            created = c.post("/verbund/v1/credentials", json={"role": role, "tenants": tenants, **members})
        assert created.status_code == 201, created.text
        return created.json()["key"]


def register(client: httpx.Client, tenant: str, *, open_data: bool, regions: list[str]) -> str:
    """Register a municipality; its first (municipality-admin) key."""
    body = {"tenant": tenant, "name": f"Gemeinde {tenant}", "kind": "Ortsgemeinde", "ags": "07335001",
            "bbox": BOX, "openData": open_data, "regions": regions}  # fmt: skip
    response = client.post("/verbund/v1/municipalities", json=body)
    assert response.status_code == 201, response.text
    return response.json()["credentials"]["key"]


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    folder: Path = tmp_path_factory.mktemp("secured")
    jwks = Jwks(folder / "idp")
    env = {
        "VERBUND_AUTH": "on",
        **jwks.env(),
        "VERBUND_NOTIFY_ALLOWED_HOSTS": "127.0.0.1",
        "VERBUND_RATE_LIMIT": "0",  # rate limits have their own broker (test_hardening.py)
    }
    platform = PlatformProcess(folder / "data", env=env).start()
    try:
        admin_key = (folder / "data" / "admin.key").read_text().strip()
        suffix = uuid.uuid4().hex[:6]
        region = "region" + suffix
        secured = Secured(platform, jwks, admin_key, "private" + suffix, "public" + suffix, region)
        with secured.client(admin_key) as admin:
            muni = register(admin, secured.private, open_data=False, regions=[region])
            register(admin, secured.public, open_data=True, regions=[region])
        secured.keys = {
            "platform-admin": admin_key,
            "municipality-admin": muni,
            "writer": secured.create_key(muni, "writer", [secured.private]),
            "reader": secured.create_key(muni, "reader", [secured.private]),
            "device": secured.create_key(muni, "device", [secured.private]),
            "reader-all": secured.create_key(admin_key, "reader", ["*"]),
            "jwt-writer": jwks.token("jwt-writer", roles=[f"writer@{secured.private}", "offline_access"]),
        }
        yield secured
    finally:
        platform.stop()
