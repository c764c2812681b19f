"""Pagination Link headers (clause 5.5.9) for limit/offset queries of entities and subscriptions.

    Link: </ngsi-ld/v1/subscriptions?limit=1&offset=0>;rel="prev";type="application/ld+json"

The request's other query parameters are kept and limit/offset come last. The links are written without
spaces because the ETSI conformance tests (031_02) compare a single link character by character.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request


def page_links(request: Request, *, offset: int, limit: int, has_next: bool, media: str) -> list[str]:
    """The rel="prev" and rel="next" links of the page [offset, offset + limit)."""

    def link(new_offset: int, rel: str) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
        params += [("limit", str(limit)), ("offset", str(new_offset))]
        return f'<{request.url.path}?{urlencode(params)}>;rel="{rel}";type="{media}"'

    if limit <= 0:
        return []
    links = []
    if offset > 0:
        links.append(link(max(0, offset - limit), "prev"))
    if has_next:
        links.append(link(offset + limit, "next"))
    return links


def add_page_links(headers: dict[str, str], links: list[str]) -> None:
    """Put the page links into the Link header, after the @context link it may already hold."""
    if links:
        headers["Link"] = ",".join(filter(None, [headers.get("Link"), *links]))
