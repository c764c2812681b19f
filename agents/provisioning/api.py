"""The provisioning API (north port 4041), compatible with iotagent-node-lib ``doc/api.md`` "API Routes".

Routes and answers follow the library's handlers (deviceGroupAdministrationServer.js,
deviceProvisioningServer.js): 201 ``{}`` on create, 204 on update and delete, GET lists ``{"count": n,
"<key>": [...]}``; ``fiware-service`` and ``fiware-servicepath`` are mandatory everywhere
(400 MISSING_HEADERS); ``/iot/groups`` (key ``groups``) and the older ``/iot/services`` (key ``services``)
are the same collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agents.errors import BadRequest, IotaError, MissingHeaders, WrongSyntax
from agents.provisioning import model
from broker_adapter.access.roles import PROVISION
from verbund import __version__

if TYPE_CHECKING:
    from agents.app import Agent

JSON_TYPE = "application/json"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON_TYPE)


def error_response(error: IotaError) -> Response:
    return Response(error.render(), status_code=error.code, media_type=JSON_TYPE)


def _scope(request: Request) -> tuple[str, str]:
    missing = [h for h in ("fiware-service", "fiware-servicepath") if h not in request.headers]
    if missing:
        raise MissingHeaders(missing)
    return request.headers["fiware-service"], request.headers["fiware-servicepath"]


async def _authorised_scope(request: Request) -> tuple[str, str]:
    """The service and subservice, once the caller may provision in that service (VERBUND_AUTH=on):
    the credential is checked first, so a request without one is 401 whatever else is wrong."""
    access = _agent(request).access
    who = await access.principal(request)
    service, subservice = _scope(request)
    access.check(who, PROVISION, service)
    return service, subservice


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WrongSyntax("the body is not valid JSON") from exc


def _paging(request: Request) -> tuple[int | None, int]:
    try:
        limit = int(request.query_params["limit"]) if "limit" in request.query_params else None
        offset = int(request.query_params.get("offset", "0"))
    except ValueError as exc:
        raise WrongSyntax("limit and offset must be integers") from exc
    if (limit is not None and limit < 0) or offset < 0:
        raise WrongSyntax("limit and offset must not be negative")
    return limit, offset


def _group_key(request: Request) -> tuple[str, str]:
    missing = [p for p in ("resource", "apikey") if p not in request.query_params]
    if missing:
        raise MissingHeaders(missing)  # restUtils.checkRequestAttributes('query', ...) reports it this way
    return request.query_params["resource"], request.query_params["apikey"]


def _agent(request: Request) -> Agent:
    return request.app.state.agent


def groups_endpoint(key: str):
    async def endpoint(request: Request) -> Response:
        agent = _agent(request)
        try:
            service, subservice = await _authorised_scope(request)
            if request.method == "GET":
                limit, offset = _paging(request)
                wanted = None if subservice == "/*" else subservice
                count, groups = agent.store.list_groups(service, wanted, limit, offset)
                return json_response({"count": count, key: groups})
            if request.method == "POST":
                groups = model.groups_from_body(await _body(request), key, service, subservice)
                await anyio.to_thread.run_sync(agent.store.add_groups, groups)
                return json_response({}, 201)
            resource, apikey = _group_key(request)
            if request.method == "PUT":
                changes = model.group_update(await _body(request))
                await anyio.to_thread.run_sync(
                    agent.store.update_group, service, subservice, resource, apikey, changes
                )
            else:
                await anyio.to_thread.run_sync(
                    agent.store.delete_group, service, subservice, resource, apikey
                )
            return Response(status_code=204)
        except IotaError as exc:
            return error_response(exc)

    return endpoint


async def devices(request: Request) -> Response:
    agent = _agent(request)
    try:
        service, subservice = await _authorised_scope(request)
        if request.method == "GET":
            limit, offset = _paging(request)
            wanted = None if subservice == "/*" else subservice
            count, found = agent.store.list_devices(service, wanted, limit, offset)
            return json_response({"count": count, "devices": found})
        items = model.devices_from_body(await _body(request), service, subservice)
        await anyio.to_thread.run_sync(agent.store.add_devices, items)
        return json_response({}, 201)
    except IotaError as exc:
        return error_response(exc)


async def device(request: Request) -> Response:
    agent = _agent(request)
    device_id = request.path_params["device_id"]
    try:
        service, subservice = await _authorised_scope(request)
        if request.method == "GET":
            return json_response(agent.store.device(service, subservice, device_id))
        if request.method == "PUT":
            body = await _body(request)
            if isinstance(body, dict) and "device_id" in body:
                raise BadRequest("Can't change the ID of a preprovisioned device")
            changes = model.device_update(body)
            await anyio.to_thread.run_sync(agent.store.update_device, service, subservice, device_id, changes)
        else:
            await anyio.to_thread.run_sync(agent.store.delete_device, service, subservice, device_id)
        return Response(status_code=204)
    except IotaError as exc:
        return error_response(exc)


async def about(request: Request) -> Response:
    agent = _agent(request)
    return json_response(
        {
            "libVersion": f"verbund-agents {__version__}",
            "port": str(agent.settings.iota_north_port),
            "baseRoot": "/",
            "version": __version__,
            "protocols": ["IoTA-JSON", "IoTA-UL", "LoRaWAN"],
        }
    )


async def health(request: Request) -> Response:
    """Liveness: the process serves HTTP (readiness, /ready, also needs the outbox writer)."""
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    agent = _agent(request)
    if agent.outbox.alive():
        return json_response({"status": "ready", "outboxPending": agent.outbox.pending})
    return json_response({"status": "not ready", "reason": "the outbox writer is not running"}, 503)


async def metrics(request: Request) -> Response:
    return Response(_agent(request).metrics.render(), media_type="text/plain; version=0.0.4")


ROUTES = [
    Route("/iot/groups", groups_endpoint("groups"), methods=["GET", "POST", "PUT", "DELETE"]),
    Route("/iot/services", groups_endpoint("services"), methods=["GET", "POST", "PUT", "DELETE"]),
    Route("/iot/devices", devices, methods=["GET", "POST"]),
    Route("/iot/devices/{device_id}", device, methods=["GET", "PUT", "DELETE"]),
    Route("/iot/about", about, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
