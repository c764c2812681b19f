"""/ngsi-ld/v1/subscriptions: create, query (paged), retrieve, update and delete (clause 5.8).

Each handler reads as the pipeline: parse (body, @context) → check (members, endpoint policy) → store →
render with the caller's @context. A subscription's own jsonldContext must be retrievable when it is
created or changed (clause 5.8.1: LdContextNotAvailable, nothing stored). Delivery is the dispatcher's
business (notifications/dispatcher.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.access.roles import ADMIN, Principal
from broker_adapter.api.deps import (
    Broker,
    BrokerDep,
    Caller,
    CreatingTenant,
    ExistingTenant,
    response_context_url,
)
from broker_adapter.api.http import (
    JSON,
    JSON_LD,
    MERGE_PATCH,
    context_headers,
    json_body,
    json_response,
    link_context,
    negotiate,
    parse_bool,
    parse_int,
    request_context,
)
from broker_adapter.api.paging import add_page_links, page_links
from broker_adapter.ngsild import names
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.errors import AccessDenied, BadRequestData, ResourceNotFound
from broker_adapter.ngsild.render import parse_options
from broker_adapter.ngsild.subscriptions import parse_subscription, patch_subscription, render
from broker_adapter.ngsild.types import Tenant
from broker_adapter.notifications.policy import EndpointPolicy
from broker_adapter.storage.notify_port import NotifyStore, StoredSubscription

router = APIRouter(prefix="/ngsi-ld/v1")


@dataclass
class Notifications:
    """The subscription side of the broker, built at start-up (app.state.notifications)."""

    store: NotifyStore
    policy: EndpointPolicy


async def get_notifications(request: Request) -> Notifications:
    return request.app.state.notifications


NotificationsDep = Annotated[Notifications, Depends(get_notifications)]


PLATFORM_SUBSCRIPTIONS = "urn:ngsi-ld:Subscription:verbund:"  # the feeds of the platform's own services
HIDDEN = "***"


def _trusted(who: Principal, tenant: Tenant, sub_id: str) -> bool:
    """The tenant's admins, and a platform service (`service:<name>`) for its own feed subscription."""
    if who.may(ADMIN, tenant):
        return True
    service = who.subject.removeprefix("service:")
    return service != who.subject and sub_id == PLATFORM_SUBSCRIPTIONS + service


def _shown(body: dict, who: Principal, tenant: Tenant) -> dict:
    """receiverInfo and notifierInfo often carry receivers' secrets (the feeds' tokens among them): their
    values are shown to trusted callers only; others see the keys."""
    if _trusted(who, tenant, body.get("id", "")):
        return body
    endpoint = body.get("notification", {}).get("endpoint", {})
    for member in ("receiverInfo", "notifierInfo"):
        if member in endpoint:
            endpoint[member] = [{**pair, "value": HIDDEN} for pair in endpoint[member]]
    return body


def _check_platform_subscription(sub_id: str, who: Principal, tenant: Tenant) -> None:
    """The platform's feed subscriptions are changed by the registry, their services and admins."""
    if sub_id.startswith(PLATFORM_SUBSCRIPTIONS) and not _trusted(who, tenant, sub_id):
        raise AccessDenied(f"subscription {sub_id} feeds a platform service; only admins change it")


def _location(sub_id: str) -> str:
    return f"/ngsi-ld/v1/subscriptions/{quote(sub_id, safe=':/')}"


async def _check_endpoint(parts: Notifications, doc: dict, tenant: Tenant) -> None:
    check = partial(parts.policy.check, unresolvable_ok=True)
    await anyio.to_thread.run_sync(check, doc["notification"]["endpoint"]["uri"], tenant)


async def _check_jsonld_context(broker: Broker, doc: dict, before: dict | None = None) -> None:
    """The notifications are compacted with jsonldContext: one that cannot be retrieved (404, refused,
    unresolvable host) is LdContextNotAvailable now rather than a failure at every notification."""
    url = doc.get("jsonldContext")
    if url is not None and (before is None or url != before.get("jsonldContext")):
        await broker.resolver.resolve(url)


async def _load(parts: Notifications, tenant: Tenant, sub_id: str) -> StoredSubscription:
    names.check_uri(sub_id, "subscriptionId (in the URL)", "subscription id")
    sub = await anyio.to_thread.run_sync(parts.store.get_subscription, tenant, sub_id)
    if sub is None:
        raise ResourceNotFound(f"subscription {sub_id} does not exist")
    return sub


@router.post("/subscriptions", status_code=201)
async def create_subscription(
    request: Request, broker: BrokerDep, parts: NotificationsDep, tenant: CreatingTenant
) -> Response:
    s = broker.settings
    body, kind = await json_body(request, max_bytes=s.max_body_bytes, max_depth=s.max_json_depth)
    raw_context = request_context(request, body, kind)
    resolved = await broker.resolver.resolve_context(raw_context)
    doc = parse_subscription(body, resolved.term_map, resolved.url)
    if "jsonldContext" in body:  # otherwise it is the request's @context, resolved above
        await _check_jsonld_context(broker, doc)
    await _check_endpoint(parts, doc, tenant)
    sub_id = doc.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    doc = {"id": sub_id, **{k: v for k, v in doc.items() if k != "id"}}
    now = now_iso()
    sub = StoredSubscription(tenant, sub_id, doc, raw_context, created_at=now, modified_at=now)
    await broker.run_write(parts.store.create_subscription, sub)
    broker.known_tenants.add(tenant)
    return Response(status_code=201, headers={"Location": _location(sub_id)})


@router.get("/subscriptions")
async def query_subscriptions(
    request: Request, broker: BrokerDep, parts: NotificationsDep, tenant: ExistingTenant, who: Caller
) -> Response:
    accept = negotiate(request, (JSON, JSON_LD))
    params = request.query_params
    options = parse_options(params.get("options"), allowed=("sysAttrs", "count"))
    limit = parse_int(params.get("limit"), "limit", broker.settings.default_limit)
    if limit > broker.settings.max_limit:
        raise BadRequestData(f"limit {limit} is above the maximum of {broker.settings.max_limit}")
    offset = parse_int(params.get("offset"), "offset", 0)
    count = parse_bool(params.get("count"), "count") or "count" in options
    tm = await broker.term_map(link_context(request))
    subs, total = await anyio.to_thread.run_sync(parts.store.list_subscriptions, tenant, limit, offset)
    context_url = response_context_url(request)
    body = [_shown(render(sub, tm, sys_attrs="sysAttrs" in options), who, tenant) for sub in subs]
    if accept == JSON_LD:
        for item in body:
            item["@context"] = context_url
    headers = context_headers(accept, context_url)
    if count:
        headers["NGSILD-Results-Count"] = str(total)
    has_next = offset + limit < total
    add_page_links(headers, page_links(request, offset=offset, limit=limit, has_next=has_next, media=accept))
    return json_response(body, media=accept, headers=headers)


@router.get("/subscriptions/{sub_id:path}")
async def retrieve_subscription(
    request: Request,
    sub_id: str,
    broker: BrokerDep,
    parts: NotificationsDep,
    tenant: ExistingTenant,
    who: Caller,
) -> Response:
    accept = negotiate(request, (JSON, JSON_LD))
    options = parse_options(request.query_params.get("options"), allowed=("sysAttrs",))
    sub = await _load(parts, tenant, sub_id)
    tm = await broker.term_map(link_context(request))
    body = _shown(render(sub, tm, sys_attrs="sysAttrs" in options), who, tenant)
    context_url = response_context_url(request)
    if accept == JSON_LD:
        body["@context"] = context_url
    return json_response(body, media=accept, headers=context_headers(accept, context_url))


@router.patch("/subscriptions/{sub_id:path}")
async def update_subscription(
    request: Request,
    sub_id: str,
    broker: BrokerDep,
    parts: NotificationsDep,
    tenant: ExistingTenant,
    who: Caller,
) -> Response:
    _check_platform_subscription(sub_id, who, tenant)
    s = broker.settings
    body, kind = await json_body(
        request, max_bytes=s.max_body_bytes, max_depth=s.max_json_depth, allowed=(JSON, JSON_LD, MERGE_PATCH)
    )
    raw_context = request_context(request, body, kind)
    tm = await broker.term_map(raw_context)
    sub = await _load(parts, tenant, sub_id)
    doc = patch_subscription(sub.doc, body, tm)
    await _check_jsonld_context(broker, doc, sub.doc)
    if doc["notification"]["endpoint"]["uri"] != sub.doc["notification"]["endpoint"]["uri"]:
        await _check_endpoint(parts, doc, tenant)
    if doc.get("timeInterval") != sub.doc.get("timeInterval"):
        sub.next_periodic = None
    sub.doc = doc
    sub.context = raw_context if raw_context is not None else sub.context
    sub.modified_at = now_iso()
    if not await broker.run_write(parts.store.replace_subscription, sub):
        raise ResourceNotFound(f"subscription {sub_id} does not exist")
    return Response(status_code=204)


@router.delete("/subscriptions/{sub_id:path}")
async def delete_subscription(
    sub_id: str, broker: BrokerDep, parts: NotificationsDep, tenant: ExistingTenant, who: Caller
) -> Response:
    names.check_uri(sub_id, "subscriptionId (in the URL)", "subscription id")
    _check_platform_subscription(sub_id, who, tenant)
    if not await broker.run_write(parts.store.delete_subscription, tenant, sub_id):
        raise ResourceNotFound(f"subscription {sub_id} does not exist")
    return Response(status_code=204)
