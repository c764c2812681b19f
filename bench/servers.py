"""Uvicorn subprocesses on loopback, all started with the same settings, and their resident memory."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
# Identical for the baselines and the broker: ratios compare apps, not server settings.
UVICORN_SETTINGS = (
    "--workers", "1", "--loop", "uvloop", "--http", "httptools",
    "--no-access-log", "--log-level", "warning",
)  # fmt: skip
STARTUP_SECONDS = 60.0


class ServerFailed(RuntimeError):
    """A server did not come up healthy; the message carries the tail of its log."""


@dataclass(frozen=True)
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (resident now) and VmHWM (peak resident) from /proc/<pid>/status, in KiB, summed over the
        server and the processes it started (the broker's notifier): what the installation costs."""
        fields = {"VmRSS": 0, "VmHWM": 0}
        for pid in _process_tree(self.process.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:  # ended meanwhile
                continue
            for line in status.splitlines():
                key, _, value = line.partition(":")
                if key in fields:
                    fields[key] += int(value.split()[0])
        return fields

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _process_tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        try:
            children = Path(f"/proc/{pids[index]}/task/{pids[index]}/children").read_text().split()
        except OSError:
            children = []
        pids.extend(int(child) for child in children)
        index += 1
    return pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def uvicorn_command(app: str, port: int, *, factory: bool) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), *UVICORN_SETTINGS]
    return [*command, "--factory"] if factory else command


@contextmanager
def run_server(
    name: str, app: str, *, workdir: Path, factory: bool = False, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start ``app`` under uvicorn, wait for GET /health → 200, and stop it on exit."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    # Benches turn auth on themselves; their @context servers and receivers are on loopback.
    defaults = {"VERBUND_AUTH": "off", "VERBUND_CONTEXT_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    child_env = {**defaults, **os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            uvicorn_command(app, port, factory=factory),
            cwd=REPO_ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, port, log_path)
    try:
        _wait_healthy(server)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ServerFailed(
        f"{server.name}: no 200 from /health within {STARTUP_SECONDS:.0f}s:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
