"""/health says a service runs; /ready says it can do its job: the catalog after its first sync with the
broker, the dashboard once it reached the broker. Both alone, against no broker and against a real one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.receivers import wait_for
from tests.support.server import BrokerProcess, free_port
from tests.support.subscriptions import NOTIFY_ENV
from tests.visualisation.processes import verbund

SERVICES = {"catalog": "", "dashboard": "/dashboard"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_ready_only_once_the_broker_answered(tmp_path: Path, service: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    base = f"http://127.0.0.1:{port}{SERVICES[service]}"
    env = {"VERBUND_FEED_SECRET": "ready-secret"}
    args = [service, "--port", str(port), "--broker-url", nowhere]
    with verbund(
        args, base + "/health", tmp_path / "alone", env | {"VERBUND_DATA_DIR": str(tmp_path / "alone")}
    ):
        refused = httpx.get(base + "/ready")
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "broker" in refused.json()["detail"]

    broker = BrokerProcess(tmp_path / "broker", env=NOTIFY_ENV).start()
    try:
        args = [service, "--port", str(port), "--broker-url", broker.url]
        with verbund(
            args, base + "/health", tmp_path / "fed", env | {"VERBUND_DATA_DIR": str(tmp_path / "fed")}
        ):
            wait_for(lambda: httpx.get(base + "/ready").status_code == 200, timeout=20)
    finally:
        broker.stop()
