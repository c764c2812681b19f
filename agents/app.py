"""The agents as one service: the provisioning API (north port), the southbound HTTP server (south port),
the MQTT southbound, the durable outbox and the NGSI-LD client, started and stopped together.

``run_agents`` serves them in the running asyncio loop, so ``verbund serve`` can run them beside the broker
in one process and ``verbund agents`` on their own (pointed at any NGSI-LD broker, e.g. Orion-LD).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from agents.access import AgentAccess
from agents.expressions.evaluator import Limits
from agents.lorawan import webhooks
from agents.metrics import Metrics
from agents.north.client import NorthboundClient
from agents.north.outbox import Outbox
from agents.provisioning import api as provisioning_api
from agents.provisioning.store import ProvisioningStore
from agents.south import http as south_http
from agents.south.ingest import Ingest
from agents.south.mqtt import MqttSouthbound
from broker_adapter.access.setup import check_auth_setting
from verbund.settings import Settings

log = logging.getLogger("verbund.agents")


class Agent:
    """Everything the handlers need, built once; handlers reach it as ``request.app.state.agent``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data = Path(settings.data_dir)
        check_auth_setting(settings, "IoT agents")
        self.access = AgentAccess(settings)
        self.metrics = Metrics()
        self.store = ProvisioningStore(data / "agents.db", synchronous=settings.sqlite_synchronous)
        self.outbox = Outbox(
            data / "agents-outbox.db",
            limit=settings.agents_outbox_max,
            synchronous=settings.sqlite_synchronous,
            on_full=self._outbox_full,
        )
        self.metrics.gauge("outbox_pending", lambda: self.outbox.pending)
        self.metrics.gauge("outbox_limit", lambda: self.outbox.limit)
        self.context_url = settings.agents_link_context_url
        self.limits = Limits(max_length=settings.agents_expression_max_length)
        self.ingest = Ingest(self)
        self.client = NorthboundClient(
            self.outbox,
            self.metrics,
            settings.agents_northbound_url,
            batch_max=settings.agents_batch_max,
            timeout=settings.agents_timeout,
            retry_max=settings.agents_retry_max,
            token=settings.agents_broker_token,
        )
        self.mqtt: MqttSouthbound | None = None
        self._full_logged = False

    def _outbox_full(self) -> None:
        self.metrics.inc("outbox_full_total")
        if not self._full_logged or self.outbox.pending < self.outbox.limit // 2:
            log.error("the outbox is full: new measures are refused until the broker takes the kept ones",
                      extra={"limit": self.outbox.limit})  # fmt: skip
        self._full_logged = True

    async def start(self) -> None:
        self.outbox.start()
        self.client.start()
        if self.settings.agents_mqtt_url:
            digest = hashlib.sha1(str(Path(self.settings.data_dir).resolve()).encode()).hexdigest()[:12]
            self.mqtt = MqttSouthbound(self, self.settings.agents_mqtt_url, f"verbund-agents-{digest}")
            self.mqtt.start()
        log.info("IoT agents ready", extra={"broker": self.settings.agents_northbound_url,
                                            "pending": self.outbox.pending})  # fmt: skip

    async def stop(self) -> None:
        if self.mqtt is not None:
            await self.mqtt.stop()
        await self.client.stop()
        await self.outbox.stop()
        await self.access.close()
        self.store.close()


def north_app(agent: Agent) -> Starlette:
    app = Starlette(routes=provisioning_api.ROUTES)
    app.state.agent = agent
    return app


def south_app(agent: Agent) -> Starlette:
    app = Starlette(routes=[*south_http.ROUTES, *webhooks.ROUTES])
    app.state.agent = agent
    return app


class _Server(uvicorn.Server):
    """Signals are handled once for all servers of the process (see ``serve_all``)."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    def capture_signals(self):
        import contextlib

        return contextlib.nullcontext()


def server(app: object, host: str, port: int, *, lifespan: str = "off") -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan=lifespan,  # type: ignore[arg-type]
        timeout_graceful_shutdown=10,
    )  # fmt: skip
    return _Server(config)


async def _optional(server: uvicorn.Server, name: str) -> None:
    """An agent port that cannot be bound must not take the broker down with it (uvicorn exits on it)."""
    try:
        await server.serve()
    except SystemExit:
        log.error(f"the {name} could not start (port {server.config.port} in use?)")


async def serve_all(servers: list[uvicorn.Server], optional: dict[uvicorn.Server, str] | None = None) -> None:
    """Run uvicorn servers in this loop until SIGINT/SIGTERM, then stop all of them."""
    loop = asyncio.get_running_loop()
    optional = optional or {}

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(_optional(s, optional[s]) if s in optional else s.serve() for s in servers))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def agent_servers(agent: Agent) -> list[uvicorn.Server]:
    s = agent.settings
    return [
        server(north_app(agent), s.host, s.iota_north_port),
        server(south_app(agent), s.host, s.iota_south_port),
    ]


async def run_agents(settings: Settings, *, broker_app: object | None = None) -> None:
    """Serve the agents (and, for ``verbund serve``, the broker app too) until a signal stops them."""
    agent = Agent(settings)
    await agent.start()
    servers = agent_servers(agent)
    optional: dict[uvicorn.Server, str] = {}
    if broker_app is not None:
        optional = dict(
            zip(servers, ("IoT agent provisioning API", "IoT agent southbound HTTP"), strict=True)
        )
        servers.insert(0, server(broker_app, settings.host, settings.broker_port, lifespan="on"))
    try:
        await serve_all(servers, optional)
    finally:
        await agent.stop()
