from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import BrokerProcess


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One real broker for the session; tests isolate themselves with their own tenant."""
    process = BrokerProcess(tmp_path_factory.mktemp("broker")).start()
    yield process
    process.stop()


@pytest.fixture
def tenant() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def client(broker: BrokerProcess, tenant: str) -> Iterator[httpx.Client]:
    """An HTTP client on the shared broker, scoped to a fresh tenant."""
    with httpx.Client(
        base_url=broker.url + "/ngsi-ld/v1", headers={"NGSILD-Tenant": tenant}, timeout=10
    ) as c:
        yield c


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
