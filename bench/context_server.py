"""The user @context of the WaterObserved payloads, served by the bench itself on loopback.

The broker fetches it once (Link header) and should cache it; ``ContextServer.fetches`` counts the GETs so
the report can show whether it did.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from bench.servers import HOST

CONTEXT_PATH = "/ctx.jsonld"
SDM = "https://smartdatamodels.org/dataModel.Environment/"
TERMS = ("height", "flow", "temperature", "conductivity", "pH", "dateObserved", "location")
CONTEXT = {
    "@context": {
        "WaterObserved": f"{SDM}WaterObserved",
        **{term: f"{SDM}{term}" for term in TERMS},
        "refDevice": {"@id": f"{SDM}refDevice", "@type": "@id"},
    }
}


@dataclass
class ContextServer:
    url: str
    fetches: list[str] = field(default_factory=list)

    @property
    def link_header(self) -> str:
        return f'<{self.url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


@contextmanager
def serve_context() -> Iterator[ContextServer]:
    body = orjson.dumps(CONTEXT)
    fetches: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            found = self.path == CONTEXT_PATH
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the report counts fetches
            pass

    httpd = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="bench-context", daemon=True)
    thread.start()
    try:
        yield ContextServer(f"http://{HOST}:{httpd.server_address[1]}{CONTEXT_PATH}", fetches)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
