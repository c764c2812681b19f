"""One ASGI app for one port: the broker, and the platform's services under their path prefixes
(`verbund serve` mounts the catalog at /catalog). A prefix check per request keeps the broker's hot paths
as they were; a mounted app sees its prefix as `root_path`, as Starlette's Mount would set it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class PathDispatch:
    def __init__(self, default: ASGIApp, mounts: dict[str, ASGIApp]) -> None:
        self.default = default
        self.mounts = [(prefix.rstrip("/"), app) for prefix, app in mounts.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix, app in self.mounts:
                if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                    if len(path) == len(prefix) and scope["type"] == "http":
                        await _redirect(prefix + "/", send)
                        return
                    await app({**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send)
                    return
        await self.default(scope, receive, send)


async def _redirect(location: str, send: Send) -> None:
    await send({"type": "http.response.start", "status": 308, "headers": [(b"location", location.encode())]})
    await send({"type": "http.response.body", "body": b""})
