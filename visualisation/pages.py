"""The HTML pages. Each is complete without its script (values, tables, links); the script draws the map
and the charts from the JSON embedded in the page and applies live updates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from visualisation.history import RANGES, TRAFFIC_RANGES, gauge_series, recent_trend, traffic_series
from visualisation.i18n import LABELS, language
from visualisation.service import Dashboard
from visualisation.views import render


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard


def not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "message.html", status=404, heading=LABELS[language(request)]["not_found"],
                  message=what)  # fmt: skip


async def _served(request: Request) -> tuple[Dashboard, Any]:
    dashboard = dashboard_of(request)
    tenant = request.path_params.get("tenant")
    municipality = await dashboard.municipality(tenant) if tenant else None
    return dashboard, municipality


def _map_settings(dashboard: Dashboard) -> dict[str, str]:
    return {"tileUrl": dashboard.config.tile_url, "tileAttribution": dashboard.config.tile_attribution}


async def region(request: Request) -> Response:
    dashboard = dashboard_of(request)
    mark = dashboard.hub.position()
    municipalities = await dashboard.municipalities()
    tenants = [m.tenant for m in municipalities]
    sensors = await dashboard.sensors(tenants)
    alerts = await dashboard.alerts(tenants)
    names = {m.tenant: m.name for m in municipalities}
    return render(
        request,
        "map.html",
        heading=LABELS[language(request)]["region"],
        municipality=None,
        municipalities=municipalities,
        names=names,
        sensors=sensors,
        alerts=alerts,
        data={
            "eventId": mark,
            "tenant": None,
            "sensors": sensors,
            "areas": [m.as_json() for m in municipalities],
            "map": _map_settings(dashboard),
        },
    )


async def municipality_map(request: Request) -> Response:
    dashboard, municipality = await _served(request)
    mark = dashboard.hub.position()
    if municipality is None:
        return not_found(request, request.path_params["tenant"])
    sensors = await dashboard.sensors([municipality.tenant])
    alerts = await dashboard.alerts([municipality.tenant])
    return render(
        request,
        "map.html",
        heading=municipality.name,
        municipality=municipality,
        municipalities=await dashboard.municipalities(),
        names={municipality.tenant: municipality.name},
        sensors=sensors,
        alerts=alerts,
        data={
            "eventId": mark,
            "tenant": municipality.tenant,
            "sensors": sensors,
            "areas": [municipality.as_json()],
            "map": _map_settings(dashboard),
        },
    )


def _range(request: Request, allowed: Any) -> str:
    asked = request.query_params.get("range", "24h")
    return asked if asked in allowed else "24h"


async def gauge(request: Request) -> Response:
    dashboard, municipality = await _served(request)
    mark = dashboard.hub.position()
    entity_id = request.path_params["entity_id"]
    if municipality is None:
        return not_found(request, request.path_params["tenant"])
    sensor = await dashboard.sensor(municipality.tenant, entity_id)
    if sensor is None or sensor["kind"] != "gauge":
        return not_found(request, entity_id)
    range_key = _range(request, RANGES)
    now = datetime.now(UTC)
    series = await gauge_series(
        dashboard.client, municipality.tenant, entity_id, sensor["attribute"], range_key, now
    )
    trend = await recent_trend(dashboard.client, municipality.tenant, entity_id, sensor["attribute"], now)
    return render(
        request,
        "gauge.html",
        heading=sensor["name"],
        municipality=municipality,
        sensor=sensor,
        range_key=range_key,
        ranges=list(RANGES),
        series=series,
        trend=trend,
        data={
            "eventId": mark,
            "tenant": municipality.tenant,
            "sensor": sensor,
            "series": series.as_json(),
            "trend": trend,
        },
    )


async def traffic(request: Request) -> Response:
    dashboard, municipality = await _served(request)
    mark = dashboard.hub.position()
    entity_id = request.path_params["entity_id"]
    if municipality is None:
        return not_found(request, request.path_params["tenant"])
    sensor = await dashboard.sensor(municipality.tenant, entity_id)
    if sensor is None or sensor["kind"] != "traffic":
        return not_found(request, entity_id)
    range_key = _range(request, TRAFFIC_RANGES)
    lanes = await dashboard.lanes(municipality.tenant, sensor)
    series = await traffic_series(dashboard.client, municipality.tenant, lanes, range_key, datetime.now(UTC))
    return render(
        request,
        "traffic.html",
        heading=sensor["name"],
        municipality=municipality,
        sensor=sensor,
        lanes=lanes,
        range_key=range_key,
        ranges=list(TRAFFIC_RANGES),
        series=series,
        data={"eventId": mark, "tenant": municipality.tenant, "sensor": sensor, "series": series},
    )


async def alerts(request: Request) -> Response:
    dashboard, municipality = await _served(request)
    mark = dashboard.hub.position()
    if "tenant" in request.path_params and municipality is None:
        return not_found(request, request.path_params["tenant"])
    municipalities = await dashboard.municipalities()
    tenants = [municipality.tenant] if municipality else [m.tenant for m in municipalities]
    found = await dashboard.alerts(tenants)
    return render(
        request,
        "alerts.html",
        heading=municipality.name if municipality else LABELS[language(request)]["region"],
        municipality=municipality,
        names={m.tenant: m.name for m in municipalities},
        alerts=found,
        data={"eventId": mark, "tenant": municipality.tenant if municipality else None},
    )
