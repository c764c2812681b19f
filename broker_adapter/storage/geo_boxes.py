"""Boxes shared by the adapters' geometry indexes (SQLite's R*Tree, MongoDB's `_box` entries): the boxes of
an entity's geometries, and the box a geo-query's candidates must meet (pruning only, the reference
evaluator decides the relation)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from broker_adapter.ngsild import geojson
from broker_adapter.ngsild.query.ast import GeoQuery, GeoRel
from broker_adapter.ngsild.query.geo import EARTH_RADIUS_M
from broker_adapter.ngsild.types import ExpandedEntity, Iri

Box = tuple[float, float, float, float]  # minx, maxx, miny, maxy (rtree column order)


def geometry_boxes(entity: ExpandedEntity | None) -> Iterator[tuple[Iri, dict[str, Any], Box]]:
    """(attribute IRI, geometry, box) of every instance whose value is a readable GeoJSON geometry, as
    the evaluator reads them, whatever the attribute kind."""
    if entity is None:
        return
    for attr, instances in (entity.get("attrs") or {}).items():
        for instance in instances:
            value = instance.get("value") if isinstance(instance, dict) else None
            if not isinstance(value, dict) or value.get("type") not in geojson.GEOMETRY_TYPES:
                continue
            try:
                minx, miny, maxx, maxy = geojson.bbox_of(value)
            except (KeyError, TypeError, IndexError, ValueError):
                continue  # unreadable: the evaluator never matches it either
            if all(map(math.isfinite, (minx, miny, maxx, maxy))):
                yield attr, value, (minx, maxx, miny, maxy)


def search_box(query: GeoQuery) -> Box | None:
    """The box a candidate's box must meet; None: no pruning is possible (disjoint, minDistance)."""
    if query.georel is GeoRel.DISJOINT or (query.georel is GeoRel.NEAR and query.max_distance is None):
        return None
    if query.georel is GeoRel.NEAR:
        lon, lat = query.coordinates[0], query.coordinates[1]
        # 1 % margin over the spherical extent of the circle (haversine is on the same sphere)
        dlat = math.degrees(query.max_distance / EARTH_RADIUS_M) * 1.01  # type: ignore[operator]
        if abs(lat) + dlat >= 89.0:
            return (-180.0, 180.0, max(-90.0, lat - dlat), min(90.0, lat + dlat))
        dlon = dlat / math.cos(math.radians(abs(lat) + dlat))
        if lon - dlon < -180.0 or lon + dlon > 180.0 or dlon >= 180.0:
            return (-180.0, 180.0, lat - dlat, lat + dlat)  # across the antimeridian: latitude only
        return (lon - dlon, lon + dlon, lat - dlat, lat + dlat)
    minx, miny, maxx, maxy = geojson.bbox_of(query.geometry())
    return (minx, maxx, miny, maxy)
