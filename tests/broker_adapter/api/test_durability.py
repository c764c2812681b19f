"""Acknowledged writes survive kill -9; the operations endpoints /health, /ready and /metrics."""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.support.server import BrokerProcess

TENANT = {"NGSILD-Tenant": "durable"}


def _stream_writes(url: str, prefix: str, acked: dict[str, int], stop: threading.Event) -> None:
    """Alternate single creates and 5-entity batch upserts until the broker dies; record 2xx writes.
    Several of these run at once, so the writes of concurrent requests are committed together."""
    seq = 0
    with httpx.Client(base_url=url + "/ngsi-ld/v1", headers=TENANT, timeout=5) as client:
        while not stop.is_set():
            seq += 1
            try:
                single = f"urn:ngsi-ld:Meter:{prefix}s{seq}"
                response = client.post(
                    "/entities",
                    json={"id": single, "type": "Meter", "seq": {"type": "Property", "value": seq}},
                )
                if response.status_code == 201:
                    acked[single] = seq
                batch = [
                    {
                        "id": f"urn:ngsi-ld:Meter:{prefix}b{n}",
                        "type": "Meter",
                        "seq": {"type": "Property", "value": seq},
                    }
                    for n in range(5)
                ]
                response = client.post("/entityOperations/upsert", json=batch)
                if response.status_code in (201, 204):
                    acked.update((e["id"], seq) for e in batch)
            except httpx.TransportError:
                return  # the broker was killed


def test_acknowledged_writes_survive_kill_minus_9(data_dir: Path) -> None:
    broker = BrokerProcess(data_dir).start()
    acked: dict[str, int] = {}
    stop = threading.Event()
    writers = [
        threading.Thread(target=_stream_writes, args=(broker.url, prefix, acked, stop)) for prefix in "xyz"
    ]
    for writer in writers:
        writer.start()
    try:
        deadline = time.monotonic() + 10
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        broker.kill()  # mid-stream: the writer is still sending
    finally:
        stop.set()
        for writer in writers:
            writer.join(10)
        broker.stop()
    assert len(acked) >= 200, "the writer acknowledged too few writes before the kill"

    restarted = BrokerProcess(data_dir).start()
    try:
        with httpx.Client(base_url=restarted.url + "/ngsi-ld/v1", headers=TENANT, timeout=10) as client:
            ids = sorted(acked)
            found: dict[str, int] = {}
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                response = client.get("/entities", params={"id": ",".join(chunk), "limit": "100"})
                assert response.status_code == 200, response.text
                found.update((e["id"], e["seq"]["value"]) for e in response.json())
        missing = [i for i in ids if i not in found]
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
        # a later write may have landed without its answer arriving, never an older one
        stale = [i for i in ids if found[i] < acked[i]]
        assert not stale, f"{len(stale)} entities older than their acknowledged write, e.g. {stale[:5]}"
    finally:
        restarted.stop()


# operations endpoints ----------------------------------------------------------------------------
def test_health_and_ready_answer_200(broker: BrokerProcess) -> None:
    for path in ("/health", "/ready"):
        response = httpx.get(broker.url + path, timeout=5)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["status"] in ("ok", "ready")


_SAMPLE = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+\-Inf]+')


def _count(text: str, method: str, route: str, status: int) -> int:
    pattern = (
        rf'^verbund_http_requests_total\{{method="{method}",route="{re.escape(route)}",'
        rf'status="{status}"\}} (\d+)$'
    )
    match = re.search(pattern, text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def test_metrics_count_requests_per_route_and_status(broker: BrokerProcess) -> None:
    api = broker.url + "/ngsi-ld/v1"
    tenant = {"NGSILD-Tenant": "m" + uuid.uuid4().hex[:12]}
    before = httpx.get(broker.url + "/metrics", timeout=5).text
    for n in range(3):
        entity = {"id": f"urn:ngsi-ld:Meter:{uuid.uuid4().hex}", "type": "Meter", "n": n}
        assert httpx.post(api + "/entities", json=entity, headers=tenant, timeout=5).status_code == 201
        assert httpx.get(api + "/entities/" + entity["id"], headers=tenant, timeout=5).status_code == 200
    assert httpx.get(api + "/entities/urn:ngsi-ld:Meter:none", headers=tenant, timeout=5).status_code == 404

    response = httpx.get(broker.url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    for line in after.splitlines():
        assert line.startswith("#") or _SAMPLE.fullmatch(line), line
    created = ("POST", "/ngsi-ld/v1/entities", 201)
    retrieved = ("GET", "/ngsi-ld/v1/entities/{entity_id:path}", 200)
    missing = ("GET", "/ngsi-ld/v1/entities/{entity_id:path}", 404)
    assert _count(after, *created) - _count(before, *created) == 3
    assert _count(after, *retrieved) - _count(before, *retrieved) == 3
    assert _count(after, *missing) - _count(before, *missing) == 1
