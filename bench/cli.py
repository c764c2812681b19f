"""``python -m bench [all|broker|baselines] [--quick] [--entities N] [--json out.json] ...``

Exit status: 0 when every request succeeded (whether or not targets were met: targets are informational),
1 when the run had errors (failed requests, a server that did not start) so its figures are not to be
trusted, 2 for usage errors (including ``broker`` when the broker app does not exist yet).
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.context_server import serve_context
from bench.payloads import make_batches
from bench.report import build_rows, print_results, to_json
from bench.runner import (
    BROKER_APP,
    FASTAPI,
    RAW,
    Settings,
    Target,
    TargetRun,
    app_exists,
    broker_target,
    measure,
    progress,
)
from bench.servers import UVICORN_SETTINGS
from bench.wrk import WrkSettings, ensure_wrk

QUICK_ENTITIES = 10_000
FULL_ENTITIES = 100_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Verbund benchmarks (see bench/README.md)"
    )
    parser.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=("all", "broker", "baselines"),
        help="all: baselines + broker if its app exists (default); broker: require the broker; "
        "baselines: the no-op apps only",
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ENTITIES:,} entities, short wrk runs")
    parser.add_argument("--entities", type=int, help=f"entities to upsert (default {FULL_ENTITIES:,})")
    parser.add_argument("--batch-size", type=int, default=1000, help="entities per upsert request")
    parser.add_argument("--clients", type=int, default=2, help="concurrent upsert connections")
    parser.add_argument(
        "--max-upsert-seconds", type=float, default=600.0, help="time bound of one upsert run"
    )
    parser.add_argument("--duration", type=float, help="seconds of each measured wrk run (10, quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of the discarded wrk warm-up (2, quick 1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--broker-app", default=BROKER_APP, help="broker app factory, module:function")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server logs, data)")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("entities", "batch_size", "clients", "connections", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    entities = args.entities or (QUICK_ENTITIES if args.quick else FULL_ENTITIES)
    duration = args.duration or (3.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    wrk = WrkSettings(
        threads=args.threads, connections=args.connections, seconds=duration, warmup_seconds=warmup
    )
    return Settings(
        entities=entities,
        batch_size=args.batch_size,
        clients=args.clients,
        max_upsert_seconds=args.max_upsert_seconds,
        wrk=wrk,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["query"]:
        from bench.query import main as query_main  # its own options; see bench/query.py

        return query_main(argv[1:])
    if argv[:1] == ["notify"]:
        from bench.notify import main as notify_main  # its own options; see bench/notify.py

        return notify_main(argv[1:])
    if argv[:1] == ["sdm"]:
        from bench.sdm import main as sdm_main  # its own options; see bench/sdm.py

        return sdm_main(argv[1:])
    if argv[:1] == ["agents"]:
        from bench.agents import main as agents_main  # its own options; see bench/agents.py

        return agents_main(argv[1:])
    if argv[:1] == ["mongo"]:
        from bench.mongo import main as mongo_main  # its own options; see bench/mongo.py

        return mongo_main(argv[1:])
    if argv[:1] == ["temporal"]:
        from bench.temporal import main as temporal_main  # its own options; see bench/temporal.py

        return temporal_main(argv[1:])
    args = parse_args(argv)
    settings = settings_from(args)
    targets: list[Target] = [RAW, FASTAPI]
    notes: list[str] = []
    if args.suite != "baselines":
        if app_exists(args.broker_app):
            targets.append(broker_target(args.broker_app))
        elif args.suite == "broker":
            print(f"bench: the broker app {args.broker_app} is not importable", file=sys.stderr)
            return 2
        else:
            notes.append(f"broker app {args.broker_app} not importable: BASELINES ONLY")

    wrk, why_no_wrk = ensure_wrk()
    if why_no_wrk:
        notes.append(why_no_wrk)
    progress(f"serialising {settings.entities:,} entities in batches of {settings.batch_size:,}")
    batches = make_batches(settings.entities, settings.batch_size)

    workdir = Path(tempfile.mkdtemp(prefix="verbund-bench-"))
    runs: dict[str, TargetRun] = {}
    try:
        with serve_context() as context:
            for target in targets:
                runs[target.name] = measure(target, settings, batches, context, wrk, workdir)
            if "broker" in runs:
                notes.append(f"broker fetched the @context {len(context.fetches)} time(s)")
    finally:
        if args.keep:
            notes.append(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    for run in runs.values():
        notes += [f"{run.target.label}: {note}" for note in run.notes]
    errors = [error for run in runs.values() for error in run.errors]
    rows = build_rows(runs, settings)
    print_results(rows, notes, errors)
    if args.json:
        document = to_json(runs, rows, _meta(settings, notes), errors)
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        print(f"results written to {args.json}")
    return 1 if errors else 0


def _meta(settings: Settings, notes: list[str]) -> dict[str, Any]:
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "uvicorn_settings": list(UVICORN_SETTINGS),
        "entities": settings.entities,
        "batch_size": settings.batch_size,
        "upsert_clients": settings.clients,
        "wrk": vars(settings.wrk),
        "notes": notes,
    }
