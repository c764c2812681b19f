"""HTTP edges of the NGSI-LD binding: bounded JSON bodies, media types, @context source, responses."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.ngsild.errors import (
    BadRequestData,
    InvalidRequest,
    NgsiLdError,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from broker_adapter.ngsild.limits import DEFAULT_MAX_DEPTH, check_depth
from broker_adapter.ngsild.link_header import context_link, parse_context_link

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"


class JsonResponse(Response):
    media_type = JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_response(error: NgsiLdError, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(error.problem()), status_code=error.status, headers=headers, media_type=JSON)


# request bodies ------------------------------------------------------------------------------------
async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds `max_bytes` (also when chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise PayloadTooLarge(f"the body has {declared} bytes; the limit is {max_bytes}")
        except ValueError as exc:
            raise InvalidRequest("Content-Length is not a number") from exc
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str | None:
    raw = request.headers.get("content-type")
    if raw is None:
        return None
    return raw.split(";", 1)[0].strip().lower()


async def json_body(
    request: Request, *, max_bytes: int, max_depth: int | None, allowed: tuple[str, ...] = (JSON, JSON_LD)
) -> tuple[Any, str]:
    """Parsed body and its media type; 415 for other media types, 400 for malformed JSON.

    max_depth None: the caller's parser bounds nesting itself (entities: see entity_input)."""
    kind = media_type(request)
    if kind not in allowed:
        shown = kind or "no Content-Type"
        raise UnsupportedMediaType(f"{shown} is not supported here; send {' or '.join(allowed)}")
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        raise InvalidRequest("the request body is empty")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    if max_depth is not None:
        check_depth(body, max_depth)
    return body, kind


def refuse_context_link(request: Request) -> None:
    """Clause 6.3.5: with Content-Type application/ld+json a Link header naming an @context is an error."""
    link = request.headers.get("link")
    if link is not None and parse_context_link(link) is not None:
        raise BadRequestData(
            "with Content-Type application/ld+json the @context goes in the body, not in a Link header"
        )


def request_context(request: Request, body: Any, kind: str | None) -> Any:
    """The @context of a request: body @context with JSON-LD, the Link header with plain JSON.

    Returns the raw @context value (None: the core context only)."""
    link = request.headers.get("link")
    if kind == JSON_LD:
        refuse_context_link(request)
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData("Content-Type application/ld+json requires an @context member in the body")
        check_depth(body["@context"], DEFAULT_MAX_DEPTH, "@context")
        return body["@context"]
    if isinstance(body, dict) and "@context" in body:
        raise BadRequestData(
            "an @context in the body requires Content-Type application/ld+json; "
            "with application/json give it in a Link header"
        )
    if link is None:
        return None
    return parse_context_link(link)


def link_context(request: Request) -> str | None:
    link = request.headers.get("link")
    return parse_context_link(link) if link is not None else None


# responses -----------------------------------------------------------------------------------------
_ACCEPTABLE_DEFAULT = (JSON, JSON_LD)


def negotiate(request: Request, offered: tuple[str, ...] = _ACCEPTABLE_DEFAULT) -> str:
    """The media type to answer with, from Accept (q-values honoured); 406 when nothing matches."""
    header = request.headers.get("accept")
    if not header:
        return offered[0]
    return negotiate_header(header, offered)


@lru_cache(maxsize=256)  # clients send the same Accept header every time (406s are not cached)
def negotiate_header(header: str, offered: tuple[str, ...]) -> str:
    """RFC 9110 clause 12.5.1: each offered type takes the weight of the most specific media range that
    matches it (q=0: not acceptable); the highest weight wins, and between equal weights the order of
    `offered` decides (clause 6.3.4 of the NGSI-LD API lists JSON first)."""
    ranges = _media_ranges(header)
    best, best_q = None, 0.0
    for candidate in offered:
        q = _weight(candidate, ranges)
        if q > best_q:
            best, best_q = candidate, q
    if best is None:
        raise NotAcceptable(f"cannot answer with {header}; this resource offers {', '.join(offered)}")
    return best


def _media_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media_range = pieces[0].lower()
        if not media_range:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 1.0  # an unreadable weight is no weight: the range keeps the default
                if not 0.0 <= q <= 1.0:
                    q = 1.0
        ranges.append((media_range, q))
    return ranges


def _weight(media_type: str, ranges: list[tuple[str, float]]) -> float:
    specificities = {media_type: 3, media_type.split("/", 1)[0] + "/*": 2, "*/*": 1}
    found, specificity = 0.0, 0
    for media_range, q in ranges:
        rank = specificities.get(media_range, 0)
        if rank > specificity:
            found, specificity = q, rank
    return found


def geojson_context_in_body(prefer: str | None) -> bool:
    """Clause 6.3.6: a GeoJSON body carries its @context, unless the client sent `Prefer: body=json`
    (then only the Link header names it)."""
    if not prefer:
        return True
    preferences = {p.split(";", 1)[0].strip().replace(" ", "") for p in prefer.split(",")}
    return "body=json" not in preferences


def context_headers(accept: str, context_url: str) -> dict[str, str]:
    """With plain JSON (or GeoJSON) the @context travels in a Link header."""
    if accept == JSON_LD:
        return {}
    return {"Link": context_link(context_url)}


def json_response(
    content: Any, *, status: int = 200, media: str = JSON, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type=media)


def parse_bool(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    if raw in ("true", "false"):
        return raw == "true"
    raise BadRequestData(f"{name} must be true or false, not {raw!r}")


def parse_int(raw: str | None, name: str, default: int, *, minimum: int = 0) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequestData(f"{name} must be an integer, not {raw!r}") from exc
    if value < minimum:
        raise BadRequestData(f"{name} must be at least {minimum}, not {value}")
    return value


def split_list(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    items = [item.strip() for item in raw.split(",")]
    if not all(items):
        raise BadRequestData(f"empty item in list {raw!r}")
    return items
