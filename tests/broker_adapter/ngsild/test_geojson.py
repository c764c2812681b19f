import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.geojson import MAX_POSITIONS, bbox_of, to_shapely, validate_geometry

SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
HOLE = [[0.2, 0.2], [0.2, 0.4], [0.4, 0.4], [0.2, 0.2]]

VALID = [
    {"type": "Point", "coordinates": [7.7689, 49.4447]},
    {"type": "Point", "coordinates": [7.7689, 49.4447, 251.5]},
    {"type": "Point", "coordinates": [-180, -90]},
    {"type": "Point", "coordinates": [180.0, 90.0]},
    {"type": "Point", "coordinates": [7, 49], "bbox": [7, 49, 7, 49]},
    {"type": "MultiPoint", "coordinates": [[7, 49], [8, 50, 3]]},
    {"type": "LineString", "coordinates": [[7, 49], [8, 50]]},
    {"type": "MultiLineString", "coordinates": [[[7, 49], [8, 50]], [[1, 1], [2, 2], [3, 3]]]},
    {"type": "Polygon", "coordinates": [SQUARE]},
    {"type": "Polygon", "coordinates": [SQUARE, HOLE]},
    {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]},  # clockwise is fine
    {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[5, 5], [6, 5], [6, 6], [5, 5]]]]},
    {"type": "Polygon", "coordinates": [SQUARE], "bbox": [0, 0, 1, 1]},
    {"type": "LineString", "coordinates": [[170, 0], [-170, 0]], "bbox": [170, 0, -170, 0]},
    {"type": "Point", "coordinates": [1, 2, 3], "bbox": [1, 2, 3, 1, 2, 3]},
]


@pytest.mark.parametrize("geometry", VALID)
def test_validate_geometry_accepts(geometry):
    validate_geometry(geometry, "location.value")


INVALID = [
    # (geometry, path that must appear in the detail, words that must appear)
    ("nope", "location.value", "geometry object"),
    (None, "location.value", "got null"),
    ({"coordinates": [1, 2]}, "location.value", "no 'type'"),
    ({"type": "Pointy", "coordinates": [1, 2]}, "location.value.type", "not a GeoJSON geometry type"),
    ({"type": "point", "coordinates": [1, 2]}, "location.value.type", "not a GeoJSON geometry type"),
    ({"type": "Feature", "geometry": None}, "location.value.type", "not a GeoJSON geometry type"),
    ({"type": ["Point"], "coordinates": [1, 2]}, "location.value.type", "not a GeoJSON geometry type"),
    (
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]},
        "location.value.type",
        "GeometryCollection is not supported by NGSI-LD",
    ),
    ({"type": "Point"}, "location.value", "no 'coordinates'"),
    ({"type": "Point", "coordinates": [1, 2], "crs": {}}, "location.value", "'crs'"),
    ({"type": "Point", "coordinates": [1, 2], "$where": 1}, "location.value", "unexpected member"),
    ({"type": "Point", "coordinates": "7,49"}, "location.value.coordinates", "got a string"),
    ({"type": "Point", "coordinates": [7]}, "location.value.coordinates", "2 or 3 numbers"),
    ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "location.value.coordinates", "got 4"),
    ({"type": "Point", "coordinates": ["7", 49]}, "location.value.coordinates[0]", "got a string"),
    ({"type": "Point", "coordinates": [True, 49]}, "location.value.coordinates[0]", "a boolean"),
    ({"type": "Point", "coordinates": [7, None]}, "location.value.coordinates[1]", "got null"),
    ({"type": "Point", "coordinates": [math.nan, 49]}, "location.value.coordinates[0]", "finite"),
    ({"type": "Point", "coordinates": [7, math.inf]}, "location.value.coordinates[1]", "finite"),
    ({"type": "Point", "coordinates": [1, 2, -math.inf]}, "location.value.coordinates[2]", "must be finite"),
    ({"type": "Point", "coordinates": [180.0001, 0]}, "location.value.coordinates[0]", "longitude"),
    ({"type": "Point", "coordinates": [49, 91]}, "location.value.coordinates[1]", "latitude 91"),
    ({"type": "Point", "coordinates": [[7, 49], [8, 50]]}, "location.value.coordinates[0]", "got an array"),
    ({"type": "Point", "coordinates": [[7, 49]]}, "location.value.coordinates", "got 1"),
    ({"type": "MultiPoint", "coordinates": []}, "location.value.coordinates", "must not be empty"),
    ({"type": "MultiPoint", "coordinates": [7, 49]}, "location.value.coordinates[0]", "got int"),
    (
        {"type": "MultiPoint", "coordinates": [[7, 49], [7, 95]]},
        "location.value.coordinates[1][1]",
        "latitude",
    ),
    (
        {"type": "MultiPoint", "coordinates": [[7, 49], [math.nan, 1]]},
        "location.value.coordinates[1][0]",
        "finite",
    ),
    (
        {"type": "MultiPoint", "coordinates": [[7, 49], [1, False]]},
        "location.value.coordinates[1][1]",
        "boolean",
    ),
    ({"type": "LineString", "coordinates": [[7, 49]]}, "location.value.coordinates", "at least 2 positions"),
    ({"type": "LineString", "coordinates": [7, 49]}, "location.value.coordinates[0]", "position"),
    ({"type": "MultiLineString", "coordinates": [[7, 49], [8, 50]]}, "location.value.coordinates[0][0]", ""),
    (
        {"type": "MultiLineString", "coordinates": [[[7, 49], [8, 50]], [[1, 1]]]},
        "location.value.coordinates[1]",
        "at least 2 positions",
    ),
    ({"type": "Polygon", "coordinates": []}, "location.value.coordinates", "must not be empty"),
    ({"type": "Polygon", "coordinates": SQUARE}, "location.value.coordinates[0][0]", "got int"),
    (
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        "location.value.coordinates[0]",
        "at least 4 positions",
    ),
    (
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        "location.value.coordinates[0]",
        "not closed",
    ),
    (
        {"type": "Polygon", "coordinates": [SQUARE, [[0, 0], [1, 0], [1, 1], [0, 0, 5]]]},
        "location.value.coordinates[1]",
        "not closed",
    ),
    (
        {"type": "Polygon", "coordinates": [SQUARE, [[0, 0], [1, 0], [1, "1"], [0, 0]]]},
        "location.value.coordinates[1][2][1]",
        "must be a number, got a string",
    ),
    (
        {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[0, 0], [1, 0], [0, 0]]]]},
        "location.value.coordinates[1][0]",
        "at least 4 positions",
    ),
    (
        {
            "type": "MultiPolygon",
            "coordinates": [[SQUARE], [SQUARE, [[0, 0], [0, 1], [1, 1], [0, 0], [0, 91]]]],
        },
        "location.value.coordinates[1][1][4][1]",
        "latitude",
    ),
    ({"type": "MultiPolygon", "coordinates": [SQUARE]}, "location.value.coordinates[0][0][0]", "got int"),
    ({"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 3]}, "location.value.bbox", "length 3"),
    ({"type": "Point", "coordinates": [1, 2], "bbox": "1,2,3,4"}, "location.value.bbox", "4 (or 6"),
    ({"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 3, False]}, "location.value.bbox[3]", "finite"),
    (
        {"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, math.nan, 4]},
        "location.value.bbox[2]",
        "finite",
    ),
    ({"type": "Point", "coordinates": [1, 2], "bbox": [1, 50, 3, 40]}, "location.value.bbox", "south"),
    ({"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 181, 4]}, "location.value.bbox[2]", "longitude"),
    ({"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 9, 3, 4, 5]}, "location.value.bbox", "altitude"),
]


@pytest.mark.parametrize(("geometry", "path", "words"), INVALID)
def test_validate_geometry_rejects_with_path(geometry, path, words):
    with pytest.raises(BadRequestData) as info:
        validate_geometry(geometry, "location.value")
    assert info.value.detail.startswith(path + ":"), info.value.detail
    assert words in info.value.detail


def test_validate_geometry_rejects_more_positions_than_the_bound():
    many = [[0.0, 0.0]] * (MAX_POSITIONS + 1)
    with pytest.raises(BadRequestData, match="more than 100000 positions"):
        validate_geometry({"type": "MultiPoint", "coordinates": many}, "area.value")


def test_validate_geometry_counts_positions_across_parts():
    ring = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    rings_per_polygon = 1000
    polygons = MAX_POSITIONS // (len(ring) * rings_per_polygon) + 1
    geometry = {"type": "MultiPolygon", "coordinates": [[ring] * rings_per_polygon] * polygons}
    with pytest.raises(BadRequestData) as info:
        validate_geometry(geometry, "area.value")
    assert "area.value.coordinates[" in info.value.detail
    assert "more than" in info.value.detail


def test_validate_geometry_accepts_exactly_the_bound():
    validate_geometry({"type": "MultiPoint", "coordinates": [[0.0, 0.0]] * MAX_POSITIONS}, "v")


def test_validate_geometry_accepts_tuples_from_internal_callers():
    validate_geometry({"type": "LineString", "coordinates": ((1.0, 2.0), (3.0, 4.0))}, "v")


def test_validate_geometry_shortens_echoed_type():
    with pytest.raises(BadRequestData) as info:
        validate_geometry({"type": "x" * 10_000, "coordinates": [0, 0]}, "v")
    assert len(info.value.detail) < 300


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        ({"type": "Point", "coordinates": [7.5, 49.25]}, (7.5, 49.25, 7.5, 49.25)),
        ({"type": "Point", "coordinates": [7, 49, 300]}, (7.0, 49.0, 7.0, 49.0)),
        ({"type": "MultiPoint", "coordinates": [[1, 5], [-3, 2]]}, (-3.0, 2.0, 1.0, 5.0)),
        ({"type": "LineString", "coordinates": [[1, 5], [-3, 2], [0, 9]]}, (-3.0, 2.0, 1.0, 9.0)),
        (
            {"type": "MultiLineString", "coordinates": [[[1, 5], [2, 2]], [[-4, 0], [0, 1]]]},
            (-4.0, 0.0, 2.0, 5.0),
        ),
        ({"type": "Polygon", "coordinates": [SQUARE, HOLE]}, (0.0, 0.0, 1.0, 1.0)),
        (
            {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[5, 5], [6, 5], [6, 7], [5, 5]]]]},
            (0.0, 0.0, 6.0, 7.0),
        ),
    ],
)
def test_bbox_of(geometry, expected):
    assert bbox_of(geometry) == expected
    assert all(type(v) is float for v in bbox_of(geometry))


def test_to_shapely_builds_each_type():
    for geometry in VALID:
        shape = to_shapely(geometry)
        assert shape.geom_type == geometry["type"]
        assert shape.is_valid


def test_to_shapely_polygon_with_hole_has_interior():
    shape = to_shapely({"type": "Polygon", "coordinates": [SQUARE, HOLE]})
    assert len(shape.interiors) == 1
    assert shape.contains(to_shapely({"type": "Point", "coordinates": [0.8, 0.8]}))
    assert not shape.contains(to_shapely({"type": "Point", "coordinates": [0.25, 0.3]}))


_lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
_lat = st.floats(min_value=-90, max_value=90, allow_nan=False)


@given(st.lists(st.tuples(_lon, _lat), min_size=2, max_size=50))
def test_bbox_of_matches_shapely_bounds(points):
    geometry = {"type": "LineString", "coordinates": [list(p) for p in points]}
    validate_geometry(geometry, "v")
    assert bbox_of(geometry) == pytest.approx(to_shapely(geometry).bounds)


@given(_lon, _lat)
def test_every_in_range_point_is_valid(lon, lat):
    validate_geometry({"type": "Point", "coordinates": [lon, lat]}, "v")
