from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.agents.support import PlatformProcess
from tests.support.receivers import Mosquitto

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path_factory.mktemp("agents-mosquitto")).start()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, mosquitto: Mosquitto) -> Iterator[PlatformProcess]:
    """One ``verbund serve`` (broker + agents + MQTT southbound) for the session; tests use own services."""
    process = PlatformProcess(
        tmp_path_factory.mktemp("platform"), mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}"
    ).start()
    yield process
    process.stop()


@pytest.fixture
def service() -> str:
    return "svc" + uuid.uuid4().hex[:10]


@pytest.fixture
def north(platform: PlatformProcess, service: str) -> Iterator[httpx.Client]:
    """The provisioning API, as FIWARE's tutorials call it (fiware-service + fiware-servicepath)."""
    headers = {"fiware-service": service, "fiware-servicepath": "/"}
    with httpx.Client(base_url=platform.north, headers=headers, timeout=10) as c:
        yield c


@pytest.fixture
def south(platform: PlatformProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.south, timeout=10) as c:
        yield c


@pytest.fixture
def ngsi(platform: PlatformProcess, service: str) -> Iterator[httpx.Client]:
    """The broker, in the tenant the agents map the fiware-service to, with the platform @context (the one
    `verbund serve`'s agents send, so Smart Data Models attributes read back by their short names)."""
    link = f'<{platform.broker_url}/ngsi-ld/contexts/verbund.jsonld>; rel="{JSONLD_CONTEXT_REL}"'
    headers = {"NGSILD-Tenant": service, "Link": link + '; type="application/ld+json"'}
    with httpx.Client(base_url=platform.broker_url + "/ngsi-ld/v1", headers=headers, timeout=10) as c:
        yield c
