"""One platform for the catalog tests: a real broker (with the municipality registry) feeding a real catalog
process over loopback, and a small CKAN stand-in the catalog pushes one municipality to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.catalog.ckan_standin import CkanStandIn
from tests.catalog.support import SECRET, new_tenant
from tests.support.ngsild import context_link
from tests.support.receivers import wait_for
from tests.support.server import BrokerProcess, free_port
from tests.support.subscriptions import NOTIFY_ENV

REGISTRY = "/verbund/v1/municipalities"
CONTEXT_PATH = "/ngsi-ld/contexts/verbund.jsonld"
CKAN_KEY = "ckan-api-key-for-tests"
WAIT = 30.0  # seconds to wait for the feed and a reconcile; a busy 2-core machine is slow, not wrong


@dataclass
class Platform:
    broker: BrokerProcess
    catalog: BrokerProcess
    ckan: CkanStandIn
    ckan_tenant: str
    admin: httpx.Client  # the broker: registry and NGSI-LD API
    web: httpx.Client  # the catalog

    def register(self, tenant: str, record: dict[str, Any]) -> None:
        response = self.admin.post(REGISTRY, json=record)
        assert response.status_code == 201, response.text

    def upsert(self, tenant: str, *entities: dict[str, Any]) -> None:
        response = self.admin.post(
            "/ngsi-ld/v1/entityOperations/upsert",
            json=list(entities),
            headers={"NGSILD-Tenant": tenant, "Link": context_link(self.broker.url + CONTEXT_PATH)},
        )
        assert response.status_code in (201, 204), response.text

    def wait(self, condition: Any, timeout: float = WAIT) -> Any:
        return wait_for(condition, timeout=timeout, interval=0.2)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("catalog-platform")
    ckan = CkanStandIn(api_key=CKAN_KEY).start()
    ckan_tenant = new_tenant("ck")
    catalog_port = free_port()
    feed = f"catalog=http://127.0.0.1:{catalog_port}/notify"
    broker = BrokerProcess(
        root / "broker", env={**NOTIFY_ENV, "VERBUND_FEEDS": feed, "VERBUND_FEED_SECRET": SECRET}
    ).start()
    ckan_config = root / "ckan.json"
    target = {"url": ckan.url, "apiKey": CKAN_KEY, "ownerOrg": "kusel"}
    ckan_config.write_text(json.dumps({ckan_tenant: target}))
    catalog = BrokerProcess(
        root / "catalog",
        port=catalog_port,
        command="catalog",
        env={
            "VERBUND_FEED_SECRET": SECRET,
            "VERBUND_CATALOG_SYNC_INTERVAL": "3",
            "VERBUND_CATALOG_CKAN_CONFIG": str(ckan_config),
        },
        extra_args=["--broker-url", broker.url],
    ).start()
    with (
        httpx.Client(base_url=broker.url, timeout=30) as admin,
        httpx.Client(base_url=catalog.url, timeout=30) as web,
    ):
        yield Platform(broker, catalog, ckan, ckan_tenant, admin, web)
    catalog.stop()
    broker.stop()
    ckan.stop()


@pytest.fixture
def output_dir() -> Path:
    """Where tests leave files for people to look at (screenshots): test-output/catalog (git-ignored)."""
    path = Path(__file__).resolve().parents[2] / "test-output" / "catalog"
    path.mkdir(parents=True, exist_ok=True)
    return path
