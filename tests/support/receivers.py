"""Real notification receivers on loopback: an HTTP server and a Mosquitto broker with a subscriber."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from tests.support.server import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.time() on receipt


class HttpReceiver:
    """Records every POST; answers `status` (settable). `stop()` / `start()` on the same port simulate
    a receiver that is down and comes back."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        self.status = 200
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._placeholder: socket.socket | None = None

    def start(self) -> HttpReceiver:
        receiver = self
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver.status
                if status < 300:
                    with receiver._lock:
                        receiver.received.append(
                            Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                     orjson.loads(body), time.time())
                        )  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self, *, hold_port: bool = True) -> None:
        """Down like a crashed receiver: the listener and every kept-alive connection close (else a
        sender's pooled connection would still be served), and the port stays reserved meanwhile so
        that no other test server can take it."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            with self._lock:
                connections, self._connections = self._connections, set()
            for conn in connections:
                with contextlib.suppress(OSError):  # already closed by the peer
                    conn.shutdown(socket.SHUT_RDWR)
            if hold_port:
                placeholder = socket.socket()
                placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                placeholder.bind(("127.0.0.1", self.port))  # bound, not listening: connections are refused
                self._placeholder = placeholder

    def close(self) -> None:
        """Stop for good (fixture teardown): nothing stays bound."""
        self.stop(hold_port=False)
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    def bodies(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received if path is None or r.path == path]

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until condition() is truthy; return its value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


class Mosquitto:
    """A real Mosquitto on 127.0.0.1 with a generated config (anonymous, or with one user)."""

    def __init__(self, workdir: Path, *, user: tuple[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.user = user
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto`, who cannot read pytest's temp dirs
        if self.user is None:
            lines.append("allow_anonymous true")
        else:
            passwords = self.workdir / "passwords"
            subprocess.run(
                ["mosquitto_passwd", "-b", "-c", str(passwords), *self.user], check=True, capture_output=True
            )
            passwords.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        config = self.workdir / f"mosquitto-{self.port}.conf"
        config.write_text("\n".join(lines) + "\n")
        with (self.workdir / f"mosquitto-{self.port}.log").open("ab") as log:  # the child keeps its own
            self.proc = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class MqttSubscriber:
    """Collects the messages of one topic (QoS 1 subscription)."""

    def __init__(self, port: int, topic: str, user: tuple[str, str] | None = None) -> None:
        self.messages: list[Any] = []
        self._ready = threading.Event()
        client_id = f"test-{topic.replace('/', '-')}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if user is not None:
            self.client.username_pw_set(*user)
        self.client.on_message = lambda c, u, msg: self.messages.append(orjson.loads(msg.payload))
        self.client.on_subscribe = lambda *args: self._ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("the MQTT subscription was not acknowledged")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
