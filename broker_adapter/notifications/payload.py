"""Notification bodies (clause 5.3.1) compacted with the subscription's @context and format.

    {"id": "urn:ngsi-ld:Notification:<uuid>", "type": "Notification", "subscriptionId": ...,
     "notifiedAt": ..., "data": [entities], "triggerReason": "attributeUpdated"}

Deletions use the deleted representation: a deleted entity is its id and type (and deletedAt with
sysAttrs); a deleted attribute keeps its kind and carries the NGSI-LD Null (urn:ngsi-ld:null) as its value.
showChanges adds previousValue / previousObject / previousLanguageMap / ... (clause 5.2.14) to attributes
whose value changed. A subscription's datasetId (clause 4.5.5) keeps only the attribute instances with one
of those datasetIds (an attribute left with none is not shown). Rendering happens once, when the
notification is generated; retries resend the same bytes (same notification id, so receivers can drop
duplicates of at-least-once delivery).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import orjson

from broker_adapter.ngsild.link_header import context_link
from broker_adapter.ngsild.render import CONCISE, LOCATION_IRI, SIMPLIFIED, Renderer, RenderOptions
from broker_adapter.ngsild.subscriptions import FORMATS
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import (
    LANGUAGE_PROPERTY,
    PROPERTY,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    ExpandedEntity,
    Instance,
)

NGSI_LD_NULL = "urn:ngsi-ld:null"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
_PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "languageMap": "previousLanguageMap",
    "vocab": "previousVocab",
    "json": "previousJson",
    "valueList": "previousValueList",
    "objectList": "previousObjectList",
}


_ID_BASE = str(uuid.uuid4())[:24]  # random per process (version and variant digits included)
_ID_SEQUENCE = itertools.count()


def notification_id() -> str:
    """A unique notification id shaped like a UUID: this process's random 24 digits, then a counter in
    the last 12 (a uuid4 per notification was a twentieth of the notifier's CPU)."""
    return f"urn:ngsi-ld:Notification:{_ID_BASE}{next(_ID_SEQUENCE) & 0xFFFFFFFFFFFF:012x}"


class NotificationRenderer:
    """Everything needed to turn one subscription's matches into notification bodies."""

    def __init__(self, doc: dict[str, Any], term_map: TermMap) -> None:
        params = doc["notification"]
        self.format = FORMATS[params.get("format", "normalized")]
        self.sys_attrs = bool(params.get("sysAttrs"))
        self.show_changes = bool(params.get("showChanges"))
        attributes = params.get("attributes")
        self.pick = None if attributes is None else frozenset(("id", "type", "scope", *attributes))
        self.datasets = frozenset(doc["datasetId"]) if "datasetId" in doc else None
        self.accept = params["endpoint"].get("accept", "application/json")
        self.context_url = doc["jsonldContext"]
        self.tm = term_map
        self.renderer = Renderer(
            term_map,
            RenderOptions(format=self.format, sys_attrs=self.sys_attrs, pick=self.pick, lang=doc.get("lang")),
        )
        headers = {"Content-Type": self.accept}
        if self.accept != JSON_LD:
            headers["Link"] = context_link(self.context_url)
        self.headers = headers

    def _picked(self, iri: str) -> bool:
        return self.pick is None or iri in self.pick

    # entities --------------------------------------------------------------------------------------
    def entity(
        self, before: ExpandedEntity | None, after: ExpandedEntity | None, reason: str | None, now: str
    ) -> dict[str, Any]:
        before, after = self._in_datasets(before), self._in_datasets(after)
        if after is None:
            assert before is not None
            out: dict[str, Any] = {"id": before["id"], "type": self._types(before)}
            if self.sys_attrs:
                out["deletedAt"] = now
            if reason == "attributeDeleted":
                for iri, instances in before["attrs"].items():
                    if self._picked(iri):
                        out[self.tm.compact_name(iri)] = self._deleted(instances, now)
            return self._feature(out, None)
        out = self.renderer.entity(after)
        if before is not None:
            for iri, instances in before["attrs"].items():
                if iri not in after["attrs"] and self._picked(iri):
                    out[self.tm.compact_name(iri)] = self._deleted(instances, now)
            if self.show_changes:
                self._add_previous(out, before, after)
        return self._feature(out, after)

    def _in_datasets(self, entity: ExpandedEntity | None) -> ExpandedEntity | None:
        if entity is None or self.datasets is None:
            return entity
        attrs = {}
        for iri, instances in entity["attrs"].items():
            kept = [i for i in instances if i.get("datasetId") in self.datasets]
            if kept:
                attrs[iri] = kept
        return {**entity, "attrs": attrs}

    def _types(self, entity: ExpandedEntity) -> Any:
        types = [self.tm.compact_name(t) for t in entity["type"]]
        return types[0] if len(types) == 1 else types

    def _feature(self, out: dict[str, Any], entity: ExpandedEntity | None) -> dict[str, Any]:
        if self.accept != GEO_JSON:
            return out
        geometry = None
        if entity is not None:
            inst = next((i for i in entity["attrs"].get(LOCATION_IRI, ()) if "datasetId" not in i), None)
            geometry = inst.get("value") if inst is not None else None
        feature_id = out.pop("id")
        return {"id": feature_id, "type": "Feature", "geometry": geometry, "properties": out}

    def _deleted(self, instances: list[Instance], now: str) -> Any:
        rendered = []
        for inst in instances:
            kind = inst.get("type", PROPERTY)
            if self.format == SIMPLIFIED:
                rendered.append(NGSI_LD_NULL)
                continue
            member = VALUE_MEMBER.get(kind, "value")
            item: dict[str, Any] = {} if self.format == CONCISE else {"type": kind}
            item[member] = {"@none": NGSI_LD_NULL} if kind == LANGUAGE_PROPERTY else NGSI_LD_NULL
            if "datasetId" in inst:
                item["datasetId"] = inst["datasetId"]
            if self.sys_attrs:
                item["deletedAt"] = now
            rendered.append(item)
        return rendered[0] if len(rendered) == 1 else rendered

    def _add_previous(self, out: dict[str, Any], before: ExpandedEntity, after: ExpandedEntity) -> None:
        for iri, instances in after["attrs"].items():
            old_instances = before["attrs"].get(iri)
            if not old_instances or not self._picked(iri):
                continue
            name = self.tm.compact_name(iri)
            rendered = out.get(name)
            many = isinstance(rendered, list)
            items = rendered if many else [rendered]
            old_by_dataset = {i.get("datasetId"): i for i in old_instances}
            for n, inst in enumerate(instances):
                old = old_by_dataset.get(inst.get("datasetId"))
                member = VALUE_MEMBER.get(inst.get("type", PROPERTY), "value")
                if old is None or member not in old or old.get(member) == inst.get(member):
                    continue
                item = items[n] if n < len(items) else None
                if item is None:
                    continue
                if not isinstance(item, dict):  # concise bare value
                    item = items[n] = {"value": item}
                previous = old[member]
                if member == "vocab" and inst.get("type") == VOCAB_PROPERTY:
                    previous = (
                        [self.tm.compact_vocab(v) for v in previous]
                        if isinstance(previous, list)
                        else self.tm.compact_vocab(previous)
                    )
                item[_PREVIOUS[member]] = previous
            out[name] = items if many else items[0]

    # bodies ----------------------------------------------------------------------------------------
    def body(self, sub_id: str, data: list[dict[str, Any]], reason: str | None, now: str) -> bytes:
        notification: dict[str, Any] = {
            "id": notification_id(),
            "type": "Notification",
            "subscriptionId": sub_id,
            "notifiedAt": now,
            "data": {"type": "FeatureCollection", "features": data} if self.accept == GEO_JSON else data,
        }
        if reason is not None:
            notification["triggerReason"] = reason
        if self.accept == JSON_LD:
            notification["@context"] = self.context_url
        return orjson.dumps(notification)
