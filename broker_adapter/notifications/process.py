"""The notifier in a process of its own: matching, rendering and sending off the API's interpreter.

Matching and sending are CPU work that would otherwise share the API process's GIL with request
handling; in their own process they use the second core, and the API pays only the change-log insert
inside each write. The two share nothing but the store (the outbox design already lets several
replicas share one, with leases) and a pipe: the API writes a byte after each logged change, so the
notifier wakes at once instead of on its next poll. The child dies with its parent (PR_SET_PDEATHSIG,
and a parent check), and the parent restarts a child that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import anyio.to_thread

from verbund.settings import Settings

log = logging.getLogger("verbund.notifications")
_PR_SET_PDEATHSIG = 1
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
WORKER_THREADS = 4  # the notifier's store threads (and so SQLite connections)


class NotifierProcess:
    """Parent side: start the child, wake it on changes, watch and restart it, stop it.

    A plain subprocess (`python -m broker_adapter.notifications.child`), not multiprocessing: the
    spawn start method also starts a resource-tracker process (some 15 MB) that nothing here needs.
    The settings go to the child pickled on its stdin; the read end of the wake pipe is inherited."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._wake_fd = -1
        self._watch: asyncio.Task[None] | None = None

    def start(self) -> None:
        reader, writer = os.pipe()
        env = dict(os.environ)  # the child imports this package from where the parent did
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "broker_adapter.notifications.child", str(os.getpid()), str(reader)],
                stdin=subprocess.PIPE,
                pass_fds=(reader,),
                env=env,
            )
        finally:
            os.close(reader)
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError), self._process.stdin as stdin:
            stdin.write(pickle.dumps(self.settings))  # a child that died at once is restarted by the watch
        if self._wake_fd >= 0:
            os.close(self._wake_fd)
        self._wake_fd = writer
        os.set_blocking(self._wake_fd, False)
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_child())

    def wake(self) -> None:
        """Called inside an entity write (writer thread): one byte; a full pipe already means 'wake'."""
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(self._wake_fd, b"\0")

    async def _watch_child(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._process is not None and self._process.poll() is not None:
                log.error("the notifier process exited (code %s); restarting it", self._process.returncode)
                self.start()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: the child records its deliveries and stops
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 5)
        if self._wake_fd >= 0:
            os.close(self._wake_fd)
            self._wake_fd = -1


def run_child(settings: Settings, wake: int, parent: int) -> None:
    """Child entry point: the Dispatcher on its own store connection until SIGTERM or the parent's end."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        return
    from verbund.logs import configure_logging

    configure_logging(settings)
    try:
        import uvloop  # the API runs on it too (uvicorn[standard]); plain asyncio works as well

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(settings, wake, parent))


async def _serve(settings: Settings, fd: int, parent: int) -> None:
    from broker_adapter.contexts.resolver import configured_resolver
    from broker_adapter.notifications import endpoint_policy, open_notify_store
    from broker_adapter.notifications.dispatcher import Dispatcher
    from broker_adapter.storage.open import open_configured_store

    # Store work runs in worker threads, each with its own SQLite connection and page cache: a few are
    # enough for matching, claiming and recording, and keep the process small.
    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    store = open_configured_store(settings)
    resolver = configured_resolver(store, settings)
    policy = endpoint_policy(settings)
    dispatcher = Dispatcher(settings, open_notify_store(store), resolver, policy, log_changes=False)
    await dispatcher.start()
    os.set_blocking(fd, False)

    def woken() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if not data:  # the parent closed its end: it is gone or restarting us
            loop.remove_reader(fd)
            stopping.set()
            return
        dispatcher.wake()

    loop.add_reader(fd, woken)
    try:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.0)
            if os.getppid() != parent:
                break
    finally:
        await dispatcher.stop()
        store.close()
