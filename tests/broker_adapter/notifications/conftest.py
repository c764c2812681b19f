from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.receivers import HttpReceiver, Mosquitto
from tests.support.server import BrokerProcess
from tests.support.subscriptions import NOTIFY_ENV


@pytest.fixture(scope="session")
def notify_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A broker that may notify loopback receivers, with short retry intervals."""
    process = BrokerProcess(tmp_path_factory.mktemp("notify-broker"), env=NOTIFY_ENV).start()
    yield process
    process.stop()


@pytest.fixture
def ld(notify_broker: BrokerProcess) -> Iterator[httpx.Client]:
    """A client of the notifying broker, scoped to a fresh tenant."""
    tenant = "n" + uuid.uuid4().hex[:12]
    with httpx.Client(
        base_url=notify_broker.url + "/ngsi-ld/v1", headers={"NGSILD-Tenant": tenant}, timeout=10
    ) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.close()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield m
    m.stop()


EX = "https://example.org/ns/"
USER_CONTEXT = {"Sensor": EX + "Sensor", "temperature": EX + "temperature"}


@pytest.fixture(scope="session")
def user_context_url(notify_broker: BrokerProcess) -> str:
    """USER_CONTEXT hosted by the notifying broker itself; its URL."""
    with httpx.Client(base_url=notify_broker.url + "/ngsi-ld/v1", timeout=10) as c:
        created = c.post("/jsonldContexts", json={"@context": USER_CONTEXT})
        assert created.status_code == 201, created.text
        details = c.get(created.headers["Location"].removeprefix("/ngsi-ld/v1"), params={"details": "true"})
        return details.json()["URL"]
