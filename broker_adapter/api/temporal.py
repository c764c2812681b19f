"""/ngsi-ld/v1/temporal/...: the temporal evolution of entities (clauses 5.6.11-5.6.18, 5.7.3-5.7.4;
HTTP binding 6.18-6.22 and 6.24).

Provision writes straight to the history store (the current entity is untouched, as the spec says);
consumption reads it. Handlers: parse → store (in a worker thread; aggregation can take tens of ms) →
paginate → render. Entity selection by q, geoQ and scopeQ runs the reference evaluator on the current
state of each candidate (entities that no longer exist do not match them); see `_select`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.api.deps import Broker, BrokerDep, CreatingTenant, ExistingTenant, response_context_url
from broker_adapter.api.http import (
    JSON,
    JSON_LD,
    MERGE_PATCH,
    context_headers,
    json_body,
    json_response,
    link_context,
    negotiate,
    parse_bool,
    parse_int,
    request_context,
)
from broker_adapter.api.temporal_render import TemporalRenderer, paginate
from broker_adapter.ngsild import names
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.durations import canonical_to_ms
from broker_adapter.ngsild.entity_input import AttributeParser, entity_types
from broker_adapter.ngsild.errors import BadRequestData, ResourceNotFound
from broker_adapter.ngsild.query import (
    Node,
    Or,
    TypeIs,
    combine,
    matches,
    parse_attrs,
    parse_geo_query,
    parse_q,
    parse_scope_query,
    parse_type_expression,
)
from broker_adapter.ngsild.query.patterns import PatternError, check_pattern
from broker_adapter.ngsild.temporal import AGGREGATED_VALUES, TemporalRequest, parse_temporal_request
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import CompactedEntity, EntityId, Instance, Iri, Tenant
from broker_adapter.storage.history import (
    AggregateQuery,
    InstanceQuery,
    Series,
    TemporalEntityRecord,
    TemporalSelection,
)

router = APIRouter(prefix="/ngsi-ld/v1")
_ENTITY_KEYS = frozenset({"id", "@id", "type", "@type", "@context", "scope", "createdAt", "modifiedAt"})


def _location(entity_id: str) -> str:
    return f"/ngsi-ld/v1/temporal/entities/{quote(entity_id, safe=':/')}"


async def _terms(request: Request, broker: Broker) -> TermMap:
    return await broker.term_map(link_context(request))


async def _body(
    request: Request, broker: Broker, allowed: tuple[str, ...] = (JSON, JSON_LD)
) -> tuple[Any, TermMap]:
    s = broker.settings
    body, kind = await json_body(request, max_bytes=s.max_batch_body_bytes, max_depth=None, allowed=allowed)
    return body, await broker.term_map(request_context(request, body, kind))


def _attribute_instances(
    body: dict[str, Any], tm: TermMap, now: str, max_depth: int
) -> dict[Iri, list[Instance]]:
    """The attributes of a TemporalEntity: each an instance or an array of instances (any datasetIds)."""
    parser = AttributeParser(tm, now, max_depth=max_depth)
    out: dict[Iri, list[Instance]] = {}
    for name, raw in body.items():
        if name in _ENTITY_KEYS:
            continue
        iri = parser.attribute_iri(name, name)
        items = raw if isinstance(raw, list) and raw and all(isinstance(i, dict) for i in raw) else [raw]
        out.setdefault(iri, []).extend(
            parser.instance(item, f"{name}[{n}]", depth=3) for n, item in enumerate(items)
        )
    return out


# provision -----------------------------------------------------------------------------------------
@router.post("/temporal/entities")
async def create_or_update_temporal_entity(
    request: Request, broker: BrokerDep, tenant: CreatingTenant
) -> Response:
    body, tm = await _body(request, broker)
    if not isinstance(body, dict):
        raise BadRequestData("a TemporalEntity must be a JSON object")
    entity_id = body.get("id", body.get("@id"))
    names.check_entity_id(entity_id, "id")
    raw_type = body.get("type", body.get("@type"))
    if raw_type is None:
        raise BadRequestData(f"temporal entity {entity_id}: 'type' is missing")
    types = entity_types(raw_type, tm)
    attrs = _attribute_instances(body, tm, now_iso(), broker.settings.max_json_depth)
    created = await broker.run_write(broker.store.history.add_instances, tenant, entity_id, types, attrs)
    if created:
        return Response(status_code=201, headers={"Location": _location(entity_id)})
    return Response(status_code=204)


@router.post("/temporal/entities/{entity_id:path}/attrs")
async def add_temporal_attributes(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    names.check_entity_id(entity_id, "entityId (in the URL)")
    body, tm = await _body(request, broker)
    if not isinstance(body, dict):
        raise BadRequestData("the attribute fragment must be a JSON object")
    if body.get("id", entity_id) != entity_id:
        raise BadRequestData(f"the body's id {body['id']!r} differs from the URL's {entity_id!r}")
    attrs = _attribute_instances(body, tm, now_iso(), broker.settings.max_json_depth)
    await broker.run_write(broker.store.history.add_instances, tenant, entity_id, None, attrs)
    return Response(status_code=204)


@router.patch("/temporal/entities/{entity_id:path}/attrs/{attr}/{instance_id}")
async def modify_temporal_instance(
    request: Request, entity_id: str, attr: str, instance_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    names.check_entity_id(entity_id, "entityId (in the URL)")
    names.check_uri(instance_id, "instanceId (in the URL)", "instanceId")
    body, tm = await _body(request, broker, (JSON, JSON_LD, MERGE_PATCH))
    if not isinstance(body, dict):
        raise BadRequestData("the attribute instance fragment must be a JSON object")
    now = now_iso()
    parser = AttributeParser(tm, now, max_depth=broker.settings.max_json_depth)
    iri = parser.attribute_iri(attr, "attrId (in the URL)")
    fragment = body.get(attr, {k: v for k, v in body.items() if k != "@context"})
    patch = parser.instance(fragment, attr, partial=True)
    patch.pop("datasetId", None)  # an instance stays in its datasetId's series
    history = broker.store.history
    found = await broker.run_write(
        history.update_instance, tenant, entity_id, iri, instance_id, patch, canonical_to_ms(now)
    )
    if not found:
        raise ResourceNotFound(f"entity {entity_id} has no instance {instance_id} of {attr}")
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id:path}/attrs/{attr}/{instance_id}")
async def delete_temporal_instance(
    request: Request, entity_id: str, attr: str, instance_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    names.check_entity_id(entity_id, "entityId (in the URL)")
    names.check_uri(instance_id, "instanceId (in the URL)", "instanceId")
    iri = AttributeParser(await _terms(request, broker), "").attribute_iri(attr, "attrId (in the URL)")
    history = broker.store.history
    if not await broker.run_write(history.delete_instance, tenant, entity_id, iri, instance_id):
        raise ResourceNotFound(f"entity {entity_id} has no instance {instance_id} of {attr}")
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id:path}/attrs/{attr}")
async def delete_temporal_attribute(
    request: Request, entity_id: str, attr: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    names.check_entity_id(entity_id, "entityId (in the URL)")
    iri = AttributeParser(await _terms(request, broker), "").attribute_iri(attr, "attrId (in the URL)")
    params = request.query_params
    dataset_id = params.get("datasetId")
    if dataset_id is not None:
        names.check_uri(dataset_id, "datasetId", "datasetId")
    delete_all = parse_bool(params.get("deleteAll"), "deleteAll")
    history = broker.store.history
    if history.get_entity(tenant, entity_id) is None:
        raise ResourceNotFound(f"temporal entity {entity_id} does not exist")
    deleted = await broker.run_write(
        lambda: history.delete_attribute(tenant, entity_id, iri, dataset_id=dataset_id, delete_all=delete_all)
    )
    if not deleted:
        what = f"datasetId {dataset_id}" if dataset_id else "a default instance"
        raise ResourceNotFound(f"temporal entity {entity_id} has no attribute {attr} with {what}")
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id:path}")
async def delete_temporal_entity(entity_id: str, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    names.check_entity_id(entity_id, "entityId (in the URL)")
    if not await broker.run_write(broker.store.history.delete_entity, tenant, entity_id):
        raise ResourceNotFound(f"temporal entity {entity_id} does not exist")
    return Response(status_code=204)


# consumption ---------------------------------------------------------------------------------------
@router.get("/temporal/entities/{entity_id:path}")
async def retrieve_temporal_entity(
    request: Request, entity_id: str, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    names.check_entity_id(entity_id, "entityId (in the URL)")
    accept = negotiate(request, (JSON, JSON_LD))
    tm = await _terms(request, broker)
    params = request.query_params
    temporal = parse_temporal_request(params)
    attrs = parse_attrs(params["attrs"], tm) if params.get("attrs") else None
    record = broker.store.history.get_entity(tenant, entity_id)
    if record is None:
        raise ResourceNotFound(f"temporal entity {entity_id} does not exist")
    bodies, content_range = await anyio.to_thread.run_sync(
        _read, broker, tenant, [record], temporal, attrs, tm
    )
    if attrs is not None and not bodies[0].keys() - _ENTITY_MEMBERS:
        raise ResourceNotFound(f"temporal entity {entity_id} has none of the requested attributes")
    return _answer(request, accept, bodies[0], content_range)


@router.get("/temporal/entities")
async def query_temporal_entities(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    accept = negotiate(request, (JSON, JSON_LD))
    tm = await _terms(request, broker)
    return await _query(
        request, broker, tenant, tm, accept, request.query_params, [dict(request.query_params)]
    )


@router.post("/temporal/entityOperations/query")
async def query_temporal_entities_post(
    request: Request, broker: BrokerDep, tenant: ExistingTenant
) -> Response:
    accept = negotiate(request, (JSON, JSON_LD))
    body, tm = await _body(request, broker)
    if not isinstance(body, dict) or body.get("type", "Query") != "Query":
        raise BadRequestData("the body must be a Query object")
    params: dict[str, Any] = {**request.query_params}
    temporal_q = body.get("temporalQ") or {}
    if not isinstance(temporal_q, dict):
        raise BadRequestData("temporalQ must be a JSON object")
    params.update({k: v for k, v in temporal_q.items() if v is not None})
    for key in ("attrs", "q", "scopeQ"):
        if key in body:
            params[key] = ",".join(body[key]) if key == "attrs" and isinstance(body[key], list) else body[key]
    geo = body.get("geoQ")
    if isinstance(geo, dict):
        params.update({k: geo.get(k) for k in ("georel", "geometry", "coordinates", "geoproperty")})
    selectors = body.get("entities") or [{}]
    if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
        raise BadRequestData("entities must be an array of EntitySelector objects")
    return await _query(request, broker, tenant, tm, accept, params, selectors)


async def _query(
    request: Request,
    broker: Broker,
    tenant: Tenant,
    tm: TermMap,
    accept: str,
    params: Mapping[str, Any],
    selectors: list[dict[str, Any]],
) -> Response:
    temporal = parse_temporal_request(params)
    attrs = parse_attrs(params["attrs"], tm) if params.get("attrs") else None
    limit = parse_int(_text(params.get("limit")), "limit", broker.settings.default_limit)
    if limit > broker.settings.max_limit:
        raise BadRequestData(f"limit {limit} is above the maximum of {broker.settings.max_limit}")
    offset = parse_int(_text(params.get("offset")), "offset", 0)
    condition = combine(
        parse_q(params["q"], tm) if params.get("q") else None,
        parse_scope_query(params["scopeQ"]) if params.get("scopeQ") else None,
        parse_geo_query(
            params.get("georel"),
            params.get("geometry"),
            params.get("coordinates"),
            params.get("geoproperty"),
            tm,
        ),
    )
    if not any(s.get("type") or s.get("id") or s.get("idPattern") for s in selectors) and (
        attrs is None and condition is None and not parse_bool(_text(params.get("local")), "local")
    ):
        # 5.7.4.4, as for entity queries: a query that selects nothing is refused, not a dump of everything
        raise BadRequestData(
            "a temporal query needs at least one of type, id, idPattern, attrs, q, scopeQ or a geo-query"
        )
    selections = [_selection(selector, tm) for selector in selectors]
    records, total = await anyio.to_thread.run_sync(
        _select, broker, tenant, selections, condition, limit, offset
    )
    bodies, content_range = await anyio.to_thread.run_sync(
        _read, broker, tenant, records, temporal, attrs, tm
    )
    response = _answer(request, accept, bodies, content_range)
    if temporal.count:
        response.headers["NGSILD-Results-Count"] = str(total)
    return response


_ENTITY_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"})


def _text(raw: Any) -> str | None:
    return None if raw is None else str(raw)


def _selection(selector: Mapping[str, Any], tm: TermMap) -> tuple[TemporalSelection, Node | None]:
    """One EntitySelector (id, idPattern, type) as a store selection plus a type filter for Python."""
    ids = selector.get("id")
    id_list = [i.strip() for i in ids.split(",")] if isinstance(ids, str) else ids
    for n, entity_id in enumerate(id_list or ()):
        names.check_entity_id(entity_id, f"id[{n}]")
    pattern = selector.get("idPattern")
    if pattern is not None:
        try:
            check_pattern(pattern)
        except PatternError as exc:
            raise BadRequestData(f"idPattern: {exc}") from exc
    types: list[Iri] | None = None
    type_node = parse_type_expression(selector["type"], tm) if selector.get("type") else None
    if isinstance(type_node, TypeIs):
        types, type_node = [type_node.iri], None
    elif isinstance(type_node, Or) and all(isinstance(i, TypeIs) for i in type_node.items):
        types, type_node = [i.iri for i in type_node.items], None  # type: ignore[union-attr]
    return TemporalSelection(ids=id_list or None, id_pattern=pattern, types=types), type_node


def _select(
    broker: Broker,
    tenant: Tenant,
    selections: list[tuple[TemporalSelection, Node | None]],
    condition: Node | None,
    limit: int,
    offset: int,
) -> tuple[list[TemporalEntityRecord], int]:
    """The page of temporal entities. One plain selector pages in the store; otherwise every candidate
    is filtered here: type expressions on the recorded types, q/geoQ/scopeQ on the current entity.

    NOTE: when the SQL compiler of the query engine (EntityQuery.q/scope/geo) lands, q/geoQ/scopeQ can
    be pushed down with store.query(EntityQuery(ids=candidates, q=..., scope=..., geo=...))."""
    history = broker.store.history
    if len(selections) == 1 and selections[0][1] is None and condition is None:
        plain = selections[0][0]
        return history.select_entities(
            tenant, TemporalSelection(plain.ids, plain.id_pattern, plain.types, limit, offset)
        )
    found: dict[EntityId, TemporalEntityRecord] = {}
    for selection, type_node in selections:
        for record in history.select_entities(tenant, selection)[0]:
            if type_node is None or matches({"type": record.types}, type_node):
                found.setdefault(record.id, record)
    records = [found[i] for i in sorted(found)]
    if condition is not None:
        kept = []
        for record in records:
            entity = broker.store.get_entity(tenant, record.id)
            if entity is not None and matches(entity, condition):
                kept.append(record)
        records = kept
    return records[offset : offset + limit], len(records)


def _read(
    broker: Broker,
    tenant: Tenant,
    records: list[TemporalEntityRecord],
    temporal: TemporalRequest,
    attrs: tuple[Iri, ...] | None,
    tm: TermMap,
) -> tuple[list[CompactedEntity], str | None]:
    history = broker.store.history
    renderer = TemporalRenderer(tm, temporal)
    if temporal.format == AGGREGATED_VALUES:
        query = AggregateQuery(temporal.methods, temporal.period, attrs, temporal.time)
        return [renderer.entity(r, history.aggregate(tenant, r.id, query)) for r in records], None
    limit = broker.settings.temporal_max_instances
    query = InstanceQuery(attrs, temporal.time, temporal.last_n, limit)
    found = [history.instances(tenant, r.id, query) for r in records]
    all_series: list[Series] = [s for entity_series in found for s in entity_series]
    content_range = paginate(all_series, temporal, limit)
    return [renderer.entity(r, s) for r, s in zip(records, found, strict=True)], content_range


def _answer(request: Request, accept: str, body: Any, content_range: str | None) -> Response:
    context_url = response_context_url(request)
    headers = context_headers(accept, context_url)
    if accept == JSON_LD:
        for item in body if isinstance(body, list) else [body]:
            item["@context"] = context_url
    if content_range is None:
        return json_response(body, media=accept, headers=headers)
    headers["Content-Range"] = content_range
    return json_response(body, status=206, media=accept, headers=headers)
