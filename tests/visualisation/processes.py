"""``verbund`` subprocesses on free ports for the dashboard's own-process tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def verbund(
    args: list[str], ready_url: str, data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[Path]:
    """Run ``python -m verbund ARGS`` until the block ends; yields its log file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"verbund-{args[0]}.log"
    environ = {**os.environ, "VERBUND_LOG_LEVEL": "info", "VERBUND_LOG_FORMAT": "json", **(env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "verbund", *args],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"verbund {args[0]} exited: {log.read_text()}")
            try:
                if httpx.get(ready_url, timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"verbund {args[0]} did not start: {log.read_text()}")
            time.sleep(0.05)
        yield log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
