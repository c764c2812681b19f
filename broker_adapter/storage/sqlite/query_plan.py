"""Run an EntityQuery on SQLite: choose where to start, compile the rest, page in SQL when it can.

Where the scan starts (each gives the rows in id order, or few enough to sort):
- a geo-query: the candidates of the spatial index (geo_index), sorted by id;
- else a single required type: the entity_types primary key (tenant, type, id), already in id order;
- else the entities' (tenant, id) index.

Every other part becomes a WHERE condition (query_sql). When all of them are exact, filtering, ORDER
BY id, LIMIT/OFFSET and count(*) run in SQLite. Otherwise the SQL condition is a superset and the
inexact parts are decided by the reference evaluator on the candidates, in id order, stopping once
offset + limit have matched (or counting on when a count was asked for): pages stay stable and every
entity appears on exactly one page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from broker_adapter.ngsild.query.ast import And, Node, Or, TypeIs, combine
from broker_adapter.ngsild.query.evaluate import matches
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.port import EntityQuery, EntitySelector, QueryResult
from broker_adapter.storage.sqlite import geo_index
from broker_adapter.storage.sqlite.codec import entity_from_row
from broker_adapter.storage.sqlite.query_sql import Compiler, json_path

_FETCH = 256  # rows per fetch while post-filtering


@dataclass
class Plan:
    source: str  # FROM and the join conditions; the entity row is `e`
    where: list[str]
    order: str
    params: dict[str, object]
    residual: Node | None = None  # to decide with the evaluator; None: the SQL is exact
    count_sql: str | None = None  # a cheaper exact count, when one exists

    @property
    def condition(self) -> str:
        return " AND ".join(self.where) or "1"


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def plan(tenant: Tenant, query: EntityQuery) -> Plan:
    compiler = Compiler(tenant)
    listed = None
    if query.types:
        leaves = tuple(TypeIs(t) for t in dict.fromkeys(query.types))
        listed = leaves[0] if len(leaves) == 1 else Or(leaves)
    parts = _conjuncts(combine(listed, query.type_expression, query.q, query.scope, query.geo))
    where: list[str] = []
    driver_type = next((p.iri for p in parts if isinstance(p, TypeIs)), None)
    if query.geo is not None:
        candidates, geo_params = geo_index.candidates_sql(query.geo)
        compiler.params.update(geo_params)
        source, order = f"({candidates}) c CROSS JOIN entities e", "e.id"
        where += ["e.tenant = :tenant", "e.id = c.id"]
    elif driver_type is not None:
        parts.remove(TypeIs(driver_type))
        compiler.params["driver_type"] = driver_type
        source, order = "entity_types d CROSS JOIN entities e", "d.id"
        where += ["d.tenant = :tenant", "d.type = :driver_type", "e.tenant = d.tenant", "e.id = d.id"]
    else:
        source, order = "entities e", "e.id"
        where.append("e.tenant = :tenant")
    inexact: list[Node] = []
    filters = 0
    for part in parts:
        compiler.exact = True
        where.append(compiler.node(part))
        filters += 1
        if not compiler.exact:
            inexact.append(part)
    if query.ids:
        marks = ", ".join(compiler.bind(i) for i in dict.fromkeys(query.ids))
        where.append(f"e.id IN ({marks})")
        filters += 1
    if query.id_pattern:
        where.append(f"ngsild_regexp({compiler.bind(query.id_pattern)}, e.id)")
        filters += 1
    if query.selectors:
        where.append("(" + " OR ".join(_selector(compiler, s) for s in query.selectors) + ")")
        filters += 1
    if query.attrs:
        tests = [f"json_type(e.doc, {compiler.bind(json_path('attrs', a))}) IS NOT NULL" for a in query.attrs]
        where.append("(" + " OR ".join(tests) + ")")
        filters += 1
    result = Plan(source, where, order, compiler.params, combine(*inexact))
    if driver_type is not None and filters == 0:
        result.count_sql = "SELECT count(*) FROM entity_types WHERE tenant = :tenant AND type = :driver_type"
    return result


def _selector(compiler: Compiler, selector: EntitySelector) -> str:
    tests = []
    if selector.type_expression is not None:
        tests.append(compiler.node(selector.type_expression))  # TypeIs leaves only: always exact
    if selector.id is not None:
        tests.append(f"e.id = {compiler.bind(selector.id)}")
    if selector.id_pattern is not None:
        tests.append(f"ngsild_regexp({compiler.bind(selector.id_pattern)}, e.id)")
    return "(" + (" AND ".join(tests) or "1") + ")"


def run(conn: sqlite3.Connection, tenant: Tenant, query: EntityQuery) -> QueryResult:
    p = plan(tenant, query)
    result = QueryResult()
    if p.residual is None:
        if query.limit > 0:
            sql = f"SELECT e.doc FROM {p.source} WHERE {p.condition} ORDER BY {p.order}"
            sql += " LIMIT :limit OFFSET :offset"
            rows = conn.execute(sql, {**p.params, "limit": query.limit, "offset": query.offset}).fetchall()
            result.entities = [entity_from_row(r[0]) for r in rows]
        if query.count:
            sql = p.count_sql or f"SELECT count(*) FROM {p.source} WHERE {p.condition}"
            result.total = conn.execute(sql, p.params).fetchone()[0]
        return result
    matched = 0
    end = query.offset + query.limit
    page: list[tuple[str, ExpandedEntity | None]] = []
    for found in _matching(conn, p, query):
        if query.offset <= matched < end:
            page.append(found)
        matched += 1
        if matched >= end and not query.count:
            break
    result.entities = _with_docs(conn, tenant, page)
    if query.count:
        result.total = matched
    return result


def select_all(conn: sqlite3.Connection, tenant: Tenant, query: EntityQuery) -> list[ExpandedEntity]:
    """Every entity the query selects, ignoring paging (for delete_entities)."""
    p = plan(tenant, query)
    if p.residual is None:
        return list(_candidates(conn, p))
    return _with_docs(conn, tenant, list(_matching(conn, p, query)))


Found = tuple[str, ExpandedEntity | None]  # an entity id and its document when it was already read


def _matching(conn: sqlite3.Connection, p: Plan, query: EntityQuery) -> Iterator[Found]:
    """The entities that pass the residual, in id order; documents are read only where needed."""
    if query.geo is None:
        for entity in _candidates(conn, p):
            if matches(entity, p.residual):  # type: ignore[arg-type]
                yield entity["id"], entity
        return
    rest = combine(*(n for n in _conjuncts(p.residual) if n is not query.geo))
    sql = f"SELECT e.id, c.points, c.xy FROM {p.source} WHERE {p.condition} ORDER BY {p.order}"
    rows = conn.execute(sql, p.params).fetchall()
    for (entity_id, _, _), decided in zip(rows, geo_index.decide(query.geo, rows), strict=True):
        if decided is False:
            continue
        if decided is True and rest is None:
            yield entity_id, None
            continue
        entity = _load(conn, p.params["tenant"], entity_id)
        if entity is None or (decided is None and not matches(entity, query.geo)):
            continue
        if rest is None or matches(entity, rest):
            yield entity_id, entity


def _load(conn: sqlite3.Connection, tenant: object, entity_id: str) -> ExpandedEntity | None:
    row = conn.execute("SELECT doc FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)).fetchone()
    return entity_from_row(row[0]) if row else None


def _with_docs(conn: sqlite3.Connection, tenant: Tenant, found: list[Found]) -> list[ExpandedEntity]:
    missing = [entity_id for entity_id, entity in found if entity is None]
    docs: dict[str, ExpandedEntity] = {}
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT id, doc FROM entities WHERE tenant = ? AND id IN ({marks})"
        docs.update((i, entity_from_row(doc)) for i, doc in conn.execute(sql, (tenant, *chunk)))
    # an entity deleted since its id was read is left out rather than failing the page
    return [entity or docs[i] for i, entity in found if entity is not None or i in docs]


def _candidates(conn: sqlite3.Connection, p: Plan) -> Iterator[ExpandedEntity]:
    cursor = conn.execute(f"SELECT e.doc FROM {p.source} WHERE {p.condition} ORDER BY {p.order}", p.params)
    try:
        while rows := cursor.fetchmany(_FETCH):
            for row in rows:
                yield entity_from_row(row[0])
    finally:
        cursor.close()
