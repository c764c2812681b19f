"""The served platform @context is the one the rules derive, the docs say what it maps, and the
`verbund sdm` commands work end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson

from broker_adapter.ngsild.core_context import CORE_CONTEXT
from smart_data_models.catalog import Catalog
from smart_data_models.context import platform_context_document, platform_terms
from smart_data_models.setup import platform_context_bytes
from tests.smart_data_models.examples import VALID, normalized, variant
from tests.smart_data_models.test_catalog import OFFICIAL_COMMON, official_model, write

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "data-models.md").read_text()


def sdm(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VERBUND_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "verbund", "sdm", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def test_the_served_context_is_the_one_the_rules_derive_from_the_built_in_models() -> None:
    assert orjson.loads(platform_context_bytes()) == platform_context_document(platform_terms(Catalog.load()))


def test_the_platform_context_leaves_core_terms_to_the_core_context() -> None:
    terms = platform_terms(Catalog.load())
    core = CORE_CONTEXT.get("@context", CORE_CONTEXT)

    assert not set(terms) & {t for t in core if not t.startswith("@")}
    assert all(iri.startswith("https://smartdatamodels.org/") for iri in terms.values())
    assert terms["dateObserved"] == "https://smartdatamodels.org/dateObserved"  # used in several domains
    assert terms["height"] == "https://smartdatamodels.org/dataModel.Environment/height"


def test_the_docs_list_every_platform_term_and_sdm_command() -> None:
    documented = dict(re.findall(r"^\| `([^`]+)` \| `(https://[^`]+)` \|", DOC, re.M))

    assert documented == platform_terms(Catalog.load())
    for command in ("import", "list", "validate", "policy"):
        assert f"verbund sdm {command}" in DOC


def test_sdm_list_validate_import_and_policy(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps([normalized(VALID["WaterObserved"]), normalized(VALID["TrafficFlowObserved"])])
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(variant("ParkingSpot", {"status": "taken"})))

    listed = sdm("list", "--data-dir", data)
    assert listed.returncode == 0 and "WaterObserved" in listed.stdout and "built-in" in listed.stdout

    assert sdm("validate", str(good), "--data-dir", data).returncode == 0
    checked = sdm("validate", str(bad), "--key-values", "--data-dir", data)
    assert checked.returncode == 1 and "status: 'taken' is not one of the allowed values" in checked.stdout

    source = write(
        tmp_path / "src", {"common-schema.json": OFFICIAL_COMMON, "Pond/schema.json": official_model("Pond")}
    )
    imported = sdm("import", str(source), "--data-dir", data)
    assert imported.returncode == 0 and "imported Pond" in imported.stdout
    assert "Pond" in sdm("list", "--data-dir", data).stdout

    refused = sdm("import", str(tmp_path / "missing"), "--data-dir", data)
    assert refused.returncode == 2 and "no such file" in refused.stderr

    assert sdm("policy", "kl", "enforce", "--require-known-types", "--data-dir", data).returncode == 0
    assert "kl: enforce +known-types" in sdm("policy", "kl", "--data-dir", data).stdout
    assert sdm("policy", "kl", "default", "--data-dir", data).returncode == 0
    assert "(platform default)" in sdm("policy", "kl", "--data-dir", data).stdout
