"""The two HTTP baselines every broker figure is compared with.

``raw_app`` is a bare ASGI callable: it drains the request body and answers ``200 {}``. It shows what uvicorn
and the load generator can do on this machine. ``fastapi_app`` adds FastAPI routing and nothing else: targets
that say "ceiling" mean this one. Both answer ``/health`` so the harness can wait for them like the broker.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

from fastapi import FastAPI, Request, Response

Scope: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    # Drain the body so POST baselines pay for receiving the payload, as the broker does.
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"{}"})


fastapi_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@fastapi_app.get("/health")
async def health() -> Response:
    return Response(b"{}", media_type="application/json")


@fastapi_app.get("/ngsi-ld/v1/entities/{entity_id}")
async def retrieve_entity() -> Response:
    # The path parameter is not declared, so FastAPI routes on it but runs no validation.
    return Response(b"{}", media_type="application/json")


@fastapi_app.post("/ngsi-ld/v1/entityOperations/upsert")
async def upsert_entities(request: Request) -> Response:
    # Read the body (no parsing): the ceiling for receiving a batch through a FastAPI route.
    await request.body()
    return Response(status_code=204)
