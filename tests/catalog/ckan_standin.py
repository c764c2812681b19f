"""A small stand-in for an external CKAN: the four action-API calls the catalog makes, over real HTTP.

It answers like CKAN's action API ({"success": ..., "result" | "error": {"__type": ...}}) and records every
call, so tests see what the catalog sent; packages live in memory.
"""

from __future__ import annotations

import http.server
import threading
from typing import Any

import orjson

from tests.support.server import free_port


class CkanStandIn:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.packages: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> CkanStandIn:
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                action = self.path.rstrip("/").rsplit("/", 1)[-1]
                body = orjson.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.headers.get("Authorization") != standin.api_key:
                    self._answer(403, {"success": False, "error": {"__type": "Authorization Error",
                                                                   "message": "Access denied"}})  # fmt: skip
                    return
                status, answer = standin.act(action, body)
                self._answer(status, answer)

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = orjson.dumps(answer)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def act(self, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        missing = 404, {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}}
        with self._lock:
            self.calls.append((action, body))
            name = body.get("id") or body.get("name")
            if action == "package_show":
                if name not in self.packages:
                    return missing
                return 200, {"success": True, "result": self.packages[name]}
            if action == "package_create":
                if name in self.packages:
                    taken = {"__type": "Validation Error", "name": ["That URL is already in use."]}
                    return 409, {"success": False, "error": taken}
                self.packages[name] = {**body, "id": f"pkg-{len(self.packages) + 1}"}
                return 200, {"success": True, "result": self.packages[name]}
            if action == "package_update":
                if name not in self.packages:
                    return missing
                self.packages[name] = {**body, "id": self.packages[name]["id"]}
                return 200, {"success": True, "result": self.packages[name]}
            if action == "package_delete":
                if self.packages.pop(name, None) is None:
                    return missing
                return 200, {"success": True, "result": None}
            return 400, {"success": False, "error": {"__type": "Bad request", "message": f"unknown {action}"}}

    def actions(self, name: str) -> list[str]:
        """The actions called for one package, in order."""
        with self._lock:
            return [a for a, body in self.calls if (body.get("id") or body.get("name")) == name]
