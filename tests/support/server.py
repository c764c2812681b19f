"""A real broker process on loopback for API tests: `verbund broker` on a free port and a temp SQLite file.

With VERBUND_TEST_STORE_URL set (e.g. the mongo CI workflow's mongodb://127.0.0.1:27017/?replicaSet=rs0)
every broker the tests start uses that store instead, with databases of its own per data directory (so a
restarted broker finds its data again), unless the test sets VERBUND_STORE_URL itself."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _test_store(data_dir: Path) -> dict[str, str]:
    url = os.environ.get("VERBUND_TEST_STORE_URL", "")
    if not url:
        return {}
    prefix = "vt" + hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return {"VERBUND_STORE_URL": url, "VERBUND_MONGO_DATABASE": prefix}


def open_broker_store(data_dir: Path) -> Any:
    """The store a BrokerProcess on `data_dir` writes to, opened in this process to inspect it: its
    SQLite file, or the databases VERBUND_TEST_STORE_URL gave it. A mongomock:// store lives inside the
    broker process and cannot be opened from outside (the test is skipped, saying so)."""
    from broker_adapter.storage.open import open_store

    env = _test_store(data_dir)
    url = env.get("VERBUND_STORE_URL", "")
    if not url:
        return open_store(f"sqlite:///{data_dir / 'verbund.db'}", data_dir)
    if url.startswith("mongomock://"):
        import pytest

        pytest.skip("the broker's mongomock store cannot be read from another process")
    from broker_adapter.storage.mongo.connection import MongoOptions

    return open_store(url, data_dir, mongo=MongoOptions(database=env["VERBUND_MONGO_DATABASE"]))


class BrokerProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        command: str = "broker",
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Tests run with authentication off unless they turn it on (VERBUND_AUTH=on in env), and may fetch
        # @contexts from their own servers on loopback.
        defaults = {"VERBUND_AUTH": "off", "VERBUND_CONTEXT_ALLOWED_HOSTS": "127.0.0.1,localhost"}
        self.env = {
            **os.environ,
            "VERBUND_LOG_LEVEL": "warning",
            **defaults,
            **_test_store(data_dir),
            **(env or {}),
        }
        self.extra_args = extra_args or []
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"broker-{self.port}.log"

    def start(self, timeout: float = 20.0) -> BrokerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "verbund",
                    self.command,
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *self.extra_args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}: {self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"broker did not become healthy within {timeout}s: {self.log_path.read_text()}")

    def kill(self) -> None:
        """kill -9: no shutdown hooks run."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
