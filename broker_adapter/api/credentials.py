"""/verbund/v1/credentials (API keys), /verbund/v1/auth/whoami and /verbund/v1/audit.

The gate (access/gate.py) has authenticated the caller; who may issue, see and revoke which key is
the credential service's rule (access/credentials.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.access import apikeys
from broker_adapter.access.credentials import Credentials
from broker_adapter.api.deps import Caller
from broker_adapter.api.http import JSON, json_body, json_response, parse_int
from broker_adapter.registry import openapi

router = APIRouter(prefix="/verbund/v1", tags=["credentials"])
PROBLEMS = {400: openapi.PROBLEM, 401: openapi.PROBLEM, 403: openapi.PROBLEM, 404: openapi.PROBLEM}
CREDENTIAL_REQUEST = {
    "type": "object",
    "required": ["role", "tenants"],
    "properties": {
        "name": {"type": "string", "description": "what the key is for"},
        "role": {
            "type": "string",
            "enum": ["platform-admin", "municipality-admin", "writer", "reader", "device"],
        },
        "tenants": {"type": "array", "items": {"type": "string"}, "description": 'tenant ids, or ["*"]'},
        "expiresAt": {"type": "string", "format": "date-time"},
        "expiresIn": {"type": "string", "description": "ISO 8601 duration, e.g. P90D"},
        "rateLimit": {"type": "number", "description": "requests per second (0: unlimited)"},
    },
}


async def get_credentials(request: Request) -> Credentials:
    return request.app.state.credentials


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]


@router.post(
    "/credentials",
    status_code=201,
    summary="Create an API key (the key is in this answer only)",
    openapi_extra=openapi.body(CREDENTIAL_REQUEST),
    responses={201: openapi.answer("the credential with its key"), **PROBLEMS},
)
async def create_credential(request: Request, caller: Caller, credentials: CredentialsDep) -> Response:
    body, _ = await json_body(request, max_bytes=16 * 1024, max_depth=4, allowed=(JSON,))
    created = await credentials.issue(caller, body)
    headers = {"Location": f"/verbund/v1/credentials/{created['id']}", "Cache-Control": "no-store"}
    return json_response(created, status=201, headers=headers)


@router.get(
    "/credentials", summary="List the API keys the caller may manage (without secrets)", responses=PROBLEMS
)
async def list_credentials(caller: Caller, credentials: CredentialsDep) -> Response:
    return json_response(await credentials.list(caller))


@router.get(
    "/credentials/{key_id}", summary="Read an API key's record (without its secret)", responses=PROBLEMS
)
async def read_credential(key_id: str, caller: Caller, credentials: CredentialsDep) -> Response:
    return json_response(apikeys.public_view(await credentials.get(caller, key_id)))


@router.delete("/credentials/{key_id}", status_code=204, summary="Revoke an API key", responses=PROBLEMS)
async def revoke_credential(key_id: str, caller: Caller, credentials: CredentialsDep) -> Response:
    await credentials.revoke(caller, key_id)
    return Response(status_code=204)


@router.get("/auth/whoami", summary="The caller's identity, roles and what they grant per tenant")
async def whoami(caller: Caller) -> Response:
    return json_response(caller.describe())


@router.get("/audit", summary="The newest audit-log entries (platform admins)", responses=PROBLEMS)
async def audit(request: Request) -> Response:
    limit = min(parse_int(request.query_params.get("limit"), "limit", 100), 1000)
    return json_response(request.app.state.audit.entries(limit))
