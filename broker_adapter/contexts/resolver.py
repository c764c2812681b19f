"""Resolve a request's @context into a TermMap, and manage stored @contexts (the /jsonldContexts API).

A raw @context (None, a URL, an object, or an array of them) becomes one TermMap, cached in memory under
its URLs or, for inline content, its canonical hash: a repeated @context costs one dict look-up.
Remote documents are fetched once with the bounded client, stored as kind "Cached" so they survive
restarts (the store is asked before the network), and nested remote contexts are resolved recursively
within max_depth and max_documents. Core context URLs never leave the process (ARCHITECTURE decision 2).
URLs of this broker's own /jsonldContexts are looked up in the store and never fetched; a relative
reference to one (the Location that Add @context returns) is resolved against the request's URL, as
JSON-LD resolves relative IRIs against the document's base.
Each resolve counts one hit on every stored @context it used (usage.py: in memory, flushed in the
background); the details of a stored @context show the count (numberOfHits, lastUsage).

/jsonldContexts semantics follow ETSI GS CIM 009 clause 5.13 (HTTP binding 6.29, 6.30):
    add      Hosted record; invalid @context → BadRequestData (5.13.2)
    list     URLs or details, optional kind filter; unknown kind → BadRequestData (5.13.3)
    serve    Hosted/ImplicitlyCreated content; Cached → OperationNotSupported unless details (5.13.4)
    delete   unknown → ResourceNotFound; reload of non-Cached → BadRequestData; reload re-downloads and
             replaces, a failed download (LdContextNotAvailable) keeps the entry (5.13.5)
The built-in core context is listed as Cached under its URL; deleting it is BadRequestData, reloading it
is a no-op (as the ETSI conformance tests 051_08/051_09 expect).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from uuid import NAMESPACE_URL, uuid4, uuid5

import anyio
import anyio.to_thread

from broker_adapter.access.egress import AddressPolicy, context_policy
from broker_adapter.contexts.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, fetch_context_document
from broker_adapter.contexts.usage import UsageCounter
from broker_adapter.ngsild.core_context import CORE_CONTEXT_DOCUMENT, CORE_CONTEXT_URL, is_core_context_url
from broker_adapter.ngsild.errors import (
    BadRequestData,
    InvalidRequest,
    LdContextNotAvailable,
    NgsiLdError,
    OperationNotSupported,
    ResourceNotFound,
)
from broker_adapter.ngsild.termmap import LruCache, TermMap, build_term_map, canonical_hash
from broker_adapter.storage.port import ContextRecord, Store
from verbund.settings import Settings

CACHED, HOSTED, IMPLICITLY_CREATED = "Cached", "Hosted", "ImplicitlyCreated"
KINDS = (CACHED, HOSTED, IMPLICITLY_CREATED)
CORE_CONTEXT_ID = f"urn:uuid:{uuid5(NAMESPACE_URL, CORE_CONTEXT_URL)}"
CONTEXTS_PATH = "/ngsi-ld/v1/jsonldContexts/"


@dataclass(frozen=True, slots=True)
class ResolvedContext:
    term_map: TermMap
    url: str  # one URL standing for the whole @context: what a Link header advertises
    uses: tuple[str, ...] = ()  # ids of the stored @contexts it is made of (each use counts a hit on them)


@dataclass(slots=True)
class _Flight:
    """One download in progress; concurrent resolves of the same URL wait for it instead of fetching."""

    done: anyio.Event = field(default_factory=anyio.Event)
    value: tuple[Any, str] | None = None  # the @context member and the id of its stored record
    error: NgsiLdError | None = None


@dataclass(slots=True)
class _Budget:
    documents: int = 0
    used: list[str] = field(default_factory=list)  # ids of the stored @contexts met on the way


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def context_details(record: ContextRecord) -> dict[str, Any]:
    """The metadata of a stored @context, as List/Serve @context with details=true return it (5.13.3.5)."""
    details: dict[str, Any] = {
        "URL": record.url,
        "localId": record.id,
        "kind": record.kind,
        "createdAt": record.created_at,
    }
    if record.last_usage is not None:
        details["lastUsage"] = record.last_usage
    details["numberOfHits"] = record.hits
    return details


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _context_member(document: Any) -> Any:
    if not isinstance(document, dict) or "@context" not in document:
        raise LdContextNotAvailable("a stored @context document has no @context member")
    return document["@context"]


def _raw_key(raw: Any) -> Hashable:
    if raw is None:
        return ("core",)
    if isinstance(raw, str):
        return ("url", raw)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return ("urls", tuple(raw))
    if isinstance(raw, dict | list):
        return ("inline", canonical_hash(raw))
    raise BadRequestData("@context must be a URL, an object, or an array of URLs and objects")


def _without_core(raw: Any) -> Any:
    """The @context minus core context URLs (always implied); a one-URL array becomes that URL."""
    if isinstance(raw, str):
        return None if is_core_context_url(raw) else raw
    if isinstance(raw, list):
        rest = [item for item in raw if not (isinstance(item, str) and is_core_context_url(item))]
        if not rest:
            return None
        return rest[0] if len(rest) == 1 and isinstance(rest[0], str) else rest
    return raw


def configured_resolver(store: Store, settings: Settings) -> ContextResolver:
    """The resolver the settings describe (the broker's and the notifier process's)."""
    return ContextResolver(
        store,
        base_url=settings.broker_url,
        fetch_timeout=settings.context_fetch_timeout,
        max_bytes=settings.context_max_bytes,
        policy=context_policy(settings),
    )


def _again(error: NgsiLdError) -> NgsiLdError:
    """The same error for another waiter of a shared download: its own instance, built without __init__
    (subclasses take their own arguments)."""
    again = type(error).__new__(type(error))
    again.__dict__.update(error.__dict__)
    again.args = error.args
    return again


class ContextResolver:
    """Turns raw @context values into TermMaps and backs the /jsonldContexts API. One per process."""

    def __init__(
        self,
        store: Store,
        *,
        base_url: str,
        fetch_timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_depth: int = 8,
        max_documents: int = 32,
        cache_size: int = 1024,
        policy: AddressPolicy | None = None,
        hits_interval: float = 1.0,
    ) -> None:
        if fetch_timeout <= 0 or max_bytes <= 0 or max_depth < 1 or max_documents < 1:
            raise ValueError("fetch_timeout, max_bytes, max_depth and max_documents must be positive")
        self._store = store
        self._base_url = base_url.rstrip("/")
        self._fetch_timeout = fetch_timeout
        self._max_bytes = max_bytes
        self._max_depth = max_depth
        self._max_documents = max_documents
        self._resolved: LruCache[Hashable, ResolvedContext] = LruCache(cache_size)
        self._by_link: dict[str | None, ResolvedContext] = {}  # cleared with _resolved
        self._documents: LruCache[str, tuple[Any, str]] = LruCache(cache_size)
        self._flights: dict[str, _Flight] = {}
        self._started = now_iso()
        self._policy = policy  # where remote @contexts may come from (SSRF); None: anywhere
        self._usage = UsageCounter(store, interval=hits_interval)

    def local_url(self, context_id: str) -> str:
        """Where this broker serves a stored @context (Hosted and ImplicitlyCreated)."""
        return f"{self._base_url}{CONTEXTS_PATH}{context_id}"

    # resolving -------------------------------------------------------------------------------------------

    async def resolve(self, raw: Any, *, count: bool = True) -> TermMap:
        """The TermMap of a request's @context (None means the core context only). count: a use by a
        request, one hit on each stored @context it needs (not for the broker's own bookkeeping)."""
        if raw is None or type(raw) is str:
            # Per-request hot path (a Link header URL or none): one plain dict look-up.
            known = self._by_link.get(raw)
            if known is None:
                known = await self._resolve(raw)
                if len(self._by_link) >= 1024:
                    self._by_link.clear()
                self._by_link[raw] = known
        else:
            known = await self._resolve(raw)
        if count and known.uses:
            self._usage.count(known.uses)
        return known.term_map

    async def resolve_context(self, raw: Any, *, count: bool = True) -> ResolvedContext:
        """The TermMap and the single URL to advertise for raw; arrays and inline objects get an
        ImplicitlyCreated record, stored once per distinct content (5.13.1). count: as for resolve."""
        resolved = await self._resolve(raw)
        if count and resolved.uses:
            self._usage.count(resolved.uses)
        return resolved

    async def flush_hits(self) -> None:
        """Write the hits counted so far to the store now (they are written within a second anyway)."""
        await self._usage.flush()

    async def _resolve(self, raw: Any) -> ResolvedContext:
        key = _raw_key(raw)
        resolved = self._resolved.get(key)
        if resolved is None:
            budget = _Budget()
            term_map = build_term_map(await self._expand(raw, None, 1, (), budget))
            url, implicit_id = await self._advertised_url(raw, key)
            uses = (*budget.used, implicit_id) if implicit_id is not None else tuple(budget.used)
            resolved = ResolvedContext(term_map, url, tuple(dict.fromkeys(uses)))
            self._resolved.put(key, resolved)
        return resolved

    async def _advertised_url(self, raw: Any, key: Hashable) -> tuple[str, str | None]:
        """The URL, and the id of the ImplicitlyCreated record when there is one."""
        effective = _without_core(raw)
        if effective is None:
            return CORE_CONTEXT_URL, None
        if isinstance(effective, str):
            return self._absolute(effective, None), None
        context_id = f"urn:uuid:{uuid5(NAMESPACE_URL, f'implicit:{key}')}"
        url = self.local_url(context_id)
        if await anyio.to_thread.run_sync(self._store.get_context, context_id) is None:
            items = raw if isinstance(raw, list) else [raw]
            if not any(isinstance(item, str) and is_core_context_url(item) for item in items):
                items = [*items, CORE_CONTEXT_URL]  # self-contained for plain JSON-LD processors
            record = ContextRecord(context_id, url, IMPLICITLY_CREATED, {"@context": items}, now_iso())
            await anyio.to_thread.run_sync(self._store.put_context, record)
        return url, context_id

    async def _expand(
        self, value: Any, base: str | None, depth: int, chain: tuple[str, ...], budget: _Budget
    ) -> list[Any]:
        """Replace every remote reference in value by its content: a flat list of objects and nulls."""
        if value is None:
            return [None]
        if isinstance(value, list):
            out: list[Any] = []
            for item in value:
                out.extend(await self._expand(item, base, depth, chain, budget))
            return out
        if isinstance(value, str):
            url = self._absolute(value, base)
            if is_core_context_url(url):
                return []
            inner = await self._remote(url, depth, chain, budget)
            return await self._expand(inner, url, depth + 1, (*chain, url), budget)
        if isinstance(value, dict):
            if "@import" not in value:
                return [value]
            return [await self._import(value, base, depth, chain, budget)]
        raise BadRequestData(f"@context entries must be URLs, objects or null, not {type(value).__name__}")

    async def _import(
        self, value: dict[str, Any], base: str | None, depth: int, chain: tuple[str, ...], budget: _Budget
    ) -> dict[str, Any]:
        """JSON-LD 1.1 @import: the imported context object, overridden by the importing one's entries."""
        if not isinstance(value["@import"], str):
            raise BadRequestData("@import must be a URL string")
        url = self._absolute(value["@import"], base)
        own = {k: v for k, v in value.items() if k != "@import"}
        if is_core_context_url(url):
            return own
        imported = await self._remote(url, depth, chain, budget)
        if not isinstance(imported, dict) or "@import" in imported:
            raise LdContextNotAvailable(f"@import {url} must be a single @context object without @import")
        return {**imported, **own}

    def _absolute(self, ref: str, base: str | None) -> str:
        if base is None:
            if _is_http_url(ref):
                return ref
            own = self._own_context_url(ref)
            if own is None:
                raise BadRequestData(
                    f"@context {ref!r} is not an absolute http or https URL (a relative one must name a "
                    f"stored @context of this broker: {CONTEXTS_PATH}{{id}})"
                )
            return own
        url = urljoin(base, ref)
        if not _is_http_url(url):
            raise LdContextNotAvailable(f"@context {base} refers to {ref!r}, which is not an http(s) URL")
        return url

    def _own_context_url(self, ref: str) -> str | None:
        """The URL of the stored @context that a relative reference such as the Location of Add @context
        (/ngsi-ld/v1/jsonldContexts/{id}) names. JSON-LD resolves it against the document's base, the
        request URL: a URL of this broker, whichever host name the client used to reach it."""
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or parts.query or parts.fragment:
            return None
        if not parts.path.startswith(CONTEXTS_PATH):
            return None
        context_id = unquote(parts.path.removeprefix(CONTEXTS_PATH))  # the Location may encode ":"
        if not context_id or "/" in context_id:
            return None
        return self.local_url(context_id)

    async def _remote(self, url: str, depth: int, chain: tuple[str, ...], budget: _Budget) -> Any:
        if url in chain:
            raise LdContextNotAvailable(f"@context {url} includes itself: {' -> '.join((*chain, url))}")
        if depth > self._max_depth:
            raise LdContextNotAvailable(
                f"@context {url} is nested deeper than {self._max_depth} remote documents "
                f"({' -> '.join(chain)})"
            )
        budget.documents += 1
        if budget.documents > self._max_documents:
            raise LdContextNotAvailable(
                f"@context refers to more than {self._max_documents} remote documents (stopped at {url})"
            )
        member, context_id = await self._document(url)
        budget.used.append(context_id)
        return member

    async def _document(self, url: str) -> tuple[Any, str]:
        """The @context member of a remote document and the id of its stored record: memory, then the
        store, then one shared download."""
        cached = self._documents.get(url)
        if cached is not None:
            return cached
        flight = self._flights.get(url)
        if flight is not None:
            await flight.done.wait()
            if flight.value is not None:
                return flight.value
            if flight.error is not None:
                raise _again(flight.error) from None
            return await self._document(url)  # the downloading task was cancelled: try again
        flight = self._flights[url] = _Flight()
        try:
            flight.value = await self._load(url)
            self._documents.put(url, flight.value)
            return flight.value
        except NgsiLdError as exc:
            flight.error = exc
            raise
        finally:
            del self._flights[url]
            flight.done.set()

    async def _load(self, url: str) -> tuple[Any, str]:
        record = await anyio.to_thread.run_sync(self._store.get_context_by_url, url)
        if record is not None:
            return _context_member(record.document), record.id
        if url.startswith(self.local_url("")):
            # one of ours: the store has all of them, so fetching it from ourselves would only 404
            raise LdContextNotAvailable(f"@context {url} names no @context stored by this broker")
        document = await self._fetch(url)
        record = ContextRecord(f"urn:uuid:{uuid5(NAMESPACE_URL, url)}", url, CACHED, document, now_iso())
        await anyio.to_thread.run_sync(self._store.put_context, record)
        return document["@context"], record.id

    async def _fetch(self, url: str) -> dict[str, Any]:
        return await fetch_context_document(
            url, timeout=self._fetch_timeout, max_bytes=self._max_bytes, policy=self._policy
        )

    def _forget(self, url: str) -> None:
        self._documents.pop(url)
        self._resolved.clear()  # any cached TermMap may include the document
        self._by_link.clear()

    # /jsonldContexts -------------------------------------------------------------------------------------

    def _core_record(self) -> ContextRecord:
        return ContextRecord(CORE_CONTEXT_ID, CORE_CONTEXT_URL, CACHED, CORE_CONTEXT_DOCUMENT, self._started)

    async def _find(self, context_id: str) -> ContextRecord:
        if not context_id:
            raise BadRequestData("an @context identifier is required")
        if context_id == CORE_CONTEXT_ID or is_core_context_url(context_id):
            return self._core_record()
        record = await anyio.to_thread.run_sync(self._store.get_context, context_id)
        if record is None:
            record = await anyio.to_thread.run_sync(self._store.get_context_by_url, context_id)
        if record is None:
            raise ResourceNotFound(f"no stored @context has the identifier or URL {context_id!r}")
        return record

    async def add(self, body: Any) -> ContextRecord:
        """Add @context (5.13.2): store a client's @context as Hosted and return its record."""
        if not isinstance(body, dict) or "@context" not in body:
            # 5.13.2.4: an incorrect payload is an InvalidRequest (a bad @context inside is BadRequestData)
            raise InvalidRequest("the body must be a JSON object with an @context member")
        raw = body["@context"]
        _raw_key(raw)
        build_term_map(await self._expand(raw, None, 1, (), _Budget()))  # 5.5.4: refuse what cannot be used
        context_id = f"urn:uuid:{uuid4()}"
        record = ContextRecord(context_id, self.local_url(context_id), HOSTED, {"@context": raw}, now_iso())
        await anyio.to_thread.run_sync(self._store.put_context, record)
        return record

    async def list_contexts(self, kind: str | None = None, *, details: bool = False) -> list[Any]:
        """List @contexts (5.13.3): their URLs, or their details."""
        if kind is not None and kind not in KINDS:
            raise BadRequestData(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        records = await anyio.to_thread.run_sync(self._store.list_contexts, kind)
        if kind in (None, CACHED):
            records = [self._core_record(), *records]
        if not details:
            return [r.url for r in records]
        return [context_details(self._usage.current(r)) for r in records]

    async def serve(self, context_id: str, *, details: bool = False) -> dict[str, Any]:
        """Serve @context (5.13.4): the stored document, or its details."""
        record = await self._find(context_id)
        if details:
            return context_details(self._usage.current(record))
        if record.kind == CACHED:
            raise OperationNotSupported(
                f"@context {context_id} is a cached copy of {record.url}; only Hosted and ImplicitlyCreated "
                "@contexts are served (ask with details=true for its metadata)"
            )
        return record.document

    async def delete(self, context_id: str, *, reload: bool = False) -> None:
        """Delete and Reload @context (5.13.5)."""
        record = await self._find(context_id)
        if record.id == CORE_CONTEXT_ID:
            if reload:
                return  # built in and never downloaded: there is nothing to reload
            raise BadRequestData("the NGSI-LD core @context is built in and cannot be deleted")
        if reload:
            if record.kind != CACHED:
                raise BadRequestData(f"only Cached @contexts can be reloaded; {context_id} is {record.kind}")
            document = await self._fetch(record.url)
            try:
                build_term_map(
                    await self._expand(document["@context"], record.url, 2, (record.url,), _Budget())
                )
            except BadRequestData as exc:
                raise LdContextNotAvailable(
                    f"reloaded @context {record.url} is invalid: {exc.detail}"
                ) from exc
            fresh = ContextRecord(record.id, record.url, CACHED, document, now_iso())
            await anyio.to_thread.run_sync(self._store.put_context, fresh)
        else:
            await anyio.to_thread.run_sync(self._store.delete_context, record.id)
            self._usage.forget(record.id)
        self._forget(record.url)
