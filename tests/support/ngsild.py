"""Helpers for NGSI-LD API tests: ProblemDetails checks, Link headers, and comparing whole entities."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
SYSTEM_MEMBERS = ("createdAt", "modifiedAt")
SYS = "<system-set>"  # stands for a createdAt/modifiedAt value in expected documents


def context_link(url: str) -> str:
    """The Link header that gives a request's @context with Content-Type/Accept application/json."""
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip()


def assert_problem(response: httpx.Response, status: int, kind: str | Iterable[str] | None) -> dict[str, Any]:
    """The response is an NGSI-LD ProblemDetails (application/json) of the given status and error kind.

    `kind` may name several acceptable kinds; `None` accepts any NGSI-LD error type (where the spec names
    no type, e.g. 406)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert media_type(response) == "application/json", response.headers.get("content-type")
    body = response.json()
    assert isinstance(body.get("type"), str) and body["type"].startswith(ERRORS), body
    if kind is not None:
        allowed = {kind} if isinstance(kind, str) else set(kind)
        assert body["type"] in {ERRORS + k for k in allowed}, body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert body.get("status") == status, body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


def masked(document: Any) -> Any:
    """`document` with every createdAt/modifiedAt value replaced by SYS, to compare whole documents."""
    if isinstance(document, dict):
        return {k: SYS if k in SYSTEM_MEMBERS else masked(v) for k, v in document.items()}
    if isinstance(document, list):
        return [masked(item) for item in document]
    return document


def create(client: httpx.Client, entity: dict[str, Any], **kwargs: Any) -> None:
    """POST /entities and insist on 201 (JSON-LD when the entity carries an @context)."""
    headers = kwargs.pop("headers", {})
    if "@context" in entity:
        headers = {"Content-Type": "application/ld+json", **headers}
    response = client.post("/entities", json=entity, headers=headers, **kwargs)
    assert response.status_code == 201, response.text


def retrieve(client: httpx.Client, entity_id: str, **kwargs: Any) -> Any:
    """GET /entities/{id} and insist on 200; the JSON body."""
    response = client.get(f"/entities/{entity_id}", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()
