"""ContextResolver against a real HTTP server on 127.0.0.1 (never any other network)."""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from broker_adapter.access.egress import AddressPolicy
from broker_adapter.contexts import ContextResolver
from broker_adapter.contexts.resolver import CORE_CONTEXT_ID
from broker_adapter.ngsild.core_context import CORE_CONTEXT_URL, DEFAULT_VOCAB
from broker_adapter.ngsild.errors import (
    BadRequestData,
    InvalidRequest,
    LdContextNotAvailable,
    OperationNotSupported,
    ResourceNotFound,
)
from broker_adapter.ngsild.termmap import core_term_map
from broker_adapter.storage.port import ContextRecord

pytestmark = pytest.mark.anyio
EX = "http://example.org/"
BROKER = "http://broker.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class MemoryContextStore:
    """Just the context methods of the Store port, kept in a dict."""

    def __init__(self) -> None:
        self.records: dict[str, ContextRecord] = {}

    def put_context(self, record: ContextRecord) -> None:
        self.records[record.id] = replace(record)

    def get_context(self, context_id: str) -> ContextRecord | None:
        return self.records.get(context_id)

    def get_context_by_url(self, url: str) -> ContextRecord | None:
        return next((r for r in self.records.values() if r.url == url), None)

    def list_contexts(self, kind: str | None = None) -> list[ContextRecord]:
        return [r for r in self.records.values() if kind is None or r.kind == kind]

    def delete_context(self, context_id: str) -> bool:
        return self.records.pop(context_id, None) is not None

    def add_context_hits(self, context_id: str, hits: int, when: str) -> None:
        record = self.records.get(context_id)
        if record is not None:
            record.hits += hits
            record.last_usage = max(record.last_usage or "", when)


# -- the context server ---------------------------------------------------------------------------------


@dataclass
class ContextServer:
    base: str
    hits: Counter[str]
    documents: dict[str, Any]

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: "ContextServerState") -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {"Content-Length": str(len(body))}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path
            with server.lock:
                server.hits[path] += 1
            try:
                route = ROUTES.get(path)
                if path.startswith("/redirect/"):
                    n = int(path.rsplit("/", 1)[1])
                    target = "/good.jsonld" if n == 0 else f"/redirect/{n - 1}"
                    self.send(302, b"", {"Location": target, "Content-Length": "0"})
                elif path in server.documents:
                    self.send(200, json.dumps(server.documents[path]).encode())
                elif route is not None:
                    route(self, server)
                else:
                    self.send(404, b"not found")
            except OSError:
                pass  # the client gave up (timeouts under test)

    return Handler


@dataclass
class ContextServerState:
    documents: dict[str, Any]
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)


def _slow(h: BaseHTTPRequestHandler, s: ContextServerState) -> None:
    s.release.wait(10)
    h.send(200, b'{"@context": {}}')  # type: ignore[attr-defined]


def _trickle(h: BaseHTTPRequestHandler, s: ContextServerState) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(1000):
        if s.release.wait(0.05):
            return
        h.wfile.write(b" ")
        h.wfile.flush()


def _counted(h: BaseHTTPRequestHandler, s: ContextServerState) -> None:
    time.sleep(0.3)  # long enough for concurrent resolves to overlap
    h.send(200, json.dumps({"@context": {"counted": EX + "counted"}}).encode())  # type: ignore[attr-defined]


def _big_declared(h: BaseHTTPRequestHandler, s: ContextServerState) -> None:
    h.send(200, b'{"@context": {}, "pad": "' + b"x" * 4096 + b'"}')  # type: ignore[attr-defined]


def _big_undeclared(h: BaseHTTPRequestHandler, s: ContextServerState) -> None:
    h.send(200, b'{"@context": {}, "pad": "' + b"x" * 4096 + b'"}', {"Connection": "close"})  # type: ignore[attr-defined]


def _static(status: int, body: bytes) -> Callable[[BaseHTTPRequestHandler, ContextServerState], None]:
    return lambda h, s: h.send(status, body)  # type: ignore[attr-defined]


ROUTES: dict[str, Callable[[BaseHTTPRequestHandler, ContextServerState], None]] = {
    "/slow.jsonld": _slow,
    "/trickle.jsonld": _trickle,
    "/counted.jsonld": _counted,
    "/big.jsonld": _big_declared,
    "/big-undeclared.jsonld": _big_undeclared,
    "/not-json.jsonld": _static(200, b"<html>hello</html>"),
    "/no-context.jsonld": _static(200, b'{"ex": "http://example.org/"}'),
    "/array.jsonld": _static(200, b"[1, 2]"),
    "/gone.jsonld": _static(404, b"not here"),
    "/error.jsonld": _static(500, b"boom"),
}

DOCUMENTS = {
    "/good.jsonld": {"@context": {"ex": EX, "temperature": "ex:temperature"}, "ignored": True},
    "/other.jsonld": {"@context": {"speed": EX + "speed"}},
    "/nested-a.jsonld": {"@context": ["nested-b.jsonld", {"a": "ex:a"}]},
    "/nested-b.jsonld": {"@context": {"ex": EX}},
    "/cycle-a.jsonld": {"@context": ["/cycle-b.jsonld"]},
    "/cycle-b.jsonld": {"@context": ["/cycle-a.jsonld", {"b": EX + "b"}]},
    "/import.jsonld": {"@context": {"ex": EX, "speed": "ex:speed", "heading": "ex:heading"}},
    "/ftp.jsonld": {"@context": ["ftp://example.org/x.jsonld"]},
    **{f"/deep/{n}": {"@context": [f"/deep/{n - 1}"] if n else {"deep": EX + "deep"}} for n in range(12)},
}


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, ContextServerState]]:
    state = ContextServerState(documents={})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(http_server: tuple[str, ContextServerState], monkeypatch: pytest.MonkeyPatch) -> ContextServer:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # loopback only, never through a proxy
    base, state = http_server
    state.documents.clear()
    state.documents.update(json.loads(json.dumps(DOCUMENTS)))
    with state.lock:
        state.hits.clear()
    return ContextServer(base, state.hits, state.documents)


@pytest.fixture
def store() -> MemoryContextStore:
    return MemoryContextStore()


def make_resolver(store: MemoryContextStore, **kwargs: Any) -> ContextResolver:
    options: dict[str, Any] = {"base_url": BROKER, "fetch_timeout": 1.0, "max_bytes": 1024, **kwargs}
    return ContextResolver(store, **options)  # type: ignore[arg-type]


# -- resolving ------------------------------------------------------------------------------------------


async def test_no_context_and_core_urls_give_the_core_without_network(store: MemoryContextStore) -> None:
    resolver = make_resolver(store)
    for raw in (None, CORE_CONTEXT_URL, "http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld", []):
        resolved = await resolver.resolve_context(raw)
        assert resolved.term_map.expand_name("location") == core_term_map().expand_name("location")
        assert resolved.url == CORE_CONTEXT_URL
    assert store.records == {}


async def test_remote_context_is_fetched_once_and_survives_restart(
    server: ContextServer, store: MemoryContextStore
) -> None:
    url = server.url("/good.jsonld")
    resolver = make_resolver(store)
    term_map = await resolver.resolve(url)
    assert term_map.expand_name("temperature") == EX + "temperature"
    assert (await resolver.resolve([url, CORE_CONTEXT_URL])) is term_map  # same content, same TermMap
    assert (await resolver.resolve_context([url, CORE_CONTEXT_URL])).url == url
    [record] = store.records.values()
    assert (record.kind, record.url) == ("Cached", url)
    assert record.document == {"@context": DOCUMENTS["/good.jsonld"]["@context"]}

    restarted = make_resolver(store)
    assert (await restarted.resolve(url)).expand_name("temperature") == EX + "temperature"
    assert server.hits["/good.jsonld"] == 1
    await resolver.flush_hits()
    await restarted.flush_hits()
    assert store.records[record.id].hits == 4  # one per resolve, whether from memory, store or network


async def test_concurrent_resolves_of_one_url_fetch_once(
    server: ContextServer, store: MemoryContextStore
) -> None:
    url = server.url("/counted.jsonld")
    resolver = make_resolver(store)
    results: list[Any] = []

    async def resolve(raw: Any) -> None:
        results.append(await resolver.resolve(raw))

    async with anyio.create_task_group() as tg:
        for raw in (url, url, [url], [url, {"x": EX + "x"}], url):
            tg.start_soon(resolve, raw)
    assert server.hits["/counted.jsonld"] == 1
    assert all(r.expand_name("counted") == EX + "counted" for r in results)


async def test_nested_remote_contexts_resolve_relative_urls(
    server: ContextServer, store: MemoryContextStore
) -> None:
    term_map = await make_resolver(store).resolve(server.url("/nested-a.jsonld"))
    assert term_map.expand_name("a") == EX + "a"
    assert sorted(r.url for r in store.records.values()) == [
        server.url("/nested-a.jsonld"),
        server.url("/nested-b.jsonld"),
    ]


async def test_redirects_within_the_limit_are_followed(
    server: ContextServer, store: MemoryContextStore
) -> None:
    url = server.url("/redirect/2")  # three redirects
    assert (await make_resolver(store).resolve(url)).expand_name("temperature") == EX + "temperature"
    assert store.get_context_by_url(url) is not None


async def test_import_merges_the_imported_context(server: ContextServer, store: MemoryContextStore) -> None:
    raw = {"@import": server.url("/import.jsonld"), "speed": "ex:velocity"}
    term_map = await make_resolver(store).resolve(raw)
    assert term_map.expand_name("speed") == EX + "velocity"
    assert term_map.expand_name("heading") == EX + "heading"


@pytest.mark.parametrize(
    ("path", "options", "detail"),
    [
        ("/slow.jsonld", {"fetch_timeout": 0.5}, "did not arrive within 0.5 s"),
        ("/trickle.jsonld", {"fetch_timeout": 0.5}, "did not arrive within 0.5 s"),
        ("/big.jsonld", {}, "more than the 1024 allowed"),
        ("/big-undeclared.jsonld", {}, "larger than the 1024 bytes allowed"),
        ("/not-json.jsonld", {}, "is not JSON"),
        ("/no-context.jsonld", {}, "not an object with an @context member"),
        ("/array.jsonld", {}, "not an object with an @context member"),
        ("/gone.jsonld", {}, "answered HTTP 404 Not Found"),
        ("/error.jsonld", {}, "answered HTTP 500"),
        ("/redirect/3", {}, "more than 3 redirects"),
        ("/cycle-a.jsonld", {}, "includes itself"),
        ("/deep/11", {}, "nested deeper than 8"),
        ("/deep/5", {"max_documents": 3}, "more than 3 remote documents"),
        ("/ftp.jsonld", {}, "not an http(s) URL"),
    ],
)
async def test_unavailable_contexts_fail_fast_with_detail(
    server: ContextServer, store: MemoryContextStore, path: str, options: dict[str, Any], detail: str
) -> None:
    url = server.url(path)
    started = time.monotonic()
    with pytest.raises(LdContextNotAvailable) as info:
        await make_resolver(store, **options).resolve(url)
    assert time.monotonic() - started < 3
    assert detail in info.value.detail
    assert server.base in info.value.detail


async def test_unreachable_host_is_not_available(store: MemoryContextStore) -> None:
    with anyio.fail_after(5), pytest.raises(LdContextNotAvailable, match="could not be fetched"):
        await make_resolver(store).resolve("http://127.0.0.1:9/ctx.jsonld")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (5, "must be a URL"),
        ([5], "must be URLs, objects or null"),
        ("relative.jsonld", "not an absolute http or https URL"),
        ("ftp://example.org/ctx.jsonld", "not an absolute http or https URL"),
        ({"a": "b:x", "b": "a:y"}, "cyclic"),
        ({"@import": 5}, "@import must be a URL"),
    ],
)
async def test_invalid_raw_contexts_are_bad_request_data(
    store: MemoryContextStore, raw: Any, message: str
) -> None:
    with pytest.raises(BadRequestData, match=message):
        await make_resolver(store).resolve(raw)


async def test_inline_contexts_are_implicitly_created_once(store: MemoryContextStore) -> None:
    raw = {"speed": EX + "speed"}
    resolved = await make_resolver(store).resolve_context(raw)
    again = await make_resolver(store).resolve_context({"speed": EX + "speed"})
    assert resolved.term_map.expand_name("speed") == EX + "speed"
    [record] = store.records.values()
    assert record.kind == "ImplicitlyCreated"
    assert resolved.url == again.url == record.url == f"{BROKER}/ngsi-ld/v1/jsonldContexts/{record.id}"
    assert record.document == {"@context": [raw, CORE_CONTEXT_URL]}


async def test_hosted_context_is_used_by_its_local_url_without_fetching(store: MemoryContextStore) -> None:
    resolver = make_resolver(store)
    record = await resolver.add({"@context": {"speed": EX + "speed"}})
    assert (await make_resolver(store).resolve(record.url)).expand_name("speed") == EX + "speed"


# -- /jsonldContexts ------------------------------------------------------------------------------------


async def test_add_list_serve_and_delete_a_hosted_context(store: MemoryContextStore) -> None:
    resolver = make_resolver(store)
    record = await resolver.add({"@context": {"speed": EX + "speed"}, "dropped": 1})
    assert record.kind == "Hosted" and record.id.startswith("urn:uuid:")
    assert await resolver.serve(record.id) == {"@context": {"speed": EX + "speed"}}
    assert await resolver.list_contexts("Hosted") == [record.url]
    assert await resolver.list_contexts() == [CORE_CONTEXT_URL, record.url]
    details = await resolver.serve(record.id, details=True)
    assert details == {
        "URL": record.url,
        "localId": record.id,
        "kind": "Hosted",
        "createdAt": record.created_at,
        "numberOfHits": 0,
    }
    assert (await resolver.list_contexts(details=True))[1] == details
    with pytest.raises(BadRequestData, match="only Cached"):
        await resolver.delete(record.id, reload=True)
    await resolver.delete(record.id)
    with pytest.raises(ResourceNotFound):
        await resolver.serve(record.id)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ([], InvalidRequest, "JSON object with an @context member"),
        ({"speed": EX}, InvalidRequest, "JSON object with an @context member"),
        ({"@context": {"a": "b:x", "b": "a:y"}}, BadRequestData, "cyclic"),
        ({"@context": 7}, BadRequestData, "must be a URL"),
    ],
)
async def test_add_refuses_invalid_contexts(
    store: MemoryContextStore, body: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await make_resolver(store).add(body)
    assert store.records == {}


async def test_cached_contexts_are_not_served_but_described(
    server: ContextServer, store: MemoryContextStore
) -> None:
    url = server.url("/good.jsonld")
    resolver = make_resolver(store)
    await resolver.resolve(url)
    with pytest.raises(OperationNotSupported):
        await resolver.serve(url)
    assert (await resolver.serve(url, details=True))["kind"] == "Cached"
    assert await resolver.list_contexts("Cached") == [CORE_CONTEXT_URL, url]
    assert await resolver.list_contexts("ImplicitlyCreated") == []


async def test_reload_replaces_a_cached_context_and_a_failed_reload_keeps_it(
    server: ContextServer, store: MemoryContextStore
) -> None:
    url = server.url("/good.jsonld")
    resolver = make_resolver(store)
    await resolver.resolve(url)
    server.documents["/good.jsonld"] = {"@context": {"temperature": EX + "celsius"}}
    await resolver.delete(url, reload=True)
    assert (await resolver.resolve(url)).expand_name("temperature") == EX + "celsius"

    del server.documents["/good.jsonld"]  # now 404
    with pytest.raises(LdContextNotAvailable, match="404"):
        await resolver.delete(url, reload=True)
    assert store.get_context_by_url(url) is not None

    await resolver.delete(url)
    assert store.get_context_by_url(url) is None
    with pytest.raises(LdContextNotAvailable):
        await resolver.resolve(url)


async def test_the_core_context_is_listed_but_cannot_be_deleted(store: MemoryContextStore) -> None:
    resolver = make_resolver(store)
    details = await resolver.serve(CORE_CONTEXT_URL, details=True)
    assert (details["kind"], details["localId"]) == ("Cached", CORE_CONTEXT_ID)
    with pytest.raises(OperationNotSupported):
        await resolver.serve(CORE_CONTEXT_ID)
    with pytest.raises(BadRequestData, match="core"):
        await resolver.delete(CORE_CONTEXT_URL)
    await resolver.delete(CORE_CONTEXT_URL, reload=True)  # nothing to reload, and no error
    assert (await resolver.resolve(None)).vocab == DEFAULT_VOCAB


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda r: r.serve("urn:uuid:nope"), ResourceNotFound),
        (lambda r: r.delete("urn:uuid:nope"), ResourceNotFound),
        (lambda r: r.delete(""), BadRequestData),
        (lambda r: r.list_contexts("Temporary"), BadRequestData),
    ],
)
async def test_context_api_errors(store: MemoryContextStore, call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        await call(make_resolver(store))


# -- numberOfHits, relative references, unresolvable hosts ----------------------------------------------


class CountingContextStore(MemoryContextStore):
    """Counts the writes, to show that hits are not written once per use."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def put_context(self, record: ContextRecord) -> None:
        self.writes += 1
        super().put_context(record)

    def add_context_hits(self, context_id: str, hits: int, when: str) -> None:
        self.writes += 1
        super().add_context_hits(context_id, hits, when)


async def test_every_use_of_a_stored_context_counts_one_hit(
    server: ContextServer, store: MemoryContextStore
) -> None:
    url = server.url("/good.jsonld")
    resolver = make_resolver(store)
    await resolver.resolve(url)  # the first fetch
    await resolver.resolve(url)  # from memory
    await resolver.resolve_context(url)
    await resolver.resolve(url, count=False)  # the broker's own bookkeeping is no use
    details = await resolver.serve(url, details=True)
    assert details["numberOfHits"] == 3 and details["lastUsage"].endswith("Z")
    assert server.hits["/good.jsonld"] == 1

    inline = {"speed": EX + "speed"}
    implicit = await resolver.resolve_context([url, inline])
    await resolver.resolve([url, inline])
    implicit_details = await resolver.serve(implicit.url, details=True)
    assert (implicit_details["kind"], implicit_details["numberOfHits"]) == ("ImplicitlyCreated", 2)
    assert (await resolver.serve(url, details=True))["numberOfHits"] == 5
    listed = {d["URL"]: d["numberOfHits"] for d in await resolver.list_contexts(details=True)}
    assert listed == {CORE_CONTEXT_URL: 0, url: 5, implicit.url: 2}

    hosted = await resolver.add({"@context": {"heading": EX + "heading"}})
    await resolver.resolve(hosted.url)
    assert (await resolver.serve(hosted.id, details=True))["numberOfHits"] == 1
    await resolver.delete(hosted.id)
    await resolver.flush_hits()  # the hits of a deleted context do not bring it back
    assert store.get_context(hosted.id) is None
    assert store.records[implicit_details["localId"]].hits == 2


async def test_hits_reach_the_store_in_the_background_without_a_write_per_use(
    server: ContextServer,
) -> None:
    store = CountingContextStore()
    resolver = make_resolver(store, hits_interval=0.1)
    url = server.url("/good.jsonld")
    for _ in range(500):
        await resolver.resolve(url)
    record = store.get_context_by_url(url)
    assert record is not None and store.writes == 1  # the Cached copy; no hit written yet
    await anyio.sleep(0.5)  # nobody asks: the flush runs on its own
    record = store.get_context_by_url(url)
    assert record is not None and record.hits == 500 and record.last_usage is not None
    assert store.writes == 2
    # a restarted broker reads the count from the store
    assert (await make_resolver(store).serve(url, details=True))["numberOfHits"] == 500


async def test_relative_location_of_a_hosted_context_resolves_without_fetching(
    store: MemoryContextStore,
) -> None:
    resolver = make_resolver(store)
    record = await resolver.add({"@context": {"speed": EX + "speed"}})
    for location in (
        f"/ngsi-ld/v1/jsonldContexts/{record.id}",
        f"/ngsi-ld/v1/jsonldContexts/{record.id.replace(':', '%3A')}",  # as a Location header may encode it
    ):
        resolved = await make_resolver(store).resolve_context(location)
        assert resolved.term_map.expand_name("speed") == EX + "speed"
        assert resolved.url == record.url  # what a Link header advertises is absolute
    assert (await resolver.resolve(f"/ngsi-ld/v1/jsonldContexts/{record.id}")).expand_name("speed") == (
        EX + "speed"
    )
    assert (await resolver.serve(record.id, details=True))["numberOfHits"] == 1


@pytest.mark.parametrize(
    "raw", ["/ngsi-ld/v1/jsonldContexts/urn:uuid:nope", f"{BROKER}/ngsi-ld/v1/jsonldContexts/urn:uuid:nope"]
)
async def test_own_context_urls_naming_no_stored_context_are_not_available(
    store: MemoryContextStore, raw: str
) -> None:
    """Never fetched (BROKER does not even resolve): the store holds every @context this broker serves."""
    with anyio.fail_after(1), pytest.raises(LdContextNotAvailable, match="names no @context stored"):
        await make_resolver(store).resolve(raw)


async def test_unresolvable_host_is_not_available_and_a_forbidden_one_still_refused(
    store: MemoryContextStore,
) -> None:
    resolver = make_resolver(store, policy=AddressPolicy(""))
    with anyio.fail_after(5), pytest.raises(LdContextNotAvailable, match="cannot be resolved") as info:
        await resolver.resolve("https://nonexistent.invalid/ctx.jsonld")
    assert "https://nonexistent.invalid/ctx.jsonld" in info.value.detail
    with pytest.raises(BadRequestData, match="loopback, private"):
        await resolver.resolve("http://10.1.2.3/ctx.jsonld")
    assert store.records == {}
