"""Schemas come from local files only, imports are all-or-nothing, and refused files say why."""

from __future__ import annotations

import json
import socket
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from smart_data_models.catalog import Catalog, CatalogError, imported_dir
from smart_data_models.importer import import_schemas

COMMON_URL = "https://smart-data-models.github.io/data-models/common-schema.json"
OFFICIAL_COMMON = {
    "$schema": "http://json-schema.org/schema#",
    "$id": COMMON_URL,
    "definitions": {
        "GSMA-Commons": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        },
        "Location-Commons": {"type": "object", "properties": {"location": {"type": "object"}}},
    },
}


def official_model(name: str, ref_base: str = COMMON_URL, **properties: Any) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/schema#",
        "$id": f"https://smart-data-models.github.io/dataModel.Environment/{name}/schema.json",
        "type": "object",
        "allOf": [
            {"$ref": f"{ref_base}#/definitions/GSMA-Commons"},
            {"$ref": f"{ref_base}#/definitions/Location-Commons"},
            {"properties": {"type": {"type": "string", "enum": [name]}, **properties}},
        ],
        "required": ["id", "type"],
    }


def write(root: Path, files: dict[str, Any]) -> Path:
    for relative, document in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return root


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fails the test if anything tries to open a connection or resolve a name."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network access attempted during a schema operation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_built_in_catalog_loads_without_the_network(no_network: list[Any]) -> None:
    catalog = Catalog.load()

    assert len(catalog) == 13
    assert no_network == []


def test_a_ref_to_a_remote_schema_is_an_error_not_a_download(tmp_path: Path, no_network: list[Any]) -> None:
    model = official_model("RiverObserved", ref_base="https://example.org/elsewhere/other-schema.json")
    source = write(tmp_path / "src", {"RiverObserved/schema.json": model})

    with pytest.raises(CatalogError, match=r"other-schema\.json.*cannot be resolved"):
        import_schemas(source, tmp_path / "data")

    assert no_network == []
    assert not imported_dir(tmp_path / "data").exists() or not any(
        imported_dir(tmp_path / "data").rglob("*.json")
    )


def test_import_of_official_schema_files_from_a_directory(tmp_path: Path, no_network: list[Any]) -> None:
    source = write(
        tmp_path / "dataModel.Environment",
        {
            "common-schema.json": OFFICIAL_COMMON,
            "WaterQualityObserved/schema.json": official_model(
                "WaterQualityObserved", pH={"type": "number", "minimum": 0, "maximum": 14}
            ),
            "WaterQualityObserved/examples/example.json": {"id": "x", "type": "WaterQualityObserved"},
            "README.md": "not a schema",
        },
    )

    (model,) = import_schemas(source, tmp_path / "data")
    catalog = Catalog.load(tmp_path / "data")

    assert model.name == "WaterQualityObserved"
    assert catalog.models["WaterQualityObserved"].source == "imported"
    assert catalog.models["WaterQualityObserved"].type_iri.endswith(
        "/dataModel.Environment/WaterQualityObserved"
    )
    found = catalog.models["WaterQualityObserved"].validate(
        {"id": "urn:x:1", "type": "WaterQualityObserved", "pH": 15}
    )
    assert [(v.where, v.rule) for v in found] == [("pH", "maximum")]
    assert len(catalog) == 14 and no_network == []


def test_a_ref_spelled_with_another_url_resolves_by_file_name(tmp_path: Path) -> None:
    elsewhere = "https://smart-data-models.github.io/dataModel.Environment/common-schema.json"
    source = write(
        tmp_path / "src",
        {
            "common-schema.json": OFFICIAL_COMMON,
            "Lake/schema.json": official_model("Lake", ref_base=elsewhere),
        },
    )

    (model,) = import_schemas(source, tmp_path / "data")

    assert model.validate({"id": 1, "type": "Lake"})[0].where == "id"


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_import_from_an_archive(tmp_path: Path, kind: str) -> None:
    source = write(
        tmp_path / "src", {"common-schema.json": OFFICIAL_COMMON, "Pond/schema.json": official_model("Pond")}
    )
    archive = tmp_path / f"models.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in source.rglob("*.json"):
                zf.write(path, path.relative_to(source))
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(source, arcname="dataModel.Environment")

    (model,) = import_schemas(archive, tmp_path / "data")

    assert model.name == "Pond"
    assert (imported_dir(tmp_path / "data") / "Pond" / "schema.json").is_file()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "objekt"},
            "invalid JSON Schema",
        ),
        ({"properties": {"height": {"type": "number", "minimum": "zero"}}}, "minimum"),
        ({"properties": {"x": {"type": "number", "exclusiveMinimum": True}}}, "exclusiveMinimum"),
        ("{not json", "not a readable JSON document"),
    ],
)
def test_an_invalid_schema_is_refused_with_the_reason_and_nothing_is_written(
    tmp_path: Path, document: Any, reason: str
) -> None:
    source = write(tmp_path / "src", {"Broken/schema.json": document})

    with pytest.raises(CatalogError, match=reason):
        import_schemas(source, tmp_path / "data")

    assert not any(imported_dir(tmp_path / "data").rglob("*.json"))


def test_an_imported_model_replaces_the_built_in_of_the_same_name(tmp_path: Path) -> None:
    source = write(
        tmp_path / "src",
        {"common-schema.json": OFFICIAL_COMMON, "WaterObserved/schema.json": official_model("WaterObserved")},
    )

    import_schemas(source, tmp_path / "data")
    catalog = Catalog.load(tmp_path / "data")

    assert catalog.models["WaterObserved"].source == "imported"
    assert catalog.models["WaterObserved"].validate({"id": "urn:x:1", "type": "WaterObserved"}) == []


def test_a_schema_with_keywords_the_compiler_lacks_falls_back_to_jsonschema(tmp_path: Path) -> None:
    strict = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"type": {"const": "Strict"}, "id": {}},
        "unevaluatedProperties": False,
    }
    (model,) = import_schemas(write(tmp_path / "src", {"Strict/schema.json": strict}), tmp_path / "data")

    assert not model.compiled
    assert [v.rule for v in model.validate({"id": "a", "type": "Strict", "extra": 1})] == [
        "unevaluatedProperties"
    ]
