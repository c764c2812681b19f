"""The `verbund` command: thin glue from flags to settings to the services."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from verbund import __version__
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
        "--store", dest="store_url", help="store URL: sqlite:///PATH (default: <data-dir>/verbund.db)"
    )
    parser.add_argument(
        "--public-url", help="URL clients use to reach the broker (for Location/@context links)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"])
    parser.add_argument("--log-format", choices=["json", "text"], help="structured JSON (default) or text")
    parser.add_argument("--max-body-bytes", type=int, help="largest request body (default 1 MiB)")
    parser.add_argument("--max-batch-body-bytes", type=int, help="largest batch body (default 32 MiB)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verbund", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the platform on the embedded store (the broker on port 1026)",
        description="Run the Verbund platform: the NGSI-LD broker on port 1026 with its "
        "data in a SQLite file under ./data.",
    )
    _add_server_options(serve)
    broker = sub.add_parser(
        "broker",
        help="run only the NGSI-LD context broker",
        description="Run only the NGSI-LD context broker.",
    )
    _add_server_options(broker)
    sub.add_parser("version", help="print the version")
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        print(f"verbund {__version__}")
        return 0
    if args.command in ("serve", "broker"):
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        run_broker(settings)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
