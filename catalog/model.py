"""The published catalog as plain objects: one DatasetView per (open-data municipality x entity type).

Both the RDF (dcat.py) and the HTML portal (portal.py) render these views, so they always say the same.
Which datasets are published is decided here: the municipality is registered, active and open data, and the
broker holds entities of the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from catalog.config import CatalogConfig
from catalog.store import CatalogStore, DatasetRow
from catalog.summary import geometry_bbox
from catalog.vocab import TypeInfo, dataset_slug, needs_attribution, type_info

DEFAULT_LICENCE = "dl-by-de/2.0"


@dataclass(frozen=True)
class Municipality:
    tenant: str
    name: str
    kind: str
    ags: str | None
    regionalschluessel: str | None
    bbox: tuple[float, float, float, float] | None
    area: dict[str, Any] | None
    contact: dict[str, str]
    licence: str
    attribution: str | None
    homepage: str | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Municipality:
        contact = record.get("contactPoint") if isinstance(record.get("contactPoint"), dict) else {}
        licence = record.get("licence") if isinstance(record.get("licence"), str) else DEFAULT_LICENCE
        attribution = record.get("licenceAttribution")
        name = str(record.get("name") or record["tenant"])
        if not isinstance(attribution, str) or not attribution:
            attribution = name if needs_attribution(licence) else None
        return cls(
            tenant=record["tenant"],
            name=name,
            kind=str(record.get("kind") or "Stadt"),
            ags=record.get("ags") if isinstance(record.get("ags"), str) else None,
            regionalschluessel=record.get("regionalschluessel")
            if isinstance(record.get("regionalschluessel"), str)
            else None,
            bbox=_bbox(record),
            area=record.get("area") if isinstance(record.get("area"), dict) else None,
            contact={k: str(v) for k, v in contact.items() if isinstance(v, str | int) and v != ""},
            licence=licence,
            attribution=attribution,
            homepage=contact.get("url") if isinstance(contact.get("url"), str) else None,
        )


def publishable(record: dict[str, Any]) -> bool:
    return record.get("status", "active") == "active" and record.get("openData") is True


def _bbox(record: dict[str, Any]) -> tuple[float, float, float, float] | None:
    raw = record.get("bbox")
    if isinstance(raw, list) and len(raw) == 4 and all(isinstance(v, int | float) for v in raw):
        return (float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]))
    return geometry_bbox(record.get("area"))


@dataclass(frozen=True)
class DatasetView:
    slug: str
    row: DatasetRow
    municipality: Municipality
    info: TypeInfo
    type_iri: str | None  # the entity type's IRI in the platform @context (its Smart Data Model)

    @property
    def type(self) -> str:
        return self.row.type

    @property
    def title_de(self) -> str:
        return f"{self.info.title_de} – {self.municipality.name}"

    @property
    def title_en(self) -> str:
        return f"{self.info.title_en} – {self.municipality.name}"

    @property
    def description_de(self) -> str:
        return (
            f"Aktuelle und historische {self.info.about_de} von {self.municipality.name}: "
            f"{self.row.count} NGSI-LD-{'Entität' if self.row.count == 1 else 'Entitäten'} des Smart Data "
            f"Model {self.type}, laufend aktualisiert."
        )

    @property
    def description_en(self) -> str:
        return (
            f"Current and historical {self.info.about_en} of {self.municipality.name}: "
            f"{self.row.count} NGSI-LD {'entity' if self.row.count == 1 else 'entities'} of the Smart Data "
            f"Model {self.type}, continuously updated."
        )

    @property
    def themes(self) -> tuple[str, ...]:
        return self.info.themes


class Links:
    """Every URL the catalog publishes, in one place."""

    def __init__(self, config: CatalogConfig) -> None:
        self.base = config.base_url
        self.broker = config.broker_public_url

    def catalog(self) -> str:
        return f"{self.base}/catalog"

    def catalog_page(self, fmt: str, page: int) -> str:
        return f"{self.base}/catalog.{fmt}?page={page}"

    def dataset(self, slug: str) -> str:
        return f"{self.base}/dataset/{slug}"

    def download(self, slug: str, name: str) -> str:
        return f"{self.base}/dataset/{slug}/{name}"

    def publisher(self, tenant: str) -> str:
        return f"{self.base}/municipality/{tenant}"

    def data_service(self) -> str:
        return f"{self.base}/catalog#ngsi-ld-api"

    def ngsi_ld_api(self) -> str:
        return f"{self.broker}/ngsi-ld/v1"

    def ngsi_ld_query(self, view: DatasetView) -> str:
        return f"{self.broker}/ngsi-ld/v1/entities?{urlencode({'type': view.type_iri or view.type})}"


class Views:
    """The published datasets, rebuilt when the store changed (cached by its version)."""

    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self.type_iris: dict[str, str] = {}
        self._cache: tuple[int, list[DatasetView], list[DatasetRow]] | None = None

    def _build(self) -> tuple[list[DatasetView], list[DatasetRow]]:
        version = self.store.version
        if self._cache is not None and self._cache[0] == version:
            return self._cache[1], self._cache[2]
        records = self.store.municipalities()
        published: list[DatasetView] = []
        others: list[DatasetRow] = []
        for row in self.store.datasets():
            record = records.get(row.tenant)
            if record is not None and publishable(record) and row.count > 0:
                municipality = Municipality.from_record(record)
                published.append(
                    DatasetView(
                        dataset_slug(row.tenant, row.type), row, municipality, type_info(row.type),
                        self.type_iris.get(row.type),
                    )
                )  # fmt: skip
            else:
                others.append(row)
        self._cache = (version, published, others)
        return published, others

    def published(self) -> list[DatasetView]:
        return self._build()[0]

    def unpublished(self) -> list[DatasetRow]:
        """Datasets the store knows that must not be published (withdrawn, or never were)."""
        return self._build()[1]

    def by_slug(self, slug: str) -> DatasetView | None:
        return next((v for v in self.published() if v.slug == slug), None)

    def withdrawn(self, slug: str) -> DatasetRow | None:
        return next(
            (r for r in self.unpublished() if dataset_slug(r.tenant, r.type) == slug and r.withdrawn), None
        )
