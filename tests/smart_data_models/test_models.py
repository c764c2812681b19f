"""Every built-in model accepts its specification's example and names what an invalid one breaks; the
compiled checks give the same verdicts as jsonschema on the same schemas."""

from __future__ import annotations

import jsonschema
import pytest

from smart_data_models.catalog import FORMAT_CHECKER, Catalog
from tests.smart_data_models.examples import INVALID, VALID, variant

BUILT_IN = [
    "WaterObserved",
    "FloodMonitoring",
    "WeatherObserved",
    "TrafficFlowObserved",
    "ItemFlowObserved",
    "Device",
    "DeviceModel",
    "AirQualityObserved",
    "NoiseLevelObserved",
    "ParkingSpot",
    "OffStreetParking",
    "Streetlight",
    "Alert",
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _reference(catalog: Catalog, model: str) -> jsonschema.Draft202012Validator:
    document = catalog.files[catalog.models[model].uri].document
    return jsonschema.Draft202012Validator(document, registry=catalog.registry, format_checker=FORMAT_CHECKER)


def test_every_required_model_is_built_in_and_compiled(catalog: Catalog) -> None:
    assert sorted(catalog.models) == sorted(BUILT_IN)
    assert all(m.compiled and m.source == "built-in" for m in catalog)
    assert (
        catalog.models["WaterObserved"].type_iri
        == "https://smartdatamodels.org/dataModel.Environment/WaterObserved"
    )


@pytest.mark.parametrize("model", BUILT_IN)
def test_the_specification_example_is_valid(catalog: Catalog, model: str) -> None:
    assert catalog.models[model].validate(VALID[model]) == []
    assert _reference(catalog, model).is_valid(VALID[model])


@pytest.mark.parametrize(("model", "changes", "path", "rule"), INVALID)
def test_an_invalid_entity_is_reported_with_attribute_and_rule(
    catalog: Catalog, model: str, changes: dict, path: str, rule: str
) -> None:
    entity = variant(model, changes)

    found = catalog.models[model].validate(entity)

    assert (path, rule) in [(v.where, v.rule) for v in found]
    assert not _reference(catalog, model).is_valid(entity)  # jsonschema agrees it is invalid


def test_every_invalid_example_set_covers_every_model() -> None:
    assert {model for model, *_ in INVALID} == set(BUILT_IN)


def test_compiled_check_costs_microseconds_not_milliseconds(catalog: Catalog) -> None:
    import time

    check, entity = catalog.models["WaterObserved"].check, VALID["WaterObserved"]
    start = time.perf_counter()
    for _ in range(2000):
        check(entity)
    per_entity = (time.perf_counter() - start) / 2000

    assert per_entity < 200e-6  # jsonschema itself needs about 1 ms here
