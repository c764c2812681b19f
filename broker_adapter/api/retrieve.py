"""Retrieve Entity (GET /ngsi-ld/v1/entities/{entityId}) on raw ASGI terms: the hottest read.

It works on the scope's header list and answers with (status, headers, body), so the fast path in
`fastpath.py` needs neither Starlette's Request/Response objects nor FastAPI's routing; the FastAPI
route calls the same function, so both paths behave identically.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
from starlette.requests import Request
from starlette.types import Scope

from broker_adapter.api.deps import Broker, check_tenant_name
from broker_adapter.api.http import GEO_JSON, JSON, JSON_LD, geojson_context_in_body, negotiate_header
from broker_adapter.api.join import Linker, request_join
from broker_adapter.ngsild import names
from broker_adapter.ngsild.core_context import CORE_CONTEXT_URL
from broker_adapter.ngsild.errors import NonexistentTenant, ResourceNotFound
from broker_adapter.ngsild.link_header import context_link, parse_context_link
from broker_adapter.ngsild.render import LOCATION_IRI, Renderer, RenderOptions

OFFERED = (JSON, JSON_LD, GEO_JSON)
_DEFAULT_OPTIONS = RenderOptions()
_CONTENT_TYPES = {media: (b"content-type", media.encode("latin-1")) for media in OFFERED}


@lru_cache(maxsize=1024)
def _link_value(url: str) -> bytes:
    """The encoded Link header naming a response's @context URL."""
    return context_link(url).encode("latin-1")


async def retrieve(scope: Scope, entity_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The whole operation: headers → tenant, media type, @context → store → rendered body."""
    broker: Broker = scope["app"].state.broker
    raw_headers = scope["headers"]
    headers = dict(raw_headers)
    if len(headers) != len(raw_headers):  # a repeated header (e.g. two Links): let Starlette join them
        request = Request(scope)
        tenant_raw = request.headers.get("ngsild-tenant")
        accept_raw = request.headers.get("accept")
        link_raw = request.headers.get("link")
        prefer_raw = request.headers.get("prefer")
    else:
        tenant_raw = _text(headers.get(b"ngsild-tenant"))
        accept_raw = _text(headers.get(b"accept"))
        link_raw = _text(headers.get(b"link"))
        prefer_raw = _text(headers.get(b"prefer"))
    tenant = check_tenant_name(tenant_raw) if tenant_raw is not None else ""
    if not broker.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist (nothing has been written to it)")
    accept = negotiate_header(accept_raw, OFFERED) if accept_raw else JSON
    names.check_entity_id(entity_id, "entityId (in the URL)")
    context_url = parse_context_link(link_raw) if link_raw is not None else None
    tm = await broker.term_map(context_url)
    query_string = scope["query_string"]
    if query_string:
        from broker_adapter.api.entities import render_options  # the shared parameter parsing

        request = Request(scope)
        options = render_options(request, tm)
        params = request.query_params
    else:
        options, params = _DEFAULT_OPTIONS, None
    entity = broker.store.get_entity(tenant, entity_id)
    if entity is None:
        raise ResourceNotFound(f"entity {entity_id} does not exist")
    wanted = options.pick if params is not None and params.get("attrs") is not None else None
    if wanted is not None and not any(a in entity["attrs"] for a in wanted):
        raise ResourceNotFound(f"entity {entity_id} has none of the requested attributes")
    renderer = Renderer(tm, options)
    response_context = context_url or CORE_CONTEXT_URL
    if accept == GEO_JSON:
        geometry = params.get("geometryProperty") if params is not None else None
        body = renderer.feature(entity, tm.expand_name(geometry) if geometry else LOCATION_IRI)
        if geojson_context_in_body(prefer_raw):
            body["@context"] = response_context
    else:
        body = renderer.entity(entity)
        if not body:  # clause 4.21: pick/omit left no member
            raise ResourceNotFound(f"pick/omit leave no member of entity {entity_id}")
        join = request_join(params) if params is not None else None
        if join is not None:
            linked = Linker(broker.store, tenant, tm, options, join).apply([(entity, body)])
            if linked:  # join=flat: the entity, then what it links to
                body = [body, *linked]
        if accept == JSON_LD:
            for item in body if isinstance(body, list) else [body]:
                item["@context"] = response_context
    payload = orjson.dumps(body)
    out = [_CONTENT_TYPES[accept], (b"content-length", str(len(payload)).encode())]
    if accept != JSON_LD:
        out.append((b"link", _link_value(response_context)))
    return 200, out, payload


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
