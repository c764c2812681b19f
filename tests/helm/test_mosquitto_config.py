"""The bundled Mosquitto as the chart configures it, run for real: the init container's script hashes the
Secret's passwords, and the broker then lets the agents read every topic, lets devices only publish, and
turns anonymous clients away."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from tests.helm.chart import PREFIX, Manifests, render
from tests.support.receivers import wait_for
from tests.support.server import free_port

AGENTS_PASSWORD = "agents-secret-1"
DEVICE = ("pegel-lauter", "geheim-1")
OTHER_DEVICE = ("pegel-glan", "geheim-2")


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return render(
        {
            "mosquitto": {
                "enabled": True,
                "persistence": {"enabled": False},
                "auth": {
                    "agentsPassword": AGENTS_PASSWORD,
                    "users": [
                        {"username": DEVICE[0], "password": DEVICE[1]},
                        {"username": OTHER_DEVICE[0], "password": OTHER_DEVICE[1]},
                    ],
                },
            }
        }
    )


@pytest.fixture(scope="module")
def broker(manifests: Manifests, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Lay out the pod's volumes under a temp dir, run the init container's script, then mosquitto."""
    root = tmp_path_factory.mktemp("mosquitto")
    config_map = manifests.get("ConfigMap", f"{PREFIX}-mosquitto")["data"]
    secret = manifests.get("Secret", f"{PREFIX}-mosquitto")["stringData"]
    for directory in ("config", "secret", "auth", "data"):
        (root / directory).mkdir()
    for key, text in config_map.items():
        (root / "config" / key).write_text(text)
    for key, text in secret.items():
        (root / "secret" / key).write_text(text)

    pod = manifests.pod("mosquitto")
    init = pod.container("passwords")
    script = init["command"][2].replace("/mosquitto/", f"{root}/")
    env = {**os.environ, **{e["name"]: e["value"] for e in init["env"]}}
    subprocess.run(["sh", "-c", script], check=True, env=env, capture_output=True)

    port = free_port()
    config = config_map["mosquitto.conf"].replace("/mosquitto/", f"{root}/")
    config = config.replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    if os.geteuid() == 0:
        config += "user root\n"  # else it drops to the mosquitto user, who cannot read pytest's temp dirs
    (root / "run.conf").write_text(config)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with (root / "log").open("wb") as log:
        process = subprocess.Popen(
            [binary, "-c", str(root / "run.conf")], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None)
        assert process.poll() is None, (root / "log").read_text()
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _client(port: int, user: tuple[str, str] | None, name: str) -> tuple[mqtt.Client, dict]:
    state: dict = {"messages": [], "granted": None, "connected": None}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"helm-test-{name}")
    if user is not None:
        client.username_pw_set(*user)
    client.on_connect = lambda c, u, f, reason, p: state.update(connected=not reason.is_failure)
    client.on_subscribe = lambda c, u, mid, reasons, p: state.update(granted=[r.value for r in reasons])
    client.on_message = lambda c, u, msg: state["messages"].append((msg.topic, msg.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_for(lambda: state["connected"] is not None)
    return client, state


def test_anonymous_clients_are_refused(broker: int) -> None:
    client, state = _client(broker, None, "anonymous")
    try:
        assert state["connected"] is False
    finally:
        client.loop_stop()


def test_a_wrong_password_is_refused(broker: int) -> None:
    client, state = _client(broker, (DEVICE[0], "wrong"), "wrong")
    try:
        assert state["connected"] is False
    finally:
        client.loop_stop()


def test_devices_publish_and_the_agents_receive(broker: int) -> None:
    agents, received = _client(broker, ("verbund-agents", AGENTS_PASSWORD), "agents")
    device, device_state = _client(broker, DEVICE, "device")
    try:
        assert received["connected"] and device_state["connected"]
        agents.subscribe("/json/pegel/+/attrs", qos=1)
        wait_for(lambda: received["granted"] is not None)
        assert received["granted"] == [1]
        device.publish("/json/pegel/lauter-1/attrs", b'{"h": 1.42}', qos=1).wait_for_publish(5)
        wait_for(lambda: received["messages"])
        assert received["messages"] == [("/json/pegel/lauter-1/attrs", b'{"h": 1.42}')]
    finally:
        agents.disconnect()
        device.disconnect()
        agents.loop_stop()
        device.loop_stop()


def test_devices_cannot_read_each_others_measures(broker: int) -> None:
    spy, spied = _client(broker, OTHER_DEVICE, "spy")
    agents, received = _client(broker, ("verbund-agents", AGENTS_PASSWORD), "agents-2")
    device, _ = _client(broker, DEVICE, "device-2")
    try:
        for client, state in ((spy, spied), (agents, received)):
            client.subscribe("#", qos=1)
            wait_for(lambda state=state: state["granted"] is not None)
        device.publish("/json/pegel/lauter-2/attrs", b'{"h": 2}', qos=1).wait_for_publish(5)
        wait_for(lambda: received["messages"])
        # Mosquitto routes a message to every subscriber while it handles the PUBLISH, so anything meant for
        # the spy was queued on its connection before the acknowledgement of the spy's own publish below.
        spy.publish("/json/spy/probe/attrs", b"{}", qos=1).wait_for_publish(5)
        assert spied["messages"] == []
    finally:
        for client in (spy, agents, device):
            client.disconnect()
            client.loop_stop()
