"""The broker's ASGI application: one route table, one error handler, parts built once at start-up."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from broker_adapter import notifications, registry
from broker_adapter.access import setup as access_setup
from broker_adapter.access.gate import AccessControl
from broker_adapter.access.headers import security_headers
from broker_adapter.access.roles import Principal
from broker_adapter.api import (
    admin,
    batch,
    contexts,
    credentials,
    discovery,
    entities,
    query,
    retention,
    temporal,
)
from broker_adapter.api import subscriptions as subscriptions_api
from broker_adapter.api.deps import Broker
from broker_adapter.api.fastpath import FastRetrieve
from broker_adapter.api.http import json_response, problem_response
from broker_adapter.api.metrics import Metrics, MetricsMiddleware, TimedStore
from broker_adapter.api.preconditions import API_PREFIX, Preconditions
from broker_adapter.contexts.resolver import configured_resolver
from broker_adapter.ngsild.errors import (
    BadRequestData,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NgsiLdError,
    ResourceNotFound,
)
from broker_adapter.storage.open import open_configured_store
from smart_data_models import api as sdm_api
from smart_data_models import notes as sdm_notes
from smart_data_models import setup as sdm_setup
from verbund.headers import AddHeaders
from verbund.logs import configure_logging
from verbund.settings import Settings, load_settings

log = logging.getLogger("verbund.broker")


def create_app(
    settings: Settings | None = None, *, service_tokens: Mapping[str, Principal] | None = None
) -> BrokerApp:
    """App factory (uvicorn --factory): settings from the environment unless given. service_tokens:
    in-process credentials of services started with the broker (access/setup.py service_token)."""
    settings = settings or load_settings()
    configure_logging(settings)
    access_setup.check_auth_setting(settings, "broker")  # fail before binding a port
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_configured_store(settings)
        timed = TimedStore(store, metrics)
        resolver = configured_resolver(timed, settings)
        app.state.broker = Broker(settings=settings, store=timed, resolver=resolver)
        app.state.broker.sdm = sdm_setup.start(settings, store, app.state)
        store.history.set_recording(settings.history == "on")
        retention.default_retention(settings.history_retention)  # a bad period fails start-up
        purger = asyncio.get_running_loop().create_task(retention.run_retention(app.state.broker))
        dispatcher = await notifications.start(app.state, settings, store, resolver)
        directory = registry.start(app.state, app.state.broker).directory
        access_setup.start(app.state, app.state.broker, directory, service_tokens or {})
        # Batch requests allocate hundreds of thousands of short-lived objects: a larger young
        # generation and freezing what start-up built keep the cyclic GC from rescanning the heap.
        gc.set_threshold(50_000, 50, 50)
        gc.freeze()
        log.info("broker ready", extra={"store": settings.store_url or settings.data_dir})
        try:
            yield
        finally:
            purger.cancel()
            await dispatcher.stop()
            app.state.broker.writer.shutdown(wait=True)
            await resolver.flush_hits()  # the last second of @context hits
            store.close()

    app = FastAPI(
        title="Verbund NGSI-LD broker",
        version="0.1.0",
        description="NGSI-LD context broker (ETSI GS CIM 009 v1.8) of the Verbund platform.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN, and no page we serve may
        # make a third-party request: the API is described by /openapi.json alone.
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = metrics
    app.include_router(entities.router)
    app.include_router(query.router)
    app.include_router(discovery.router)
    app.include_router(batch.router)
    app.include_router(contexts.router)
    app.include_router(temporal.router)
    app.include_router(subscriptions_api.router)
    app.include_router(sdm_api.router)
    app.include_router(admin.router)
    app.include_router(credentials.router)
    _add_operations_routes(app, metrics)
    _add_error_handlers(app)
    return BrokerApp(app, metrics)


class BrokerApp:
    """The ASGI entry point: metrics outermost, then security headers, the access gate, the NGSI-LD request
    preconditions (Content-Length, URI parameter names), the retrieve fast path, FastAPI.

    Wrapping FastAPI (instead of app.add_middleware) keeps the fast path outside FastAPI's own
    middleware stack, which is most of what it saves."""

    def __init__(self, api: FastAPI, metrics: Metrics) -> None:
        self.api = api
        self.state = api.state
        self.router = api.router
        self._stack = MetricsMiddleware(
            AddHeaders(AccessControl(Preconditions(FastRetrieve(api))), security_headers), metrics
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._stack(scope, receive, send)
            return
        scope["app"] = self.api
        path: str = scope["path"]
        if path[-1] == "/" and path.startswith(API_PREFIX) and len(path) > len(API_PREFIX):
            _drop_trailing_slash(scope)
        tenant = None
        for key, value in scope["headers"]:  # a plain loop: cheaper than next() over a generator
            if key == b"ngsild-tenant":
                tenant = value
                break
        # A write may collect Smart Data Models warnings (warn policy): smart_data_models/notes.py
        notes: list[str] | None = [] if scope["method"] in _WRITE_METHODS else None
        if tenant is None and notes is None:
            await self._stack(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = sdm_notes.header_lines(notes) if notes else []
                if tenant is not None:
                    # The HTTP binding names the tenant in every response to a request that named one.
                    extra.append((b"ngsild-tenant", tenant))
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        token = sdm_notes.REQUEST_NOTES.set(notes) if notes is not None else None
        try:
            await self._stack(scope, receive, send_with_headers)
        finally:
            if token is not None:
                sdm_notes.REQUEST_NOTES.reset(token)


_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})


def _drop_trailing_slash(scope: Scope) -> None:
    """`/ngsi-ld/v1/entities/` names the same resource as `/ngsi-ld/v1/entities`: the spec writes resources
    as `entities/`, and clients (the ETSI test-suite among them) send that. Only a literal slash goes: an
    id ending in an encoded one (%2F) keeps it."""
    raw_path = scope.get("raw_path")
    if raw_path is not None and not raw_path.endswith(b"/"):
        return
    scope["path"] = scope["path"][:-1]
    if raw_path is not None:
        scope["raw_path"] = raw_path[:-1]


def _add_operations_routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(request.app.state.broker.store.ping)
        except NgsiLdError as exc:
            return json_response({"status": "unavailable", "detail": exc.detail}, status=503)
        return json_response({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        text = metrics.render()
        gate = getattr(getattr(app.state, "broker", None), "sdm", None)
        if gate is not None:
            text += gate.validation.metrics.render()
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NgsiLdError)
    async def ngsild_error(request: Request, exc: NgsiLdError) -> Response:
        if exc.status >= 500:
            log.warning("request failed", extra={"path": request.url.path, "detail": exc.detail})
        return problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            error: NgsiLdError = ResourceNotFound(f"no resource at {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        else:
            error = InvalidRequest(str(exc.detail))
        return problem_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(BadRequestData(f"invalid request: {exc.errors()}"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", extra={"path": request.url.path})
        return problem_response(InternalError("the broker failed to handle this request; see its log"))
