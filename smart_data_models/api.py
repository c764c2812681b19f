"""HTTP routes of the Smart Data Models part of the broker: the platform @context, the model list, and
the per-tenant policy (an admin endpoint until the municipality registry owns it)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.api.deps import BrokerDep, check_tenant_name
from broker_adapter.api.http import JSON, JSON_LD, json_body, json_response, negotiate
from broker_adapter.ngsild.errors import BadRequestData, OperationNotSupported
from smart_data_models.context import CONTEXT_PATH
from smart_data_models.policy import Policy, SdmGate

router = APIRouter()


def _gate(broker: Any) -> SdmGate:
    if broker.sdm is None:
        raise OperationNotSupported("Smart Data Models validation is not configured on this broker")
    return broker.sdm


@router.get(CONTEXT_PATH)
async def platform_context(request: Request) -> Response:
    media = negotiate(request, (JSON_LD, JSON))
    return Response(request.app.state.platform_context, media_type=media)


@router.get("/verbund/v1/sdm/models")
async def list_models(broker: BrokerDep) -> Response:
    return json_response(
        [
            {
                "name": m.name,
                "typeIri": m.type_iri,
                "source": m.source,
                "schema": m.uri,
                "compiled": m.compiled,
            }
            for m in _gate(broker).validation.catalog
        ]
    )


@router.get("/verbund/v1/tenants/{tenant}/sdm-policy")
async def get_policy(tenant: str, broker: BrokerDep) -> Response:
    gate = _gate(broker)
    policy = await broker.run_write(gate.policies.get, broker.store, check_tenant_name(tenant))
    return json_response(policy.to_json())


@router.put("/verbund/v1/tenants/{tenant}/sdm-policy")
async def put_policy(tenant: str, request: Request, broker: BrokerDep) -> Response:
    """Body: "warn", or {"mode": "enforce", "requireKnownTypes": true}. Applies to the next write."""
    _gate(broker)
    body, _ = await json_body(request, max_bytes=4096, max_depth=4)
    try:
        policy = Policy.from_json(body)
    except ValueError as exc:
        raise BadRequestData(str(exc)) from exc
    await _set_policy(request, broker, check_tenant_name(tenant), policy.to_json())
    return Response(status_code=204)


@router.delete("/verbund/v1/tenants/{tenant}/sdm-policy")
async def delete_policy(tenant: str, request: Request, broker: BrokerDep) -> Response:
    """Back to the platform default (VERBUND_SDM_POLICY)."""
    _gate(broker)
    await _set_policy(request, broker, check_tenant_name(tenant), None)
    return Response(status_code=204)


async def _set_policy(request: Request, broker: Any, tenant: str, raw: Any) -> None:
    """A registered municipality's policy lives in its record (the registry applies it to the tenant), so
    the record never disagrees with the tenant; other tenants keep it as a tenant setting only."""
    registry = getattr(request.app.state, "registry", None)
    if registry is not None and await anyio.to_thread.run_sync(broker.store.get_municipality, tenant):
        await registry.update(tenant, {"sdmPolicy": raw})
        return
    policy = Policy.from_json(raw) if raw is not None else None
    await broker.run_write(_gate(broker).policies.set, broker.store, tenant, policy)
