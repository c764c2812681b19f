"""`verbund sdm ...` (parsed in verbund/cli.py): glue from the command line to the catalog, the importer
and the policy store.

Exit status: 0 done (validate: every entity valid), 1 validate found violations, 2 refused input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from broker_adapter.ngsild.core_context import is_core_context_url
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.entity_input import parse_entity
from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.termmap import build_term_map
from smart_data_models.catalog import Catalog, CatalogError
from smart_data_models.context import CONTEXT_PATH
from smart_data_models.importer import import_schemas
from smart_data_models.policy import Policy, Validation
from smart_data_models.setup import platform_terms
from verbund.settings import Settings


def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    try:
        if args.sdm_command == "import":
            models = import_schemas(args.path, settings.data_dir)
            for m in models:
                print(f"imported {m.name} ({m.type_iri})", file=out)
            print(f"{len(models)} model(s) imported; restart the broker to use them", file=out)
            return 0
        if args.sdm_command == "list":
            return _list(settings, out)
        if args.sdm_command == "validate":
            return _validate(args.file, settings, out, key_values=args.key_values)
        return _policy(args, settings, out)
    except CatalogError as exc:
        print(f"verbund sdm: refused: {exc}", file=sys.stderr)
        return 2


def _list(settings: Settings, out: TextIO) -> int:
    for m in Catalog.load(settings.data_dir):
        engine = "" if m.compiled else "  (validated by jsonschema)"
        print(f"{m.name:<22} {m.source:<9} {m.type_iri}{engine}", file=out)
    return 0


def _term_map(raw_context: Any) -> Any:
    """The file's @context, offline: the core and platform contexts are built in, others must be inline."""
    items = raw_context if isinstance(raw_context, list) else [raw_context]
    contexts: list[Any] = [platform_terms()]
    for item in items:
        if item is None or (isinstance(item, str) and is_core_context_url(item)):
            continue
        if isinstance(item, str) and item.endswith(CONTEXT_PATH):
            continue  # the platform @context, already first
        if isinstance(item, str):
            raise CatalogError(f"@context {item} would have to be fetched; validate works offline: inline it")
        contexts.append(item)
    return build_term_map(contexts)


def _validate(path: Path, settings: Settings, out: TextIO, *, key_values: bool) -> int:
    try:
        body = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not a readable JSON document: {exc}") from exc
    entities = body if isinstance(body, list) else [body]
    validation = Validation(Catalog.load(settings.data_dir), platform_terms())
    invalid = 0
    for n, item in enumerate(entities):
        try:
            raw = item.get("@context") if isinstance(item, dict) else None
            entity = parse_entity(item, _term_map(raw), now_iso(), key_values=key_values)
        except NgsiLdError as exc:  # the broker would refuse it before any model is consulted
            invalid += 1
            print(f"[{n}]: INVALID NGSI-LD entity: {exc.detail}", file=out)
            continue
        findings = validation.check(entity)
        if not findings.models:
            print(f"{entity['id']}: no Smart Data Model for its type; not checked", file=out)
            continue
        if not findings.violations:
            print(f"{entity['id']}: valid ({', '.join(findings.models)})", file=out)
            continue
        invalid += 1
        print(f"{entity['id']}: INVALID", file=out)
        for model, v in findings.violations:
            print(f"  {model}: {v.where}: {v.message} ({v.rule})", file=out)
    return 1 if invalid else 0


def _policy(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from broker_adapter.api.deps import check_tenant_name
    from broker_adapter.storage.open import open_store
    from smart_data_models.policy import SETTING_KEY

    try:
        tenant = check_tenant_name(args.tenant)
    except NgsiLdError as exc:
        raise CatalogError(exc.detail) from exc
    store = open_store(settings.store_url, settings.data_dir, synchronous=settings.sqlite_synchronous)
    try:
        if args.mode is None:
            raw = store.get_tenant_setting(tenant, SETTING_KEY)
            shown = Policy.from_json(raw) if raw is not None else Policy(settings.sdm_policy)
            origin = "" if raw is not None else " (platform default)"
            print(
                f"{tenant}: {shown.mode}{' +known-types' if shown.require_known_types else ''}{origin}",
                file=out,
            )
            return 0
        value = None if args.mode == "default" else Policy(args.mode, args.require_known_types).to_json()
        store.set_tenant_setting(tenant, SETTING_KEY, value)
        print(f"{tenant}: policy {'removed' if value is None else args.mode}", file=out)
        return 0
    finally:
        store.close()
