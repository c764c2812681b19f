"""The models the platform knows: schema files read from local directories, checked, compiled once.

Layout (the same as the official Smart Data Models repositories, so an import needs no renaming):

    <dir>/<Model>/schema.json      one entity type; its name is the `type` const/enum, else the folder name
    <dir>/**/*-schema.json         shared definitions (GSMA-Commons, Location-Commons, ...)
    anything else                  ignored (examples, contexts, DTDL files)

Built-in schemas live in this package (smart_data_models/schemas); imported ones under
<data_dir>/smart-data-models and override built-ins of the same name. Every $ref is resolved through one
`referencing` Registry holding these files; its retrieve function never touches the network: a URL that
is no file's $id is matched by file name among the local files (the official repositories spell one
file's URL in more than one way), and otherwise is an error naming the reference.

A document's `$schema` picks its dialect; SDM's generic "http://json-schema.org/schema#" (and a missing
`$schema`) is read as draft-07, the dialect the official schema files are written in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import orjson
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource, Specification
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7, DRAFT202012, UnknownDialect, specification_with

from smart_data_models.compiler import Compiler
from smart_data_models.keywords import FORMATS, Check, SchemaProblem, Unsupported, Violation

BUILT_IN_DIR = Path(__file__).resolve().parent / "schemas"
IMPORTED_DIRNAME = "smart-data-models"
SDM_IRI = "https://smartdatamodels.org/"
_VALIDATORS: dict[str, type[Any]] = {
    cls.META_SCHEMA.get("$id", cls.META_SCHEMA.get("id", "")).rstrip("#"): cls
    for cls in (
        jsonschema.Draft4Validator,
        jsonschema.Draft6Validator,
        jsonschema.Draft7Validator,
        jsonschema.Draft201909Validator,
        jsonschema.Draft202012Validator,
    )
}


class CatalogError(Exception):
    """A schema file that cannot be used; the message names the file and the reason."""


def imported_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / IMPORTED_DIRNAME


@dataclass(frozen=True)
class SchemaFile:
    path: Path
    uri: str
    document: dict[str, Any]
    spec: Specification[Any]
    model: str | None  # the entity type it defines; None for shared definitions
    source: str


@dataclass
class Model:
    """One entity type and its compiled check."""

    name: str
    domain: str | None  # "dataModel.Environment", from the schema's $id
    uri: str
    source: str  # "built-in" or "imported"
    path: Path
    check: Check = field(repr=False)
    compiled: bool = True  # False: validated by jsonschema (the schema uses keywords the compiler lacks)
    attributes: tuple[str, ...] = ()

    @property
    def type_iri(self) -> str:
        return f"{SDM_IRI}{self.domain}/{self.name}" if self.domain else f"{SDM_IRI}{self.name}"

    def validate(self, view: dict[str, Any]) -> list[Violation]:
        return self.check(view) or []


def _format_checker() -> jsonschema.FormatChecker:
    """jsonschema asserting exactly the formats the compiler asserts (same verdicts either way)."""
    checker = jsonschema.FormatChecker(formats=())
    for name, test in FORMATS.items():
        checker.checks(name)(lambda value, test=test: not isinstance(value, str) or test(value))
    return checker


FORMAT_CHECKER = _format_checker()


def _dialect(document: dict[str, Any]) -> tuple[Specification[Any], type[Any]]:
    declared = document.get("$schema")
    if not isinstance(declared, str):
        return DRAFT7, jsonschema.Draft7Validator
    try:
        spec = specification_with(declared)
    except UnknownDialect:
        return DRAFT7, jsonschema.Draft7Validator
    return spec, _VALIDATORS.get(declared.rstrip("#"), jsonschema.Draft7Validator)


def _is_schema_file(path: Path) -> bool:
    name = path.name
    return name == "schema.json" or name.endswith(("-schema.json", ".schema.json"))


def _declared_type(document: dict[str, Any]) -> str | None:
    """The entity type a model schema pins in its own `type` property (const or one-value enum)."""
    parts = [document, *[p for p in document.get("allOf", []) if isinstance(p, dict)]]
    for part in parts:
        declared = part.get("properties", {}).get("type")
        if isinstance(declared, dict):
            if isinstance(declared.get("const"), str):
                return declared["const"]
            enum = declared.get("enum")
            if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
                return enum[0]
    return None


def read_schema_file(path: Path, source: str) -> SchemaFile:
    """Parse and meta-validate one file; CatalogError says what is wrong and where."""
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not a readable JSON document: {exc}") from exc
    if not isinstance(document, dict):
        raise CatalogError(f"{path}: a schema must be a JSON object")
    spec, validator = _dialect(document)
    try:
        validator.check_schema(document)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise CatalogError(f"{path}: invalid JSON Schema ({spec.name}) at {where}: {exc.message}") from exc
    uri = document.get("$id") if isinstance(document.get("$id"), str) else path.resolve().as_uri()
    model = None
    if path.name == "schema.json":
        model = _declared_type(document) or path.parent.name
    return SchemaFile(path, uri.rstrip("#"), document, spec, model, source)


def read_schema_dir(root: Path, source: str) -> list[SchemaFile]:
    if not root.is_dir():
        return []
    return [read_schema_file(p, source) for p in sorted(root.rglob("*.json")) if _is_schema_file(p)]


def _domain(uri: str) -> str | None:
    return next((part for part in uri.split("/") if part.startswith("dataModel.")), None)


class Catalog:
    """Models by name and by type IRI, compiled from one set of schema files."""

    def __init__(self, files: Iterable[SchemaFile]) -> None:
        self.files: dict[str, SchemaFile] = {}
        for f in files:  # later files (imported) replace earlier ones (built-in) with the same $id
            self.files[f.uri] = f
        by_name: dict[str, list[SchemaFile]] = {}
        for f in self.files.values():
            by_name.setdefault(f.path.name, []).append(f)
        self._by_filename = by_name
        self.registry: Registry[Any] = Registry(retrieve=self._retrieve).with_resources(
            (f.uri, Resource(contents=f.document, specification=f.spec)) for f in self.files.values()
        )
        self._compiler = Compiler(self._spec_of)
        chosen: dict[str, SchemaFile] = {}
        for f in self.files.values():
            if f.model is not None:
                chosen[f.model] = f
        self.models: dict[str, Model] = {name: self._model(f) for name, f in sorted(chosen.items())}
        self.by_iri: dict[str, Model] = {m.type_iri: m for m in self.models.values()}

    @classmethod
    def load(cls, data_dir: str | Path | None = None) -> Catalog:
        """Built-in models, then (overriding them) those imported into data_dir."""
        files = read_schema_dir(BUILT_IN_DIR, "built-in")
        if data_dir is not None:
            files += read_schema_dir(imported_dir(data_dir), "imported")
        return cls(files)

    def _retrieve(self, uri: str) -> Resource[Any]:
        """No network: only local files, matched by their file name when the URL is no file's $id."""
        candidates = self._by_filename.get(uri.rstrip("/").rsplit("/", 1)[-1], [])
        if len(candidates) == 1:
            f = candidates[0]
            return Resource(contents=f.document, specification=f.spec)
        raise NoSuchResource(ref=uri)

    def _spec_of(self, uri: str) -> Specification[Any]:
        f = self.files.get(uri)
        return f.spec if f is not None else DRAFT202012

    def _model(self, f: SchemaFile) -> Model:
        try:
            check, compiled = self._compiler.compile(self.registry.resolver(), f.uri), True
        except Unsupported:
            check, compiled = self._jsonschema_check(f), False
        except SchemaProblem as exc:
            raise CatalogError(f"{f.path}: {exc}") from exc
        return Model(
            f.model or "",
            _domain(f.uri),
            f.uri,
            f.source,
            f.path,
            check,
            compiled,
            tuple(sorted(self._attributes(f.document, f.uri))),
        )

    def _jsonschema_check(self, f: SchemaFile) -> Check:
        _, validator_cls = _dialect(f.document)
        validator = validator_cls(f.document, registry=self.registry, format_checker=FORMAT_CHECKER)

        def check(instance: Any) -> list[Violation] | None:
            found = [
                Violation(tuple(e.absolute_path), str(e.validator), e.message)
                for e in validator.iter_errors(instance)
            ]
            return found or None

        return check

    def _attributes(self, schema: Any, base: str, depth: int = 0) -> set[str]:
        """Top-level property names of a model, through $ref and the combinators (not nested values)."""
        if not isinstance(schema, dict) or depth > 16:
            return set()
        names = set(schema.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(key, []):
                names |= self._attributes(part, base, depth + 1)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            try:
                resolved = self.registry.resolver(base).lookup(ref)
            except Exception:  # an unresolvable $ref was already reported by the compiler
                return names
            names |= self._attributes(resolved.contents, ref.partition("#")[0] or base, depth + 1)
        return names

    def find(self, type_iris: Iterable[str]) -> tuple[list[Model], list[str]]:
        """The models of an entity's types (by IRI, else by local name) and the types without one."""
        found: list[Model] = []
        unknown: list[str] = []
        for iri in type_iris:
            model = self.by_iri.get(iri) or self.models.get(local_name(iri))
            if model is None:
                unknown.append(iri)
            elif model not in found:
                found.append(model)
        return found, unknown

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)


def local_name(iri: str) -> str:
    """The term an IRI ends with: after the last '/' or '#', else after a compact IRI's ':'."""
    for sep in ("#", "/"):
        if sep in iri:
            return iri.rsplit(sep, 1)[-1]
    return iri.rsplit(":", 1)[-1]
