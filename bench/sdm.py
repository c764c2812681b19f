"""``python -m bench sdm``: what Smart Data Models validation costs batch ingest.

The broker is started twice with identical settings except ``VERBUND_SDM_POLICY`` (``off``, then
``enforce``) and the same WaterObserved batches are upserted to each. Every bench entity is a valid
WaterObserved, so under ``enforce`` each one is checked and none is rejected. Figure: enforce entities/s ÷
off entities/s, both measured in this run (target ≥ 0.60). The enforce run's ``/metrics`` must count one
valid check per entity sent, otherwise validation did not run and the run is an error.
"""

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.context_server import ContextServer, serve_context
from bench.payloads import Batch, make_batches
from bench.report import Row, print_results, to_json
from bench.runner import BROKER_APP, Settings, Target, TargetRun, _upsert, app_exists, progress
from bench.servers import ServerFailed, run_server
from bench.wrk import WrkSettings

SDM_TARGET = 0.60  # × the throughput with validation off
POLICIES = ("off", "enforce")
_VALID_CHECKS = re.compile(
    r'verbund_sdm_checks_total\{model="WaterObserved",policy="enforce",outcome="valid"\} (\d+)'
)


def measure_sdm(
    settings: Settings, batches: list[Batch], context: ContextServer, workdir: Path, broker_app: str
) -> dict[str, TargetRun]:
    runs: dict[str, TargetRun] = {}
    for policy in POLICIES:
        target = Target(f"broker-sdm-{policy}", f"broker, SDM policy {policy}", broker_app, factory=True)
        run = runs[policy] = TargetRun(target)
        data_dir = workdir / target.name
        data_dir.mkdir()
        env = {"VERBUND_DATA_DIR": str(data_dir), "VERBUND_LOG_LEVEL": "warning"}
        env["VERBUND_SDM_POLICY"] = policy
        progress(f"{target.label}: starting {broker_app}")
        try:
            with run_server(target.name, broker_app, workdir=workdir, factory=True, env=env) as server:
                _upsert(run, server, settings, batches, context)
                if policy == "enforce":
                    _verify_checked(run, server.base_url, batches)
        except ServerFailed as exc:
            run.errors.append(str(exc))
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            run.errors.append(f"{target.label}: {type(exc).__name__}: {exc}")
    return runs


def _verify_checked(run: TargetRun, base_url: str, batches: list[Batch]) -> None:
    sent = batches[0].count + sum(batch.count for batch in batches)  # the warm-up batch is checked too
    match = _VALID_CHECKS.search(httpx.get(base_url + "/metrics", timeout=30).text)
    checked = int(match.group(1)) if match else 0
    if checked != sent:
        run.errors.append(f"{run.target.label}: {checked:,} valid checks counted for {sent:,} entities sent")
    else:
        run.notes.append(f"verified: {checked:,} entities checked against WaterObserved")


def sdm_rows(runs: dict[str, TargetRun], settings: Settings) -> list[Row]:
    off, enforce = runs.get("off"), runs.get("enforce")
    if not (off and off.upsert and enforce and enforce.upsert):
        return []
    off_eps, on_eps = off.upsert.entities_per_second, enforce.upsert.entities_per_second
    size = f"{enforce.upsert.entities_sent:,} entities, {settings.batch_size:,}/req"
    ratio = on_eps / off_eps if off_eps else 0.0
    verdict = "pass" if ratio >= SDM_TARGET and not enforce.upsert.entities_failed else "MISS"
    return [
        Row(f"batch upsert, SDM off, {size}", f"{off_eps:,.0f} entities/s", ratio="1.00× (reference)"),
        Row(
            f"batch upsert, SDM enforce, {size}",
            f"{on_eps:,.0f} entities/s",
            f"off {off_eps:,.0f}",
            f"{ratio:.2f}× off",
            f"≥ {SDM_TARGET:.2f}× off",
            verdict,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sdm", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 entities instead of 100,000")
    parser.add_argument("--entities", type=int, help="entities upserted to each broker (default 100,000)")
    parser.add_argument("--batch-size", type=int, default=1000, help="entities per upsert request")
    parser.add_argument("--clients", type=int, default=2, help="concurrent upsert connections")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--broker-app", default=BROKER_APP, help="broker app factory, module:function")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if not app_exists(args.broker_app):
        print(f"bench: the broker app {args.broker_app} is not importable", file=sys.stderr)
        return 2
    entities = args.entities or (10_000 if args.quick else 100_000)
    settings = Settings(entities, args.batch_size, args.clients, 600.0, WrkSettings(1, 1, 1.0, 0.0))
    progress(f"serialising {entities:,} entities in batches of {args.batch_size:,}")
    batches = make_batches(entities, args.batch_size)
    workdir = Path(tempfile.mkdtemp(prefix="verbund-bench-sdm-"))
    try:
        with serve_context() as context:
            runs = measure_sdm(settings, batches, context, workdir, args.broker_app)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    notes = [f"{run.target.label}: {note}" for run in runs.values() for note in run.notes]
    errors = [error for run in runs.values() for error in run.errors]
    rows = sdm_rows(runs, settings)
    print_results(rows, notes, errors)
    if args.json:
        meta = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "entities": entities,
            "notes": notes,
        }
        args.json.write_bytes(orjson.dumps(to_json(runs, rows, meta, errors), option=orjson.OPT_INDENT_2))
    return 1 if errors else 0
