"""/verbund/v1/municipalities: the municipality registry's admin API (shared contract 1).

Thin handlers: parse → registry (registry/service.py) → render. Errors are ProblemDetails like the
NGSI-LD API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from broker_adapter.api.http import JSON, MERGE_PATCH, json_body, json_response
from broker_adapter.ngsild.errors import BadRequestData, ResourceNotFound
from broker_adapter.registry import openapi
from broker_adapter.registry.model import check_tenant
from broker_adapter.registry.service import Registry

router = APIRouter(prefix="/verbund/v1", tags=["municipalities"])
BODY_LIMIT = 1024 * 1024  # an area polygon can be large; still bounded
BODY_DEPTH = 8
PROBLEMS = {400: openapi.PROBLEM, 401: openapi.PROBLEM, 403: openapi.PROBLEM, 404: openapi.PROBLEM}


async def get_registry(request: Request) -> Registry:
    return request.app.state.registry


RegistryDep = Annotated[Registry, Depends(get_registry)]


def _tenant(tenant: str) -> str:
    try:
        return check_tenant(tenant, "tenant (in the URL)")
    except BadRequestData as exc:  # no municipality can have this id
        raise ResourceNotFound(exc.detail) from exc


@router.post(
    "/municipalities",
    status_code=201,
    summary="Register a municipality: its tenant, settings and feed subscriptions",
    openapi_extra=openapi.body(openapi.MUNICIPALITY),
    responses={201: openapi.answer("the registered record", openapi.MUNICIPALITY), 409: openapi.PROBLEM,
               **PROBLEMS},
)  # fmt: skip
async def register(request: Request, registry: RegistryDep) -> Response:
    body, _ = await json_body(request, max_bytes=BODY_LIMIT, max_depth=BODY_DEPTH, allowed=(JSON,))
    record = await registry.register(body)
    location = f"/verbund/v1/municipalities/{record['tenant']}"
    return json_response(record, status=201, headers={"Location": location})


@router.get(
    "/municipalities",
    summary="List municipalities (?status=active|retired, ?region=NAME)",
    responses={200: openapi.answer("records", {"type": "array", "items": openapi.MUNICIPALITY}), **PROBLEMS},
)
async def list_municipalities(request: Request, registry: RegistryDep) -> Response:
    status = request.query_params.get("status")
    region = request.query_params.get("region")
    if status not in (None, "active", "retired"):
        raise BadRequestData("status: expected active or retired")
    records = [
        r
        for r in await registry.list()
        if (status is None or r.get("status") == status)
        and (region is None or region in r.get("regions", ()))
    ]
    return json_response(records)


@router.get(
    "/municipalities/{tenant}",
    summary="Read a municipality",
    responses={200: openapi.answer("the record", openapi.MUNICIPALITY), **PROBLEMS},
)
async def read_municipality(tenant: str, registry: RegistryDep) -> Response:
    return json_response(await registry.get(_tenant(tenant)))


@router.patch(
    "/municipalities/{tenant}",
    summary="Change a municipality (JSON merge-patch: null removes an optional member)",
    openapi_extra=openapi.body(openapi.MUNICIPALITY, JSON, MERGE_PATCH),
    responses={200: openapi.answer("the changed record", openapi.MUNICIPALITY), **PROBLEMS},
)
async def update_municipality(tenant: str, request: Request, registry: RegistryDep) -> Response:
    body, _ = await json_body(
        request, max_bytes=BODY_LIMIT, max_depth=BODY_DEPTH, allowed=(JSON, MERGE_PATCH)
    )
    return json_response(await registry.update(_tenant(tenant), body))


@router.post(
    "/municipalities/{tenant}/retire",
    summary="Retire a municipality: stop its feeds; keep, export or delete its data",
    openapi_extra=openapi.body(openapi.RETIRE, required=False),
    responses={200: openapi.answer("the retired record and what happened to the data"), 409: openapi.PROBLEM,
               **PROBLEMS},
)  # fmt: skip
async def retire_municipality(tenant: str, request: Request, registry: RegistryDep) -> Response:
    options: Any = None
    if request.headers.get("content-length", "0") != "0" or "chunked" in request.headers.get(
        "transfer-encoding", ""
    ):
        options, _ = await json_body(request, max_bytes=4096, max_depth=2, allowed=(JSON,))
    return json_response(await registry.retire(_tenant(tenant), options))


@router.get(
    "/municipalities/{tenant}/export",
    summary="Download the latest export of a retired municipality's data",
    responses={200: {"description": "a JSON array of NGSI-LD entities"}, **PROBLEMS},
)
async def download_export(tenant: str, registry: RegistryDep) -> Response:
    tenant = _tenant(tenant)
    path = registry.latest_export(tenant)
    if path is None:
        raise ResourceNotFound(f"there is no export of {tenant!r}")
    return FileResponse(path, media_type="application/ld+json", filename=path.name)
