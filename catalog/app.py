"""The catalog service's ASGI app: `create_app(settings)` serves it alone (`verbund catalog`) or mounted under
/catalog on the broker's port (`verbund serve`, `mounted=True`).

Start-up opens the state (`<data dir>/catalog.db`) and starts the syncer; it needs no broker yet (the syncer
retries until the broker answers), so the catalog and the broker can start in any order.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from catalog import downloads, metadata, portal
from catalog.broker import BrokerClient
from catalog.ckan import CkanPusher
from catalog.config import CatalogConfig, catalog_config
from catalog.feed import notify, problem
from catalog.model import Links, Views
from catalog.store import CatalogStore
from catalog.sync import Syncer
from verbund.headers import AddHeaders
from verbund.logs import configure_logging
from verbund.settings import Settings, load_settings

log = logging.getLogger("verbund.catalog")
RENDERED_KEPT = 64  # rendered catalog pages kept (per store version, format and page)

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]  # fmt: skip


class CatalogService:
    """Everything the handlers need, built once; handlers reach it as `request.app.state.catalog`."""

    def __init__(self, config: CatalogConfig) -> None:
        self.config = config
        self.store = CatalogStore(config.data_dir / "catalog.db")
        self.links = Links(config)
        self.views = Views(self.store)
        self.broker = BrokerClient(
            config.broker_url, context_url=config.context_url, token=config.broker_token
        )
        ckan = CkanPusher(config.ckan, self.store, self.links) if config.ckan else None
        self.syncer = Syncer(config, self.store, self.broker, self.views, ckan)
        self.rendered: OrderedDict[tuple[object, ...], bytes] = OrderedDict()

    def remember(self, key: tuple[object, ...], body: bytes) -> None:
        self.rendered[key] = body
        while len(self.rendered) > RENDERED_KEPT:
            self.rendered.popitem(last=False)

    async def close(self) -> None:
        await self.syncer.stop()
        await self.broker.aclose()
        self.store.close()


def _security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """Every answer: the portal runs no script and loads nothing foreign."""
    return SECURITY_HEADERS


async def health(request: Request) -> Response:
    syncer = request.app.state.catalog.syncer
    return JSONResponse({"status": "ok", "lastSync": syncer.last_sync})


async def ready(request: Request) -> Response:
    """Ready once a first sync with the broker finished: before that, the catalog would be empty."""
    syncer = request.app.state.catalog.syncer
    if syncer.last_sync is None:
        return problem(
            503, "Service unavailable", "the catalog has not completed its first sync with the broker"
        )
    return JSONResponse({"status": "ready", "lastSync": syncer.last_sync})


async def not_found(request: Request, exc: Exception) -> Response:
    if "text/html" in request.headers.get("accept", ""):  # a person following a link
        return portal.not_found(request)
    return problem(404, "Not found", f"no resource at {request.url.path}")


def create_app(settings: Settings | None = None, *, mounted: bool = False) -> Starlette:
    settings = settings or load_settings()
    configure_logging(settings)
    config = catalog_config(settings, mounted=mounted)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service = CatalogService(config)
        app.state.catalog = service
        service.syncer.start()
        log.info("catalog ready", extra={"url": config.base_url, "broker": config.broker_url})
        try:
            yield
        finally:
            await service.close()

    routes = [
        Route("/notify", notify, methods=["POST"]),
        Route("/health", health),
        Route("/ready", ready),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        *metadata.ROUTES,
        *downloads.ROUTES,
        *portal.ROUTES,
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    app.add_middleware(AddHeaders, headers_for=_security_headers)  # type: ignore[arg-type]
    return app
