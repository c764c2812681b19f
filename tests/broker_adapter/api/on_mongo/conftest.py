"""API tests re-run on the MongoDB store adapter: a broker whose store is `mongomock://` (the adapter on
mongomock, in the broker process). The modules here import the tests of their namesakes one level up,
so the same assertions hold over HTTP for both stores. With VERBUND_TEST_STORE_URL set the whole suite
already runs on that store (see tests/support/server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.broker_adapter.api.conftest import USER_CONTEXT
from tests.support.server import BrokerProcess


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess(
        tmp_path_factory.mktemp("mongo-broker"), env={"VERBUND_STORE_URL": "mongomock://api-tests"}
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def user_context_url(broker: BrokerProcess) -> str:
    with httpx.Client(base_url=broker.url + "/ngsi-ld/v1", timeout=10) as c:
        created = c.post("/jsonldContexts", json={"@context": USER_CONTEXT})
        assert created.status_code == 201, created.text
        details = c.get(created.headers["Location"].removeprefix("/ngsi-ld/v1"), params={"details": "true"})
        return details.json()["URL"]
