from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings

from tests.support.server import BrokerProcess

# Property tests check results, not speed: on a busy 2-core machine generation and examples can be slow,
# which must not fail a run (timing thresholds do not belong in tests).
settings.register_profile("verbund", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("verbund")


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
