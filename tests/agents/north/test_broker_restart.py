"""No measurement lost: the broker stops in the middle of a stream of measures; after it restarts every
measure arrives, in order; while it is down the outbox keeps them (and refuses more once it is full)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.agents.support import PlatformProcess
from tests.support.receivers import wait_for
from tests.support.server import BrokerProcess

KEY = "restart-key"


def _provision(agents: PlatformProcess, service: str) -> None:
    headers = {"fiware-service": service, "fiware-servicepath": "/"}
    httpx.post(
        agents.north + "/iot/groups",
        headers=headers,
        json={
            "groups": [
                {
                    "apikey": KEY,
                    "resource": "/iot/json",
                    "entity_type": "WaterObserved",
                    "attributes": [{"object_id": "n", "name": "sequence", "type": "Integer"}],
                }
            ]
        },
    ).raise_for_status()


def _send(agents: PlatformProcess, device: str, n: int) -> int:
    stamp = f"2024-05-01T10:{n // 60:02d}:{n % 60:02d}Z"
    return httpx.post(
        agents.south + "/iot/json",
        params={"k": KEY, "i": device},
        json={"n": n, "TimeInstant": stamp},
        timeout=10,
    ).status_code


def _metric(agents: PlatformProcess, name: str) -> float:
    for line in httpx.get(agents.north + "/metrics").text.splitlines():
        if line.startswith(f"verbund_agents_{name}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_measures_sent_while_the_broker_is_down_all_arrive_in_order(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "broker").start()
    agents = PlatformProcess(tmp_path / "agents", command="agents", broker_url=broker.url).start()
    ngsi = httpx.Client(base_url=broker.url + "/ngsi-ld/v1", headers={"NGSILD-Tenant": "mayen"}, timeout=5)
    try:
        _provision(agents, "mayen")
        statuses = [_send(agents, f"pegel-{n % 3}", n) for n in range(30)]
        broker.kill()  # kill -9 in the middle of the stream
        statuses += [_send(agents, f"pegel-{n % 3}", n) for n in range(30, 90)]
        assert set(statuses) == {200}, "the agent accepts measures while the broker is down"
        assert wait_for(lambda: _metric(agents, "broker_unavailable") == 1)
        assert _metric(agents, "outbox_pending") > 0

        broker.start()
        statuses += [_send(agents, f"pegel-{n % 3}", n) for n in range(90, 100)]
        assert set(statuses) == {200}

        def delivered() -> bool:
            return (
                _metric(agents, "outbox_pending") == 0
                and _metric(agents, "northbound_delivered_total") >= 100
            )

        wait_for(delivered, timeout=30)
        for device in range(3):
            got = ngsi.get(f"/entities/urn:ngsi-ld:WaterObserved:pegel-{device}").json()
            assert got["sequence"]["value"] == max(n for n in range(100) if n % 3 == device)
            history = ngsi.get(
                f"/temporal/entities/urn:ngsi-ld:WaterObserved:pegel-{device}",
                params={"attrs": "sequence", "lastN": 100},
            )
            if (
                history.status_code == 200
            ):  # temporal API from another issue: check every instance when present
                values = sorted(i["value"] for i in history.json()["sequence"])
                assert values == [n for n in range(100) if n % 3 == device]
        assert _metric(agents, "northbound_rejected_total") == 0
        assert "broker unreachable" in agents.log() and "broker reachable again" in agents.log()
    finally:
        ngsi.close()
        agents.stop()
        broker.stop()


def test_a_full_outbox_refuses_measures_with_503_and_counts_it(tmp_path: Path) -> None:
    agents = PlatformProcess(
        tmp_path / "agents",
        command="agents",
        broker_url="http://127.0.0.1:9",
        env={"VERBUND_AGENTS_OUTBOX_MAX": "5"},
    ).start()
    try:
        _provision(agents, "kusel")
        statuses = [_send(agents, "p", n) for n in range(8)]
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [503] * 3
        refused = httpx.post(agents.south + "/iot/json", params={"k": KEY, "i": "p"}, json={"n": 9})
        assert refused.json()["name"] == "OUTBOX_FULL"
        assert _metric(agents, "outbox_full_total") >= 4
        assert "the outbox is full" in agents.log()
    finally:
        agents.stop()


def test_a_measure_the_broker_rejects_is_logged_with_its_device_and_not_retried(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "broker").start()
    agents = PlatformProcess(tmp_path / "agents", command="agents", broker_url=broker.url).start()
    try:
        headers = {"fiware-service": "bitburg", "fiware-servicepath": "/"}
        httpx.post(
            agents.north + "/iot/groups",
            headers=headers,
            json={
                "groups": [
                    {
                        "apikey": KEY,
                        "resource": "/iot/json",
                        "entity_type": "Thing",
                        "attributes": [{"object_id": "bad", "name": "broken name", "type": "Number"}],
                    }
                ]
            },
        ).raise_for_status()
        assert (
            httpx.post(
                agents.south + "/iot/json", params={"k": KEY, "i": "dev9"}, json={"bad": 1}
            ).status_code
            == 200
        )
        assert _send(agents, "dev8", 1) == 200  # the next measure is not held up by the rejected one
        wait_for(
            lambda: (
                _metric(agents, "northbound_rejected_total") == 1 and _metric(agents, "outbox_pending") == 0
            )
        )
        rejected = [line for line in agents.log().splitlines() if "rejected a measure" in line]
        assert rejected and '"device":"dev9"' in rejected[0] and '"status":400' in rejected[0]
    finally:
        agents.stop()
        broker.stop()
