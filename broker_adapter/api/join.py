"""Linked entity retrieval (clause 4.5.23) for retrieve and query.

`join=inline` puts each linked entity into the Relationship that names it (as "entity", or "entityList" for
a ListRelationship; in the simplified form it takes the relationship's place), `join=flat` lists the linked
entities after the results, once each; `joinLevel` (default 1) is how many hops are followed. A pick/omit
projection in braces (`locatedAt{id,name}`) applies to the entities linked through that member. A target
that does not exist leaves its relationship as it is. At most MAX_LINKED entities are fetched per request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from broker_adapter.api.http import parse_int
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.projection import Projection, projection_tree
from broker_adapter.ngsild.render import SIMPLIFIED, Renderer, RenderOptions
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import (
    LIST_RELATIONSHIP,
    RELATIONSHIP,
    CompactedEntity,
    ExpandedEntity,
    Tenant,
)

MAX_LINKED = 1000
MAX_LEVEL = 8
_CORE = ("id", "type", "scope")


@dataclass(frozen=True, slots=True)
class Join:
    kind: str  # "inline" or "flat"
    level: int
    pick: Projection | None
    omit: Projection | None


def request_join(params: Mapping[str, str]) -> Join | None:
    """The join a request's URI parameters ask for, with the nested pick/omit projections."""
    if params.get("join") is None:
        return None
    pick = projection_tree(params.get("pick"), "pick")
    return parse_join(params, pick, projection_tree(params.get("omit"), "omit"))


def parse_join(params: Mapping[str, str], pick: Projection | None, omit: Projection | None) -> Join | None:
    """The join the request asks for; None without one (or with join=@none)."""
    kind = params.get("join")
    if kind is None or kind == "@none":
        return None
    if kind not in ("inline", "flat"):
        raise BadRequestData(f"join must be inline, flat or @none, not {kind!r}")
    level = parse_int(params.get("joinLevel"), "joinLevel", 1, minimum=1)
    if level > MAX_LEVEL:
        raise BadRequestData(f"joinLevel {level} is above the maximum of {MAX_LEVEL}")
    return Join(kind, level, pick, omit)


class Linker:
    """Joins the linked entities of already rendered entities, fetching each target once."""

    def __init__(self, store: Any, tenant: Tenant, tm: TermMap, options: RenderOptions, join: Join) -> None:
        self.store, self.tenant, self.tm, self.options, self.join = store, tenant, tm, options, join
        self._fetched: dict[str, ExpandedEntity | None] = {}

    def apply(self, pairs: list[tuple[ExpandedEntity, CompactedEntity]]) -> list[CompactedEntity]:
        """Join into the rendered entities of `pairs` (in place for inline); the linked entities to list
        after them (flat), in the order first met."""
        listed = {entity["id"] for entity, _ in pairs}
        flat: list[CompactedEntity] = []
        level = [(entity, rendered, self.join.pick, self.join.omit) for entity, rendered in pairs]
        for _ in range(self.join.level):
            following = []
            for entity, rendered, pick, omit in level:
                for name, targets, place in self._relationships(entity, rendered):
                    sub_pick = pick.get(name) if pick else None
                    sub_omit = omit.get(name) if omit else None
                    linked = []
                    for target_id in targets:
                        target = self._fetch(target_id)
                        if target is None:
                            continue
                        shown = self._render(target, sub_pick, sub_omit)
                        linked.append(shown)
                        following.append((target, shown, sub_pick, sub_omit))
                        if self.join.kind == "flat" and target["id"] not in listed:
                            listed.add(target["id"])
                            flat.append(shown)
                    if linked and self.join.kind == "inline":
                        place(linked)
            level = following
        return flat

    def _relationships(self, entity: ExpandedEntity, rendered: CompactedEntity):
        """(member name, target ids, a function that puts the linked entities in place) of each rendered
        Relationship or ListRelationship instance."""
        datasets = self.options.datasets
        simplified = self.options.format == SIMPLIFIED
        for iri, instances in entity["attrs"].items():
            name = self.tm.compact_name(iri)
            if name not in rendered:
                continue
            shown = [i for i in instances if datasets is None or i.get("datasetId", "@none") in datasets]
            for n, inst in enumerate(shown):
                kind = inst.get("type")
                if kind == RELATIONSHIP:
                    obj = inst.get("object")
                    targets = obj if isinstance(obj, list) else [obj]
                elif kind == LIST_RELATIONSHIP:
                    targets = list(inst.get("objectList") or ())
                else:
                    continue
                yield name, targets, _placer(rendered, name, n, len(shown), kind, simplified)

    def _fetch(self, entity_id: Any) -> ExpandedEntity | None:
        if not isinstance(entity_id, str):
            return None
        if entity_id not in self._fetched:
            if len(self._fetched) >= MAX_LINKED:
                return None
            self._fetched[entity_id] = self.store.get_entity(self.tenant, entity_id)
        return self._fetched[entity_id]

    def _render(
        self, entity: ExpandedEntity, pick: Projection | None, omit: Projection | None
    ) -> CompactedEntity:
        expand = self.tm.expand_name
        options = dataclasses.replace(
            self.options,
            pick=None if pick is None else {t if t in _CORE else expand(t) for t in pick},
            omit=() if omit is None else {t if t in _CORE else expand(t) for t in omit},
        )
        return Renderer(self.tm, options).entity(entity)


def _placer(rendered: CompactedEntity, name: str, n: int, count: int, kind: str, simplified: bool):
    def place(linked: list[CompactedEntity]) -> None:
        value = linked if kind == LIST_RELATIONSHIP or len(linked) > 1 else linked[0]
        if simplified:
            if count == 1:
                rendered[name] = value
            else:
                rendered[name][n] = value
            return
        instance = rendered[name] if count == 1 else rendered[name][n]
        instance["entityList" if kind == LIST_RELATIONSHIP else "entity"] = value

    return place
