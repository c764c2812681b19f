"""Real Verbund processes for the agents' tests: ``verbund serve`` (broker + agents) or ``verbund agents``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import free_port


class PlatformProcess:
    """``verbund <command>`` on free ports; ``agents`` alone feeds the broker at ``broker_url``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        command: str = "serve",
        broker_port: int | None = None,
        broker_url: str | None = None,
        mqtt_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.command = command
        self.broker_port = broker_port or free_port()
        self.north_port, self.south_port = free_port(), free_port()
        self.broker_url = broker_url or f"http://127.0.0.1:{self.broker_port}"
        self.north = f"http://127.0.0.1:{self.north_port}"
        self.south = f"http://127.0.0.1:{self.south_port}"
        self.mqtt_url = mqtt_url
        defaults = {"VERBUND_AUTH": "off", "VERBUND_LOG_LEVEL": "info", "VERBUND_LOG_FORMAT": "json"}
        self.env = {**os.environ, **defaults, **(env or {})}  # authentication off unless a test turns it on
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"{command}-{self.north_port}.log"

    def start(self, timeout: float = 30.0) -> PlatformProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "verbund", self.command, "--port", str(self.broker_port)]
        args += ["--data-dir", str(self.data_dir), "--north-port", str(self.north_port)]
        args += ["--south-port", str(self.south_port)]
        if self.command == "agents":
            args += ["--broker-url", self.broker_url]
        if self.mqtt_url:
            args += ["--mqtt-url", self.mqtt_url]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"verbund {self.command} exited: {self.log_path.read_text()}")
            try:
                ok = httpx.get(self.north + "/iot/about", timeout=0.5).status_code == 200
                ok = ok and httpx.get(self.south + "/iot/json", timeout=0.5).status_code == 400
                if ok and self.command == "serve":
                    ok = httpx.get(self.broker_url + "/health", timeout=0.5).status_code == 200
                if ok:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"verbund {self.command} did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text()
