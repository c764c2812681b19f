"""A raw-ASGI fast path for the hottest read, GET /ngsi-ld/v1/entities/{entityId}.

FastAPI's routing and dependency solving cost more than the retrieval itself (measured in bench/: the
FastAPI no-op route reaches about a third of a raw ASGI no-op). This middleware recognises the one
path shape and calls the same handler function as the FastAPI route, so behaviour cannot diverge;
everything else passes through untouched.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from broker_adapter.api.http import problem_response
from broker_adapter.api.retrieve import retrieve
from broker_adapter.ngsild.errors import InternalError, NgsiLdError

PREFIX = "/ngsi-ld/v1/entities/"
ROUTE_LABEL = "/ngsi-ld/v1/entities/{entity_id:path}"
log = logging.getLogger("verbund.broker")


class _RouteLabel:
    """What the metrics middleware reads from scope["route"]."""

    path = ROUTE_LABEL


class FastRetrieve:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(PREFIX) and "/" not in path[len(PREFIX) :] and len(path) > len(PREFIX):
                scope["route"] = _RouteLabel
                try:
                    status, headers, body = await retrieve(scope, path[len(PREFIX) :])
                except NgsiLdError as exc:
                    await problem_response(exc)(scope, receive, send)
                    return
                except Exception:
                    log.exception("unexpected error", extra={"path": path})
                    error = InternalError("the broker failed to handle this request")
                    await problem_response(error)(scope, receive, send)
                    return
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
