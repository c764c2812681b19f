"""Stored attribute instances ⇄ SQLite history rows, and the diff the write hook records.

A row is (series key, kind, observed_at, created_at, deleted_at, v, doc): times in ms since the epoch,
`v` a number or string value of a Property (what SQL aggregates), `doc` the other members as JSON
(NULL for a plain Property). `_changes` is the hot path of ingest, hence the inlined fast paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from broker_adapter.ngsild.durations import canonical_to_ms, ms_to_canonical
from broker_adapter.ngsild.entity_input import NGSILD_NULL
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.types import PROPERTY, VALUE_MEMBER, Instance, Iri

INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"
SeriesKey = tuple[int, Iri, str]  # history_entities.eid, attribute, datasetId ('' for the default)
# An entity's series by attribute: the IRI alone for the default instance, (IRI, datasetId) otherwise.
SlotKey = Iri | tuple[Iri, str]
EntitySeries = dict[SlotKey, int]  # -> sid
# A series' key (sid) is (eid << SLOT_BITS) + its slot in the entity: an entity's series are one range.
SLOT_BITS = 28
MAX_SLOT = (1 << SLOT_BITS) - 1
_ROW_MEMBERS = frozenset({"observedAt", "createdAt", "modifiedAt", "deletedAt", "datasetId", "instanceId"})
_INT64 = 2**63
_PLAIN_PROPERTY = frozenset({"type", "value", "unitCode", *_ROW_MEMBERS})
_DOCS: dict[str | None, str] = {}  # {"type": "Property", "unitCode": u} as JSON, by unit
_OBSERVED: dict[str, int] = {}  # observedAt -> ms, the latest few thousand


def split(inst: Instance) -> tuple[Any, str | None]:
    """(v, doc) for an instance: a scalar Property value goes to v; everything else stays JSON in doc."""
    value = inst.get("value")
    kind = type(value)
    if (kind is float or kind is str) and inst.get("type") == PROPERTY and inst.keys() <= _PLAIN_PROPERTY:
        unit = inst.get("unitCode")  # the common sensor reading: no JSON encoding per row
        if unit is None:
            return value, None
        doc = _DOCS.get(unit)
        if doc is None and type(unit) is str and len(_DOCS) < 1024:
            doc = _DOCS[unit] = orjson.dumps({"type": PROPERTY, "unitCode": unit}).decode()
        if doc is not None:
            return value, doc
    rest = {k: x for k, x in inst.items() if k not in _ROW_MEMBERS}
    v = None
    if rest.get("type") == PROPERTY:
        value = rest.get("value")
        kind = type(value)
        if kind is float or kind is str or (kind is int and -_INT64 <= value < _INT64):
            v = rest.pop("value")
            if len(rest) == 1:
                return v, None
    return v, orjson.dumps(rest).decode()


def to_instance(
    iid: int, observed: int | None, created: int, modified: int | None, deleted: int | None, v: Any, doc: Any
) -> Instance:
    inst: Instance = orjson.loads(doc) if doc is not None else {"type": PROPERTY}
    if v is not None:
        inst["value"] = v
    if observed is not None:
        inst["observedAt"] = ms_to_canonical(observed)
    inst["instanceId"] = f"{INSTANCE_PREFIX}{iid}"
    inst["createdAt"] = ms_to_canonical(created)
    inst["modifiedAt"] = ms_to_canonical(modified if modified is not None else created)
    if deleted is not None:
        inst["deletedAt"] = ms_to_canonical(deleted)
    return inst


def same_instance(old: Instance, new: Instance) -> bool:
    """Equal apart from the system times: such a rewrite (an upsert of the same reading) adds nothing."""
    if (
        len(old) != len(new)
        or old.get("observedAt") != new.get("observedAt")
        or old.get("value") != new.get("value")
    ):
        return False
    return {**new, "createdAt": old.get("createdAt"), "modifiedAt": old.get("modifiedAt")} == old


def find_instance(instances: Sequence[Instance] | None, dataset_id: str | None) -> Instance | None:
    for inst in instances or ():
        if inst.get("datasetId") == dataset_id:
            return inst
    return None


def to_ms(value: Any) -> Any:
    """A stored DateTime in ms; None for anything else (the hook never fails a write over history)."""
    if type(value) is not str:
        return None
    try:
        return canonical_to_ms(value)
    except BadRequestData:
        return None


def deletion(
    ent: int,
    iri: Iri,
    old: Instance,
    when: int,
    rows: list[tuple[Any, ...]],
) -> None:
    """The instance that records a deleted attribute: NGSI-LD null as its value, deletedAt set."""
    kind = old.get("type", PROPERTY)
    key = (ent, iri, old.get("datasetId") or "")
    doc = orjson.dumps({"type": kind, VALUE_MEMBER.get(kind, "value"): NGSILD_NULL}).decode()
    rows.append((key, kind, None, when, when, None, doc))


def changed_rows(
    ent: int,
    old_attrs: dict[Iri, list[Instance]],
    new_attrs: dict[Iri, list[Instance]],
    when: int,
    rows: list[tuple[Any, ...]],
    own: EntitySeries | None = None,
    known: list[tuple[Any, ...]] | None = None,
) -> None:
    """Rows for the instances a write changed, added or deleted: (sid, observed, created, v, doc) into
    `known` where `own` (the entity's cached series) names the series, else by series key into `rows`.
    The hot path of ingest: a new entity records everything; one instance per attribute on both sides
    is compared inline; the rest goes the general way."""
    if not old_attrs:
        for iri, insts in new_attrs.items():
            for inst in insts:
                _append(ent, iri, inst, when, rows, own, known)
        return
    for iri, insts in new_attrs.items():
        olds = old_attrs.get(iri)
        if olds is not None and len(olds) == 1 and len(insts) == 1:
            old, inst = olds[0], insts[0]
            if old.get("datasetId") == inst.get("datasetId"):
                if old is not inst and not same_instance(old, inst):
                    _append(ent, iri, inst, when, rows, own, known)
                continue
        for inst in insts:
            old = find_instance(olds, inst.get("datasetId")) if olds else None
            if old is None or (old is not inst and not same_instance(old, inst)):
                _append(ent, iri, inst, when, rows, own, known)
    for iri, olds in old_attrs.items():
        news = new_attrs.get(iri)
        if (
            news is not None
            and len(olds) == 1 == len(news)
            and olds[0].get("datasetId") == news[0].get("datasetId")
        ):
            continue
        for old in olds:
            if news is None or find_instance(news, old.get("datasetId")) is None:
                deletion(ent, iri, old, when, rows)


def slot_key(iri: Iri, dataset: str) -> SlotKey:
    return (iri, dataset) if dataset else iri


def created_rows(
    ent: int,
    attrs: dict[Iri, list[Instance]],
    when: int,
    aids: dict[Iri, int],
    entries: list[Any],
    rows: list[tuple[Any, ...]],
) -> EntitySeries:
    """Rows (sid, observed, created, v, doc) of an entity this write creates, the hot path of
    ingest: each new (attribute, datasetId) takes the next slot, listed in `entries` as [aid, dataset,
    kind]. Returns the entity's series. `aids` names every attribute."""
    own: EntitySeries = {}
    base = ent << SLOT_BITS
    for iri, insts in attrs.items():
        for inst in insts:
            ds = inst.get("datasetId")
            key = (iri, ds) if ds else iri
            sid = own.get(key)
            if sid is None:
                sid = own[key] = base + len(entries)
                entries.append([aids[iri], ds or "", inst.get("type", PROPERTY)])
            v, doc = split(inst)
            rows.append((sid, _observed_ms(inst), when, v, doc))
    return own


def _observed_ms(inst: Instance) -> int | None:
    observed = inst.get("observedAt")
    if observed is None:
        return None
    ms = _OBSERVED.get(observed) if type(observed) is str else None
    if ms is None:  # readings written together share their observedAt: parse it once
        ms = to_ms(observed)
        if ms is not None:
            if len(_OBSERVED) >= 4096:
                _OBSERVED.clear()
            _OBSERVED[observed] = ms
    return ms


def _append(
    ent: int,
    iri: Iri,
    inst: Instance,
    when: int,
    rows: list[tuple[Any, ...]],
    own: EntitySeries | None,
    known: list[tuple[Any, ...]] | None,
) -> None:
    ds = inst.get("datasetId")
    sid = own.get((iri, ds) if ds else iri) if own is not None else None
    v, doc = split(inst)
    observed = _observed_ms(inst)
    if sid is not None and known is not None:
        known.append((sid, observed, when, v, doc))
    else:
        rows.append(((ent, iri, ds or ""), inst.get("type", PROPERTY), observed, when, None, v, doc))
