"""Regional queries: GET /entities and POST /entityOperations/query over several tenants at once.

`NGSILD-Tenant: suedwest` (a region of the municipality registry) or `NGSILD-Tenant: kusel,linz` asks
every tenant named that the caller may read (the access gate has chosen them: access/gate.py). The
answer is one list, ordered by entity id and then tenant, paged and counted like a single tenant's,
and every entity carries its municipality as the Property `verbund:tenant` (keyValues and concise: the
tenant id as the value). "verbund:tenant" is an absolute IRI, so no @context can make it collide with
an attribute of the entity.

Each tenant is asked for offset + limit + 1 entities and the lists are merged, so deep pages cost
more per tenant; offset + limit is bounded by MAX_WINDOW.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio.to_thread

from broker_adapter.api.deps import Broker
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.render import NORMALIZED
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.port import EntityQuery, QueryResult

TENANT_MEMBER = "verbund:tenant"
MAX_WINDOW = 10_000


def query_tenants(
    broker: Broker, tenants: tuple[Tenant, ...], query: EntityQuery
) -> tuple[list[tuple[Tenant, ExpandedEntity]], int]:
    """The page (one entity more than asked, to know whether a next page exists) and the total count."""
    if query.offset + query.limit > MAX_WINDOW:
        raise BadRequestData(
            f"a regional query pages up to {MAX_WINDOW} entities (offset + limit); narrow the query"
        )
    window = dataclasses.replace(query, offset=0, limit=query.offset + query.limit + 1)
    found: list[tuple[str, Tenant, ExpandedEntity]] = []
    total = 0
    for tenant in tenants:
        if not broker.tenant_exists(tenant):
            continue  # nothing written there yet: nothing to find
        result: QueryResult = broker.store.query(tenant, window)
        found.extend((entity["id"], tenant, entity) for entity in result.entities)
        total += result.total or 0
    found.sort(key=lambda item: (item[0], item[1]))
    page = found[query.offset : query.offset + query.limit + 1]
    return [(tenant, entity) for _, tenant, entity in page], total


async def run(
    broker: Broker, tenants: tuple[Tenant, ...], query: EntityQuery
) -> tuple[list[tuple[Tenant, ExpandedEntity]], int]:
    return await anyio.to_thread.run_sync(query_tenants, broker, tenants, query)


def mark(rendered: list[Any] | dict[str, Any], tenants: list[Tenant], form: str) -> None:
    """Add each entity's tenant to its rendering (a list of entities, or a GeoJSON FeatureCollection)."""
    items = rendered["features"] if isinstance(rendered, dict) else rendered
    for item, tenant in zip(items, tenants, strict=True):
        target = item["properties"] if isinstance(rendered, dict) else item
        target[TENANT_MEMBER] = {"type": "Property", "value": tenant} if form == NORMALIZED else tenant
