"""Which subscriptions a committed entity change notifies, and why (clauses 5.8.6, 5.2.12).

A change (before, after) becomes events: entityCreated / entityDeleted and, per attribute,
attributeCreated / attributeUpdated / attributeDeleted (creating an entity creates all its attributes,
deleting one deletes them). A subscription is notified when

- an entity selector matches (type, and id or idPattern), or it has none (watchedAttributes only);
- q, geoQ and scopeQ match the entity (as it is after the change; as it was, for a deletion);
- one of its notificationTrigger kinds happened, attribute kinds counted only for watchedAttributes
  (if given); entityUpdated stands for any attribute event;
- it is active, not expired, not periodic (timeInterval), not inside its throttling period, and the
  change is newer than the subscription.

Subscriptions are indexed per tenant by entity type (type is mandatory in a selector), so a change is
checked against the subscriptions of its types only, plus those without entity selectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from broker_adapter.ngsild.query import Node, combine, matches, parse_geo_query, parse_q, parse_scope_query
from broker_adapter.ngsild.query.patterns import compiled as compiled_pattern
from broker_adapter.ngsild.subscriptions import DEFAULT_TRIGGERS
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.notifications.payload import NotificationRenderer
from broker_adapter.storage.notify_port import StoredSubscription

_ATTRIBUTE_KINDS = ("attributeCreated", "attributeUpdated", "attributeDeleted")


@dataclass(slots=True)
class Selector:
    type: str
    id: str | None
    pattern: re.Pattern[str] | None

    def matches(self, entity: ExpandedEntity) -> bool:
        if self.type not in entity["type"]:
            return False
        if self.id is not None:
            return entity["id"] == self.id
        return self.pattern is None or self.pattern.search(entity["id"]) is not None


class Compiled:
    """A stored subscription made ready for matching and rendering."""

    __slots__ = ("active", "expires", "interval", "query", "renderer", "selectors", "sub", "throttling",
                 "triggers", "watched")  # fmt: skip

    def __init__(self, sub: StoredSubscription, q_terms: TermMap, notify_terms: TermMap) -> None:
        doc = sub.doc
        self.sub = sub
        self.selectors = [
            Selector(s["type"], s.get("id"), compiled_pattern(s["idPattern"]) if "idPattern" in s else None)
            for s in doc.get("entities", ())
        ]
        watched = doc.get("watchedAttributes")
        self.watched = frozenset(watched) if watched else None
        self.triggers = frozenset(doc.get("notificationTrigger", DEFAULT_TRIGGERS))
        nodes: list[Node | None] = []
        if "q" in doc:
            nodes.append(parse_q(doc["q"], q_terms))
        if "scopeQ" in doc:
            nodes.append(parse_scope_query(doc["scopeQ"]))
        if "geoQ" in doc:
            geo = doc["geoQ"]
            nodes.append(parse_geo_query(geo["georel"], geo["geometry"], geo["coordinates"], None, q_terms))
            if "geoproperty" in geo:  # already expanded: set it after parsing with the default
                nodes[-1] = _with_geoproperty(nodes[-1], geo["geoproperty"])
        self.query = combine(*nodes)
        self.throttling = doc.get("throttling")
        self.interval = doc.get("timeInterval")
        self.expires = _epoch(doc.get("expiresAt"))
        self.active = doc.get("isActive", True)  # a changed subscription is compiled again
        self.renderer = NotificationRenderer(doc, notify_terms)

    @property
    def key(self) -> tuple[Tenant, str]:
        return self.sub.tenant, self.sub.id

    def live(self, now: float) -> bool:
        return self.active and (self.expires is None or self.expires > now)

    def selects(self, entity: ExpandedEntity) -> bool:
        if self.selectors and not any(s.matches(entity) for s in self.selectors):
            return False
        return self.query is None or matches(entity, self.query)

    def reason(self, events: Events) -> str | None:
        """The trigger that fires for these events, or None."""
        triggers = self.triggers
        if events.entity is not None and events.entity in triggers:
            return events.entity
        attrs = events.attrs
        if self.watched is not None:
            if events.entity is None and self.watched.isdisjoint(attrs):
                return None  # an update that touches none of the watched attributes (the common case)
            attrs = {iri: kind for iri, kind in attrs.items() if iri in self.watched}
        kinds = set(attrs.values())
        for kind in _ATTRIBUTE_KINDS:
            if kind in kinds and kind in triggers:
                return kind
        if (
            "entityUpdated" in triggers
            and events.entity is None
            and (kinds or (events.meta and not self.watched))
        ):
            return "entityUpdated"
        return None


def _with_geoproperty(node: Any, iri: str) -> Any:
    from dataclasses import replace

    return replace(node, geoproperty=iri)


def _epoch(iso: str | None) -> float | None:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


@dataclass(slots=True)
class Events:
    entity: str | None  # entityCreated / entityDeleted
    attrs: dict[str, str]  # attribute IRI -> attributeCreated / attributeUpdated / attributeDeleted
    meta: bool = False  # type or scope changed


def events_of(before: ExpandedEntity | None, after: ExpandedEntity | None) -> Events:
    if before is None:
        assert after is not None
        return Events("entityCreated", dict.fromkeys(after["attrs"], "attributeCreated"))
    if after is None:
        return Events("entityDeleted", dict.fromkeys(before["attrs"], "attributeDeleted"))
    old, new = before["attrs"], after["attrs"]
    attrs = {iri: "attributeDeleted" for iri in old if iri not in new}
    for iri, instances in new.items():
        previous = old.get(iri)
        if previous is None:
            attrs[iri] = "attributeCreated"
        elif previous != instances:
            attrs[iri] = "attributeUpdated"
    meta = before["type"] != after["type"] or before.get("scope") != after.get("scope")
    return Events(None, attrs, meta)


class SubscriptionIndex:
    """The compiled subscriptions of all tenants, indexed by entity id when every selector names one (the
    most common subscription: one entity), else by entity type; each subscription is in one index."""

    def __init__(self, subscriptions: list[Compiled]) -> None:
        self.all = subscriptions
        self._by_id: dict[tuple[Tenant, str], list[Compiled]] = {}
        self._by_type: dict[tuple[Tenant, str], list[Compiled]] = {}
        self._untyped: dict[Tenant, list[Compiled]] = {}
        for c in subscriptions:
            if c.interval is not None:
                continue  # periodic: not triggered by changes
            if not c.selectors:
                self._untyped.setdefault(c.sub.tenant, []).append(c)
            elif all(s.id is not None for s in c.selectors):
                for entity_id in dict.fromkeys(s.id for s in c.selectors):
                    self._by_id.setdefault((c.sub.tenant, entity_id), []).append(c)  # type: ignore[arg-type]
            else:
                for t in dict.fromkeys(s.type for s in c.selectors):
                    self._by_type.setdefault((c.sub.tenant, t), []).append(c)

    def candidates(self, tenant: Tenant, entity: ExpandedEntity) -> list[Compiled]:
        found: list[Compiled] = list(self._untyped.get(tenant, ()))
        found.extend(self._by_id.get((tenant, entity["id"]), ()))
        for t in entity["type"]:
            found.extend(self._by_type.get((tenant, t), ()))
        if len(entity["type"]) > 1:
            found = list({id(c): c for c in found}.values())
        return found

    def periodic(self) -> list[Compiled]:
        return [c for c in self.all if c.interval is not None]
