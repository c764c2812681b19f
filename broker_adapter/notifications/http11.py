"""A small HTTP/1.1 client for one job: POST a notification and read the status, on kept-alive connections.

Why not httpcore: a notifier sends hundreds of small POSTs per second, and a general client's layers
(pool bookkeeping, a readability probe of every pooled socket, per-request extension and timeout
objects) cost more CPU than the request itself (measured in bench/: a third of the notifier process).
Here a request is one write of preformatted bytes and a response is a status line, headers and a body
read and dropped.

Bounds, since the receiver is on the network: the whole exchange has one deadline; the status line and
each header line are at most 8 KiB, at most 100 headers, and a body is read up to 1 MiB (a longer one is
not drained: the connection is closed instead). A request sent on a reused connection that the server
had closed meanwhile (no byte of an answer) is sent once more on a new connection; the notification
protocol is at-least-once, so a rare duplicate is allowed while a lost notification is not.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import quote, urlsplit

from broker_adapter.ngsild.subscriptions import valid_header

_LINE_LIMIT = 8 * 1024
_MAX_HEADERS = 100
_MAX_BODY = 1024 * 1024
_IDLE_PER_ORIGIN = 64
_NO_BODY = frozenset({204, 304})
_URI_SAFE = "/%:@!$&'()*+,;=-._~"  # RFC 3986 characters a path keeps as they are


class HttpError(Exception):
    """The exchange failed: connection, timeout, or an answer that is not HTTP/1.x."""


class _Stale(HttpError):
    """A reused connection was closed by the server before any byte of the answer."""


Origin = tuple[str, str, int, bool]  # scheme, host, port, peer address checked


@lru_cache(maxsize=4096)
def _target(uri: str, checked: bool) -> tuple[Origin, bytes]:
    """(origin, the request line and Host header) of an http(s) URI; connections are pooled by origin
    and by whether their peer address was checked."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URI: {uri}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise HttpError(f"invalid port in {uri}") from exc
    path = quote(parts.path or "/", safe=_URI_SAFE)  # an IRI's other characters, percent-encoded
    if parts.query:
        path += "?" + quote(parts.query, safe=_URI_SAFE + "?")
    try:
        name = parts.hostname.encode("idna").decode("ascii")  # e.g. a Umlaut in a town's host name
    except UnicodeError as exc:
        raise HttpError(f"invalid host name in {uri}") from exc
    host = name if ":" not in name else f"[{name}]"
    default = (parts.scheme, port) in (("http", 80), ("https", 443))
    authority = host if default else f"{host}:{port}"
    head = f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n"
    if not _printable(head):
        raise HttpError(f"the URI has characters a request line cannot carry: {uri!r}")
    return (parts.scheme, name, port, checked), head.encode("ascii")


def _printable(text: str) -> bool:
    return all(" " <= c <= "~" for c in text.replace("\r\n", ""))


def encode_request(head: bytes, headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    lines = []
    for name, value in headers:
        if not valid_header(name, value):
            raise HttpError(f"header {name!r} cannot be sent (not a token, or a control character in it)")
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return head + "".join(lines).encode("latin-1") + body


class _Connection:
    __slots__ = ("reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.transport.is_closing()

    def close(self) -> None:
        self.writer.close()


class Http11Client:
    def __init__(self) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(
        self,
        uri: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        timeout: float,
        check_peer: Callable[[str], None] | None = None,
    ) -> int:
        """POST and return the final status code; raises HttpError. `check_peer` sees the IP address of
        every new connection before anything is sent on it (its exception propagates, nothing is sent);
        connections opened without a check are never reused for a request that has one."""
        origin, head = _target(uri, check_peer is not None)
        request = encode_request(head, headers, body)
        try:
            async with asyncio.timeout(timeout):
                connection = self._take(origin)
                if connection is not None:
                    try:
                        return await self._exchange(origin, connection, request)
                    except _Stale:
                        pass  # the server closed it while idle: once more on a new connection
                return await self._exchange(origin, await self._open(origin, check_peer), request)
        except TimeoutError as exc:
            raise HttpError(f"no answer within {timeout:g} s") from exc
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        return None

    async def _open(self, origin: Origin, check_peer: Callable[[str], None] | None) -> _Connection:
        scheme, host, port, _ = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = _tls_context()
            tls = self._tls
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None, limit=_LINE_LIMIT
        )
        if check_peer is not None:
            try:
                check_peer(writer.get_extra_info("peername")[0])
            except BaseException:
                writer.close()
                raise
        return _Connection(reader, writer)

    async def _exchange(self, origin: Origin, connection: _Connection, request: bytes) -> int:
        keep = False
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            status, keep = await _read_response(connection)
            return status
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            if connection.reused and not getattr(exc, "partial", b""):
                raise _Stale() from exc
            raise
        finally:
            if keep:
                idle = self._idle.setdefault(origin, [])
                if len(idle) < _IDLE_PER_ORIGIN:
                    idle.append(connection)
                    connection = None  # type: ignore[assignment]
            if connection is not None:
                connection.close()


async def _read_response(connection: _Connection) -> tuple[int, bool]:
    """(status, whether the connection can carry another request). Interim 1xx answers are skipped."""
    reader = connection.reader
    while True:
        line = await reader.readuntil(b"\r\n")
        connection.reused = False  # an answer began: from here a failure is not a stale connection
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP/1.x status line: {line[:80]!r}")
        version, status = parts[0], int(parts[1])
        length: int | None = None
        chunked = False
        close = version == b"HTTP/1.0"
        for _ in range(_MAX_HEADERS + 1):
            header = await reader.readuntil(b"\r\n")
            if header == b"\r\n":
                break
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.endswith(b"chunked")
            elif name == b"connection":
                if b"close" in value:
                    close = True
                elif b"keep-alive" in value:
                    close = False
        else:
            raise HttpError(f"more than {_MAX_HEADERS} headers in the answer")
        if 100 <= status < 200:
            continue
        if status in _NO_BODY:
            return status, not close
        if chunked:
            return status, await _drain_chunks(reader) and not close
        if length is not None:
            if length > _MAX_BODY:
                return status, False
            await reader.readexactly(length)
            return status, not close
        # no length: the body runs to the end of the connection (read up to the bound), then close
        total = 0
        while total <= _MAX_BODY and (chunk := await reader.read(64 * 1024)):
            total += len(chunk)
        return status, False


async def _drain_chunks(reader: asyncio.StreamReader) -> bool:
    """Read a chunked body; False when it exceeds the bound (the connection is then closed, not drained)."""
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            for _ in range(_MAX_HEADERS + 1):  # trailers
                if await reader.readuntil(b"\r\n") == b"\r\n":
                    return True
            return False
        total += size
        if total > _MAX_BODY:
            return False
        await reader.readexactly(size + 2)


def _tls_context() -> ssl.SSLContext:
    """Verifying TLS: the CA file or directory named by SSL_CERT_FILE / SSL_CERT_DIR (the OpenSSL names,
    for a municipality's own CA), else the certifi bundle, else the system's."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()
