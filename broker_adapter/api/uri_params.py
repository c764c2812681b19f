"""Refuses NGSI-LD requests that carry a URI parameter the API does not define (clause 6.3.20)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from broker_adapter.api.http import problem_response
from broker_adapter.ngsild.errors import NgsiLdError
from broker_adapter.ngsild.uri_params import check_query_string

API_PREFIX = "/ngsi-ld/v1/"


class CheckUriParams:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["query_string"] and scope["path"].startswith(API_PREFIX):
            try:
                check_query_string(scope["query_string"])
            except NgsiLdError as exc:
                await problem_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)
