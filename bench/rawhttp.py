"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load that must cost less than the server.

httpx spends about as much CPU per request as the broker does to answer it, so on two cores a Python
load generator built on it measures itself. This client writes the request bytes and reads the status
line, the headers and a Content-Length body: enough for the broker's answers, nothing more.
"""

import asyncio
from urllib.parse import urlsplit


class RawHttp:
    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connections = connections
        self._pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> "RawHttp":
        for _ in range(self.connections):
            self._pool.put_nowait(await asyncio.open_connection(self.host, self.port))
        return self

    async def close(self) -> None:
        while not self._pool.empty():
            _, writer = self._pool.get_nowait()
            writer.close()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """(status, body) of one request on a free connection (waits for one when all are busy).

        A connection the server closed while it sat idle (keep-alive timeout) fails before any byte of
        the answer: the request was never read, so it is sent again once on a new connection."""
        try:
            return await self._request(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise
            return await self._request(method, path, body, fresh=True)

    async def _request(self, method: str, path: str, body: bytes, fresh: bool = False) -> tuple[int, bytes]:
        reader, writer = await self._pool.get()
        if fresh:
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status, length = int(head[9:12]), 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()  # the connection's state is unknown: replace it
            self._pool.put_nowait(await asyncio.open_connection(self.host, self.port))
            raise
        self._pool.put_nowait((reader, writer))
        return status, payload
