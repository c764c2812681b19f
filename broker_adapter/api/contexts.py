"""/ngsi-ld/v1/jsonldContexts: the @context management API (add, list, serve, delete)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.api.deps import BrokerDep
from broker_adapter.api.http import JSON, JSON_LD, json_body, json_response, negotiate, parse_bool
from broker_adapter.ngsild.errors import BadRequestData

router = APIRouter(prefix="/ngsi-ld/v1/jsonldContexts")
KINDS = ("Hosted", "Cached", "ImplicitlyCreated")


@router.post("")
async def add_context(request: Request, broker: BrokerDep) -> Response:
    s = broker.settings
    body, _ = await json_body(
        request, max_bytes=s.context_max_bytes, max_depth=s.max_json_depth, allowed=(JSON, JSON_LD)
    )
    record = await broker.resolver.add(body)
    return Response(
        status_code=201, headers={"Location": f"/ngsi-ld/v1/jsonldContexts/{quote(record.id, safe=':')}"}
    )


@router.get("")
async def list_contexts(request: Request, broker: BrokerDep) -> Response:
    negotiate(request, (JSON, JSON_LD))
    params = request.query_params
    kind = params.get("kind")
    if kind is not None and kind not in KINDS:
        raise BadRequestData(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    details = parse_bool(params.get("details"), "details")
    return json_response(await broker.resolver.list_contexts(kind, details=details))


@router.get("/{context_id:path}")
async def serve_context(request: Request, context_id: str, broker: BrokerDep) -> Response:
    accept = negotiate(request, (JSON, JSON_LD))
    details = parse_bool(request.query_params.get("details"), "details")
    body = await broker.resolver.serve(context_id, details=details)
    return json_response(body, media=JSON if details else accept)


@router.delete("/{context_id:path}")
async def delete_context(request: Request, context_id: str, broker: BrokerDep) -> Response:
    reload = parse_bool(request.query_params.get("reload"), "reload")
    await broker.resolver.delete(context_id, reload=reload)
    return Response(status_code=204)
