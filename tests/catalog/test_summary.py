"""What the catalog keeps of an entity: where it is, when it was observed, which attributes it has."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.summary import MalformedEntity, geometry_bbox, summarize
from tests.catalog.support import traffic, water


def test_a_water_level_gives_its_place_time_and_attributes() -> None:
    s = summarize(water(1, 1.42, 7.75, 49.44, "2026-11-25T11:00:00+01:00"))
    assert (s.id, s.type) == ("urn:ngsi-ld:WaterObserved:pegel-1", "WaterObserved")
    assert s.bbox == (7.75, 49.44, 7.75, 49.44)
    assert (s.first_observed, s.last_observed) == ("2026-11-25T10:00:00.000Z", "2026-11-25T10:00:00.000Z")
    assert s.attributes["height"].as_json() == {"kind": "Property", "unit": "MTR", "sample": 1.42}
    assert s.attributes["location"].kind == "GeoProperty"


def test_observation_times_span_every_attribute_and_the_sdm_date_properties() -> None:
    entity = traffic(1, 120, 7.7, 49.4, "2026-11-24T08:00:00Z")
    entity["averageVehicleSpeed"]["observedAt"] = "2026-11-24T09:30:00Z"
    entity["dateObserved"] = {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2026-11-23T00:00:00Z"},
    }
    s = summarize(entity)
    assert (s.first_observed, s.last_observed) == ("2026-11-23T00:00:00.000Z", "2026-11-24T09:30:00.000Z")


@pytest.mark.parametrize(
    ("geometry", "box"),
    [
        ({"type": "Point", "coordinates": [7.1, 49.2]}, (7.1, 49.2, 7.1, 49.2)),
        ({"type": "LineString", "coordinates": [[7.1, 49.2], [7.3, 49.0]]}, (7.1, 49.0, 7.3, 49.2)),
        ({"type": "Polygon", "coordinates": [[[7, 49], [8, 49], [8, 50], [7, 49]]]}, (7, 49, 8, 50)),
        ({"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [6, 48]}, {"type": "Point", "coordinates": [9, 51]}]},
         (6, 48, 9, 51)),
        ({"type": "Point", "coordinates": [700, 49]}, None),  # not a WGS 84 position
        ({"type": "Point", "coordinates": "7,49"}, None),
        ("POINT(7 49)", None),
    ],
)  # fmt: skip
def test_bounding_boxes_of_geometries(geometry: Any, box: tuple[float, ...] | None) -> None:
    assert geometry_bbox(geometry) == box


@pytest.mark.parametrize(
    "entity",
    [
        [],
        {"type": "WaterObserved"},
        {"id": "pegel-1", "type": "WaterObserved"},
        {"id": "urn:ngsi-ld:WaterObserved:1"},
        {"id": "urn:ngsi-ld:WaterObserved:1", "type": 7},
    ],
    ids=["not an object", "no id", "id not a URI", "no type", "type not a string"],
)
def test_what_is_not_an_entity_is_refused(entity: Any) -> None:
    with pytest.raises(MalformedEntity):
        summarize(entity)


def test_odd_attributes_are_tolerated_without_guessing() -> None:
    s = summarize(
        {
            "id": "urn:ngsi-ld:WaterObserved:2",
            "type": ["WaterObserved", "Device"],
            "height": {"type": "Property", "value": 2.0, "observedAt": "yesterday"},
            "note": "a plain member",
            "location": {"type": "GeoProperty", "value": {"type": "Point"}},
        }
    )
    assert s.type == "WaterObserved"
    assert (s.bbox, s.first_observed, s.last_observed) == (None, None, None)
