"""The chart's Verbund containers, run for real on loopback: each starts with exactly the command and
environment the chart gives its pod, and answers the paths its startup, liveness and readiness probes
ask on the ports they name. Only what a cluster provides differently is replaced: service names resolve
to 127.0.0.1, /data is a temp dir, and the store is a SQLite file (MongoDB cannot run here)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helm.chart import Manifests, Pod, render, scenario
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_HOST = re.compile(r"[a-z0-9.-]+\.svc\.cluster\.local")

# Every workload of the chart that runs the Verbund image (broker, agents, catalog, dashboard).
SERVICES = [
    pod.labels["app.kubernetes.io/component"]
    for pod in scenario("default").pods()
    if pod.spec["containers"][0]["image"].startswith("verbund:")
]


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    ports = iter(free_port() for _ in range(5))
    return render(
        {
            "broker": {"port": next(ports)},
            "agents": {"northPort": next(ports), "southPort": next(ports)},
            "catalog": {"port": next(ports)},
            "dashboard": {"port": next(ports)},
        }
    )


def _secret(manifests: Manifests, name: str, key: str) -> str:
    secret = manifests.get("Secret", name)
    if key in secret.get("stringData", {}):
        return str(secret["stringData"][key])
    return base64.b64decode(secret["data"][key]).decode()


def container_environment(
    manifests: Manifests, pod: Pod, container: dict[str, Any], data: Path
) -> dict[str, str]:
    """What the kubelet would put into the container's environment, in its order."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(manifests.get("ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            env.update(manifests.get("Secret", source["secretRef"]["name"]).get("stringData", {}))
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), variable["value"]
            )
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = _secret(manifests, ref["name"], ref["key"])
    env = {k: CLUSTER_HOST.sub("127.0.0.1", v) for k, v in env.items()}
    env.update(
        VERBUND_HOST="127.0.0.1",
        VERBUND_DATA_DIR=str(data),
        VERBUND_STORE_URL=f"sqlite:///{data}/verbund.db",
        VERBUND_LOG_LEVEL="warning",
    )
    return env


@pytest.fixture(scope="module", params=SERVICES)
def running(
    request: pytest.FixtureRequest, manifests: Manifests, tmp_path_factory
) -> Iterator[tuple[Pod, dict]]:
    pod = manifests.pod(request.param)
    (container,) = pod.spec["containers"]
    data = tmp_path_factory.mktemp(request.param)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERBUND_")}
    env.update(container_environment(manifests, pod, container, data))
    args = [CLUSTER_HOST.sub("127.0.0.1", a) for a in container["args"]]
    log = (data / "log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "verbund", *args], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        # what the kubelet does first: the startup probe until it succeeds
        startup = container["startupProbe"]
        deadline = time.monotonic() + startup["periodSeconds"] * startup["failureThreshold"]
        while not _answers(pod, startup):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"{pod.name} never passed its startup probe: {(data / 'log').read_text()}")
            time.sleep(0.1)
        yield pod, container
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _get(pod: Pod, probe: dict[str, Any]) -> httpx.Response:
    http = probe["httpGet"]
    return httpx.get(f"http://127.0.0.1:{pod.port(http['port'])}{http['path']}", timeout=3)


def _answers(pod: Pod, probe: dict[str, Any]) -> bool:
    try:
        return _get(pod, probe).status_code == 200
    except httpx.TransportError:
        return False


def test_probes_answer_on_the_ports_they_name(running: tuple[Pod, dict]) -> None:
    pod, container = running
    assert _get(pod, container["livenessProbe"]).status_code == 200
    ready = _get(pod, container["readinessProbe"])
    assert ready.status_code == 200, ready.text


def test_every_declared_port_is_served(running: tuple[Pod, dict]) -> None:
    """A Service or an ingress that targets a container port nobody listens on answers nothing."""
    _, container = running
    for port in container["ports"]:
        response = httpx.get(f"http://127.0.0.1:{port['containerPort']}/", timeout=3)
        assert response.status_code < 500, (port, response.status_code)


def test_every_verbund_service_has_its_own_workload() -> None:
    commands = {
        pod.labels["app.kubernetes.io/component"]: pod.spec["containers"][0]["args"][0]
        for pod in scenario("default").pods()
        if pod.labels["app.kubernetes.io/component"] in SERVICES
    }
    assert commands == {
        "broker": "broker",
        "agents": "agents",
        "catalog": "catalog",
        "dashboard": "dashboard",
    }
