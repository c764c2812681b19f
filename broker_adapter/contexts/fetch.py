"""Bounded download of a remote JSON-LD context document.

Every failure becomes LdContextNotAvailable naming the URL and what went wrong, so the client who sent the
@context can fix it. The bounds (one total deadline, a body size limit enforced while streaming, at most
three redirects, http/https only) keep a slow or hostile context server from tying up the broker.
The Content-Type is not enforced: popular hosts (GitHub raw) serve contexts as text/plain; the body must
be a JSON object with an "@context" member (JSON-LD 1.1, "remote context document").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import orjson

from broker_adapter.ngsild.errors import LdContextNotAvailable

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
_ACCEPT = "application/ld+json, application/json;q=0.9, */*;q=0.1"


def check_fetchable(url: str) -> None:
    """Raise LdContextNotAvailable unless url is an absolute http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LdContextNotAvailable(f"@context {url!r} is not an absolute http or https URL")


async def fetch_context_document(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> dict[str, Any]:
    """Download url and return {"@context": ...}, discarding anything outside the @context member."""
    check_fetchable(url)
    try:
        with anyio.fail_after(timeout):
            body = await _download(url, timeout, max_bytes, max_redirects)
    except TimeoutError as exc:
        raise LdContextNotAvailable(f"@context {url} did not arrive within {timeout:g} s") from exc
    except httpx.TooManyRedirects as exc:
        raise LdContextNotAvailable(f"@context {url}: more than {max_redirects} redirects") from exc
    except httpx.TimeoutException as exc:
        raise LdContextNotAvailable(f"@context {url} did not arrive within {timeout:g} s") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise LdContextNotAvailable(f"@context {url}: cannot follow {exc}") from exc
    except httpx.HTTPError as exc:
        raise LdContextNotAvailable(
            f"@context {url} could not be fetched: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise LdContextNotAvailable(f"@context {url} is not JSON ({exc})") from exc
    if not isinstance(document, dict) or "@context" not in document:
        raise LdContextNotAvailable(f"@context {url} is JSON but not an object with an @context member")
    return {"@context": document["@context"]}


async def _download(url: str, timeout: float, max_bytes: int, max_redirects: int) -> bytes:
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=max_redirects) as client,
        client.stream("GET", url, headers={"Accept": _ACCEPT}) as response,
    ):
        if not response.is_success:
            raise LdContextNotAvailable(
                f"@context {url} answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
                + (f" (after redirects, at {response.url})" if str(response.url) != url else "")
            )
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise LdContextNotAvailable(
                f"@context {url} is {declared} bytes, more than the {max_bytes} allowed"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise LdContextNotAvailable(f"@context {url} is larger than the {max_bytes} bytes allowed")
            chunks.append(chunk)
        return b"".join(chunks)
