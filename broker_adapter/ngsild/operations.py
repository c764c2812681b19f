"""The entity operations of the NGSI-LD API as pure functions on the stored form.

Each returns (or builds) a change function `current -> new` for the store's `apply`, so the whole
read-modify-write runs inside one store transaction. Functions that report per-attribute results
(append, update) fill an `AttrReport` given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broker_adapter.ngsild.entity_input import CORE_ATTRIBUTE_MEMBERS, NGSILD_NULL
from broker_adapter.ngsild.errors import AlreadyExists, BadRequestData, ResourceNotFound
from broker_adapter.ngsild.types import VALUE_MEMBER, ExpandedEntity, Instance, Iri


@dataclass(slots=True)
class AttrReport:
    """Per-attribute result of append/update (the spec's UpdateResult), with expanded names."""

    updated: list[Iri] = field(default_factory=list)
    not_updated: list[tuple[Iri, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.not_updated


def _not_found(entity_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"entity {entity_id} does not exist")


def _find(instances: list[Instance], dataset_id: str | None) -> int | None:
    for n, inst in enumerate(instances):
        if inst.get("datasetId") == dataset_id:
            return n
    return None


def _keep_created(new: Instance, old: Instance | None) -> Instance:
    if old is not None and "createdAt" in old:
        new["createdAt"] = old["createdAt"]
    return new


def _copy_for_write(entity: ExpandedEntity) -> ExpandedEntity:
    """A copy whose containers may be changed; instances are shared and never mutated in place
    (operations replace them), which is what makes this much cheaper than a deep copy."""
    out = dict(entity)
    out["type"] = list(entity["type"])
    if "scope" in entity:
        out["scope"] = list(entity["scope"])
    out["attrs"] = {iri: list(instances) for iri, instances in entity["attrs"].items()}
    return out


def _touch(entity: ExpandedEntity, now: str) -> ExpandedEntity:
    entity["modifiedAt"] = now
    return entity


# whole entities ------------------------------------------------------------------------------------
def create(new: ExpandedEntity):
    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        if current is not None:
            raise AlreadyExists(f"entity {new['id']} already exists")
        return new

    return change


def replace(new: ExpandedEntity, *, create_missing: bool = False):
    """PUT /entities/{id} (and upsert with options=replace): all attributes replaced, createdAt kept."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        if current is None:
            if not create_missing:
                raise _not_found(new["id"])
            if "type" not in new:
                raise BadRequestData(f"entity {new['id']}: 'type' is missing")
            return new
        result = dict(new)
        result.setdefault("type", current["type"])
        result["createdAt"] = current["createdAt"]
        return result

    return change


def delete(entity_id: str):
    def change(current: ExpandedEntity | None) -> None:
        if current is None:
            raise _not_found(entity_id)
        return None

    return change


# attribute operations -------------------------------------------------------------------------------
def _add_types(entity: ExpandedEntity, fragment: dict[str, Any]) -> bool:
    """Clause 4.16: types given in a fragment are added to the entity's; True when one was new."""
    added = False
    for t in fragment.get("type", ()):
        if t not in entity["type"]:
            entity["type"].append(t)
            added = True
    return added


def _set_scope(entity: ExpandedEntity, fragment: dict[str, Any], *, keep: bool = False) -> None:
    """The fragment's scope replaces the entity's (NGSI-LD null removes it); with `keep` (append with
    noOverwrite, clause 4.18) the new scopes are added to the existing ones."""
    if "scope" in fragment:
        if fragment["scope"] is None:
            entity.pop("scope", None)
        elif keep and "scope" in entity:
            entity["scope"] = [*entity["scope"], *(s for s in fragment["scope"] if s not in entity["scope"])]
        else:
            entity["scope"] = fragment["scope"]


def is_deletion(inst: Instance) -> bool:
    """An instance that stands for NGSI-LD null (clause 4.5.5): its kind's value member is null (the
    parser brings every kind's null form, e.g. a languageMap {"@none": null}, to urn:ngsi-ld:null)."""
    return inst.get(VALUE_MEMBER.get(inst.get("type", "Property"), "value")) == NGSILD_NULL


def append(
    entity_id: str,
    fragment: dict[str, Any],
    now: str,
    report: AttrReport,
    *,
    overwrite: bool = True,
    create_missing: bool = False,
    types_for_new: list[Iri] | None = None,
):
    """POST /entities/{id}/attrs; batch upsert?options=update and batch update (noOverwrite)."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        report.updated.clear()
        report.not_updated.clear()
        if current is None:
            if not create_missing:
                raise _not_found(entity_id)
            if not types_for_new:
                raise BadRequestData(f"entity {entity_id}: 'type' is missing")
            current = {
                "id": entity_id,
                "type": list(types_for_new),
                "createdAt": now,
                "modifiedAt": now,
                "attrs": {},
            }
        entity = _copy_for_write(current)
        _add_types(entity, fragment)
        _set_scope(entity, fragment, keep=not overwrite)
        attrs = entity["attrs"]
        for iri, instances in fragment["attrs"].items():
            existing = attrs.setdefault(iri, [])
            for inst in instances:
                n = _find(existing, inst.get("datasetId"))
                if n is None:
                    existing.append(inst)
                elif overwrite:
                    existing[n] = _keep_created(inst, existing[n])
                else:
                    report.not_updated.append((iri, "attribute exists and options=noOverwrite was given"))
                    continue
                if iri not in report.updated:
                    report.updated.append(iri)
        return _touch(entity, now)

    return change


def update_attrs(entity_id: str, fragment: dict[str, Any], now: str, report: AttrReport):
    """PATCH /entities/{id}/attrs: only attributes that exist (same datasetId) are replaced."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        report.updated.clear()
        report.not_updated.clear()
        if current is None:
            raise _not_found(entity_id)
        entity = _copy_for_write(current)
        types_added = _add_types(entity, fragment)
        if "scope" in fragment:  # clause 4.18: an update replaces a scope the entity has
            if "scope" in current:
                _set_scope(entity, fragment)
                report.updated.append("scope")
            else:
                report.not_updated.append(("scope", "the entity has no scope"))
        attrs = entity["attrs"]
        for iri, instances in fragment["attrs"].items():
            existing = attrs.get(iri, [])
            for inst in instances:
                ds = inst.get("datasetId")
                n = _find(existing, ds)
                if n is None:
                    reason = (
                        "attribute does not exist" if not existing else f"no instance with datasetId {ds}"
                    )
                    report.not_updated.append((iri, reason))
                    continue
                if is_deletion(inst):
                    del existing[n]
                else:
                    existing[n] = _keep_created(inst, existing[n])
                if iri not in report.updated:
                    report.updated.append(iri)
            if iri in attrs and not attrs[iri]:
                del attrs[iri]
        if not report.updated and not types_added:
            return current  # nothing changed: no modifiedAt bump
        return _touch(entity, now)

    return change


def _merge_instance(old: Instance, patch: Instance, now: str) -> Instance | None:
    """Merge-patch of one instance: given members replace, sub-attributes merge, null removes."""
    if is_deletion(patch) and len([k for k in patch if k not in ("type", "createdAt", "modifiedAt")]) == 1:
        return None
    merged = dict(old)
    if patch.get("type") != old.get("type") and any(
        k in patch for k in ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")
    ):
        # A different kind replaces the instance entirely.
        return _keep_created({k: v for k, v in patch.items()}, old)
    for key, item in patch.items():
        if key in ("createdAt", "type"):
            continue
        if key in CORE_ATTRIBUTE_MEMBERS:
            if item == NGSILD_NULL and key != "value":
                merged.pop(key, None)
            else:
                merged[key] = item
        else:  # sub-attribute
            if is_deletion(item):
                merged.pop(key, None)
            elif key in merged and isinstance(merged[key], dict):
                sub = _merge_instance(merged[key], item, now)
                if sub is None:
                    merged.pop(key, None)
                else:
                    merged[key] = sub
            else:
                merged[key] = item
    merged["modifiedAt"] = now
    return merged


def merge(entity_id: str, fragment: dict[str, Any], now: str, *, partial_attr: Iri | None = None):
    """PATCH /entities/{id} (merge-patch) and batch merge; with `partial_attr`, PATCH .../attrs/{attr}."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        if current is None:
            raise _not_found(entity_id)
        entity = _copy_for_write(current)
        _add_types(entity, fragment)
        _set_scope(entity, fragment)
        attrs = entity["attrs"]
        for iri, instances in fragment["attrs"].items():
            existing = attrs.get(iri)
            for inst in instances:
                ds = inst.get("datasetId")
                n = _find(existing, ds) if existing else None
                if n is None:
                    if partial_attr is not None:
                        raise ResourceNotFound(
                            f"entity {entity_id} has no attribute instance with datasetId {ds}"
                            if ds
                            else f"entity {entity_id} has no attribute {iri}"
                        )
                    if is_deletion(inst):
                        continue  # deleting what is not there is a no-op
                    if VALUE_MEMBER[inst["type"]] not in inst:
                        raise BadRequestData(
                            f"attribute {iri} does not exist yet, so it needs a "
                            f"{VALUE_MEMBER[inst['type']]!r} member"
                        )
                    attrs.setdefault(iri, []).append(_strip_nulls(inst))
                    continue
                if partial_attr is not None and _changes_kind(existing[n], inst):
                    raise BadRequestData(
                        f"a partial update cannot change the type of attribute {iri} "
                        f"from {existing[n].get('type')} to {inst.get('type')}"
                    )
                merged = _merge_instance(existing[n], inst, now)
                if merged is None:
                    del existing[n]
                else:
                    existing[n] = merged
            if iri in attrs and not attrs[iri]:
                del attrs[iri]
        return _touch(entity, now)

    return change


def _changes_kind(old: Instance, patch: Instance) -> bool:
    """A patch that names another kind through its value member (e.g. "object" on a Property)."""
    return patch.get("type") != old.get("type") and VALUE_MEMBER[patch["type"]] in patch


def _strip_nulls(inst: Instance) -> Instance:
    return {k: v for k, v in inst.items() if not (isinstance(v, dict) and is_deletion(v))}


def replace_attr(entity_id: str, iri: Iri, instances: list[Instance], now: str):
    """PUT /entities/{id}/attrs/{attr}: the instance (by datasetId) must exist and is replaced whole."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        if current is None:
            raise _not_found(entity_id)
        existing = current["attrs"].get(iri)
        if not existing:
            raise ResourceNotFound(f"entity {entity_id} has no attribute {iri}")
        entity = _copy_for_write(current)
        target = entity["attrs"][iri]
        for inst in instances:
            n = _find(target, inst.get("datasetId"))
            if n is None:
                raise ResourceNotFound(
                    f"entity {entity_id} has no instance of {iri} with datasetId {inst.get('datasetId')}"
                )
            target[n] = _keep_created(inst, target[n])
        return _touch(entity, now)

    return change


def delete_scope(entity_id: str, now: str):
    """DELETE /entities/{id}/attrs/scope (clause 4.18): scope is deleted like an attribute."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        if current is None:
            raise _not_found(entity_id)
        if "scope" not in current:
            raise ResourceNotFound(f"entity {entity_id} has no scope")
        entity = _copy_for_write(current)
        del entity["scope"]
        return _touch(entity, now)

    return change


def delete_attr(
    entity_id: str, iri: Iri, now: str, *, dataset_id: str | None = None, delete_all: bool = False
):
    """DELETE /entities/{id}/attrs/{attr} with datasetId or deleteAll."""

    def change(current: ExpandedEntity | None) -> ExpandedEntity:
        if current is None:
            raise _not_found(entity_id)
        existing = current["attrs"].get(iri)
        if not existing:
            raise ResourceNotFound(f"entity {entity_id} has no attribute {iri}")
        entity = _copy_for_write(current)
        if delete_all:
            del entity["attrs"][iri]
        else:
            n = _find(entity["attrs"][iri], dataset_id)
            if n is None:
                what = f"datasetId {dataset_id}" if dataset_id else "the default instance (no datasetId)"
                raise ResourceNotFound(f"attribute {iri} of entity {entity_id} has no {what}")
            del entity["attrs"][iri][n]
            if not entity["attrs"][iri]:
                del entity["attrs"][iri]
        return _touch(entity, now)

    return change
