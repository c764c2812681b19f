"""Discovery: /types and /attributes (clauses 5.7.5-5.7.10, data types of clauses 5.2.24-5.2.28).

Lists are sorted by the compacted names the caller sees.

Names are compacted with the caller's @context (Link header); the full IRI is each item's `id`. The list
ids (EntityTypeList, AttributeList) are fresh URNs: the lists are computed, not stored resources.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from broker_adapter.api.deps import BrokerDep, ExistingTenant, response_context_url
from broker_adapter.api.http import (
    JSON_LD,
    context_headers,
    json_response,
    link_context,
    negotiate,
    parse_bool,
)
from broker_adapter.ngsild import names
from broker_adapter.ngsild.errors import BadRequestData, ResourceNotFound
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.storage.port import AttributeSummary, TypeSummary

router = APIRouter(prefix="/ngsi-ld/v1")


def _respond(request: Request, body: Any) -> Response:
    accept = negotiate(request)
    context_url = response_context_url(request)
    if accept == JSON_LD:
        if isinstance(body, list):
            body = [{**item, "@context": context_url} for item in body]
        else:
            body = {**body, "@context": context_url}
    return json_response(body, media=accept, headers=context_headers(accept, context_url))


def _details(request: Request) -> bool:
    return parse_bool(request.query_params.get("details"), "details")


def _expand(tm: TermMap, name: str, what: str) -> str:
    try:
        names.check_name(name, what)
    except BadRequestData as exc:
        raise BadRequestData(f"{what} (in the URL): {exc.detail}") from exc
    return tm.expand_name(name)


def _entity_type(tm: TermMap, summary: TypeSummary) -> dict[str, Any]:
    return {
        "id": summary.iri,
        "type": "EntityType",
        "typeName": tm.compact_name(summary.iri),
        "attributeNames": sorted(tm.compact_name(a) for a in summary.attributes),
    }


def _attribute(tm: TermMap, summary: AttributeSummary) -> dict[str, Any]:
    return {
        "id": summary.iri,
        "type": "Attribute",
        "attributeName": tm.compact_name(summary.iri),
        "attributeCount": summary.count,
        "attributeTypes": summary.kinds,
        "typeNames": sorted(tm.compact_name(t) for t in summary.types),
    }


@router.get("/types")
async def list_types(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    details = _details(request)
    tm = await broker.term_map(link_context(request))
    if details:
        types = [_entity_type(tm, s) for s in broker.store.type_summaries(tenant)]
        return _respond(request, sorted(types, key=lambda t: t["typeName"]))
    type_list = sorted(tm.compact_name(t) for t in broker.store.list_types(tenant))
    return _respond(
        request,
        {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList", "typeList": type_list},
    )


@router.get("/types/{type_name:path}")
async def type_info(request: Request, type_name: str, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    tm = await broker.term_map(link_context(request))
    iri = _expand(tm, type_name, "type")
    found = broker.store.type_summaries(tenant, iri)
    if not found:
        raise ResourceNotFound(f"no entity has the type {type_name!r}")
    summary = found[0]
    details = [
        {"id": attr, "type": "Attribute", "attributeName": tm.compact_name(attr), "attributeTypes": kinds}
        for attr, kinds in summary.attributes.items()
    ]
    details.sort(key=lambda d: d["attributeName"])
    body = {
        "id": iri,
        "type": "EntityTypeInfo",
        "typeName": tm.compact_name(iri),
        "entityCount": summary.entity_count,
        "attributeDetails": details,
    }
    return _respond(request, body)


@router.get("/attributes")
async def list_attributes(request: Request, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    details = _details(request)
    tm = await broker.term_map(link_context(request))
    if details:
        attributes = [_attribute(tm, s) for s in broker.store.attribute_summaries(tenant)]
        return _respond(request, sorted(attributes, key=lambda a: a["attributeName"]))
    names_ = sorted(tm.compact_name(a) for a in broker.store.list_attributes(tenant))
    return _respond(
        request,
        {"id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}", "type": "AttributeList", "attributeList": names_},
    )


@router.get("/attributes/{attr:path}")
async def attribute_info(request: Request, attr: str, broker: BrokerDep, tenant: ExistingTenant) -> Response:
    tm = await broker.term_map(link_context(request))
    found = broker.store.attribute_summaries(tenant, _expand(tm, attr, "attribute"))
    if not found:
        raise ResourceNotFound(f"no entity has the attribute {attr!r}")
    return _respond(request, _attribute(tm, found[0]))
