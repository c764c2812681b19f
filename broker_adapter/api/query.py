"""Query entities: GET /ngsi-ld/v1/entities and POST /ngsi-ld/v1/entityOperations/query (clauses 6.4.3.2
and 6.23), from request parameters (or the Query data type, clause 5.2.23) to an EntityQuery, and the
paged response.

Decisions:
- limit defaults to settings.default_limit (20) and may not exceed settings.max_limit; limit=0 is only
  meaningful with count=true (only the count is wanted) and is a BadRequestData otherwise.
- Paging (clause 5.5.9): results are ordered by entity id; `Link` carries rel="next" when a further page
  exists (the store is asked for one entity more than the page) and rel="prev" when offset > 0.
- csf filters context source registrations; this broker holds none, so csf is validated (it has the q
  syntax) and has no effect on the result. local=true is accepted for the same reason.
- idPattern is checked like the ~= patterns of q (bounded: no catastrophic backtracking).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.access.gate import TENANTS
from broker_adapter.api import regional
from broker_adapter.api.deps import BrokerDep, existing_tenant, response_context_url
from broker_adapter.api.entities import RETRIEVE_OPTIONS, render_entities, render_options
from broker_adapter.api.http import (
    GEO_JSON,
    JSON,
    JSON_LD,
    context_headers,
    json_body,
    json_response,
    link_context,
    negotiate,
    parse_bool,
    parse_int,
    request_context,
    split_list,
)
from broker_adapter.api.join import Linker, request_join
from broker_adapter.api.paging import add_page_links, page_links
from broker_adapter.ngsild import names
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.query import (
    parse_attrs,
    parse_geo_query,
    parse_q,
    parse_scope_query,
    parse_type_expression,
)
from broker_adapter.ngsild.query.patterns import PatternError, check_pattern
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import Tenant
from broker_adapter.storage.port import EntityQuery, EntitySelector, QueryResult
from verbund.settings import Settings

router = APIRouter(prefix="/ngsi-ld/v1")
QUERY_OPTIONS = (*RETRIEVE_OPTIONS, "count")


async def query_scope(request: Request) -> Tenant | tuple[Tenant, ...]:
    """One existing tenant, or the tenants of a regional query (a region or a list: api/regional.py)."""
    tenants = request.scope.get(TENANTS)
    return tenants if tenants is not None else await existing_tenant(request)


QueryScope = Annotated[Tenant | tuple[Tenant, ...], Depends(query_scope)]


def check_id_pattern(pattern: str, param: str = "idPattern") -> str:
    try:
        return check_pattern(pattern)
    except PatternError as exc:
        raise BadRequestData(f"{param}: {exc.message} (at position {exc.index})") from exc


def paging(params: Mapping[str, str], settings: Settings) -> tuple[int, int, bool]:
    """limit, offset and count from the URL parameters (also for POST entityOperations/query)."""
    limit = parse_int(params.get("limit"), "limit", settings.default_limit)
    if limit > settings.max_limit:
        raise BadRequestData(f"limit {limit} is above the maximum of {settings.max_limit}; page with offset")
    offset = parse_int(params.get("offset"), "offset", 0)
    options = {o.strip() for o in (params.get("options") or "").split(",")}
    count = parse_bool(params.get("count"), "count") or "count" in options
    if limit == 0 and not count:
        raise BadRequestData("limit=0 returns no entities; it is only allowed with count=true")
    return limit, offset, count


def entity_query(params: Mapping[str, str], tm: TermMap, settings: Settings) -> EntityQuery:
    """The EntityQuery of GET /entities (and DELETE /entities) from its URL parameters."""
    type_param, id_param, id_pattern = params.get("type"), params.get("id"), params.get("idPattern")
    q, scope_q, attrs = params.get("q"), params.get("scopeQ"), params.get("attrs")
    geo = parse_geo_query(
        params.get("georel"), params.get("geometry"), params.get("coordinates"), params.get("geoproperty"), tm
    )
    local = parse_bool(params.get("local"), "local")
    if params.get("csf") is not None:
        parse_q(params["csf"], tm)  # validated only: there are no context sources to filter
    if all(p is None for p in (type_param, id_param, id_pattern, attrs, q, scope_q, geo)) and not local:
        raise BadRequestData(
            "a query needs at least one of type, id, idPattern, attrs, q, scopeQ or a geo-query"
            " (or local=true to list every entity)"
        )
    ids = split_list(id_param)
    for n, entity_id in enumerate(ids or ()):
        names.check_entity_id(entity_id, f"id[{n}]")
    limit, offset, count = paging(params, settings)
    return EntityQuery(
        ids=ids,
        id_pattern=check_id_pattern(id_pattern) if id_pattern is not None else None,
        attrs=parse_attrs(attrs, tm) if attrs is not None else None,
        type_expression=parse_type_expression(type_param, tm) if type_param is not None else None,
        q=parse_q(q, tm) if q is not None else None,
        scope=parse_scope_query(scope_q) if scope_q is not None else None,
        geo=geo,
        local=local,
        limit=limit,
        offset=offset,
        count=count,
    )


def body_query(body: Any, tm: TermMap, params: Mapping[str, str], settings: Settings) -> EntityQuery:
    """The EntityQuery of a Query data type body (clause 5.2.23); paging stays in the URL."""
    if not isinstance(body, dict):
        raise BadRequestData('the body must be a Query object: {"type": "Query", ...}')
    if body.get("type") != "Query":
        raise BadRequestData(f'the body\'s type must be "Query", not {body.get("type")!r}')
    selectors = [_selector(item, n, tm) for n, item in enumerate(_list(body, "entities"))] or None
    attrs = _list(body, "attrs")
    if not all(isinstance(a, str) for a in attrs):
        raise BadRequestData("attrs: must be a list of attribute names")
    geo_q = body.get("geoQ")
    if geo_q is not None and not isinstance(geo_q, dict):
        raise BadRequestData("geoQ: must be an object with geometry, coordinates and georel")
    geo_q = geo_q or {}
    coordinates = geo_q.get("coordinates")
    geo = parse_geo_query(
        _text(geo_q, "georel", "geoQ.georel"),
        _text(geo_q, "geometry", "geoQ.geometry"),
        coordinates if isinstance(coordinates, str | list) or coordinates is None else str(coordinates),
        _text(geo_q, "geoproperty", "geoQ.geoproperty"),
        tm,
    )
    q, scope_q, csf = _text(body, "q"), _text(body, "scopeQ"), _text(body, "csf")
    if csf is not None:
        parse_q(csf, tm)
    if not (selectors or attrs or q or geo or scope_q):
        raise BadRequestData("a Query needs at least one of entities, attrs, q, scopeQ or geoQ")
    limit, offset, count = paging(params, settings)
    return EntityQuery(
        selectors=selectors,
        attrs=parse_attrs(",".join(attrs), tm) if attrs else None,
        q=parse_q(q, tm) if q is not None else None,
        scope=parse_scope_query(scope_q) if scope_q is not None else None,
        geo=geo,
        local=parse_bool(params.get("local"), "local"),
        limit=limit,
        offset=offset,
        count=count,
    )


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestData(f"{key}: must be a JSON array")
    return value


def _text(body: dict[str, Any], key: str, name: str | None = None) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequestData(f"{name or key}: must be a string")
    return value


def _selector(item: Any, n: int, tm: TermMap) -> EntitySelector:
    where = f"entities[{n}]"
    if not isinstance(item, dict):
        raise BadRequestData(f"{where}: must be an object with type and optionally id or idPattern")
    type_text, entity_id = _text(item, "type", where + ".type"), _text(item, "id", where + ".id")
    id_pattern = _text(item, "idPattern", where + ".idPattern")
    if type_text is None and entity_id is None and id_pattern is None:
        raise BadRequestData(f"{where}: needs a type, an id or an idPattern")
    if entity_id is not None:
        names.check_entity_id(entity_id, where + ".id")
    return EntitySelector(
        type_expression=parse_type_expression(type_text, tm) if type_text is not None else None,
        id=entity_id,
        id_pattern=check_id_pattern(id_pattern, where + ".idPattern") if id_pattern is not None else None,
    )


async def respond(
    request: Request,
    broker: BrokerDep,
    tenant: Tenant | tuple[Tenant, ...],
    tm: TermMap,
    query: EntityQuery,
    *,
    pick: set[str] | None = None,
    lang: str | None = None,
) -> Response:
    """Run the query (one entity more than the page, to know whether a next page exists) and render.

    pick / lang: the Query body's attrs and lang, which override the URL's."""
    accept = negotiate(request, (JSON, JSON_LD, GEO_JSON))
    options = render_options(request, tm, allowed_options=QUERY_OPTIONS)
    join = request_join(request.query_params)
    if pick is not None:
        options = dataclasses.replace(options, pick=pick)
    if lang is not None:
        options = dataclasses.replace(options, lang=lang)
    page = query.limit
    probe = dataclasses.replace(query, limit=page + 1) if page > 0 else query
    marks: list[Tenant] | None = None
    if isinstance(tenant, tuple):
        found, total = await regional.run(broker, tenant, probe)
        result = QueryResult([entity for _, entity in found], total if query.count else None)
        marks = [t for t, _ in found][:page]
    else:
        result = broker.store.query(tenant, probe)
    has_next = len(result.entities) > page
    entities = result.entities[:page]
    headers = context_headers(accept, response_context_url(request))
    if query.count:
        headers["NGSILD-Results-Count"] = str(result.total)
        has_next = query.offset + page < (result.total or 0) and page > 0
    links = page_links(request, offset=query.offset, limit=page, has_next=has_next, media=accept)
    add_page_links(headers, links)
    body = render_entities(request, tm, entities, accept, options)
    if join is not None and isinstance(body, list) and not isinstance(tenant, tuple):
        linked = Linker(broker.store, tenant, tm, options, join).apply(list(zip(entities, body, strict=True)))
        if accept == JSON_LD:
            context = response_context_url(request)
            for item in linked:
                item["@context"] = context
        body.extend(linked)
    if isinstance(body, list) and not all(body):  # entities that pick/omit leave empty are not listed (4.21)
        kept = [n for n, rendered in enumerate(body) if rendered]
        body = [body[n] for n in kept]
        marks = [marks[n] for n in kept] if marks is not None else None
    if marks is not None:
        regional.mark(body, marks, options.format)
    return json_response(body, media=accept, headers=headers)


@router.get("/entities")
async def query_entities(request: Request, broker: BrokerDep, tenant: QueryScope) -> Response:
    tm = await broker.term_map(link_context(request))
    return await respond(request, broker, tenant, tm, entity_query(request.query_params, tm, broker.settings))


@router.post("/entityOperations/query")
async def query_by_body(request: Request, broker: BrokerDep, tenant: QueryScope) -> Response:
    body, kind = await json_body(request, max_bytes=broker.settings.max_body_bytes, max_depth=32)
    tm = await broker.term_map(request_context(request, body, kind))
    query = body_query(body, tm, request.query_params, broker.settings)
    pick = None if query.attrs is None else {"id", "type", "scope", *query.attrs}
    lang = body.get("lang") if isinstance(body.get("lang"), str) else None
    return await respond(request, broker, tenant, tm, query, pick=pick, lang=lang)
