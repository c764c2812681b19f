"""/verbund/v1/municipalities: the municipality registry's admin API (shared contract 1).

Thin handlers: parse → registry (registry/service.py) → render. Errors are ProblemDetails like the
NGSI-LD API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from broker_adapter.access.audit import AuditLog
from broker_adapter.access.credentials import Credentials
from broker_adapter.access.roles import PLATFORM, READ, Principal
from broker_adapter.api.deps import Caller
from broker_adapter.api.http import JSON, MERGE_PATCH, json_body, json_response
from broker_adapter.ngsild.errors import AccessDenied, BadRequestData, ResourceNotFound, Unauthorized
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


async def get_credentials(request: Request) -> Credentials:
    return request.app.state.credentials


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]


async def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit


AuditDep = Annotated[AuditLog, Depends(get_audit)]


def _may_see(caller: Principal, registry: Registry, tenant: str) -> bool:
    """Records are shown to whoever may read the tenant; open-data municipalities to everyone."""
    return caller.may(READ, tenant) or tenant in registry.directory.fresh().open_data


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
async def register(
    request: Request, registry: RegistryDep, caller: Caller, credentials: CredentialsDep, audit: AuditDep
) -> Response:
    """The answer is the record plus `credentials`: the municipality's first admin API key, shown once."""
    body, _ = await json_body(request, max_bytes=BODY_LIMIT, max_depth=BODY_DEPTH, allowed=(JSON,))
    record = await registry.register(body)
    tenant = record["tenant"]
    audit.record(caller, "municipality.register", tenant)
    first = await credentials.issue_first(caller, tenant)
    headers = {"Location": f"/verbund/v1/municipalities/{tenant}", "Cache-Control": "no-store"}
    return json_response({**record, "credentials": first}, status=201, headers=headers)


@router.get(
    "/municipalities",
    summary="List municipalities (?status=active|retired, ?region=NAME)",
    responses={200: openapi.answer("records", {"type": "array", "items": openapi.MUNICIPALITY}), **PROBLEMS},
)
async def list_municipalities(request: Request, registry: RegistryDep, caller: Caller) -> Response:
    status = request.query_params.get("status")
    region = request.query_params.get("region")
    if status not in (None, "active", "retired"):
        raise BadRequestData("status: expected active or retired")
    records = [
        r
        for r in await registry.list()
        if (status is None or r.get("status") == status)
        and (region is None or region in r.get("regions", ()))
        and _may_see(caller, registry, r["tenant"])
    ]
    return json_response(records)


@router.get(
    "/municipalities/{tenant}",
    summary="Read a municipality",
    responses={200: openapi.answer("the record", openapi.MUNICIPALITY), **PROBLEMS},
)
async def read_municipality(tenant: str, registry: RegistryDep, caller: Caller) -> Response:
    tenant = _tenant(tenant)
    if not _may_see(caller, registry, tenant):  # decided before the look-up: existence stays unknown
        if not caller.authenticated:
            raise Unauthorized("this municipality is not open data: send Authorization: Bearer <token>")
        raise AccessDenied(f"{caller.subject} may not read tenant {tenant!r}")
    return json_response(await registry.get(tenant))


@router.patch(
    "/municipalities/{tenant}",
    summary="Change a municipality (JSON merge-patch: null removes an optional member)",
    openapi_extra=openapi.body(openapi.MUNICIPALITY, JSON, MERGE_PATCH),
    responses={200: openapi.answer("the changed record", openapi.MUNICIPALITY), **PROBLEMS},
)
async def update_municipality(
    tenant: str, request: Request, registry: RegistryDep, caller: Caller, audit: AuditDep
) -> Response:
    """Municipality admins change their own record, except its regions (the platform's grouping)."""
    body, _ = await json_body(
        request, max_bytes=BODY_LIMIT, max_depth=BODY_DEPTH, allowed=(JSON, MERGE_PATCH)
    )
    if isinstance(body, dict) and "regions" in body and not caller.may(PLATFORM, "*"):
        raise AccessDenied("regions are changed by platform admins")
    record = await registry.update(_tenant(tenant), body)
    audit.record(caller, "municipality.update", tenant, members=sorted(body))
    return json_response(record)


@router.post(
    "/municipalities/{tenant}/retire",
    summary="Retire a municipality: stop its feeds; keep, export or delete its data",
    openapi_extra=openapi.body(openapi.RETIRE, required=False),
    responses={200: openapi.answer("the retired record and what happened to the data"), 409: openapi.PROBLEM,
               **PROBLEMS},
)  # fmt: skip
async def retire_municipality(
    tenant: str,
    request: Request,
    registry: RegistryDep,
    caller: Caller,
    credentials: CredentialsDep,
    audit: AuditDep,
) -> Response:
    options: Any = None
    if request.headers.get("content-length", "0") != "0" or "chunked" in request.headers.get(
        "transfer-encoding", ""
    ):
        options, _ = await json_body(request, max_bytes=4096, max_depth=2, allowed=(JSON,))
    result = await registry.retire(_tenant(tenant), options)
    result["revokedCredentials"] = await credentials.revoke_tenant(caller, tenant)
    audit.record(caller, "municipality.retire", tenant, data=result["data"])
    return json_response(result)


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
