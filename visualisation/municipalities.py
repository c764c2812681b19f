"""The municipalities the dashboard serves, from the registry's records (shared contract 1), or from the
configured tenant list when the broker has none."""

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


def from_record(record: dict[str, Any]) -> Municipality | None:
    """A registry record; None for a retired or malformed one (it is not shown)."""
    tenant = record.get("tenant")
    if not isinstance(tenant, str) or not TENANT.match(tenant) or record.get("status") == "retired":
        return None
    return Municipality(
        tenant=tenant,
        name=str(record.get("name") or tenant),
        kind=str(record.get("kind") or ""),
        ags=str(record.get("ags") or ""),
        regionalschluessel=str(record.get("regionalschluessel") or ""),
        area=_area(record),
    )


def from_records(records: list[dict[str, Any]]) -> list[Municipality]:
    found = (from_record(r) for r in records)
    return sorted((m for m in found if m is not None), key=lambda m: m.name.casefold())


def from_tenants(tenants: tuple[str, ...]) -> list[Municipality]:
    return [Municipality(tenant=t, name=t) for t in tenants if TENANT.match(t)]
