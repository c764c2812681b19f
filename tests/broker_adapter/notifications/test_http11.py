"""The notifier's HTTP/1.1 client against real sockets on loopback: a raw asyncio server answers each
request with scripted bytes, so framing, keep-alive, stale connections and bounds are exercised exactly."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from broker_adapter.notifications.http11 import Http11Client, HttpError
from broker_adapter.notifications.policy import EndpointPolicy, EndpointRefused

Answer = Callable[[int], bytes | None]  # request number (per connection) -> raw answer, None: close


class Server:
    def __init__(self, answer: Answer, *, close_after: int | None = None, delay: float = 0.0) -> None:
        self.answer = answer
        self.close_after = close_after  # answers per connection, then the server closes it
        self.delay = delay
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/notify?x=1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                await asyncio.sleep(self.delay)
                raw = self.answer(n)
                n += 1
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
                if self.close_after is not None and n >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


OK = b"HTTP/1.1 204 No Content\r\n\r\n"


def run(coroutine):
    return asyncio.run(coroutine)


def post_empty(server: Server, times: int) -> tuple[list[int], Server]:
    """POST {} `times` times with one client; the statuses, and the server to look at afterwards."""

    async def scenario() -> tuple[list[int], Server]:
        async with server as uri:
            client = Http11Client()
            statuses = [await client.post(uri, [], b"{}", 5) for _ in range(times)]
            await client.close()
        return statuses, server

    return run(scenario())


def test_posts_on_one_kept_alive_connection() -> None:
    async def scenario() -> tuple[list[int], Server]:
        server = Server(lambda n: OK)
        async with server as uri:
            client = Http11Client()
            statuses = [await client.post(uri, [("X-Key", "v")], b'{"n":%d}' % n, 5) for n in range(3)]
            await client.close()
        return statuses, server

    statuses, server = run(scenario())
    assert statuses == [204, 204, 204]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /notify?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-Key: v\r\n" in first and b"\r\nContent-Length: 7\r\n" in first
    assert first.endswith(b'\r\n\r\n{"n":0}')


def test_chunked_and_sized_bodies_are_read_so_the_connection_is_reused() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
    ]

    statuses, server = post_empty(Server(lambda n: answers[n]), len(answers))
    assert statuses == [200, 201, 202]
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_and_nothing_is_lost() -> None:
    async def scenario() -> tuple[list[int], Server]:
        server = Server(lambda n: OK, close_after=1)  # keep-alive announced, then closed by the server
        async with server as uri:
            client = Http11Client()
            statuses = []
            for n in range(3):
                statuses.append(await client.post(uri, [], b'{"n":%d}' % n, 5))
                await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle
            await client.close()
        return statuses, server

    statuses, server = run(scenario())
    assert statuses == [204, 204, 204]
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in server.requests] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert server.connections == 3


def test_an_answer_with_connection_close_is_not_reused() -> None:
    close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

    # the server would take more on that connection: the client must not
    statuses, server = post_empty(Server(lambda n: close), 2)
    assert statuses == [200, 200]
    assert server.connections == 2


def test_an_http_1_0_body_without_length_is_read_to_the_end() -> None:
    statuses, server = post_empty(
        Server(lambda n: b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 100_000, close_after=1), 2
    )
    assert statuses == [200, 200]
    assert server.connections == 2


def test_a_slow_receiver_fails_within_the_timeout() -> None:
    async def scenario() -> float:
        server = Server(lambda n: OK, delay=2.0)
        async with server as uri:
            client = Http11Client()
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(HttpError, match=r"no answer within 0\.3 s"):
                await client.post(uri, [], b"{}", 0.3)
            await client.close()
            return loop.time() - started

    assert run(scenario()) < 1.5


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n",
        b"HTTP/1.1 2" + b"0" * 9000,
    ],
    ids=["not-http", "too-many-headers", "overlong-status-line"],
)
def test_answers_that_are_not_bounded_http_fail_cleanly(answer: bytes) -> None:
    async def scenario() -> None:
        async with Server(lambda n: answer) as uri:
            client = Http11Client()
            with pytest.raises(HttpError):
                await client.post(uri, [], b"{}", 5)
            await client.close()

    run(scenario())


def test_header_injection_is_refused_before_anything_is_sent() -> None:
    async def scenario() -> Server:
        server = Server(lambda n: OK)
        async with server as uri:
            client = Http11Client()
            with pytest.raises(HttpError, match="cannot be sent"):
                await client.post(uri, [("X-Key", "v\r\nX-Evil: 1")], b"{}", 5)
            await client.close()
        return server

    assert run(scenario()).requests == []


def test_an_unreachable_receiver_fails_cleanly() -> None:
    async def scenario() -> None:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        client = Http11Client()
        with pytest.raises(HttpError, match=r"ConnectionRefusedError|OSError"):
            await client.post(f"http://127.0.0.1:{port}/", [], b"{}", 5)

    run(scenario())


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.UTC)
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("Verbund test CA")).issuer_name(name("Verbund test CA"))
        .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server = (
        x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(2).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(loopback, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_https_verifies_the_receiver_against_the_configured_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = _certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def post() -> tuple[int | str, list[bytes]]:
        server = Server(lambda n: OK)
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=context)
        port = listener.sockets[0].getsockname()[1]
        client = Http11Client()
        try:
            return await client.post(f"https://127.0.0.1:{port}/n", [], b"{}", 5), server.requests
        except HttpError as exc:
            return str(exc), server.requests
        finally:
            await client.close()
            listener.close()

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    refused, nothing = run(post())  # a CA nobody configured: not trusted
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused) and nothing == []

    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    status, received = run(post())
    assert status == 204 and len(received) == 1 and received[0].startswith(b"POST /n HTTP/1.1\r\n")


def test_a_refused_peer_address_gets_nothing_and_checked_requests_never_reuse_unchecked_connections() -> None:
    seen: list[str] = []

    def refuse(address: str) -> None:
        seen.append(address)
        raise EndpointRefused(f"{address} is internal")

    async def scenario() -> Server:
        server = Server(lambda n: OK)
        async with server as uri:
            client = Http11Client()
            assert await client.post(uri, [], b"unchecked", 5) == 204  # leaves an idle connection
            with pytest.raises(EndpointRefused):
                await client.post(uri, [], b"checked", 5, check_peer=refuse)
            await client.close()
        return server

    server = run(scenario())
    assert seen == ["127.0.0.1"]  # a new connection was opened and checked, the idle one not used
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in server.requests] == [b"unchecked"]


def test_the_policy_checks_the_connected_address_unless_the_host_or_tenant_is_allowed() -> None:
    policy = EndpointPolicy(allowed_hosts="receiver.internal,10.0.5.0/24", trusted_tenants="platform")
    check = policy.peer_check("https://receiver.example/n", "kusel")
    assert check is not None
    check("93.184.216.34")  # public: fine
    check("10.0.5.7")  # an allowed network: fine
    for internal in ("127.0.0.1", "10.1.0.1", "169.254.169.254", "::1", "fe80::1%eth0"):
        with pytest.raises(EndpointRefused, match="connected to"):
            check(internal)
    assert policy.peer_check("https://receiver.internal/n", "kusel") is None  # allowed by name
    assert policy.peer_check("https://receiver.example/n", "platform") is None  # a trusted tenant


def test_an_iri_path_is_sent_percent_encoded() -> None:
    async def scenario() -> Server:
        server = Server(lambda n: OK)
        async with server as uri:
            client = Http11Client()
            base = uri.split("/notify")[0]
            assert (
                await client.post(
                    f"{base}/pegel/Mühlheim an der Mosel?stadt=Bitburg-Prüm&x=%41", [], b"{}", 5
                )
                == 204
            )
            await client.close()
        return server

    first_line = run(scenario()).requests[0].split(b"\r\n", 1)[0]
    assert (
        first_line == b"POST /pegel/M%C3%BChlheim%20an%20der%20Mosel?stadt=Bitburg-Pr%C3%BCm&x=%41 HTTP/1.1"
    )
