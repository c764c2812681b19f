"""The municipalities the dashboard serves: the open-data municipalities of the registry (shared contract 1)
and the tenants the operator lists (VERBUND_DASHBOARD_TENANTS; the only ones when the broker has no
registry)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TENANT = re.compile(r"^[a-z][a-z0-9_-]{1,49}$")


@dataclass(frozen=True)
class Municipality:
    tenant: str
    name: str
    kind: str = ""
    ags: str = ""
    regionalschluessel: str = ""
    area: dict[str, Any] | None = None  # GeoJSON Polygon / MultiPolygon (the outline drawn on the map)

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "name": self.name,
            "kind": self.kind,
            "ags": self.ags,
            "regionalschluessel": self.regionalschluessel,
            "area": self.area,
        }


def _bbox_polygon(bbox: Any) -> dict[str, Any] | None:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox)):
        return None
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _area(record: dict[str, Any]) -> dict[str, Any] | None:
    area = record.get("area")
    polygon = isinstance(area, dict) and area.get("type") in ("Polygon", "MultiPolygon")
    if polygon and isinstance(area.get("coordinates"), list):
        return {"type": area["type"], "coordinates": area["coordinates"]}
    return _bbox_polygon(record.get("bbox"))


def from_record(record: dict[str, Any], extra: tuple[str, ...] = ()) -> Municipality | None:
    """A registry record; None for one that is not shown: retired, malformed, or not open data (the
    dashboard is public) unless the operator lists its tenant in ``extra`` (VERBUND_DASHBOARD_TENANTS)."""
    tenant = record.get("tenant")
    if not isinstance(tenant, str) or not TENANT.match(tenant) or record.get("status") == "retired":
        return None
    if record.get("openData") is not True and tenant not in extra:
        return None
    return Municipality(
        tenant=tenant,
        name=str(record.get("name") or tenant),
        kind=str(record.get("kind") or ""),
        ags=str(record.get("ags") or ""),
        regionalschluessel=str(record.get("regionalschluessel") or ""),
        area=_area(record),
    )


def from_records(records: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> list[Municipality]:
    found = [m for m in (from_record(r, extra) for r in records) if m is not None]
    known = {m.tenant for m in found} | {r.get("tenant") for r in records}
    found += from_tenants(tuple(t for t in extra if t not in known))
    return sorted(found, key=lambda m: m.name.casefold())


def from_tenants(tenants: tuple[str, ...]) -> list[Municipality]:
    return [Municipality(tenant=t, name=t) for t in tenants if TENANT.match(t)]
