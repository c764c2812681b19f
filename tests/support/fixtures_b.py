"""Helpers for the API tests of batch operations, tenancy, bad input, @context round trips and durability.

Not a conftest: test modules import what they use and wrap it in their own small fixtures.

- `ContextServer`: a real HTTP server on 127.0.0.1 serving JSON-LD @context documents (and misbehaving on
  request: slow, oversized, not JSON), counting the requests each path received.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
JSON = "application/json"
JSON_LD = "application/ld+json"
CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


def new_id(kind: str = "Thing") -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4().hex[:12]}"


# a real @context server ---------------------------------------------------------------------------
@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = JSON_LD
    delay: float = 0.0


class ContextServer:
    """Serves registered paths on 127.0.0.1; `hits[path]` counts requests (also for unknown paths)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.delay:
                    server._stop.wait(route.delay)
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the broker gave up waiting, as it should

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ContextServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def serve(self, context: Any, *, name: str | None = None, **route: Any) -> str:
        """Serve {"@context": context} under a fresh path (the broker caches by URL); returns the URL."""
        return self.serve_raw(json.dumps({"@context": context}).encode(), name=name, **route)

    def serve_raw(self, body: bytes, *, name: str | None = None, **route: Any) -> str:
        path = f"/{name or uuid.uuid4().hex}.jsonld"
        self.routes[path] = Route(body, **route)
        return self.base + path

    def hits_for(self, url: str) -> int:
        return self.hits[url.removeprefix(self.base)]
