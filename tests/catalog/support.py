"""Test data for the catalog: municipality records (contract 1), water-level and traffic entities, and an
offline catalog built from a real store for tests that need no broker."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from catalog.config import CatalogConfig, catalog_config
from catalog.model import Links, Views
from catalog.store import CatalogStore
from catalog.summary import summarize
from verbund.settings import load_settings

SECRET = "catalog-feed-secret-for-tests"
PUBLIC = "https://daten.verbund.example/catalog"
KL_AREA = {
    "type": "Polygon",
    "coordinates": [[[7.65, 49.38], [7.90, 49.38], [7.90, 49.50], [7.65, 49.50], [7.65, 49.38]]],
}


def new_tenant(prefix: str = "c") -> str:
    return prefix + uuid.uuid4().hex[:10]


def municipality(tenant: str, **members: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "tenant": tenant,
        "name": "Stadt Kaiserslautern",
        "kind": "Kreisfreie Stadt",
        "ags": "07312000",
        "regionalschluessel": "073120000000",
        "area": KL_AREA,
        "contactPoint": {"name": "Open Data Kaiserslautern", "email": "opendata@kaiserslautern.de",
                         "url": "https://www.kaiserslautern.de", "phone": "+49 631 365 0"},
        "licence": "dl-by-de/2.0",
        "licenceAttribution": "Stadt Kaiserslautern",
        "openData": True,
        "status": "active",
    }  # fmt: skip
    record.update(members)
    return {k: v for k, v in record.items() if v is not None}


def water(n: int | str, height: float, lon: float, lat: float, observed: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WaterObserved:pegel-{n}",
        "type": "WaterObserved",
        "height": {"type": "Property", "value": height, "unitCode": "MTR", "observedAt": observed},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def traffic(n: int | str, intensity: int, lon: float, lat: float, observed: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:TrafficFlowObserved:zaehlstelle-{n}",
        "type": "TrafficFlowObserved",
        "intensity": {"type": "Property", "value": intensity, "observedAt": observed},
        "averageVehicleSpeed": {"type": "Property", "value": 42.5, "unitCode": "KMH", "observedAt": observed},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def offline_config(tmp_path: Path, **settings: Any) -> CatalogConfig:
    values = {
        "data_dir": str(tmp_path),
        "feed_secret": SECRET,
        "catalog_public_url": PUBLIC,
        **settings,
    }
    return catalog_config(load_settings({}, **values))


def offline_catalog(
    tmp_path: Path, records: list[dict[str, Any]], entities: dict[str, list[dict[str, Any]]], **settings: Any
) -> tuple[CatalogStore, Views, Links]:
    """A catalog from a real store, filled as the feed would fill it."""
    config = offline_config(tmp_path, **settings)
    store = CatalogStore(tmp_path / "catalog.db")
    store.put_municipalities(records)
    for tenant, items in entities.items():
        store.upsert(tenant, [summarize(e) for e in items])
    views = Views(store)
    views.type_iris = {
        "WaterObserved": "https://smartdatamodels.org/dataModel.Environment/WaterObserved",
        "TrafficFlowObserved": "https://smartdatamodels.org/dataModel.Transportation/TrafficFlowObserved",
    }
    return store, views, Links(config)
