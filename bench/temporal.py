"""``python -m bench temporal``: the temporal API on water-level histories, and what history costs ingest.

1. Seed: N stations (default 10, then 100), each with one reading every 15 minutes for 5 years
   (175,200 instances), written straight into the SQLite history tables (the HTTP API would take hours
   for 17.5 M instances; the rows are what the write hook stores).
2. Read, over HTTP on the real broker: ``lastN=96`` (the last day) and the daily maximum over one year
   (``aggrMethods=max&aggrPeriodDuration=P1D``), random stations, sequential requests; p50/p95. The
   baseline is the FastAPI no-op GET route measured in the same run with the same client.
3. Ingest: batch upsert of ``--entities`` WaterObserved entities (8 attributes) over HTTP into a fresh
   broker with VERBUND_HISTORY=on and =off; a first round creates them, a second round sends new
   readings (new observedAt). Figure: entities/s with history on ÷ off. This machine's speed drifts
   by ±15 % within minutes, so ``--rounds`` (default 3) alternate off and on, each on a fresh broker,
   and the medians are compared.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.context_server import serve_context
from bench.payloads import OBSERVED_AT, Batch, make_batches
from bench.runner import progress
from bench.servers import Server, run_server
from bench.upsert import run_upsert
from broker_adapter.storage.sqlite.history_rows import SLOT_BITS

BROKER = "broker_adapter.api.app:create_app"
HEIGHT = "https://uri.etsi.org/ngsi-ld/default-context/height"
TYPE = "https://uri.etsi.org/ngsi-ld/default-context/WaterObserved"
START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
STEP_MS = 15 * 60 * 1000
READINGS = 5 * 365 * 96  # 5 years of 15-minute readings
LAST_N_TARGET_MS = 20.0
DAILY_MAX_TARGET_MS = 200.0
INGEST_TARGET = 0.70


def station_id(n: int) -> str:
    return f"urn:ngsi-ld:WaterObserved:station-{n:04d}"


def seed(db: Path, stations: int) -> float:
    """Create the broker's schema, then the stations' histories with plain SQL; seconds taken."""
    from broker_adapter.storage.sqlite.store import SqliteStore

    SqliteStore(db, synchronous="NORMAL").close()  # migrations
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute("INSERT OR IGNORE INTO history_attrs (iri) VALUES (?)", (HEIGHT,))
    (aid,) = conn.execute("SELECT aid FROM history_attrs WHERE iri = ?", (HEIGHT,)).fetchone()
    for n in range(stations):
        # the layout the broker writes: the series its first write created listed in the entity's row
        ent = conn.execute(
            "INSERT INTO history_entities (tenant, id, types, created_at, series) VALUES ('', ?, ?, ?, ?)",
            (station_id(n), f'["{TYPE}"]', START_MS, f'[[{aid}, "", "Property"]]'),
        ).lastrowid
        sid = ent << SLOT_BITS  # slot 0
        phase = n * 0.7
        rows = (
            (sid, t, t, round(1.5 + math.sin(i / 96 * 2 * math.pi + phase) * 0.5 + (i % 977) / 5000, 3))
            for i, t in enumerate(range(START_MS, START_MS + READINGS * STEP_MS, STEP_MS))
        )
        conn.executemany("INSERT INTO history (sid, observed_at, created_at, v) VALUES (?, ?, ?, ?)", rows)
        if n % 10 == 9:
            progress(f"seeded {n + 1} of {stations} stations")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def latencies(base_url: str, paths: list[str]) -> tuple[float, float]:
    """(p50, p95) in ms of sequential GETs on one keep-alive connection, after 5 warm-up requests."""
    samples = []
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for path in paths[:5]:
            client.get(path).raise_for_status()
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def read_paths(stations: int, requests: int, rng: random.Random) -> tuple[list[str], list[str]]:
    last_n, daily = [], []
    for _ in range(requests):
        eid = station_id(rng.randrange(stations))
        last_n.append(f"/ngsi-ld/v1/temporal/entities/{eid}?attrs=height&lastN=96")
        year = 2020 + rng.randrange(4)
        daily.append(
            f"/ngsi-ld/v1/temporal/entities/{eid}?attrs=height&options=aggregatedValues&aggrMethods=max"
            f"&aggrPeriodDuration=P1D&timerel=between&timeAt={year}-03-01T00:00:00Z"
            f"&endTimeAt={year + 1}-03-01T00:00:00Z"
        )
    return last_n, daily


def check_answers(server: Server, stations: int) -> None:
    """The figures only count if the answers are right: 96 instances, 365 daily maxima."""
    eid = station_id(stations - 1)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        last = client.get(f"/ngsi-ld/v1/temporal/entities/{eid}", params={"attrs": "height", "lastN": "96"})
        daily = client.get(
            f"/ngsi-ld/v1/temporal/entities/{eid}",
            params={
                "attrs": "height",
                "options": "aggregatedValues",
                "aggrMethods": "max",
                "aggrPeriodDuration": "P1D",
                "timerel": "between",
                "timeAt": "2021-01-01T00:00:00Z",
                "endTimeAt": "2022-01-01T00:00:00Z",
            },
        )
    if len(last.json()["height"]) != 96 or len(daily.json()["height"]["max"]) != 365:
        raise RuntimeError(f"unexpected answers: {last.text[:200]} / {daily.text[:200]}")


def ingest(workdir: Path, history: str, batches: list[Batch], link: str) -> tuple[float, float]:
    """(create round, update round) entities/s on a fresh broker with VERBUND_HISTORY=history."""
    data = workdir / f"ingest-{history}"
    env = {"VERBUND_DATA_DIR": str(data), "VERBUND_LOG_LEVEL": "warning", "VERBUND_HISTORY": history}
    later = [
        Batch(b.first, b.count, b.body.replace(OBSERVED_AT.encode(), b"2026-11-25T10:15:00Z"))
        for b in batches
    ]
    with run_server(f"broker-history-{history}", BROKER, workdir=workdir, factory=True, env=env) as server:
        run_upsert(server.base_url, link, batches[:1], clients=1, max_seconds=60)  # warm-up, @context fetch
        rates = []
        for round_batches in (batches, later):
            outcome = run_upsert(server.base_url, link, round_batches, clients=2, max_seconds=600)
            if outcome.entities_failed:
                raise RuntimeError(f"ingest with history {history}: {outcome.errors}")
            rates.append(outcome.entities_per_second)
    return rates[0], rates[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench temporal", description=__doc__.splitlines()[0])
    parser.add_argument("--stations", default="10,100", help="station counts to seed, comma list (10,100)")
    parser.add_argument("--requests", type=int, default=200, help="measured GETs per read figure")
    parser.add_argument("--entities", type=int, default=20_000, help="entities per ingest round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating off/on ingest rounds (3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.stations.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="verbund-bench-temporal-"))
    rows: list[tuple[str, str, str, str, str]] = []
    rng = random.Random(5)
    try:
        with run_server("fastapi", "bench.baselines:fastapi_app", workdir=workdir) as noop:
            base = latencies(noop.base_url, ["/ngsi-ld/v1/entities/urn:ngsi-ld:X:1"] * args.requests)
        rows.append(("GET FastAPI no-op route (baseline)", _ms(base), "", "", ""))
        for stations in counts:
            data = workdir / f"stations-{stations}"
            data.mkdir()
            progress(f"seeding {stations} stations × {READINGS:,} readings")
            seconds = seed(data / "verbund.db", stations)
            size = (data / "verbund.db").stat().st_size / 1e6
            rows.append(
                (
                    f"seed {stations} stations ({stations * READINGS:,} instances)",
                    f"{seconds:.0f} s",
                    f"{size:,.0f} MB",
                    "",
                    "",
                )
            )
            env = {"VERBUND_DATA_DIR": str(data), "VERBUND_LOG_LEVEL": "warning"}
            with run_server(f"broker-{stations}", BROKER, workdir=workdir, factory=True, env=env) as server:
                check_answers(server, stations)
                last_n, daily = read_paths(stations, args.requests, rng)
                got = latencies(server.base_url, last_n)
                rows.append(
                    (
                        f"  lastN=96, {stations} stations",
                        _ms(got),
                        _ratio(got, base),
                        f"p95 ≤ {LAST_N_TARGET_MS:.0f} ms",
                        _verdict(got[1] <= LAST_N_TARGET_MS),
                    )
                )
                got = latencies(server.base_url, daily)
                rows.append(
                    (
                        f"  daily max over 1 year, {stations} stations",
                        _ms(got),
                        _ratio(got, base),
                        f"p95 ≤ {DAILY_MAX_TARGET_MS:.0f} ms",
                        _verdict(got[1] <= DAILY_MAX_TARGET_MS),
                    )
                )
            shutil.rmtree(data, ignore_errors=True)
        batches = make_batches(args.entities, 1000)
        runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
        with serve_context() as context:
            for n in range(args.rounds):
                for history in ("off", "on"):
                    progress(f"ingest round {n + 1}/{args.rounds}, history {history}")
                    folder = workdir / f"ingest-{history}-{n}"
                    folder.mkdir()
                    runs[history].append(ingest(folder, history, batches, context.link_header))
        off = tuple(statistics.median(r[k] for r in runs["off"]) for k in (0, 1))
        on = tuple(statistics.median(r[k] for r in runs["on"]) for k in (0, 1))
        for n, label in enumerate(("create", "new readings")):
            ratio = on[n] / off[n]
            label += f", median of {args.rounds}"
            rows.append((f"upsert {label}, history off (baseline)", f"{off[n]:,.0f} entities/s", "", "", ""))
            rows.append(
                (
                    f"upsert {label}, history on",
                    f"{on[n]:,.0f} entities/s",
                    f"{ratio:.2f}× off",
                    f"≥ {INGEST_TARGET:.2f}× off",
                    _verdict(ratio >= INGEST_TARGET),
                )
            )
    finally:
        if args.keep:
            progress(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    _print(rows)
    return 0


def _ms(pair: tuple[float, float]) -> str:
    return f"p50 {pair[0]:.2f} / p95 {pair[1]:.2f} ms"


def _ratio(got: tuple[float, float], base: tuple[float, float]) -> str:
    return f"p95 {got[1] / base[1]:.1f}× no-op"


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def _print(rows: list[tuple[str, str, str, str, str]]) -> None:
    header = ("scenario", "figure", "vs baseline", "target", "vs target")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(5)]
    for n, row in enumerate((header, *rows)):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
