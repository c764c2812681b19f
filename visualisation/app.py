"""The dashboard's ASGI app: alone (``verbund dashboard``) or mounted under /dashboard on the broker's port
(``verbund serve``). In both it lives under /dashboard, so its URLs (pages, /dashboard/notify) are the same.

``create_app(settings)`` builds it; ``verbund serve`` mounts ``create_app(settings, mounted=True)`` with
verbund.mounts.PathDispatch beside the catalog.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import xstatic.pkg.leaflet as leaflet
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from verbund.headers import AddHeaders
from verbund.settings import Settings
from visualisation import api, pages
from visualisation.broker import BrokerError, BrokerUnavailable
from visualisation.config import (
    PREFIX,
    SERVICE,
    DashboardConfig,
    configured_notify_url,
    dashboard_config,
    notify_url_when_mounted,
)
from visualisation.i18n import LABELS, language
from visualisation.security import headers_for
from visualisation.service import Dashboard
from visualisation.views import render

log = logging.getLogger("verbund.dashboard")
STATIC = Path(__file__).parent / "static"


def routes() -> list[Route | Mount]:
    return [
        Route("/", pages.region),
        Route("/alerts", pages.alerts),
        Route("/m/{tenant}", pages.municipality_map),
        Route("/m/{tenant}/alerts", pages.alerts),
        Route("/m/{tenant}/gauges/{entity_id:path}", pages.gauge),
        Route("/m/{tenant}/traffic/{entity_id:path}", pages.traffic),
        Route("/api/sensors", api.sensors),
        Route("/api/alerts", api.alerts),
        Route("/api/m/{tenant}/series", api.series),
        Route("/api/m/{tenant}/series.csv", api.series),
        Route("/api/m/{tenant}/traffic", api.traffic),
        Route("/api/m/{tenant}/traffic.csv", api.traffic),
        Route("/events", api.events),
        Route("/notify", api.notify, methods=["POST"]),
        Route("/health", api.health),
        Route("/ready", api.ready),
        Mount("/static", StaticFiles(directory=STATIC)),
        Mount("/vendor/leaflet", StaticFiles(directory=leaflet.BASE_DIR)),
    ]


async def _broker_down(request: Request, exc: Exception) -> Response:
    log.warning("broker request failed", extra={"path": request.url.path, "reason": str(exc)})
    if "/api/" in request.url.path:
        return api.problem(503 if isinstance(exc, BrokerUnavailable) else 502, str(exc))
    t = LABELS[language(request)]
    return render(request, "message.html", status=503, heading=t["title"], message=t["broker_down"])


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if "/api/" in request.url.path or request.url.path.endswith("/notify"):
        return api.problem(status, str(getattr(exc, "detail", exc)))
    return render(request, "message.html", status=status, heading=str(status), message=str(exc))


def dashboard_app(config: DashboardConfig) -> Starlette:
    """The dashboard's routes at "/" (its links follow ``root_path``: /dashboard when mounted), with its
    start-up and shutdown; its ``dashboard`` state is the service object."""
    dashboard = Dashboard(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dashboard.start()
        log.info("dashboard ready", extra={"broker": config.broker_url, "notify": config.notify_url})
        try:
            yield
        finally:
            await dashboard.stop()

    app = Starlette(
        routes=routes(),
        exception_handlers={
            BrokerUnavailable: _broker_down,
            BrokerError: _broker_down,
            HTTPException: _http_error,
        },
        lifespan=lifespan,
    )
    app.state.dashboard = dashboard
    app.add_middleware(AddHeaders, headers_for=headers_for(config.tile_origin))  # type: ignore[arg-type]
    return app


def create_app(settings: Settings, *, mounted: bool = False) -> Starlette:
    """App factory. Mounted (``verbund serve`` puts it under /dashboard on the broker's port with
    verbund.mounts.PathDispatch and runs its lifespan): the dashboard itself. Alone (``verbund
    dashboard``): the same under /dashboard, so its URLs do not depend on how it runs."""
    app = dashboard_app(dashboard_config(settings, mounted=mounted))
    if mounted:
        return app

    async def home(request: Request) -> Response:
        return RedirectResponse(PREFIX + "/", status_code=307)

    outer = Starlette(
        routes=[Route("/", home), Route(PREFIX, home), Mount(PREFIX, app=app)],
        lifespan=lambda _: app.router.lifespan_context(app),
    )
    outer.state.dashboard = app.state.dashboard
    return outer


def mounted_settings(settings: Settings) -> Settings:
    """Settings for ``serve``: the mounted dashboard is one of the feeds (VERBUND_FEEDS), so the registry
    subscribes it for every new municipality and the broker may notify exactly its /notify on loopback;
    without a configured VERBUND_FEED_SECRET, one random secret for this run serves both."""
    feeds = settings.feeds
    if not configured_notify_url(settings):
        feeds = ",".join(f for f in (feeds, f"{SERVICE}={notify_url_when_mounted(settings)}") if f)
    return settings.with_overrides(feeds=feeds, feed_secret=settings.feed_secret or secrets.token_hex(32))


def run_dashboard(settings: Settings) -> None:
    """``verbund dashboard``: the dashboard alone on its own port."""
    import uvicorn

    from verbund.logs import configure_logging

    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.dashboard_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
