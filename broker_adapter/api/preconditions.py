"""Preconditions the NGSI-LD HTTP binding puts on every request, checked before any routing:

- clause 6.3.2/6.3.4: a POST, PATCH or PUT must say its body's length (Content-Length); without it the
  answer is a bare 411 (no body), whatever the request targets;
- clause 6.3.20: a URI parameter the API does not define is a 400 InvalidRequest.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from broker_adapter.api.http import problem_response
from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.uri_params import check_query_string

API_PREFIX = "/ngsi-ld/v1/"
_WITH_BODY = frozenset({"POST", "PATCH", "PUT"})
_LENGTH_REQUIRED = [(b"content-length", b"0")]


class Preconditions:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            if scope["method"] in _WITH_BODY and not any(k == b"content-length" for k, _ in scope["headers"]):
                await send({"type": "http.response.start", "status": 411, "headers": _LENGTH_REQUIRED})
                await send({"type": "http.response.body", "body": b""})
                return
            if scope["query_string"]:
                try:
                    check_query_string(scope["query_string"])
                except NgsiLdError as exc:
                    await problem_response(exc)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
