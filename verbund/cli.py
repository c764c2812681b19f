"""The `verbund` command: thin glue from flags to settings to the services."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verbund import __version__, municipality_cli
from verbund.settings import Settings, load_settings

DESCRIPTION = """\
Verbund: a shared NGSI-LD data platform for municipalities.

Every option can also be set with an environment variable VERBUND_<NAME> (e.g. VERBUND_DATA_DIR,
VERBUND_STORE_URL, VERBUND_BROKER_PORT, VERBUND_LOG_LEVEL, VERBUND_MAX_BODY_BYTES); flags win.
"""


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; VERBUND_HOST)")
    parser.add_argument(
        "--port", type=int, dest="broker_port", help="broker port (default 1026; VERBUND_BROKER_PORT)"
    )
    parser.add_argument("--data-dir", help="directory of the embedded SQLite store (default ./data)")
    parser.add_argument(
        "--store",
        dest="store_url",
        help="store URL: sqlite:///PATH (default: <data-dir>/verbund.db) or mongodb://HOSTS/PREFIX",
    )
    parser.add_argument(
        "--public-url", help="URL clients use to reach the broker (for Location/@context links)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"])
    parser.add_argument("--log-format", choices=["json", "text"], help="structured JSON (default) or text")
    parser.add_argument("--max-body-bytes", type=int, help="largest request body (default 1 MiB)")
    parser.add_argument("--max-batch-body-bytes", type=int, help="largest batch body (default 32 MiB)")


def _add_agent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--north-port", type=int, dest="iota_north_port", help="IoT agent provisioning port (default 4041)"
    )
    parser.add_argument(
        "--south-port", type=int, dest="iota_south_port", help="IoT agent southbound HTTP port (default 7896)"
    )
    parser.add_argument(
        "--mqtt-url", dest="agents_mqtt_url", help="MQTT broker of the devices (mqtt://host:port)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verbund", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the platform on the embedded store (the broker on port 1026)",
        description="Run the Verbund platform: the NGSI-LD broker on port 1026 with its "
        "data in a SQLite file under ./data, and the IoT agents (provisioning on 4041, southbound HTTP "
        "on 7896, MQTT when --mqtt-url is given) feeding it.",
    )
    _add_server_options(serve)
    _add_agent_options(serve)
    broker = sub.add_parser(
        "broker",
        help="run only the NGSI-LD context broker",
        description="Run only the NGSI-LD context broker.",
    )
    _add_server_options(broker)
    agents = sub.add_parser(
        "agents",
        help="run only the IoT agents (FIWARE-compatible provisioning, JSON/UL/LoRaWAN southbound)",
        description="Run only the IoT agents; they feed the NGSI-LD broker at --broker-url (any NGSI-LD "
        "broker, e.g. Orion-LD) through its public API.",
    )
    _add_server_options(agents)
    _add_agent_options(agents)
    agents.add_argument("--broker-url", dest="agents_broker_url", help="NGSI-LD broker to feed")
    _add_sdm_commands(sub)
    _add_store_commands(sub)
    municipality_cli.add_commands(sub)
    _add_catalog_command(sub)
    _add_dashboard_command(sub, serve)
    sub.add_parser("version", help="print the version")
    return parser


def _add_sdm_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sdm = sub.add_parser(
        "sdm",
        help="Smart Data Models: import, list and validate models; set a tenant's policy",
        description="Smart Data Models schemas (offline) and each tenant's validation policy "
        "(see docs/data-models.md).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory holding imported models (default ./data)")
    common.add_argument("--store", dest="store_url", help="store URL (policy): sqlite:///PATH")
    commands = sdm.add_subparsers(dest="sdm_command", metavar="SDM_COMMAND", required=True)
    imp = commands.add_parser(
        "import", parents=[common], help="import official schema.json files (directory, .zip, .tar.gz)"
    )
    imp.add_argument("path", type=Path)
    commands.add_parser("list", parents=[common], help="list the models entities are checked against")
    val = commands.add_parser(
        "validate", parents=[common], help="check NGSI-LD entities in a JSON file against their models"
    )
    val.add_argument("file", type=Path, help="an entity or an array of entities (normalized or concise)")
    val.add_argument("--key-values", action="store_true", help="the file holds keyValues entities")
    pol = commands.add_parser(
        "policy", parents=[common], help="show or set a tenant's policy: off, warn or enforce"
    )
    pol.add_argument("tenant")
    pol.add_argument(
        "mode", nargs="?", choices=["off", "warn", "enforce", "default"], help="omit to show; default: remove"
    )
    pol.add_argument(
        "--require-known-types", action="store_true", help="enforce: reject entity types without a model"
    )


def _add_store_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    store = sub.add_parser(
        "store",
        help="store maintenance: copy a whole installation between stores (e.g. SQLite to MongoDB)",
        description="Store maintenance (see docs/mongodb.md).",
    )
    commands = store.add_subparsers(dest="store_command", metavar="STORE_COMMAND", required=True)
    copy = commands.add_parser(
        "copy",
        help="copy every tenant's entities, history, settings, and all subscriptions and @contexts",
        description="Copy a whole installation from SOURCE to TARGET (store URLs: sqlite:///PATH, "
        "mongodb://HOSTS/PREFIX), resumable after an interruption, verified by counts and checksums "
        "per tenant at the end. Stop the broker writing to SOURCE first.",
    )
    copy.add_argument("source", help="store URL to copy from")
    copy.add_argument("target", help="store URL to copy to")
    copy.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("verbund-store-copy.json"),
        help="progress file for resuming (default ./verbund-store-copy.json; removed when done)",
    )
    copy.add_argument("--restart", action="store_true", help="ignore an existing checkpoint, start over")
    copy.add_argument("--page", type=int, default=500, help="entities per write (default 500)")


def run_store(args: argparse.Namespace) -> int:
    from verbund.store_copy import CopyMismatch, copy_store

    try:
        copy_store(
            args.source,
            args.target,
            checkpoint=args.checkpoint,
            restart=args.restart,
            page=args.page,
            progress=sys.stderr,
        )
    except (ValueError, CopyMismatch) as exc:
        print(f"verbund store copy: {exc}", file=sys.stderr)
        return 1
    return 0


def _add_catalog_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    catalog = sub.add_parser(
        "catalog",
        help="run only the open-data catalog (DCAT-AP.de, portal, downloads) against a broker",
        description="Run the open-data catalog on its own port: it reads the municipality registry and "
        "the NGSI-LD API of --broker-url, is fed by subscriptions, and publishes DCAT-AP.de metadata, "
        "an HTML portal and downloads (see docs/catalog.md).",
    )
    catalog.add_argument("--host", help="address to listen on (default 127.0.0.1; VERBUND_HOST)")
    catalog.add_argument("--port", type=int, dest="catalog_port", help="catalog port (default 1030)")
    catalog.add_argument("--broker-url", dest="catalog_broker_url", help="the NGSI-LD broker to publish")
    catalog.add_argument("--data-dir", help="directory of the catalog's state (default ./data)")
    catalog.add_argument(
        "--public-url", dest="catalog_public_url", help="URL harvesters use to reach the catalog"
    )
    catalog.add_argument("--notify-url", dest="catalog_notify_url", help="URL the broker sends the feed to")
    catalog.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"])
    catalog.add_argument("--log-format", choices=["json", "text"], help="structured JSON (default) or text")


def run_catalog(settings: Settings) -> None:
    import uvicorn

    from catalog.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.catalog_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _add_dashboard_command(sub: argparse._SubParsersAction, serve: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    dashboard = sub.add_parser(
        "dashboard",
        help="run only the dashboard (maps, water levels, traffic, alerts) against a broker",
        description="Run only the dashboard on its own port, reading the NGSI-LD broker at --broker-url "
        "over HTTP and fed by its subscriptions (verbund serve mounts it under /dashboard instead).",
    )
    dashboard.add_argument("--host", help="address to listen on (default 127.0.0.1; VERBUND_HOST)")
    dashboard.add_argument("--port", type=int, dest="dashboard_port", help="port (default 8090)")
    dashboard.add_argument("--broker-url", dest="dashboard_broker_url", help="the NGSI-LD broker to show")
    dashboard.add_argument(
        "--tile-url", dest="dashboard_tile_url", help="map tiles ({z}/{x}/{y}; default none)"
    )
    dashboard.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"])
    dashboard.add_argument("--log-format", choices=["json", "text"])
    serve.add_argument(
        "--demo", action="store_true", help="seed the cluster's municipalities and run simulated devices"
    )
    serve.add_argument(
        "--demo-speed", type=float, default=None, help="replay speed of the demo (default 360)"
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    keys = (
        "host",
        "broker_port",
        "data_dir",
        "store_url",
        "public_url",
        "log_level",
        "log_format",
        "max_body_bytes",
        "max_batch_body_bytes",
        "iota_north_port",
        "iota_south_port",
        "agents_mqtt_url",
        "agents_broker_url",
        "catalog_port",
        "catalog_broker_url",
        "catalog_public_url",
        "catalog_notify_url",
        "dashboard_port",
        "dashboard_broker_url",
        "dashboard_tile_url",
    )
    return load_settings(**{k: getattr(args, k, None) for k in keys})


def run_broker(settings: Settings) -> None:
    import uvicorn

    from broker_adapter.api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.broker_port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
        timeout_graceful_shutdown=10,
    )


def run_platform(settings: Settings, *, with_broker: bool = True, demo: float | None = None) -> None:
    """The broker (with the dashboard under /dashboard) and the agents in one asyncio loop (``serve``),
    or the agents alone (``agents``); ``demo``: the speed of the simulated devices (None: no demo)."""
    import asyncio
    from contextlib import AsyncExitStack

    from agents.app import run_agents
    from verbund.logs import configure_logging

    configure_logging(settings)
    broker_app = None
    mounted: list[Any] = []
    on_seeded = None  # the demo tells the dashboard when its municipalities are registered
    demo_token: str | None = None  # the demo's in-process credential when auth is on
    if with_broker:
        from broker_adapter.access.setup import serve_credentials
        from broker_adapter.api.app import create_app
        from catalog.app import create_app as create_catalog
        from catalog.config import MOUNT_PATH, SERVICE, catalog_config
        from verbund.mounts import PathDispatch
        from visualisation import app as dashboard

        if demo is not None:
            from visualisation.demo.runner import demo_settings

            settings = demo_settings(settings)
        # The agents and the mounted services reach this broker with credentials that exist only in this
        # process (when auth is on and none is configured).
        service_tokens, settings = serve_credentials(settings)
        if demo is not None and settings.auth == "on":  # the demo registers towns and provisions devices
            from broker_adapter.access.roles import PLATFORM_ADMIN
            from broker_adapter.access.setup import service_token

            demo_token, demo_principal = service_token("demo", PLATFORM_ADMIN)
            service_tokens[demo_token] = demo_principal
        # The catalog under /catalog on the broker's port, fed by the registry's subscriptions (VERBUND_FEEDS;
        # the feed secret is generated once when none is set).
        catalog = catalog_config(settings, mounted=True)
        feeds = [f for f in settings.feeds.split(",") if f.strip()]
        if not any(f.strip().startswith(SERVICE + "=") for f in feeds):
            feeds.append(f"{SERVICE}={catalog.notify_url}")
        settings = settings.with_overrides(feeds=",".join(feeds), feed_secret=catalog.feed_secret)
        catalog_app = create_catalog(settings, mounted=True)
        # The dashboard under /dashboard, fed the same way (one of VERBUND_FEEDS too).
        settings = dashboard.mounted_settings(settings)
        dashboard_app = dashboard.create_app(settings, mounted=True)
        on_seeded = dashboard_app.state.dashboard.reconcile_soon
        mounted += [catalog_app, dashboard_app]
        apps = {MOUNT_PATH: catalog_app, dashboard.PREFIX: dashboard_app}
        broker_app = PathDispatch(create_app(settings, service_tokens=service_tokens), apps)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # uvloop comes with uvicorn[standard]; plain asyncio works too
        loop_factory = None

    async def serve() -> None:
        async with AsyncExitStack() as stack:  # the mounted services' start-up and shutdown
            for app in mounted:
                await stack.enter_async_context(app.router.lifespan_context(app))
            platform = run_agents(settings, broker_app=broker_app)
            if demo is None:
                await platform
            else:
                from visualisation.demo.runner import with_demo

                await with_demo(settings, demo, platform, on_seeded, token=demo_token)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())


def _refuse_unsafe(parser: argparse.ArgumentParser, settings: Settings) -> None:
    from broker_adapter.access.setup import auth_refusal

    refusal = auth_refusal(settings, "platform")
    if refusal is not None:
        parser.error(refusal)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        print(f"verbund {__version__}")
        return 0
    if args.command == "sdm":
        from smart_data_models.cli import run as run_sdm

        try:
            settings = load_settings(data_dir=args.data_dir, store_url=args.store_url)
        except ValueError as exc:
            parser.error(str(exc))
        return run_sdm(args, settings)
    if args.command == "municipality":
        try:
            settings = load_settings(data_dir=args.data_dir)
        except ValueError as exc:
            parser.error(str(exc))
        return municipality_cli.run(args, settings)
    if args.command in ("serve", "broker"):
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        _refuse_unsafe(parser, settings)
        if args.command == "broker":
            run_broker(settings)
        else:
            demo = (args.demo_speed or 360.0) if args.demo else None
            run_platform(settings, demo=demo)
        return 0
    if args.command == "dashboard":
        from visualisation.app import run_dashboard

        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        run_dashboard(settings)
        return 0
    if args.command == "store":
        return run_store(args)
    if args.command == "catalog":
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        run_catalog(settings)
        return 0
    if args.command == "agents":
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        _refuse_unsafe(parser, settings)
        run_platform(settings, with_broker=False)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
