import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench.cli import build_parser
from bench.payloads import ID_PATTERN, entity_id, make_batches
from bench.wrk import RESULT_MARK, parse_result

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_make_batches_splits_entities_and_keeps_the_id_pattern():
    batches = make_batches(2500, 1000)

    assert [(batch.first, batch.count) for batch in batches] == [(0, 1000), (1000, 1000), (2000, 500)]
    last = orjson.loads(batches[-1].body)[-1]
    assert last["id"] == entity_id(2499) == ID_PATTERN % 2499
    assert len([key for key in last if key not in ("id", "type")]) == 8
    assert last["location"]["value"]["type"] == "Point"


def test_parse_result_reads_the_line_of_the_done_hook():
    output = f"Running 1s test\n{RESULT_MARK} 5000 2000000 0 1 0 2 0 850.5 1900.0 3100.2\n"

    result = parse_result(output)

    assert result.requests_per_second == 2500
    assert result.errors == {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0}
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == pytest.approx((0.8505, 1.9, 3.1002))


def test_readme_documents_every_option():
    readme = (REPO_ROOT / "bench" / "README.md").read_text()
    options = [flag for action in build_parser()._actions for flag in action.option_strings]

    missing = [flag for flag in options if flag.startswith("--") and f"`{flag}" not in readme]

    assert missing == ["--help"]


def test_baselines_quick_run_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "baselines", "--quick", "--entities", "2000"]
    command += ["--duration", "1", "--warmup", "0", "--json", str(out)]

    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=100)

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"POST upsert to FastAPI no-op \(ceiling\)\s+[\d,]+ entities/s", done.stdout)
    document = orjson.loads(out.read_bytes())
    assert document["errors"] == []
    assert document["measurements"]["raw"]["upsert"]["entities_ok"] == 2000
    assert document["measurements"]["fastapi"]["upsert"]["entities_ok"] == 2000


def test_get_by_id_is_judged_against_the_fastapi_ceiling_and_the_raw_no_op_is_shown_too():
    from bench.report import build_rows
    from bench.runner import FASTAPI, RAW, Settings, TargetRun, broker_target
    from bench.wrk import WrkResult, WrkSettings

    def run(target, rps):
        return TargetRun(target, get=WrkResult(int(rps * 10), 10.0, {}, 1.0, 2.0, 3.0))

    runs = {"raw": run(RAW, 20_000), "fastapi": run(FASTAPI, 6_000), "broker": run(broker_target(), 5_000)}
    settings = Settings(100_000, 1_000, 2, 600, WrkSettings(1, 16, 10, 2))
    rows = build_rows(runs, settings)
    index = next(n for n, row in enumerate(rows) if row.scenario == "GET entity by id (broker)")
    judged, raw_reading = rows[index], rows[index + 1]
    assert (judged.target, judged.verdict) == ("≥ 0.50× FastAPI", "pass")
    assert (raw_reading.target, raw_reading.verdict) == ("≥ 0.50× raw", "MISS")
    assert judged.ratio == "0.25× raw / 0.83× FastAPI"
