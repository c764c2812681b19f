"""The JSON-LD context Link header (JSON-LD 1.1 section 6.2, NGSI-LD clause 6.3.5): render and parse.

A request with Content-Type application/json carries its @context as
    Link: <https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"
(usually with type="application/ld+json"); a response to Accept: application/json advertises its
@context the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from broker_adapter.ngsild.errors import InvalidRequest

JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"


def context_link(url: str) -> str:
    """The Link header value that points a client at the @context of a response."""
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def parse_context_link(header: str | Iterable[str] | None) -> str | None:
    """The URL of the JSON-LD context link among the links of one or more Link header values.

    Links with another rel are ignored; more than one context link is InvalidRequest (JSON-LD:
    "multiple context link headers"), as is a value that is not a link list.
    """
    if header is None:
        return None
    if isinstance(header, str):
        return _parse_one(header)
    return _parse(tuple(header))


@lru_cache(maxsize=1024)  # clients send the same Link header on every request (errors are not cached)
def _parse_one(header: str) -> str | None:
    return _parse((header,))


def _parse(values: tuple[str, ...]) -> str | None:
    found: list[str] = []
    for value in values:
        for target, params in _links(value):
            rels = params.get("rel", "").split()
            if JSONLD_CONTEXT_REL in rels:
                found.append(target)
    if len(found) > 1:
        raise InvalidRequest(f"more than one JSON-LD context Link header: {', '.join(found)}")
    return found[0] if found else None


def _links(value: str) -> list[tuple[str, dict[str, str]]]:
    """Split one Link header value (RFC 8288) into (target, params); commas inside <> or quotes are data."""
    links: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        if value[i] != "<":
            raise InvalidRequest(f"malformed Link header (expected '<' at position {i}): {value!r}")
        end = value.find(">", i)
        if end < 0:
            raise InvalidRequest(f"malformed Link header (unclosed '<'): {value!r}")
        target = value[i + 1 : end].strip()
        i = end + 1
        params: dict[str, str] = {}
        while True:
            while i < n and value[i] in " \t":
                i += 1
            if i >= n or value[i] == ",":
                break
            if value[i] != ";":
                raise InvalidRequest(f"malformed Link header (expected ';' at position {i}): {value!r}")
            i += 1
            name, i = _token(value, i, "=;,")
            param_value = ""
            if i < n and value[i] == "=":
                param_value, i = _param_value(value, i + 1)
            if name:
                params.setdefault(name.lower(), param_value)  # RFC 8288: the first occurrence wins
        links.append((target, params))
    return links


def _token(value: str, i: int, stops: str) -> tuple[str, int]:
    start = i
    while i < len(value) and value[i] not in stops:
        i += 1
    return value[start:i].strip(), i


def _param_value(value: str, i: int) -> tuple[str, int]:
    while i < len(value) and value[i] in " \t":
        i += 1
    if i < len(value) and value[i] == '"':
        out: list[str] = []
        i += 1
        while i < len(value) and value[i] != '"':
            if value[i] == "\\" and i + 1 < len(value):
                i += 1
            out.append(value[i])
            i += 1
        if i >= len(value):
            raise InvalidRequest(f"malformed Link header (unclosed quote): {value!r}")
        return "".join(out), i + 1
    return _token(value, i, ";,")
