"""Stored (expanded) entities reduce to the keyValues view whatever @context wrote them."""

from __future__ import annotations

from smart_data_models.reduce import Compactor, key_values_view

SDM = "https://smartdatamodels.org/dataModel.Environment/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def test_each_attribute_kind_becomes_its_plain_value() -> None:
    entity = {
        "id": "urn:ngsi-ld:WaterObserved:1",
        "type": [SDM + "WaterObserved"],
        "attrs": {
            SDM + "height": [
                {
                    "type": "Property",
                    "value": 1.4,
                    "unitCode": "MTR",
                    "observedAt": "2026-11-25T18:45:00.000Z",
                }
            ],
            "https://smartdatamodels.org/dateObserved": [
                {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-11-25T18:45:00.000Z"}}
            ],
            "https://uri.etsi.org/ngsi-ld/location": [
                {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.7, 49.4]}}
            ],
            "https://smartdatamodels.org/refDevice": [
                {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}
            ],
            DEFAULT + "name": [{"type": "LanguageProperty", "languageMap": {"de": "Pegel", "en": "Gauge"}}],
            DEFAULT + "tags": [
                {"type": "ListProperty", "valueList": [{"@type": "Date", "@value": "2026-01-01"}, 2]}
            ],
        },
    }

    view = key_values_view(entity, "WaterObserved", Compactor({}))

    assert view == {
        "id": "urn:ngsi-ld:WaterObserved:1",
        "type": "WaterObserved",
        "height": 1.4,
        "dateObserved": "2026-11-25T18:45:00.000Z",
        "location": {"type": "Point", "coordinates": [7.7, 49.4]},
        "refDevice": "urn:ngsi-ld:Device:1",
        "name": "Pegel",
        "tags": ["2026-01-01", 2],
    }


def test_the_default_instance_is_used_and_the_platform_term_wins_a_name_clash() -> None:
    entity = {
        "id": "urn:x:1",
        "type": ["X"],
        "attrs": {
            DEFAULT + "height": [{"type": "Property", "value": "from core context"}],
            SDM + "height": [
                {"type": "Property", "value": 9, "datasetId": "urn:ds:radar"},
                {"type": "Property", "value": 2},
            ],
        },
    }

    view = key_values_view(entity, "X", Compactor({SDM + "height": "height"}))

    assert view["height"] == 2
