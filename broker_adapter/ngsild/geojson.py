"""GeoJSON geometries as NGSI-LD GeoProperty values (RFC 7946, ETSI GS CIM 009 clause 4.7).

NGSI-LD allows the six single-part and multi-part geometries; it does not allow
"GeometryCollection" (clause 4.6.3; the NGSI-LD OpenAPI `Geometry` schema lists only the six), so
collections are rejected with a message saying so rather than stored and later mis-indexed.

The validator walks each geometry type at its fixed nesting depth, never recursing on user-controlled
structure, and stops as soon as more than `MAX_POSITIONS` positions have been seen, so a hostile body
costs at most that much work. Paths in errors are built only when something is wrong.

Deliberate choices:
- Members other than "type", "coordinates" and "bbox" are rejected. RFC 7946 section 6.1 permits foreign
  members, but in a stored GeoProperty value they would be ignored by geo-queries and indexes, and "crs"
  (removed by RFC 7946 section 4, which fixes WGS 84) would silently change the meaning.
- Empty geometries (RFC 7946 section 3.1: "MAY interpret ... as null objects") are rejected: an empty
  location cannot be indexed or queried.
- Ring orientation is not checked: RFC 7946 section 3.1.6 says parsers SHOULD NOT reject polygons
  that do not follow the right-hand rule. Self-intersection is left to the database's geo index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from broker_adapter.ngsild.errors import BadRequestData

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

MAX_POSITIONS = 100_000

GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)
_ALLOWED_MEMBERS = frozenset({"type", "coordinates", "bbox"})
_ARRAY = (list, tuple)
_NUMBER = (int, float)

# Nesting depth of "coordinates" below the position level, per type.
_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


class _Budget:
    """Counts positions across one geometry so the bound holds for the whole value."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_POSITIONS

    def take(self, n: int, path: str) -> None:
        self.left -= n
        if self.left < 0:
            raise BadRequestData(f"{path}: geometry has more than {MAX_POSITIONS} positions")


def _idx(base: str, *indices: int) -> str:
    return base + "".join(f"[{i}]" for i in indices)


def _position_problem(pos: Any) -> tuple[str, str] | None:
    """(path suffix, reason) if `pos` is not a valid WGS 84 position, else None.

    Kept free of path formatting so the loop over many positions stays cheap.
    """
    if not isinstance(pos, _ARRAY):
        return "", f"a position must be an array of 2 or 3 numbers, got {_kind(pos)}"
    n = len(pos)
    if n != 2 and n != 3:
        return "", f"a position must have 2 or 3 numbers (longitude, latitude[, altitude]), got {n}"
    for i in range(n):
        v = pos[i]
        # bool is an int subclass; JSON true/false must not pass as 1/0.
        if type(v) is bool or not isinstance(v, _NUMBER):
            return f"[{i}]", f"a coordinate must be a number, got {_kind(v)}"
        if not math.isfinite(v):
            return f"[{i}]", f"a coordinate must be finite, got {v!r}"
    lon, lat = pos[0], pos[1]
    if not -180.0 <= lon <= 180.0:
        return "[0]", f"longitude {lon!r} is outside [-180, 180] (GeoJSON order is longitude, latitude)"
    if not -90.0 <= lat <= 90.0:
        return "[1]", f"latitude {lat!r} is outside [-90, 90] (GeoJSON order is longitude, latitude)"
    return None


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, _ARRAY):
        return "an array"
    return type(v).__name__


def _array(v: Any, path: str, what: str) -> Sequence[Any]:
    if not isinstance(v, _ARRAY):
        raise BadRequestData(f"{path}: {what} must be an array, got {_kind(v)}")
    if not v:
        raise BadRequestData(f"{path}: {what} must not be empty")
    return v


def _positions(seq: Any, base: str, idx: tuple[int, ...], what: str, budget: _Budget) -> Sequence[Any]:
    """Check an array of positions (MultiPoint coordinates, a line, a ring)."""
    here = _idx(base, *idx)
    arr = _array(seq, here, what)
    budget.take(len(arr), here)
    for j, pos in enumerate(arr):
        # Fast path for the usual 2D position of plain numbers; NaN and inf fail the range test and
        # fall through to the full check, which explains the problem.
        if type(pos) is list and len(pos) == 2:
            x, y = pos
            tx, ty = type(x), type(y)
            if (
                (tx is float or tx is int)
                and (ty is float or ty is int)
                and -180 <= x <= 180
                and -90 <= y <= 90
            ):
                continue
        problem = _position_problem(pos)
        if problem is not None:
            raise BadRequestData(f"{_idx(base, *idx, j)}{problem[0]}: {problem[1]}")
    return arr


def _line(seq: Any, base: str, idx: tuple[int, ...], budget: _Budget) -> None:
    arr = _positions(seq, base, idx, "a LineString", budget)
    if len(arr) < 2:
        raise BadRequestData(f"{_idx(base, *idx)}: a LineString needs at least 2 positions, got {len(arr)}")


def _polygon(seq: Any, base: str, idx: tuple[int, ...], budget: _Budget) -> None:
    rings = _array(seq, _idx(base, *idx), "a Polygon (array of linear rings)")
    for r, ring in enumerate(rings):
        arr = _positions(ring, base, (*idx, r), "a linear ring", budget)
        if len(arr) < 4:
            raise BadRequestData(
                f"{_idx(base, *idx, r)}: a linear ring needs at least 4 positions, got {len(arr)}"
            )
        if list(arr[0]) != list(arr[-1]):
            raise BadRequestData(
                f"{_idx(base, *idx, r)}: linear ring is not closed: first position {list(arr[0])} "
                f"differs from last position {list(arr[-1])}"
            )


def _bbox(bbox: Any, path: str) -> None:
    if not isinstance(bbox, _ARRAY) or len(bbox) not in (4, 6):
        raise BadRequestData(
            f"{path}: bbox must be an array of 4 (or 6 with altitude) numbers, got {_kind(bbox)}"
            + (f" of length {len(bbox)}" if isinstance(bbox, _ARRAY) else "")
        )
    for i, v in enumerate(bbox):
        if type(v) is bool or not isinstance(v, _NUMBER) or not math.isfinite(v):
            raise BadRequestData(f"{path}[{i}]: bbox members must be finite numbers, got {v!r}")
    half = len(bbox) // 2
    west, south, east, north = bbox[0], bbox[1], bbox[half], bbox[half + 1]
    for i, v in ((0, west), (half, east)):
        if not -180.0 <= v <= 180.0:
            raise BadRequestData(f"{path}[{i}]: bbox longitude {v!r} is outside [-180, 180]")
    for i, v in ((1, south), (half + 1, north)):
        if not -90.0 <= v <= 90.0:
            raise BadRequestData(f"{path}[{i}]: bbox latitude {v!r} is outside [-90, 90]")
    # West may exceed east: RFC 7946 section 5.2 uses that for boxes crossing the antimeridian.
    if south > north:
        raise BadRequestData(f"{path}: bbox south {south!r} is greater than north {north!r}")
    if half == 3 and bbox[2] > bbox[5]:
        raise BadRequestData(f"{path}: bbox minimum altitude {bbox[2]!r} exceeds maximum {bbox[5]!r}")


def validate_geometry(obj: Any, path: str) -> None:
    """Raise BadRequestData unless `obj` is a GeoJSON geometry NGSI-LD accepts as a GeoProperty value."""
    if not isinstance(obj, dict):
        raise BadRequestData(
            f"{path}: a GeoProperty value must be a GeoJSON geometry object, got {_kind(obj)}"
        )
    gtype = obj.get("type")
    if not isinstance(gtype, str) or gtype not in GEOMETRY_TYPES:
        if gtype == "GeometryCollection":
            raise BadRequestData(
                f"{path}.type: GeometryCollection is not supported by NGSI-LD; use MultiPoint, "
                "MultiLineString or MultiPolygon, or one GeoProperty per geometry"
            )
        if gtype is None:
            raise BadRequestData(f"{path}: geometry has no 'type' member")
        raise BadRequestData(
            f"{path}.type: {gtype!r:.60} is not a GeoJSON geometry type; expected one of "
            + ", ".join(sorted(GEOMETRY_TYPES))
        )
    extra = obj.keys() - _ALLOWED_MEMBERS
    if extra:
        names = ", ".join(sorted(repr(k)[:60] for k in extra))
        raise BadRequestData(
            f"{path}: unexpected member(s) {names} in geometry; "
            "only 'type', 'coordinates' and 'bbox' are allowed"
        )
    if "coordinates" not in obj:
        raise BadRequestData(f"{path}: {gtype} has no 'coordinates' member")
    coords = obj["coordinates"]
    base = path + ".coordinates"
    budget = _Budget()
    if gtype == "Point":
        problem = _position_problem(coords)
        if problem is not None:
            raise BadRequestData(f"{base}{problem[0]}: {problem[1]}")
    elif gtype == "MultiPoint":
        _positions(coords, base, (), "MultiPoint coordinates", budget)
    elif gtype == "LineString":
        _line(coords, base, (), budget)
    elif gtype == "MultiLineString":
        for i, line in enumerate(_array(coords, base, "MultiLineString coordinates")):
            _line(line, base, (i,), budget)
    elif gtype == "Polygon":
        _polygon(coords, base, (), budget)
    else:  # MultiPolygon
        for i, poly in enumerate(_array(coords, base, "MultiPolygon coordinates")):
            _polygon(poly, base, (i,), budget)
    if "bbox" in obj:
        _bbox(obj["bbox"], path + ".bbox")


def _iter_positions(geometry: dict[str, Any]) -> Sequence[Sequence[Any]]:
    """All positions of a validated geometry as one flat list (no copying of the positions)."""
    coords = geometry["coordinates"]
    depth = _DEPTH[geometry["type"]]
    if depth == 0:
        return [coords]
    level: list[Any] = list(coords)
    for _ in range(depth - 1):
        level = [item for part in level for item in part]
    return level


def bbox_of(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of a validated geometry, for bounding-box index columns.

    Computed directly from the coordinates (no shapely) because it runs on every write. Geometries that
    cross the antimeridian get the plain min/max box, which is wider than necessary but never misses.
    """
    positions = _iter_positions(geometry)
    xs = [p[0] for p in positions]
    ys = [p[1] for p in positions]
    return (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))


def to_shapely(geometry: dict[str, Any]) -> BaseGeometry:
    """A shapely geometry for a validated GeoJSON geometry, for geo-query evaluation (near, within, ...).

    shapely (and numpy under it) is imported on the first geo-query, not at start: it is some 17 MB of
    every process that never evaluates one (the notifier child, most agents)."""
    import shapely.geometry
    from shapely.errors import ShapelyError

    try:
        return shapely.geometry.shape(geometry)
    except (ValueError, TypeError, AttributeError, ShapelyError) as exc:
        raise BadRequestData(f"geometry cannot be converted for geo-queries: {exc}") from exc
