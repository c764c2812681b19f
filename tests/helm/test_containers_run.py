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


PUBLIC_HOST = "daten.verbund.example"


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    """Behind an ingress with TLS, so the broker's public URL differs from its in-cluster one."""
    ports = iter(free_port() for _ in range(5))
    return render(
        {
            "broker": {"port": next(ports)},
            "agents": {"northPort": next(ports), "southPort": next(ports)},
            "catalog": {"port": next(ports)},
            "dashboard": {"port": next(ports)},
            "ingress": {
                "enabled": True,
                "broker": {"host": PUBLIC_HOST},
                "catalog": {"host": "opendata.example"},
            },
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


class Services:
    """The chart's containers, each started on first use and stopped with the module."""

    def __init__(self, manifests: Manifests, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.manifests = manifests
        self.tmp_path_factory = tmp_path_factory
        self.running: dict[str, tuple[Pod, dict[str, Any], Path, subprocess.Popen[bytes]]] = {}

    def get(self, component: str) -> tuple[Pod, dict[str, Any], Path]:
        if component not in self.running:
            self.running[component] = self._start(component)
        pod, container, data, _ = self.running[component]
        return pod, container, data

    def _start(self, component: str) -> tuple[Pod, dict[str, Any], Path, subprocess.Popen[bytes]]:
        pod = self.manifests.pod(component)
        (container,) = pod.spec["containers"]
        data = self.tmp_path_factory.mktemp(component)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERBUND_")}
        env.update(container_environment(self.manifests, pod, container, data))
        args = [CLUSTER_HOST.sub("127.0.0.1", a) for a in container["args"]]
        with (data / "log").open("wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen([sys.executable, "-m", "verbund", *args], cwd=ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        # what the kubelet does first: the startup probe until it succeeds
        startup = container["startupProbe"]
        deadline = time.monotonic() + startup["periodSeconds"] * startup["failureThreshold"]
        while not _answers(pod, startup):
            if process.poll() is not None or time.monotonic() > deadline:
                self._stop(process)
                pytest.fail(f"{pod.name} never passed its startup probe: {(data / 'log').read_text()}")
            time.sleep(0.1)
        return pod, container, data, process

    @staticmethod
    def _stop(process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def stop(self) -> None:
        for *_, process in self.running.values():
            self._stop(process)


@pytest.fixture(scope="module")
def services(manifests: Manifests, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    started = Services(manifests, tmp_path_factory)
    yield started
    started.stop()


def _get(pod: Pod, probe: dict[str, Any]) -> httpx.Response:
    http = probe["httpGet"]
    return httpx.get(f"http://127.0.0.1:{pod.port(http['port'])}{http['path']}", timeout=3)


def _answers(pod: Pod, probe: dict[str, Any]) -> bool:
    try:
        return _get(pod, probe).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("component", SERVICES)
def test_probes_answer_on_the_ports_they_name(services: Services, component: str) -> None:
    pod, container, _ = services.get(component)
    assert _get(pod, container["livenessProbe"]).status_code == 200
    ready = _get(pod, container["readinessProbe"])
    assert ready.status_code == 200, ready.text


@pytest.mark.parametrize("component", SERVICES)
def test_every_declared_port_is_served(services: Services, component: str) -> None:
    """A Service or an ingress that targets a container port nobody listens on answers nothing."""
    _, container, _ = services.get(component)
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


def test_the_broker_resolves_the_platform_context_by_either_url(services: Services) -> None:
    """The catalog and the dashboard name the platform @context by the broker's in-cluster URL, the agents
    by its public one; the broker must understand both (a context it cannot resolve fails every request)."""
    pod, _, data = services.get("broker")
    base = f"http://127.0.0.1:{pod.port('http')}"
    ref = pod.env("broker")["VERBUND_ADMIN_KEY"]["valueFrom"]["secretKeyRef"]
    key = _secret(services.manifests, ref["name"], ref["key"])  # the chart's admin key, from its Secret
    assert not (data / "admin.key").exists()  # installed from the Secret, not generated per pod
    agents_env = services.manifests.pod("agents").env("agents")
    contexts = {
        "in-cluster": base + "/ngsi-ld/contexts/verbund.jsonld",
        "public": agents_env["VERBUND_AGENTS_CONTEXT_URL"]["value"],
    }
    assert contexts["public"] == f"https://{PUBLIC_HOST}/ngsi-ld/contexts/verbund.jsonld"
    entity = {
        "id": "urn:ngsi-ld:WaterObserved:lauter-1",
        "type": "WaterObserved",
        "height": {"type": "Property", "value": 1.42},
    }
    headers = {"Authorization": f"Bearer {key}", "NGSILD-Tenant": "kaiserslautern"}

    def link(url: str) -> dict[str, str]:
        return {
            **headers,
            "Link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
        }

    # written as the agents write (the platform terms: WaterObserved is the Smart Data Models type)
    created = httpx.post(
        base + "/ngsi-ld/v1/entities", json=entity, headers=link(contexts["public"]), timeout=10
    )
    assert created.status_code == 201, created.text
    for name, url in contexts.items():
        # read as the catalog and the dashboard read
        response = httpx.get(
            base + "/ngsi-ld/v1/entities", params={"type": "WaterObserved"}, headers=link(url), timeout=10
        )
        assert response.status_code == 200, (name, response.text)
        assert [e["id"] for e in response.json()] == [entity["id"]], name
