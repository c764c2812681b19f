"""What the pages' scripts load: sensors, alerts and chart series as JSON, the same series as CSV, the
live event stream, and the broker's feed notifications (/notify)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from http import HTTPStatus

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from visualisation.feed import Rejected, read_notification
from visualisation.history import (
    RANGES,
    TRAFFIC_RANGES,
    gauge_csv,
    gauge_series,
    recent_trend,
    traffic_csv,
    traffic_series,
)
from visualisation.pages import dashboard_of


def json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def problem(status: int, detail: str) -> Response:
    """An RFC 9457 problem (the same shape the broker and the catalog answer with)."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


def _filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "series"


def csv_response(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(name)}.csv"'},
    )


async def _tenants(request: Request) -> list[str] | None:
    """The asked tenant (None if it is not served), or every served tenant."""
    served = [m.tenant for m in await dashboard_of(request).municipalities()]
    asked = request.query_params.get("tenant") or request.path_params.get("tenant")
    if asked is None:
        return served
    return [asked] if asked in served else None


async def sensors(request: Request) -> Response:
    tenants = await _tenants(request)
    if tenants is None:
        return problem(404, "this municipality is not served here")
    return json({"sensors": await dashboard_of(request).sensors(tenants)})


async def alerts(request: Request) -> Response:
    tenants = await _tenants(request)
    if tenants is None:
        return problem(404, "this municipality is not served here")
    return json({"alerts": await dashboard_of(request).alerts(tenants)})


async def _sensor(request: Request, kind: str) -> tuple[str, dict] | Response:
    tenants = await _tenants(request)
    entity_id = request.query_params.get("id")
    if tenants is None or not entity_id:
        return problem(404, "name a served municipality and a sensor id")
    sensor = await dashboard_of(request).sensor(tenants[0], entity_id)
    if sensor is None or sensor["kind"] != kind:
        return problem(404, f"no {kind} {entity_id}")
    return tenants[0], sensor


def _range(request: Request, allowed: object) -> str | None:
    asked = request.query_params.get("range", "24h")
    return asked if asked in allowed else None  # type: ignore[operator]


async def series(request: Request) -> Response:
    found = await _sensor(request, "gauge")
    if isinstance(found, Response):
        return found
    tenant, sensor = found
    range_key = _range(request, RANGES)
    if range_key is None:
        return problem(400, f"range must be one of {', '.join(RANGES)}")
    client, now = dashboard_of(request).client, datetime.now(UTC)
    got = await gauge_series(client, tenant, sensor["id"], sensor["attribute"], range_key, now)
    if request.url.path.endswith(".csv"):
        return csv_response(gauge_csv(got, sensor["unit"]), f"{sensor['name']}-{range_key}")
    trend = await recent_trend(client, tenant, sensor["id"], sensor["attribute"], now)
    return json({"sensor": sensor, "series": got.as_json(), "trend": trend})


async def traffic(request: Request) -> Response:
    found = await _sensor(request, "traffic")
    if isinstance(found, Response):
        return found
    tenant, sensor = found
    range_key = _range(request, TRAFFIC_RANGES)
    if range_key is None:
        return problem(400, f"range must be one of {', '.join(TRAFFIC_RANGES)}")
    dashboard = dashboard_of(request)
    lanes = await dashboard.lanes(tenant, sensor)
    got = await traffic_series(dashboard.client, tenant, lanes, range_key, datetime.now(UTC))
    if request.url.path.endswith(".csv"):
        return csv_response(traffic_csv(got), f"{sensor['name']}-{range_key}")
    return json({"sensor": sensor, "series": got})


async def events(request: Request) -> Response:
    """Server-Sent Events of one municipality (?tenant=) or of the whole region."""
    dashboard = dashboard_of(request)
    tenant = request.query_params.get("tenant")
    if tenant is not None and await _tenants(request) is None:
        return problem(404, "this municipality is not served here")
    if dashboard.hub.full():
        return Response("too many live connections", status_code=503, headers={"Retry-After": "30"})
    # EventSource sends Last-Event-ID when it reconnects; the first connection names where its page began
    last = request.headers.get("last-event-id") or request.query_params.get("last")
    client = dashboard.hub.connect(tenant, last)
    return StreamingResponse(
        dashboard.hub.stream(client),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def notify(request: Request) -> Response:
    dashboard = dashboard_of(request)
    try:
        tenant, entities = await read_notification(request, dashboard.config)
    except Rejected as exc:
        return problem(exc.status, exc.detail)
    await dashboard.changed(tenant, entities)
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return json({"status": "ok"})


async def ready(request: Request) -> Response:
    """Ready once the broker answered and the feed subscriptions were checked (live updates flow)."""
    at = request.app.state.dashboard.last_reconcile
    if at is None:
        return problem(503, "the dashboard has not reached the broker yet")
    return json({"status": "ready", "lastReconcile": at})
