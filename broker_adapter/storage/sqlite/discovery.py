"""Discovery of entity types and attributes (clauses 5.7.5-5.7.10), computed in SQL.

Types come from the entity_types index; attributes from json_each over each entity's `attrs` (top-level
attributes only, as the spec's Attribute data type describes). Counts are of attribute instances.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from broker_adapter.ngsild.types import Iri, Tenant
from broker_adapter.storage.port import AttributeSummary, TypeSummary

_ATTRIBUTE_ROWS = """
    SELECT a.key, json_extract(i.value, '$.type'), count(*)
    FROM entities e, json_each(e.doc, '$.attrs') a, json_each(a.value) i
    WHERE e.tenant = :tenant {only_attr}
    GROUP BY a.key, json_extract(i.value, '$.type')
"""
_ATTRIBUTE_TYPES = """
    SELECT DISTINCT a.key, t.type
    FROM entities e, json_each(e.doc, '$.attrs') a
    JOIN entity_types t ON t.tenant = e.tenant AND t.id = e.id
    WHERE e.tenant = :tenant {only_attr}
"""


def list_types(conn: sqlite3.Connection, tenant: Tenant) -> list[Iri]:
    rows = conn.execute("SELECT DISTINCT type FROM entity_types WHERE tenant = ? ORDER BY type", (tenant,))
    return [r[0] for r in rows]


def type_summaries(conn: sqlite3.Connection, tenant: Tenant, type_iri: Iri | None) -> list[TypeSummary]:
    """Each type (or the one asked for) with its entity count and its attributes' kinds."""
    only = " AND t.type = :type" if type_iri is not None else ""
    params = {"tenant": tenant, "type": type_iri}
    summaries = {
        iri: TypeSummary(iri, count)
        for iri, count in conn.execute(
            f"SELECT t.type, count(*) FROM entity_types t WHERE t.tenant = :tenant{only} GROUP BY t.type",
            params,
        )
    }
    rows = conn.execute(
        "SELECT DISTINCT t.type, a.key, json_extract(i.value, '$.type')"
        " FROM entity_types t CROSS JOIN entities e ON e.tenant = t.tenant AND e.id = t.id,"
        " json_each(e.doc, '$.attrs') a, json_each(a.value) i"
        f" WHERE t.tenant = :tenant{only}",
        params,
    )
    for type_, attr, kind in rows:
        kinds = summaries[type_].attributes.setdefault(attr, [])
        if isinstance(kind, str) and kind not in kinds:
            kinds.append(kind)
    for summary in summaries.values():
        summary.attributes = {k: sorted(v) for k, v in sorted(summary.attributes.items())}
    return [summaries[k] for k in sorted(summaries)]


def list_attributes(conn: sqlite3.Connection, tenant: Tenant) -> list[Iri]:
    rows = conn.execute(
        "SELECT DISTINCT a.key FROM entities e, json_each(e.doc, '$.attrs') a"
        " WHERE e.tenant = ? ORDER BY a.key",
        (tenant,),
    )
    return [r[0] for r in rows]


def attribute_summaries(conn: sqlite3.Connection, tenant: Tenant, attr: Iri | None) -> list[AttributeSummary]:
    """Each attribute (or the one asked for): instance count, attribute kinds, entity types using it."""
    only = "AND a.key = :attr" if attr is not None else ""
    params = {"tenant": tenant, "attr": attr}
    out: dict[Iri, AttributeSummary] = defaultdict(lambda: AttributeSummary(""))
    for key, kind, count in conn.execute(_ATTRIBUTE_ROWS.format(only_attr=only), params):
        summary = out[key]
        summary.iri = key
        summary.count += count
        if isinstance(kind, str):
            summary.kinds.append(kind)
    for key, type_ in conn.execute(_ATTRIBUTE_TYPES.format(only_attr=only), params):
        out[key].types.append(type_)
    for summary in out.values():
        summary.kinds.sort()
        summary.types.sort()
    return [out[k] for k in sorted(out)]
