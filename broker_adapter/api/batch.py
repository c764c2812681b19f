"""/ngsi-ld/v1/entityOperations: batch create, upsert, update, merge and delete.

A batch is validated entity by entity; the valid ones are written in one transaction, the invalid ones
are reported in the BatchOperationResult (207) and leave nothing behind.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.api.deps import Broker, BrokerDep, CreatingTenant, ExistingTenant
from broker_adapter.api.http import (
    JSON,
    JSON_LD,
    json_body,
    json_response,
    refuse_context_link,
    request_context,
)
from broker_adapter.ngsild import names, operations
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.entity_input import entity_types, parse_entity, parse_fragment
from broker_adapter.ngsild.errors import AlreadyExists, BadRequestData, NgsiLdError, PayloadTooLarge
from broker_adapter.ngsild.render import parse_options
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.storage.port import Change, Outcome

router = APIRouter(prefix="/ngsi-ld/v1/entityOperations")


class _Failures:
    """Entities rejected before reaching the store, in request order."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str, NgsiLdError]] = []

    def add(self, position: int, entity_id: Any, error: NgsiLdError) -> None:
        self.items.append((position, entity_id if isinstance(entity_id, str) else "", error))


async def _entities(request: Request, broker: BrokerDep) -> tuple[list[Any], str]:
    s = broker.settings
    body, kind = await json_body(request, max_bytes=s.max_batch_body_bytes, max_depth=None)
    if not isinstance(body, list):
        raise BadRequestData("a batch operation takes a JSON array")
    if not body:
        raise BadRequestData("the batch is empty")
    if any(item is None for item in body):
        # clauses 5.6.7.4-5.6.10.4: a null item makes the whole request invalid
        raise BadRequestData("the batch contains a null item")
    if len(body) > s.max_batch_entities:
        raise PayloadTooLarge(f"the batch has {len(body)} entries; the limit is {s.max_batch_entities}")
    return body, kind


async def _term_maps(
    request: Request, broker: BrokerDep, items: list[Any], kind: str, failures: _Failures
) -> list[TermMap | None]:
    """One TermMap per entity: its own @context with JSON-LD, the Link header's otherwise.

    Clause 6.3.5 splits the errors: a Link header with application/ld+json is wrong for the whole request
    (400), an @context inside one entity sent as application/json is that entity's error (in the 207)."""
    if kind != JSON_LD:
        shared = await broker.term_map(request_context(request, None, JSON))
        out: list[TermMap | None] = []
        for n, item in enumerate(items):
            if isinstance(item, dict) and "@context" in item:
                error = BadRequestData(
                    "an @context in the body requires Content-Type application/ld+json; "
                    "with application/json give it in a Link header"
                )
                failures.add(n, item.get("id"), error)
                out.append(None)
            else:
                out.append(shared)
        return out
    refuse_context_link(request)
    out = []
    for n, item in enumerate(items):
        try:
            out.append(await broker.term_map(request_context(request, item, JSON_LD)))
        except NgsiLdError as exc:
            failures.add(n, item.get("id") if isinstance(item, dict) else None, exc)
            out.append(None)
    return out


def _result(
    outcomes: list[Outcome], failures: _Failures, *, created_status: bool, created: set[str] | None = None
) -> Response:
    errors = [(n, eid, err) for n, eid, err in failures.items]
    success: list[str] = []
    seen: set[str] = set()
    for outcome in outcomes:
        if outcome.ok:
            if outcome.entity_id not in seen:  # an id given twice is reported once
                seen.add(outcome.entity_id)
                success.append(outcome.entity_id)
        else:
            errors.append((-1, outcome.entity_id, outcome.error))
    if errors:
        body = {
            "success": success,
            "errors": [{"entityId": eid, "error": err.problem()} for _, eid, err in errors],
        }
        return json_response(body, status=207)
    if created_status:
        new_ids = success if created is None else [i for i in success if i in created]
        if created is None or new_ids:
            return json_response(new_ids, status=201)
    return Response(status_code=204)


def _fragment(
    item: Any, tm: TermMap, now: str, broker: Broker, *, require_type: bool = False, merge_patch: bool = False
) -> tuple[str, dict[str, Any]]:
    """An entity of an update-style batch: its id and its attributes (and types, when given)."""
    if not isinstance(item, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity_id = item.get("id")
    names.check_entity_id(entity_id, "id")
    if require_type and "type" not in item:
        raise BadRequestData(f"entity {entity_id}: 'type' is missing")
    # the batch array is one level of nesting
    fragment = parse_fragment(
        item,
        tm,
        now,
        max_depth=broker.settings.max_json_depth - 1,
        allow_null=merge_patch,
        partial=merge_patch,
    )
    if "type" in item:
        fragment["type"] = entity_types(item["type"], tm)
    return entity_id, fragment


async def _parse_each(request: Request, broker: BrokerDep, parse) -> tuple[list[Change], _Failures]:
    items, kind = await _entities(request, broker)
    failures = _Failures()
    term_maps = await _term_maps(request, broker, items, kind, failures)
    changes: list[Change] = []
    now = now_iso()
    for n, (item, tm) in enumerate(zip(items, term_maps, strict=True)):
        if tm is None:
            continue
        try:
            changes.append(parse(item, tm, now))
        except NgsiLdError as exc:
            failures.add(n, item.get("id") if isinstance(item, dict) else None, exc)
    return changes, failures


@router.post("/create")
async def batch_create(request: Request, broker: BrokerDep, tenant: CreatingTenant) -> Response:
    parse_options(request.query_params.get("options"), allowed=())

    def parse(item: Any, tm: TermMap, now: str) -> Change:
        entity = parse_entity(item, tm, now, max_depth=broker.settings.max_json_depth - 1)
        return Change(entity["id"], operations.create(entity))

    changes, failures = await _parse_each(request, broker, parse)
    outcomes = await broker.apply(tenant, changes) if changes else []
    return _result(outcomes, failures, created_status=True)


@router.post("/upsert")
async def batch_upsert(request: Request, broker: BrokerDep, tenant: CreatingTenant) -> Response:
    options = parse_options(request.query_params.get("options"), allowed=("replace", "update"))
    if len(options) > 1:
        raise BadRequestData("options: choose replace or update")
    update_mode = "update" in options

    def parse(item: Any, tm: TermMap, now: str) -> Change:
        if not update_mode:
            entity = parse_entity(item, tm, now, max_depth=broker.settings.max_json_depth - 1)
            return Change(entity["id"], operations.replace(entity, create_missing=True))
        entity_id, fragment = _fragment(item, tm, now, broker, require_type=True)
        change = operations.append(
            entity_id,
            fragment,
            now,
            operations.AttrReport(),
            create_missing=True,
            types_for_new=fragment["type"],
        )
        return Change(entity_id, change)

    changes, failures = await _parse_each(request, broker, parse)
    outcomes = await broker.apply(tenant, changes) if changes else []
    created = {o.entity_id for o in outcomes if o.ok and o.before is None}
    return _result(outcomes, failures, created_status=True, created=created)


@router.post("/update")
async def batch_update(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    options = parse_options(request.query_params.get("options"), allowed=("noOverwrite",))
    reports: list[operations.AttrReport] = []  # one per change, in order

    def parse(item: Any, tm: TermMap, now: str) -> Change:
        entity_id, fragment = _fragment(item, tm, now, broker)
        report = operations.AttrReport()
        change = operations.append(entity_id, fragment, now, report, overwrite="noOverwrite" not in options)
        reports.append(report)
        return Change(entity_id, change)

    changes, failures = await _parse_each(request, broker, parse)
    outcomes = await broker.apply(tenant, changes) if changes else []
    for outcome, report in zip(outcomes, reports, strict=True):
        if outcome.ok and not report.complete:
            # 5.6.9.4: an entity whose attributes were not all written (noOverwrite kept some) is reported
            # in the errors; what could be written was
            kept = ", ".join(sorted({iri for iri, _ in report.not_updated}))
            outcome.error = AlreadyExists(f"entity {outcome.entity_id}: noOverwrite kept existing {kept}")
    return _result(outcomes, failures, created_status=False)


@router.post("/merge")
async def batch_merge(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    parse_options(request.query_params.get("options"), allowed=())

    def parse(item: Any, tm: TermMap, now: str) -> Change:
        entity_id, fragment = _fragment(item, tm, now, broker, merge_patch=True)
        return Change(entity_id, operations.merge(entity_id, fragment, now))

    changes, failures = await _parse_each(request, broker, parse)
    outcomes = await broker.apply(tenant, changes) if changes else []
    return _result(outcomes, failures, created_status=False)


@router.post("/delete")
async def batch_delete(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    items, _ = await _entities(request, broker)
    failures = _Failures()
    changes: list[Change] = []
    for n, entity_id in enumerate(items):
        try:
            names.check_entity_id(entity_id, f"[{n}]")
        except NgsiLdError as exc:
            failures.add(n, entity_id, exc)
            continue
        changes.append(Change(entity_id, operations.delete(entity_id)))
    outcomes = await broker.apply(tenant, changes) if changes else []
    return _result(outcomes, failures, created_status=False)
