"""The box a geo-query's candidates must meet, shared by the adapters' geometry indexes (SQLite's
R*Tree, MongoDB's `_box` entries): pruning only, the reference evaluator decides the relation."""

from __future__ import annotations

import math

from broker_adapter.ngsild import geojson
from broker_adapter.ngsild.query.ast import GeoQuery, GeoRel
from broker_adapter.ngsild.query.geo import EARTH_RADIUS_M

Box = tuple[float, float, float, float]  # minx, maxx, miny, maxy (rtree column order)


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
