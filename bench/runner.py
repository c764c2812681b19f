"""Run the scenarios against each target in a fixed order, on one freshly started server per target.

Per target: start → batch upsert (one warm-up batch, then all batches) → RSS → (broker: verify the data is
there) → wrk GET by id (warm-up, then measured) → RSS. Baselines go through the same steps, so the broker's
figures can be divided by theirs.
"""

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.context_server import ContextServer
from bench.payloads import Batch, entity_id
from bench.servers import Server, ServerFailed, run_server
from bench.upsert import UpsertOutcome, run_upsert
from bench.wrk import RETRIEVE_PATH, WrkResult, WrkSettings, run_wrk, write_script

BROKER_APP = "broker_adapter.api.app:create_app"


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    app: str
    factory: bool = False


RAW = Target("raw", "raw ASGI no-op", "bench.baselines:raw_app")
FASTAPI = Target("fastapi", "FastAPI no-op route", "bench.baselines:fastapi_app")


def broker_target(app: str = BROKER_APP) -> Target:
    """The broker, as an app factory ``module:function`` (another factory can be benched the same way)."""
    return Target("broker", "broker", app, factory=True)


def app_exists(app: str) -> bool:
    module = app.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


@dataclass(frozen=True)
class Settings:
    entities: int
    batch_size: int
    clients: int
    max_upsert_seconds: float
    wrk: WrkSettings


@dataclass
class TargetRun:
    target: Target
    upsert: UpsertOutcome | None = None
    get: WrkResult | None = None
    memory_kib: dict[str, dict[str, int]] = field(default_factory=dict)  # phase → VmRSS, VmHWM
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure(
    target: Target,
    settings: Settings,
    batches: list[Batch],
    context: ContextServer,
    wrk: str | None,
    workdir: Path,
) -> TargetRun:
    run = TargetRun(target)
    env = None
    if target.name == "broker":
        data_dir = workdir / "broker-data"
        data_dir.mkdir()
        env = {"VERBUND_DATA_DIR": str(data_dir), "VERBUND_LOG_LEVEL": "warning"}
    progress(f"{target.label}: starting {target.app}")
    try:
        with run_server(target.name, target.app, workdir=workdir, factory=target.factory, env=env) as server:
            run.memory_kib["started"] = server.memory_kib()
            _upsert(run, server, settings, batches, context)
            run.memory_kib["loaded"] = server.memory_kib()
            if target.name == "broker":
                _verify_stored(run, server, settings.entities, context)
            if wrk:
                _retrieve(run, server, settings, context, wrk, workdir)
                run.memory_kib["after_get"] = server.memory_kib()
            if server.process.poll() is not None:
                run.errors.append(f"{target.label} exited during the run:\n{server.log_tail()}")
    except ServerFailed as exc:
        run.errors.append(str(exc))
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        run.errors.append(f"{target.label}: {type(exc).__name__}: {exc}")
    return run


def _upsert(
    run: TargetRun, server: Server, settings: Settings, batches: list[Batch], context: ContextServer
) -> None:
    # The warm-up batch also makes the broker fetch the @context before timing; the timed run re-sends it
    # (an update), so exactly ``entities`` entities are stored.
    warmup = run_upsert(server.base_url, context.link_header, batches[:1], clients=1, max_seconds=60)
    if warmup.entities_failed:
        run.errors.append(f"{run.target.label}: warm-up upsert failed: {'; '.join(warmup.errors)}")
    progress(f"{run.target.label}: upserting {settings.entities:,} entities in {len(batches)} batches")
    outcome = run_upsert(
        server.base_url,
        context.link_header,
        batches,
        clients=settings.clients,
        max_seconds=settings.max_upsert_seconds,
    )
    run.upsert = outcome
    if outcome.entities_failed:
        run.errors.append(
            f"{run.target.label}: {outcome.entities_failed:,} of {outcome.entities_sent:,} entities failed "
            f"in upsert ({dict(outcome.statuses)}): {'; '.join(outcome.errors)}"
        )
    if outcome.stopped_by_time:
        run.errors.append(
            f"{run.target.label}: upsert stopped after {settings.max_upsert_seconds:.0f}s with "
            f"{outcome.entities_sent:,} of {settings.entities:,} entities sent"
        )


def _verify_stored(run: TargetRun, server: Server, entities: int, context: ContextServer) -> None:
    """The GET figures only mean something if the ids exist; check both ends and, if offered, the count."""
    headers = {"Accept": "application/json", "Link": context.link_header}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30.0) as client:
        for index in (0, entities - 1):
            response = client.get(RETRIEVE_PATH + entity_id(index))
            if response.status_code != 200 or "location" not in response.text:
                run.errors.append(
                    f"broker: GET {entity_id(index)} answered {response.status_code}: {response.text[:300]}"
                )
        response = client.get(
            "/ngsi-ld/v1/entities", params={"type": "WaterObserved", "count": "true", "limit": "0"}
        )
        reported = response.headers.get("NGSILD-Results-Count")
        if response.status_code != 200 or reported is None:
            run.notes.append(f"stored count not verified (count query answered {response.status_code})")
        elif int(reported) != entities:
            run.errors.append(f"broker: {reported} WaterObserved entities stored, expected {entities:,}")
        else:
            run.notes.append(f"verified: {int(reported):,} entities stored")


def _retrieve(
    run: TargetRun, server: Server, settings: Settings, context: ContextServer, wrk: str, workdir: Path
) -> None:
    script = write_script(
        workdir / f"{run.target.name}.lua",
        count=settings.entities,
        threads=settings.wrk.threads,
        link_header=context.link_header,
    )
    progress(
        f"{run.target.label}: wrk GET by id, {settings.wrk.connections} connections, "
        f"{settings.wrk.threads} thread(s), {settings.wrk.seconds:.0f}s"
    )
    run.get = run_wrk(wrk, script, server.base_url, settings.wrk)
    if run.get.error_count:
        run.errors.append(f"{run.target.label}: wrk GET errors {run.get.errors} of {run.get.requests:,}")
