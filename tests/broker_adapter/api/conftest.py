from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.server import BrokerProcess

EX = "https://example.org/ns/"
# A user @context: entity type, attribute names, and vocab terms for a VocabProperty ("@type": "@vocab").
USER_CONTEXT: dict[str, Any] = {
    "Sensor": EX + "Sensor",
    "temperature": EX + "temperature",
    "colour": {"@id": EX + "colour", "@type": "@vocab"},
    "red": EX + "Red",
    "green": EX + "Green",
}


@pytest.fixture(scope="session")
def user_context_url(broker: BrokerProcess) -> str:
    """USER_CONTEXT hosted by the broker itself (no network needed to resolve it); its URL."""
    with httpx.Client(base_url=broker.url + "/ngsi-ld/v1", timeout=10) as c:
        created = c.post("/jsonldContexts", json={"@context": USER_CONTEXT})
        assert created.status_code == 201, created.text
        details = c.get(created.headers["Location"].removeprefix("/ngsi-ld/v1"), params={"details": "true"})
        assert details.status_code == 200, details.text
        return details.json()["URL"]
