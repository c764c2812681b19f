"""IoTA-JSON and UltraLight 2.0 over HTTP (south port 7896), as iotagent-json / iotagent-ul serve them.

``POST /iot/json?k=&i=[&t=]`` takes a measure object or an array of them (multi-measure, applied in
TimeInstant order); ``GET /iot/json?k=&i=&d=<json>``; ``POST /iot/json/attrs/<attr>`` takes one attribute's
raw value. ``POST /iot/d?k=&i=`` takes an UltraLight body (``t|25|h|42``), ``GET /iot/d?...&d=...`` the same
in the query. Success is ``200`` with an empty body (no commands pending); errors are ``{"name","message"}``
(lib/bindings/HTTPBinding.js ``checkMandatoryParams`` / ``handleError``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agents.errors import AccessDenied, BadPayload, IotaError, MandatoryParamsNotFound, UnsupportedType
from agents.south.ingest import NotPermitted, sort_by_time_instant
from agents.south.ultralight import parse_measures
from broker_adapter.access.roles import INGEST, READ, Principal

if TYPE_CHECKING:
    from agents.app import Agent

log = logging.getLogger("verbund.agents.south")
JSON_RESOURCE, UL_RESOURCE = "/iot/json", "/iot/d"
_OK = Response(b"", status_code=200)
_ACCEPTED_TYPES = ("application/json", "text/plain", "application/octet-stream", "application/ld+json")


def error_response(error: IotaError) -> Response:
    return Response(error.render(), status_code=error.code, media_type="application/json")


def _params(request: Request, needs_payload: bool) -> tuple[str, str]:
    query = request.query_params
    missing = []
    if not query.get("k"):
        missing.append("API Key")
    if not query.get("i"):
        missing.append("Device Id")
    if needs_payload and "d" not in query:
        missing.append("Payload")
    if missing:
        raise MandatoryParamsNotFound(missing)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _ACCEPTED_TYPES:
            raise UnsupportedType(", ".join(_ACCEPTED_TYPES[:3]))
    return query["k"], query["i"]


def refusal(who: Principal, exc: NotPermitted) -> IotaError:
    """403 where the caller may see the service anyway; elsewhere the device or group is just unknown."""
    if who.may(READ, exc.service):
        return AccessDenied(f"{who.subject} may not send measures to service {exc.service!r}")
    return exc.unknown


def _json_measures(raw: bytes | str, stamp: str | None) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadPayload(
            raw if isinstance(raw, str) else raw.decode("utf-8", "replace"), "invalid JSON"
        ) from exc
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise BadPayload(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"),
                         "a measure is a JSON object, or an array of them")  # fmt: skip
    if stamp:
        items = [{**item, "TimeInstant": stamp} for item in items]
    return sort_by_time_instant(items)


def _attr_value(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


async def _ingest(
    agent: Agent,
    request: Request,
    apikey: str,
    device_id: str,
    resource: str,
    measures: list[dict[str, Any]],
    protocol: str,
) -> Response:
    who = await agent.access.principal(request)  # VERBUND_AUTH=on: the device's credential
    try:
        config = await agent.ingest.device(apikey, device_id, resource, allowed=lambda s: who.may(INGEST, s))
    except NotPermitted as exc:
        raise refusal(who, exc) from None
    await agent.ingest.accept(config, measures, protocol)
    return _OK


def _handler(resource: str, protocol: str):
    async def endpoint(request: Request) -> Response:
        agent: Agent = request.app.state.agent
        try:
            apikey, device_id = _params(request, needs_payload=request.method == "GET")
            if protocol == "IoTA-JSON":
                raw: bytes | str = (
                    request.query_params["d"] if request.method == "GET" else await request.body()
                )
                measures = _json_measures(raw, request.query_params.get("t"))
            else:
                text = (
                    request.query_params["d"]
                    if request.method == "GET"
                    else (await request.body()).decode("utf-8", "replace")
                )
                measures = parse_measures(text)
            return await _ingest(agent, request, apikey, device_id, resource, measures, protocol)
        except IotaError as exc:
            if exc.code >= 500 or exc.name == "OUTBOX_FULL":
                log.warning(
                    "measure refused", extra={"device": request.query_params.get("i"), "error": exc.name}
                )
            agent.metrics.inc("http_errors_total", protocol=protocol, reason=exc.name)
            return error_response(exc)

    return endpoint


async def json_attribute(request: Request) -> Response:
    agent: Agent = request.app.state.agent
    try:
        apikey, device_id = _params(request, needs_payload=False)
        measure = {request.path_params["attr"]: _attr_value(await request.body())}
        if request.query_params.get("t"):
            measure["TimeInstant"] = request.query_params["t"]
        return await _ingest(agent, request, apikey, device_id, JSON_RESOURCE, [measure], "IoTA-JSON")
    except IotaError as exc:
        agent.metrics.inc("http_errors_total", protocol="IoTA-JSON", reason=exc.name)
        return error_response(exc)


ROUTES = [
    Route(JSON_RESOURCE, _handler(JSON_RESOURCE, "IoTA-JSON"), methods=["GET", "POST"]),
    Route(JSON_RESOURCE + "/attrs/{attr}", json_attribute, methods=["POST"]),
    Route(UL_RESOURCE, _handler(UL_RESOURCE, "IoTA-UL"), methods=["GET", "POST"]),
]
