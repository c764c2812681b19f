"""/ngsi-ld/v1/entities: create, retrieve, query, replace, merge, delete, and the attribute operations.

Each handler reads as the pipeline: parse (body, @context) → domain (change function) → store → render.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.api.deps import (
    BrokerDep,
    CreatingTenant,
    ExistingTenant,
    response_context_url,
)
from broker_adapter.api.http import (
    GEO_JSON,
    JSON,
    JSON_LD,
    MERGE_PATCH,
    geojson_context_in_body,
    json_body,
    json_response,
    parse_bool,
    request_context,
    split_list,
)
from broker_adapter.ngsild import names, operations
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.entity_input import AttributeParser, parse_entity, parse_fragment
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.projection import projection_members
from broker_adapter.ngsild.render import LOCATION_IRI, Renderer, RenderOptions, output_format, parse_options
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import CompactedEntity, ExpandedEntity
from broker_adapter.storage.port import Change

router = APIRouter(prefix="/ngsi-ld/v1")

RETRIEVE_OPTIONS = ("keyValues", "simplified", "concise", "normalized", "sysAttrs")
APPEND_OPTIONS = ("noOverwrite",)


def _location(request: Request, entity_id: str) -> str:
    return f"/ngsi-ld/v1/entities/{quote(entity_id, safe=':/')}"


async def _body_and_terms(
    request: Request, broker: BrokerDep, *, allowed=(JSON, JSON_LD)
) -> tuple[Any, TermMap]:
    s = broker.settings
    body, kind = await json_body(request, max_bytes=s.max_body_bytes, max_depth=None, allowed=allowed)
    return body, await broker.term_map(request_context(request, body, kind))


async def _read_terms(request: Request, broker: BrokerDep) -> TermMap:
    from broker_adapter.api.http import link_context

    return await broker.term_map(link_context(request))


def _check_path_id(entity_id: str) -> None:
    names.check_entity_id(entity_id, "entityId (in the URL)")


async def _write_one(broker: BrokerDep, tenant: str, entity_id: str, change) -> None:
    (outcome,) = await broker.apply(tenant, [Change(entity_id, change)])
    if outcome.error is not None:
        raise outcome.error


# render options shared with queries --------------------------------------------------------------
_DEFAULT_RENDER = RenderOptions()


def render_options(request: Request, tm: TermMap, *, allowed_options=RETRIEVE_OPTIONS) -> RenderOptions:
    if not request.scope["query_string"]:
        return _DEFAULT_RENDER
    params = request.query_params
    options = parse_options(params.get("options"), allowed=allowed_options)
    fmt = output_format(options, params.get("format"))
    pick_terms = projection_members(params.get("pick"), "pick")
    attrs_terms = split_list(params.get("attrs"))
    omit_terms = projection_members(params.get("omit"), "omit")
    if attrs_terms is not None and (pick_terms is not None or omit_terms is not None):
        raise BadRequestData("use either pick/omit or attrs, not both")
    if pick_terms is not None and omit_terms is not None and set(pick_terms) & set(omit_terms):
        raise BadRequestData("the same member is in pick and omit")
    pick = None
    if pick_terms is not None:
        pick = {t if t in ("id", "type", "scope") else tm.expand_name(t) for t in pick_terms}
    elif attrs_terms is not None:
        pick = {"id", "type", "scope", *(tm.expand_name(t) for t in attrs_terms)}
    omit = {t if t in ("id", "type", "scope") else tm.expand_name(t) for t in omit_terms or ()}
    lang = params.get("lang")
    datasets = split_list(params.get("datasetId"))
    for n, dataset in enumerate(datasets or ()):
        if dataset != "@none":
            names.check_uri(dataset, f"datasetId[{n}]", "datasetId")
    return RenderOptions(
        format=fmt,
        sys_attrs="sysAttrs" in options,
        pick=pick,
        omit=omit,
        lang=lang,
        datasets=frozenset(datasets) if datasets is not None else None,
    )


def render_entities(
    request: Request, tm: TermMap, entities: list[ExpandedEntity], accept: str, options: RenderOptions
) -> list[CompactedEntity] | dict[str, Any]:
    renderer = Renderer(tm, options)
    if accept == GEO_JSON:
        geometry = request.query_params.get("geometryProperty")
        geo_iri = tm.expand_name(geometry) if geometry else LOCATION_IRI
        features = [renderer.feature(e, geo_iri) for e in entities]
        collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        if geojson_context_in_body(request.headers.get("prefer")):
            collection["@context"] = response_context_url(request)
        return collection
    rendered = [renderer.entity(e) for e in entities]
    if accept == JSON_LD:
        ctx = response_context_url(request)
        for item in rendered:
            if item:  # an empty one is dropped by the caller
                item["@context"] = ctx
    return rendered


# entities ----------------------------------------------------------------------------------------
@router.post("/entities", status_code=201)
async def create_entity(request: Request, broker: BrokerDep, tenant: CreatingTenant) -> Response:
    body, tm = await _body_and_terms(request, broker)
    entity = parse_entity(body, tm, now_iso(), max_depth=broker.settings.max_json_depth)
    await _write_one(broker, tenant, entity["id"], operations.create(entity))
    return Response(status_code=201, headers={"Location": _location(request, entity["id"])})


@router.get("/entities/{entity_id:path}")
async def retrieve_entity_route(request: Request, entity_id: str) -> Response:
    """Served by `fastpath.FastRetrieve` in the running app; kept here for the route table and OpenAPI."""
    return await retrieve_entity(request, entity_id)


async def retrieve_entity(request: Request, entity_id: str) -> Response:
    from broker_adapter.api.retrieve import retrieve

    status, headers, body = await retrieve(request.scope, entity_id)
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


@router.delete("/entities")
async def purge_entities(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    tm = await _read_terms(request, broker)
    params = request.query_params
    if not (params.get("type") or params.get("id") or params.get("idPattern")):
        raise BadRequestData("purging entities needs type, id or idPattern")
    from broker_adapter.api.query import entity_query  # query.py renders with this module's helpers

    query = entity_query(params, tm, broker.settings)
    await broker.run_write(broker.store.delete_entities, tenant, query)
    return Response(status_code=204)


@router.put("/entities/{entity_id:path}/attrs/{attr}")
async def replace_attribute(
    request: Request, entity_id: str, attr: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    body, tm = await _body_and_terms(request, broker)
    now = now_iso()
    parser = AttributeParser(tm, now, max_depth=broker.settings.max_json_depth)
    iri = parser.attribute_iri(attr, "attrId (in the URL)")
    payload = {k: v for k, v in body.items() if k != "@context"} if isinstance(body, dict) else body
    instances = parser.instances(attr, payload, attr)
    await _write_one(broker, tenant, entity_id, operations.replace_attr(entity_id, iri, instances, now))
    return Response(status_code=204)


@router.patch("/entities/{entity_id:path}/attrs/{attr}")
async def partial_attribute_update(
    request: Request, entity_id: str, attr: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    body, tm = await _body_and_terms(request, broker, allowed=(JSON, JSON_LD, MERGE_PATCH))
    if not isinstance(body, dict):
        raise BadRequestData("the attribute fragment must be a JSON object")
    now = now_iso()
    parser = AttributeParser(tm, now, allow_null=True, max_depth=broker.settings.max_json_depth)
    iri = parser.attribute_iri(attr, "attrId (in the URL)")
    payload = {k: v for k, v in body.items() if k != "@context"}
    instance = parser.instance(payload, attr, partial=True)
    fragment = {"attrs": {iri: [instance]}}
    await _write_one(broker, tenant, entity_id, operations.merge(entity_id, fragment, now, partial_attr=iri))
    return Response(status_code=204)


@router.delete("/entities/{entity_id:path}/attrs/{attr}")
async def delete_attribute(
    request: Request, entity_id: str, attr: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    if attr == "scope":  # clause 4.18: the scope is deleted like an attribute
        await _write_one(broker, tenant, entity_id, operations.delete_scope(entity_id, now_iso()))
        return Response(status_code=204)
    tm = await _read_terms(request, broker)
    parser = AttributeParser(tm, now_iso())
    iri = parser.attribute_iri(attr, "attrId (in the URL)")
    params = request.query_params
    dataset_id = params.get("datasetId")
    if dataset_id is not None:
        names.check_uri(dataset_id, "datasetId", "datasetId")
    delete_all = parse_bool(params.get("deleteAll"), "deleteAll")
    change = operations.delete_attr(entity_id, iri, now_iso(), dataset_id=dataset_id, delete_all=delete_all)
    await _write_one(broker, tenant, entity_id, change)
    return Response(status_code=204)


@router.post("/entities/{entity_id:path}/attrs")
async def append_attributes(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    options = parse_options(request.query_params.get("options"), allowed=APPEND_OPTIONS)
    body, tm = await _body_and_terms(request, broker)
    now = now_iso()
    fragment = parse_fragment(_without_id(body, entity_id), tm, now, max_depth=broker.settings.max_json_depth)
    report = operations.AttrReport()
    change = operations.append(entity_id, fragment, now, report, overwrite="noOverwrite" not in options)
    await _write_one(broker, tenant, entity_id, change)
    return update_result(report, tm)


@router.patch("/entities/{entity_id:path}/attrs")
async def update_attributes(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    body, tm = await _body_and_terms(request, broker)
    now = now_iso()
    fragment = parse_fragment(
        _without_id(body, entity_id), tm, now, allow_null=True, max_depth=broker.settings.max_json_depth
    )
    report = operations.AttrReport()
    await _write_one(broker, tenant, entity_id, operations.update_attrs(entity_id, fragment, now, report))
    return update_result(report, tm)


def update_result(report: operations.AttrReport, tm: TermMap) -> Response:
    """204 when every attribute was written; else 207 with the spec's UpdateResult."""
    if report.complete:
        return Response(status_code=204)
    body = {
        "updated": [tm.compact_name(i) for i in report.updated],
        "notUpdated": [
            {"attributeName": tm.compact_name(i), "reason": reason} for i, reason in report.not_updated
        ],
    }
    return json_response(body, status=207)


def _without_id(body: Any, entity_id: str) -> Any:
    if isinstance(body, dict):
        if "id" in body and body["id"] != entity_id:
            raise BadRequestData(f"the body's id {body['id']!r} differs from the URL's {entity_id!r}")
        return {k: v for k, v in body.items() if k not in ("id", "@context")}
    return body


@router.put("/entities/{entity_id:path}")
async def replace_entity(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    body, tm = await _body_and_terms(request, broker)
    if isinstance(body, dict):
        if "id" in body and body["id"] != entity_id:
            raise BadRequestData(f"the body's id {body['id']!r} differs from the URL's {entity_id!r}")
        body = {**body, "id": entity_id}
    entity = parse_entity(body, tm, now_iso(), require_type=False, max_depth=broker.settings.max_json_depth)
    await _write_one(broker, tenant, entity_id, operations.replace(entity))
    return Response(status_code=204)


@router.patch("/entities/{entity_id:path}")
async def merge_entity(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    body, tm = await _body_and_terms(request, broker, allowed=(JSON, JSON_LD, MERGE_PATCH))
    options = parse_options(request.query_params.get("options"), allowed=("keyValues", "simplified"))
    now = now_iso()
    fragment = parse_fragment(
        _without_id(body, entity_id),
        tm,
        now,
        allow_null=True,
        key_values=bool(options),
        max_depth=broker.settings.max_json_depth,
        partial=True,
    )
    await _write_one(broker, tenant, entity_id, operations.merge(entity_id, fragment, now))
    return Response(status_code=204)


@router.delete("/entities/{entity_id:path}")
async def delete_entity(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    _check_path_id(entity_id)
    await _write_one(broker, tenant, entity_id, operations.delete(entity_id))
    return Response(status_code=204)
