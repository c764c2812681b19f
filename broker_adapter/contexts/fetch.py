"""Bounded download of a remote JSON-LD context document.

Every failure becomes LdContextNotAvailable naming the URL and what went wrong, so the client who sent the
@context can fix it. The bounds (one total deadline, a body size limit enforced while streaming, at most
three redirects, http/https only) keep a slow or hostile context server from tying up the broker.
With an address policy (access/egress.py, the one notifications use too), the URL, every redirect target
and the address actually connected to must lie outside loopback and private networks. A host that does not
resolve is unavailable (503), like one that does not answer; one that resolves to a forbidden address is
refused (400).
The Content-Type is not enforced: popular hosts (GitHub raw) serve contexts as text/plain; the body must
be a JSON object with an "@context" member (JSON-LD 1.1, "remote context document").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx
import orjson

from broker_adapter.access.egress import AddressPolicy, resolve
from broker_adapter.ngsild.errors import BadRequestData, LdContextNotAvailable

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
    policy: AddressPolicy | None = None,
) -> dict[str, Any]:
    """Download url and return {"@context": ...}, discarding anything outside the @context member.

    A URL the policy refuses (also after a redirect) is BadRequestData: the client named it."""
    check_fetchable(url)
    try:
        with anyio.fail_after(timeout):
            body = await _download(url, timeout, max_bytes, max_redirects, policy)
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


class ContextRefused(BadRequestData):
    """The @context URL (or a redirect) leads to an address the broker does not fetch from."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"@context {url}: {reason}; the broker does not fetch @contexts from there (the operator can "
            "allow a host with VERBUND_CONTEXT_ALLOWED_HOSTS)"
        )


async def _download(
    url: str, timeout: float, max_bytes: int, max_redirects: int, policy: AddressPolicy | None
) -> bytes:
    """Redirects are followed by hand, so that each hop is checked against the policy before it is
    requested, and the peer address of each answer after it connected (DNS may answer differently)."""
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        current = url
        for _ in range(max_redirects + 1):
            if policy is not None:
                reason = await anyio.to_thread.run_sync(_refusal, policy, url, current)
                if reason is not None:
                    raise ContextRefused(url, reason if current == url else f"redirected to {reason}")
            async with client.stream("GET", current, headers={"Accept": _ACCEPT}) as response:
                if policy is not None:
                    _check_peer(policy, url, current, response)
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    check_fetchable(current)
                    continue
                return await _body(url, response, max_bytes)
    raise httpx.TooManyRedirects(f"more than {max_redirects} redirects", request=response.request)


def _refusal(policy: AddressPolicy, url: str, current: str) -> str | None:
    """Why the policy refuses current, or None. A host without a DNS answer is LdContextNotAvailable: the
    policy refuses it (it cannot vouch for the address), but for the client it is a context that cannot be
    retrieved (5.5.6, ETSI 043_01). Only a refused host is looked up a second time, to tell the two apart."""
    reason = policy.refusal(current)
    host = urlsplit(current).hostname
    if reason is not None and host and not policy.host_allowed(host):
        try:
            resolve(host)
        except OSError as exc:
            where = url if current == url else f"{url} (redirected to {current})"
            raise LdContextNotAvailable(
                f"@context {where}: the host {host} cannot be resolved ({exc})"
            ) from exc
    return reason


def _check_peer(policy: AddressPolicy, url: str, current: str, response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer:
        reason = policy.peer_refusal(urlsplit(current).hostname or "", str(peer[0]))
        if reason is not None:
            raise ContextRefused(url, reason)


async def _body(url: str, response: httpx.Response, max_bytes: int) -> bytes:
    if not response.is_success:
        raise LdContextNotAvailable(
            f"@context {url} answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
            + (f" (after redirects, at {response.url})" if str(response.url) != url else "")
        )
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise LdContextNotAvailable(f"@context {url} is {declared} bytes, more than the {max_bytes} allowed")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise LdContextNotAvailable(f"@context {url} is larger than the {max_bytes} bytes allowed")
        chunks.append(chunk)
    return b"".join(chunks)
