"""``python -m bench mongo --url mongodb://...``: the broker on MongoDB beside the broker on SQLite.

Runs only when a MongoDB server is given (``--url`` or VERBUND_BENCH_MONGO_URL; a replica set for
transactions, e.g. ``mongodb://127.0.0.1:27017/?replicaSet=rs0``); without one it says so and exits 2.
For each store a fresh broker is loaded by batch upsert with the same WaterObserved payloads (the upsert
rate is the first figure) and the three queries of ``bench.query`` are timed on it (p50/p95 over one
keep-alive connection). The SQLite broker runs in the same invocation, so the ratio MongoDB ÷ SQLite
compares like with like on this machine. The benchmark's databases (prefix ``vbench<pid>``) are dropped
at the end. Every answer is checked as in ``bench.query``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.context_server import serve_context
from bench.query import measure_broker, p95
from bench.report import Row, format_table


def _drop(url: str, prefix: str) -> None:
    if url.startswith("mongomock://"):  # in the broker process only (a smoke test of this scenario)
        return
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        for name in client.list_database_names():
            if name == prefix or name.startswith(prefix + "_"):
                client.drop_database(name)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mongo", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("VERBUND_BENCH_MONGO_URL", ""), help="MongoDB URL")
    parser.add_argument("--entities", type=int, default=10_000, help="entities to load (default 10,000)")
    parser.add_argument("--requests", type=int, default=100, help="measured requests per query (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if not args.url:
        print("python -m bench mongo: no MongoDB server given (--url or VERBUND_BENCH_MONGO_URL); not run")
        return 2
    prefix = f"vbench{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="verbund-bench-mongo-"))
    errors: list[str] = []
    figures: dict[str, tuple[list[float], dict[str, list[float]]]] = {}
    try:
        with serve_context() as context:
            for store, env in (
                ("SQLite", {}),
                ("MongoDB", {"VERBUND_STORE_URL": args.url, "VERBUND_MONGO_DATABASE": prefix}),
            ):
                loaded: list[float] = []
                queries = measure_broker(
                    args.entities, context, workdir, args.requests, errors, store_env=env, loaded=loaded
                )
                figures[store] = (loaded, queries)
    finally:
        _drop(args.url, prefix)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    sqlite_rate, sqlite_queries = figures.get("SQLite", ([0.0], {}))
    mongo_rate, mongo_queries = figures.get("MongoDB", ([0.0], {}))
    rows = []
    if sqlite_rate and mongo_rate:
        ratio = mongo_rate[0] / sqlite_rate[0] if sqlite_rate[0] else 0.0
        rows.append(
            Row(
                f"batch upsert, {args.entities:,} entities",
                f"{mongo_rate[0]:,.0f} entities/s",
                f"SQLite {sqlite_rate[0]:,.0f}/s",
                f"{ratio:.2f}× SQLite",
                "n/a",
                "n/a",
            )
        )
    for name, values in mongo_queries.items():
        base = sqlite_queries.get(name)
        rows.append(
            Row(
                f"query {name}, {args.entities:,} entities, p50/p95",
                f"{statistics.median(values):.2f}/{p95(values):.2f} ms",
                f"SQLite p95 {p95(base):.2f} ms" if base else "",
                f"{p95(values) / p95(base):.1f}× SQLite" if base else "",
                "n/a",
                "n/a",
            )
        )
    print(format_table(rows))
    for error in errors:
        print(f"error: {error}")
    return 1 if errors else 0
