"""Run an EntityQuery on a tenant's `entities` collection: one filter, id order, paging and counts.

Every part of the query becomes one conjunct of the filter (query_filter). When all of them are exact,
filtering, `sort _id`, skip/limit and `count_documents` run in MongoDB (indexes: `_id`, `type+_id`,
`_names+_id`, `scope`, `_box`). Otherwise the filter is a superset and the inexact parts are decided by
the reference evaluator on the candidates, read in id order, stopping once offset + limit have matched
(or counting on when a count was asked for): pages stay stable and every entity is on exactly one page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from broker_adapter.ngsild.query import patterns
from broker_adapter.ngsild.query.ast import And, Node, Or, TypeIs, combine
from broker_adapter.ngsild.query.evaluate import matches
from broker_adapter.ngsild.types import ExpandedEntity
from broker_adapter.storage.mongo.codec import ENTITY_FIELDS, entity_from_doc
from broker_adapter.storage.mongo.query_filter import Filter, FilterCompiler, regex_filter
from broker_adapter.storage.port import EntityQuery, EntitySelector, QueryResult

_BATCH = 256
Predicate = Callable[[ExpandedEntity], bool]


@dataclass
class Plan:
    filter: Filter
    residual: list[Predicate] = field(default_factory=list)  # empty: the filter is exact

    @property
    def exact(self) -> bool:
        return not self.residual


def plan(query: EntityQuery, *, native_geo: bool = False) -> Plan:
    compiler = FilterCompiler(native_geo=native_geo)
    listed = None
    if query.types:
        leaves = tuple(TypeIs(t) for t in dict.fromkeys(query.types))
        listed = leaves[0] if len(leaves) == 1 else Or(leaves)
    node = combine(listed, query.type_expression, query.q, query.scope, query.geo)
    conjuncts: list[Filter] = []
    residual: list[Predicate] = []
    if node is not None:
        for part in node.items if isinstance(node, And) else (node,):
            compiled = compiler.compile(part)
            conjuncts.append(compiled.filter)
            if not compiled.exact:
                residual.append(_node_test(part))
    if query.ids:
        conjuncts.append({"_id": {"$in": list(dict.fromkeys(query.ids))}})
    if query.id_pattern:
        regex = regex_filter(query.id_pattern)
        if regex is not None:
            conjuncts.append({"_id": regex})
        else:
            residual.append(_id_test(query.id_pattern))
    if query.selectors:
        tests, exact = [], True
        for selector in query.selectors:
            test, selector_exact = _selector(compiler, selector)
            tests.append(test)
            exact &= selector_exact
        conjuncts.append({"$or": tests})
        if not exact:
            residual.append(_selectors_test(query.selectors))
    if query.attrs:
        conjuncts.append({"_names": {"$in": list(query.attrs)}})
    filter_: Filter = {} if not conjuncts else conjuncts[0] if len(conjuncts) == 1 else {"$and": conjuncts}
    return Plan(filter_, residual)


def _node_test(node: Node) -> Predicate:
    return lambda entity: matches(entity, node)


def _id_test(pattern: str) -> Predicate:
    regex = patterns.compiled(pattern)
    return lambda entity: regex.search(entity["id"]) is not None


def _selector(compiler: FilterCompiler, selector: EntitySelector) -> tuple[Filter, bool]:
    parts: list[Filter] = []
    exact = True
    if selector.type_expression is not None:
        parts.append(compiler.compile(selector.type_expression).filter)  # TypeIs leaves only: exact
    if selector.id is not None:
        parts.append({"_id": selector.id})
    if selector.id_pattern is not None:
        regex = regex_filter(selector.id_pattern)
        exact = regex is not None
        if regex is not None:
            parts.append({"_id": regex})
    return ({"$and": parts} if parts else {}), exact


def _selectors_test(selectors: list[EntitySelector] | Any) -> Predicate:
    def test(entity: ExpandedEntity) -> bool:
        for s in selectors:
            if s.type_expression is not None and not matches(entity, s.type_expression):
                continue
            if s.id is not None and entity["id"] != s.id:
                continue
            if s.id_pattern is not None and patterns.compiled(s.id_pattern).search(entity["id"]) is None:
                continue
            return True
        return False

    return test


def run(collection: Any, query: EntityQuery, *, native_geo: bool = False, session: Any = None) -> QueryResult:
    p = plan(query, native_geo=native_geo)
    result = QueryResult()
    if p.exact:
        if query.limit > 0:
            cursor = (
                collection.find(p.filter, ENTITY_FIELDS, session=session)
                .sort("_id", 1)
                .skip(query.offset)
                .limit(query.limit)
            )
            result.entities = [entity_from_doc(d) for d in cursor]
        if query.count:
            result.total = collection.count_documents(p.filter, session=session)
        return result
    matched = 0
    end = query.offset + query.limit
    for entity in _matching(collection, p, session):
        if query.offset <= matched < end:
            result.entities.append(entity)
        matched += 1
        if matched >= end and not query.count:
            break
    if query.count:
        result.total = matched
    return result


def select_all(collection: Any, query: EntityQuery, *, native_geo: bool = False, session: Any = None) -> list:
    """Every entity the query selects, ignoring paging (delete_entities)."""
    p = plan(query, native_geo=native_geo)
    return list(_matching(collection, p, session))


def _matching(collection: Any, p: Plan, session: Any) -> Iterator[ExpandedEntity]:
    cursor = collection.find(p.filter, ENTITY_FIELDS, session=session).sort("_id", 1).batch_size(_BATCH)
    try:
        for doc in cursor:
            entity = entity_from_doc(doc)
            if all(test(entity) for test in p.residual):
                yield entity
    finally:
        cursor.close()
