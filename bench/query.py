"""``python -m bench query``: query latency on 10,000 and 100,000 stored WaterObserved entities.

For each size a fresh broker is started and loaded by batch upsert (the payloads of ``bench.payloads``);
then each query is sent sequentially over one keep-alive connection (warm-up, then measured requests) and
its p50/p95 latency is printed beside the FastAPI no-op route measured the same way in the same run.

Queries (targets from issue 3, for 100,000 entities):
- ``type`` + ``q`` on a numeric attribute + ``limit=20``: p95 ≤ 20 ms;
- ``geoQ`` within a polygon covering 1 % of the entities, ``limit=100``: p95 ≤ 30 ms;
- ``count=true`` (limit=0) for a type: p95 ≤ 50 ms.
Every answer is checked (status 200, the expected number of entities or count): a wrong answer is an error.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.context_server import ContextServer, serve_context
from bench.payloads import make_batches
from bench.report import Row, format_table
from bench.runner import BROKER_APP, FASTAPI, progress
from bench.servers import run_server
from bench.upsert import run_upsert

TARGETS_MS = {"type+q": 20.0, "geoQ": 30.0, "count": 50.0}


@dataclass(frozen=True)
class QueryCase:
    name: str
    params: dict[str, str]
    expect_entities: int | None = None  # exact number of entities in the answer
    expect_count: int | None = None


def cases(entities: int) -> list[QueryCase]:
    """The three queries; the polygon spans 10 % of the x steps and 10 % of the rows of the grid."""
    rows = max(1, entities // 1000)  # bench.payloads: x = 7.75 + (i % 1000) * 1e-4, y = 49.44 + row * 1e-4
    covered_rows = max(1, rows // 10)
    x0, x1 = 7.75 - 5e-5, 7.75 + 99e-4 + 5e-5
    y0, y1 = 49.44 - 5e-5, 49.44 + (covered_rows - 1) * 1e-4 + 5e-5
    polygon = f"[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]"
    inside = 100 * covered_rows
    return [
        QueryCase("type+q", {"type": "WaterObserved", "q": "height>2.9", "limit": "20"}, expect_entities=20),
        QueryCase(
            "geoQ",
            {
                "georel": "within",
                "geometry": "Polygon",
                "coordinates": polygon,
                "limit": "100",
                "count": "true",
            },
            expect_entities=min(100, inside),
            expect_count=inside,
        ),
        QueryCase(
            "count", {"type": "WaterObserved", "count": "true", "limit": "0"}, 0, expect_count=entities
        ),
    ]


def latencies(client: httpx.Client, path: str, params: dict[str, str], n: int, check=None) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        start = time.perf_counter()
        response = client.get(path, params=params)
        out.append((time.perf_counter() - start) * 1000)
        if check is not None and i == 0:
            check(response)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def measure_broker(
    entities: int,
    context: ContextServer,
    workdir: Path,
    requests: int,
    errors: list[str],
    *,
    store_env: dict[str, str] | None = None,
    loaded: list[float] | None = None,
) -> dict[str, list[float]]:
    """Load a fresh broker and time the queries; `store_env` picks another store (bench.mongo), and
    `loaded` receives the upsert rate (entities/s)."""
    progress(f"query bench: loading {entities:,} entities")
    batches = make_batches(entities, 1000)
    # synchronous=NORMAL only shortens loading; queries read and are unaffected by it
    env = {
        "VERBUND_DATA_DIR": str(workdir / f"data-{entities}"),
        "VERBUND_LOG_LEVEL": "warning",
        "VERBUND_SQLITE_SYNCHRONOUS": "NORMAL",
        **(store_env or {}),
    }
    name = f"broker-{entities}-{len(store_env or {})}"
    with run_server(name, BROKER_APP, workdir=workdir, factory=True, env=env) as server:
        outcome = run_upsert(server.base_url, context.link_header, batches, clients=2, max_seconds=600)
        if loaded is not None:
            loaded.append(outcome.entities_per_second)
        if outcome.entities_failed or outcome.entities_ok != entities:
            errors.append(f"upsert of {entities:,}: {outcome.entities_failed} failed; {outcome.errors[:2]}")
        headers = {"Link": context.link_header, "Accept": "application/json"}
        results = {}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            for case in cases(entities):

                def check(response: httpx.Response, case: QueryCase = case) -> None:
                    if response.status_code != 200:
                        errors.append(
                            f"{case.name}@{entities}: HTTP {response.status_code} {response.text[:200]}"
                        )
                        return
                    got = len(response.json())
                    if case.expect_entities is not None and got != case.expect_entities:
                        errors.append(
                            f"{case.name}@{entities}: {got} entities, expected {case.expect_entities}"
                        )
                    count = response.headers.get("NGSILD-Results-Count")
                    if case.expect_count is not None and count != str(case.expect_count):
                        errors.append(f"{case.name}@{entities}: count {count}, expected {case.expect_count}")

                latencies(client, "/ngsi-ld/v1/entities", case.params, max(10, requests // 10), check)
                results[case.name] = latencies(client, "/ngsi-ld/v1/entities", case.params, requests)
    return results


def measure_baseline(workdir: Path, requests: int) -> list[float]:
    with (
        run_server(FASTAPI.name, FASTAPI.app, workdir=workdir) as server,
        httpx.Client(base_url=server.base_url) as c,
    ):
        path = "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:x"
        latencies(c, path, {}, max(10, requests // 10))
        return latencies(c, path, {}, requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench query", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 entities only, fewer requests")
    parser.add_argument("--sizes", default=None, help="comma-separated entity counts (default 10000,100000)")
    parser.add_argument(
        "--requests", type=int, default=None, help="measured requests per query (default 300)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([10_000] if args.quick else [10_000, 100_000])
    )
    requests = args.requests or (100 if args.quick else 300)
    workdir = Path(tempfile.mkdtemp(prefix="verbund-bench-query-"))
    errors: list[str] = []
    try:
        baseline = measure_baseline(workdir, requests)
        with serve_context() as context:
            figures = {n: measure_broker(n, context, workdir, requests, errors) for n in sizes}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    base_p95 = p95(baseline)
    rows = [
        Row("GET FastAPI no-op route (sequential)", f"{statistics.median(baseline):.2f}/{base_p95:.2f} ms")
    ]
    for n, results in figures.items():
        for name, values in results.items():
            target = TARGETS_MS[name]
            verdict = ("pass" if p95(values) <= target else "MISS") if n >= 100_000 else "n/a"
            rows.append(
                Row(
                    f"query {name}, {n:,} entities, p50/p95",
                    f"{statistics.median(values):.2f}/{p95(values):.2f} ms",
                    f"FastAPI p95 {base_p95:.2f} ms",
                    f"{p95(values) / base_p95:.1f}× FastAPI",
                    f"p95 ≤ {target:.0f} ms @ 100,000",
                    verdict,
                )
            )
    print(format_table(rows))
    for error in errors:
        print(f"error: {error}")
    return 1 if errors else 0
