"""Geo-queries (ETSI GS CIM 009 clause 4.10): parsing georel / geometry / coordinates / geoproperty into a
GeoQuery, and the distance helpers the evaluator uses for `near`.

    georel = "near;maxDistance==" N / "near;minDistance==" N / "within" / "contains" / "intersects"
           / "equals" / "disjoint" / "overlaps"          (N a JSON number > 0, in metres)

Distances: the Earth is taken as a sphere of the IUGG mean radius (6 371 008.8 m). Haversine distances
differ from geodesic distances on the WGS 84 ellipsoid by at most about 0.5 %, well below what
municipal sensor positions need. For line and polygon targets the geometry is projected azimuthally
equidistant around the reference point (distances from the centre are exact, edges become straight
lines), so the distance to an edge is approximate for edges hundreds of kilometres long.

The other relations are evaluated in plain longitude/latitude coordinates with shapely (the DE-9IM
predicates of ISO 19125 / OGC Simple Features that clause 4.10 refers to), as a bounding-box index
in SQLite does; geometries crossing the antimeridian are not special-cased.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from broker_adapter.ngsild import geojson, names
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.query.ast import GeoQuery, GeoRel
from broker_adapter.ngsild.termmap import TermMap

EARTH_RADIUS_M = 6_371_008.8
MAX_COORDINATES_LENGTH = 1_000_000  # characters of the coordinates parameter
_POSITIVE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
_DISTANCES = {"maxDistance": "max_distance", "minDistance": "min_distance"}


def parse_geo_query(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list[Any] | None,
    geoproperty: str | None,
    tm: TermMap,
) -> GeoQuery | None:
    """A GeoQuery from the request parameters, or None if no geo-query is asked for.

    coordinates is the query-string form (a JSON array as text) or, from a subscription's geoQ, the
    already-parsed array. georel, geometry and coordinates come together or not at all.
    """
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    if all(v is None for v in given.values()):
        if geoproperty is not None:
            raise BadRequestData("geoproperty: needs georel, geometry and coordinates")
        return None
    if georel is None or geometry is None or coordinates is None:
        missing = next(k for k, v in given.items() if v is None)
        raise BadRequestData(f"{missing}: a geo-query needs georel, geometry and coordinates together")
    rel, distances = _georel(georel)
    coords = _coordinates(coordinates)
    if geometry == "GeometryCollection" or geometry not in geojson.GEOMETRY_TYPES:
        raise BadRequestData(
            f"geometry: {geometry[:60]!r} is not supported; use one of "
            + ", ".join(sorted(geojson.GEOMETRY_TYPES))
        )
    geojson.validate_geometry({"type": geometry, "coordinates": coords}, "coordinates")
    if rel is GeoRel.NEAR and geometry != "Point":
        raise BadRequestData(f"geometry: near needs a Point as reference geometry, not a {geometry}")
    return GeoQuery(
        georel=rel,
        geometry_type=geometry,
        coordinates=_to_tuples(coords),
        geoproperty=_geoproperty(geoproperty, tm),
        **distances,
    )


def _georel(georel: str) -> tuple[GeoRel, dict[str, float]]:
    head, sep, modifier = georel.partition(";")
    try:
        rel = GeoRel(head)
    except ValueError:
        raise BadRequestData(
            f"georel: {head[:40]!r} at position 0 is not a relation; expected one of "
            + ", ".join(r.value for r in GeoRel)
        ) from None
    if rel is not GeoRel.NEAR:
        if sep:
            raise BadRequestData(f"georel: {rel.value} takes no modifier (';' at position {len(head)})")
        return rel, {}
    if not sep:
        raise BadRequestData("georel: near needs a distance, e.g. near;maxDistance==2000 (metres)")
    at = len(head) + 1
    kind, eq, number = modifier.partition("==")
    if kind not in _DISTANCES or not eq:
        raise BadRequestData(
            f"georel: expected maxDistance==<metres> or minDistance==<metres> at position {at}"
        )
    at += len(kind) + 2
    if not _POSITIVE.fullmatch(number) or not math.isfinite(float(number)) or float(number) <= 0:
        raise BadRequestData(f"georel: distance {number[:40]!r} at position {at} must be a number > 0")
    return rel, {_DISTANCES[kind]: float(number)}


def _coordinates(coordinates: str | list[Any]) -> Any:
    if isinstance(coordinates, list):
        return coordinates
    if len(coordinates) > MAX_COORDINATES_LENGTH:
        raise BadRequestData(f"coordinates: longer than {MAX_COORDINATES_LENGTH} characters")
    try:
        value = json.loads(coordinates)
    except json.JSONDecodeError as exc:
        raise BadRequestData(
            f"coordinates: not a JSON array ({exc.msg}) at position {exc.pos}; e.g. [8.0,40.0]"
        ) from exc
    if not isinstance(value, list):
        raise BadRequestData("coordinates: must be a JSON array, e.g. [8.0,40.0]")
    return value


def _geoproperty(geoproperty: str | None, tm: TermMap) -> str:
    name = "location" if geoproperty is None else geoproperty
    names.check_attribute_name(name, "geoproperty")
    return tm.expand_name(name)


def _to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuples(v) for v in value)
    return float(value)


# -- distances ------------------------------------------------------------------------------------


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS 84 positions on the mean-radius sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def project_aeqd(lon0: float, lat0: float, lon: float, lat: float) -> tuple[float, float]:
    """Azimuthal equidistant projection (metres) centred on (lon0, lat0): |result| is the exact
    spherical distance to the centre, and the direction is the initial bearing."""
    d = haversine_m(lon0, lat0, lon, lat)
    if d == 0.0:
        return 0.0, 0.0
    p0, p1 = math.radians(lat0), math.radians(lat)
    dl = math.radians(lon - lon0)
    bearing = math.atan2(
        math.sin(dl) * math.cos(p1), math.cos(p0) * math.sin(p1) - math.sin(p0) * math.cos(p1) * math.cos(dl)
    )
    return d * math.sin(bearing), d * math.cos(bearing)
