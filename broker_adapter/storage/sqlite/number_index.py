"""An index of the numbers in top-level attribute values, so numeric q terms need no JSON parsing.

    attr_numbers (tenant, id, attr, num)   one row per distinct number an attribute offers to q

The rows are exactly the Number atoms the reference evaluator reads for a path without sub-attributes,
keys or members (evaluate._target in value mode): the value of a Property or GeoProperty, the json of
a JsonProperty, the valueList of a ListProperty, or the members of any of these that is an array. So
`attr > 5`, `attr == 1..3` and `attr == 1,2` (all numbers) compile to an indexed EXISTS that is exact,
and a scan in id order probes the primary key instead of parsing each document. `num` has no column
affinity: integers stay integers, so comparisons are as exact as SQLite's JSON values.
"""

from __future__ import annotations

import math
import sqlite3

from broker_adapter.ngsild.types import ExpandedEntity, Iri, Tenant
from broker_adapter.storage.sqlite.bulk import insert_many

MIGRATION = """
    CREATE TABLE attr_numbers (
        tenant TEXT NOT NULL,
        id     TEXT NOT NULL,
        attr   TEXT NOT NULL,
        num    NOT NULL,
        PRIMARY KEY (tenant, id, attr, num)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO attr_numbers (tenant, id, attr, num)
        SELECT e.tenant, e.id, a.key, n.value
        FROM entities e, json_each(e.doc, '$.attrs') a, json_each(a.value) i,
             json_each(i.value, CASE json_extract(i.value, '$.type')
                 WHEN 'Property' THEN '$.value' WHEN 'GeoProperty' THEN '$.value'
                 WHEN 'JsonProperty' THEN '$.json' WHEN 'ListProperty' THEN '$.valueList' END) n
        WHERE i.type = 'object' AND n.type IN ('integer', 'real')
          AND json_type(i.value, CASE json_extract(i.value, '$.type')
                 WHEN 'Property' THEN '$.value' WHEN 'GeoProperty' THEN '$.value'
                 WHEN 'JsonProperty' THEN '$.json' WHEN 'ListProperty' THEN '$.valueList' END)
              IN ('integer', 'real', 'array')
"""
_MEMBERS = {"Property": "value", "GeoProperty": "value", "JsonProperty": "json", "ListProperty": "valueList"}


def numbers(entity: ExpandedEntity | None) -> set[tuple[Iri, int | float]]:
    if entity is None:
        return set()
    out: set[tuple[Iri, int | float]] = set()
    for attr, instances in entity.get("attrs", {}).items():
        for instance in instances:
            member = _MEMBERS.get(instance.get("type")) if isinstance(instance, dict) else None
            if member is None or member not in instance:
                continue
            value = instance[member]
            for atom in value if isinstance(value, list) else (value,):
                if isinstance(atom, int | float) and not isinstance(atom, bool) and math.isfinite(atom):
                    out.add((attr, atom))
    return out


def index_hook(
    conn: sqlite3.Connection,
    tenant: Tenant,
    changed: list[tuple[ExpandedEntity | None, ExpandedEntity | None]],
) -> None:
    """Write hook: replace the rows of every changed entity whose numbers changed."""
    deletes, rows = [], []
    for before, after in changed:
        old, new = numbers(before), numbers(after)
        if old == new:
            continue
        entity_id = (after or before or {})["id"]
        if old:
            deletes.append((tenant, entity_id))
        rows.extend((tenant, entity_id, attr, num) for attr, num in new)
    if deletes:
        conn.executemany("DELETE FROM attr_numbers WHERE tenant = ? AND id = ?", deletes)
    if rows:
        insert_many(conn, "INSERT OR IGNORE INTO attr_numbers (tenant, id, attr, num)", rows)
