"""The `verbund` command: documented, configurable, and its quick start really serves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import BrokerProcess, free_port
from verbund.cli import build_parser
from verbund.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verbund", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_every_command_is_documented_in_the_readme_and_in_help() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    help_text = run_cli("--help").stdout
    for name in commands:
        assert name in help_text
    for name in ("serve",):
        assert f"verbund {name}" in README


def test_readme_quick_start_has_exactly_the_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick_start, re.S)
    assert [b.strip() for b in blocks] == ["python3 -m pip install -e . && verbund serve", "scripts/test"]
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_version_prints_the_package_version() -> None:
    result = run_cli("version")
    assert result.returncode == 0
    assert re.fullmatch(r"verbund \d+\.\d+\.\d+\n", result.stdout)


def test_every_setting_in_the_readme_table_exists() -> None:
    documented = set(re.findall(r"`VERBUND_([A-Z_]+)`", README))
    known = {name.upper() for name in load_settings({}).__dataclass_fields__}
    assert documented and documented <= known


def test_environment_and_flags_override_defaults_in_that_order() -> None:
    settings = load_settings({"VERBUND_BROKER_PORT": "2000", "VERBUND_LOG_LEVEL": "debug"}, broker_port=3000)
    assert (settings.broker_port, settings.log_level) == (3000, "debug")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VERBUND_BROKER_PORT": "many"}, "VERBUND_BROKER_PORT='many' is not a valid int"),
        ({"VERBUND_LOG_LEVEL": "loud"}, "log level must be one of"),
        ({"VERBUND_MAX_BODY_BYTES": "0"}, "max_body_bytes must be positive"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_settings(env)


def test_serve_runs_the_broker_with_its_data_under_the_data_dir(tmp_path: Path) -> None:
    port = free_port()
    # the embedded store, whatever VERBUND_TEST_STORE_URL gives the other brokers
    server = BrokerProcess(tmp_path / "data", port=port, command="serve", env={"VERBUND_STORE_URL": ""})
    server.start()
    try:
        created = httpx.post(
            f"{server.url}/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:T:1", "type": "T"}, timeout=5
        )
        assert created.status_code == 201
        assert httpx.get(f"{server.url}/ready", timeout=5).json() == {"status": "ready"}
        assert (tmp_path / "data" / "verbund.db").exists()
    finally:
        server.stop()


def test_a_bad_flag_value_exits_with_a_usage_error() -> None:
    result = run_cli("serve", "--port", "x")
    assert result.returncode == 2
    assert "invalid int value" in result.stderr
