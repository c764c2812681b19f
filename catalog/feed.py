"""POST /notify: the feed from each municipality's tenant (contract 3, verbund/feeds.py).

A notification is taken only when it carries the token for the tenant it names (401 otherwise), comes from
the catalog's own subscription, and fits the size bound (413). A body that is not a notification is
answered 400 and changes nothing; an entity in it that cannot be summarised is logged and skipped.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from catalog.config import SERVICE
from catalog.model import publishable
from catalog.summary import EntitySummary, MalformedEntity, summarize
from verbund.feeds import TENANT_HEADER, TOKEN_HEADER, subscription_id, verify_feed_token

log = logging.getLogger("verbund.catalog")
MAX_ENTITIES = 10_000  # entities in one notification


def problem(status: int, title: str, detail: str) -> Response:
    """An RFC 9457 problem; the status says what kind it is (the catalog is no NGSI-LD API)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class BodyTooLarge(Exception):
    pass


async def bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


async def notify(request: Request) -> Response:
    service = request.app.state.catalog
    tenant = request.headers.get(TENANT_HEADER, "")
    if not verify_feed_token(service.config.feed_secret, tenant, request.headers.get(TOKEN_HEADER)):
        log.warning("feed notification refused: wrong or missing token", extra={"tenant": tenant[:60]})
        return problem(401, "Unauthorized", f"{TOKEN_HEADER} does not match {TENANT_HEADER}")
    ngsild_tenant = request.headers.get("NGSILD-Tenant")
    if ngsild_tenant is not None and ngsild_tenant != tenant:
        log.warning("feed notification refused: tenants differ", extra={"tenant": tenant})
        return problem(401, "Unauthorized", f"NGSILD-Tenant {ngsild_tenant[:60]!r} is not {TENANT_HEADER}")
    try:
        raw = await bounded_body(request, service.config.max_notification_bytes)
    except BodyTooLarge:
        log.warning("feed notification refused: too large", extra={"tenant": tenant})
        return problem(
            413,
            "Payload too large",
            f"a notification is at most {service.config.max_notification_bytes} bytes",
        )
    try:
        summaries, skipped = parse_notification(raw)
    except ValueError as exc:
        log.warning("malformed feed notification ignored", extra={"tenant": tenant, "detail": str(exc)})
        return problem(400, "Bad request", str(exc))
    for reason in skipped:
        log.warning("entity in feed notification ignored", extra={"tenant": tenant, "detail": reason})
    record = service.store.municipalities().get(tenant)
    if record is None or not publishable(record):
        # Not (yet) an open-data municipality the catalog knows: read the registry again soon; reconcile
        # fetches the data when it is one.
        service.syncer.wake(full=True)
        return Response(status_code=204)
    await anyio.to_thread.run_sync(service.store.upsert, tenant, summaries)
    service.syncer.wake()
    return Response(status_code=204)


def parse_notification(raw: bytes) -> tuple[list[EntitySummary], list[str]]:
    """The entity summaries of a notification body and the reasons entities were skipped; ValueError when
    the body is not a notification of the catalog's feed subscription."""
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("type") != "Notification":
        raise ValueError("the body is not an NGSI-LD Notification")
    if body.get("subscriptionId") != subscription_id(SERVICE):
        raise ValueError(f"unknown subscription {str(body.get('subscriptionId'))[:200]!r}")
    data = body.get("data")
    if not isinstance(data, list):
        raise ValueError("the notification has no data array")
    if len(data) > MAX_ENTITIES:
        raise ValueError(f"a notification carries at most {MAX_ENTITIES} entities")
    summaries: list[EntitySummary] = []
    skipped: list[str] = []
    for entity in data:
        try:
            summaries.append(summarize(entity))
        except MalformedEntity as exc:
            skipped.append(str(exc)[:300])
    return summaries, skipped
