"""The catalog as DCAT-AP.de RDF (rdflib): the dcat:Catalog with its datasets, distributions and the NGSI-LD
dcat:DataService; catalog pages carry Hydra paging as DCAT harvesters (ckanext-dcat, GovData) follow it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from catalog.model import DatasetView, Links, Municipality
from catalog.vocab import (
    ACCESS_RIGHT,
    ADMS,
    AVAILABILITY,
    DCAT,
    DCATAP,
    DCATDE,
    DCT,
    FILE_TYPE,
    FOAF,
    FREQUENCY,
    GSP,
    HYDRA,
    IANA,
    LANGUAGE,
    LOCN,
    THEME,
    THEME_SCHEME,
    VCARD,
    geocoding_level,
    geocoding_uris,
    licence_uri,
)

FORMATS = {
    "ttl": ("turtle", "text/turtle"),
    "rdf": ("xml", "application/rdf+xml"),
    "jsonld": ("json-ld", "application/ld+json"),
}
NGSI_LD_SPEC = URIRef(
    "https://www.etsi.org/deliver/etsi_gs/CIM/001_099/009/01.08.01_60/gs_cim009v010801p.pdf"
)
LOCAL_AUTHORITY = URIRef("http://purl.org/adms/publishertype/LocalAuthority")
METADATA_LICENCE = "dl-zero-de/2.0"  # the catalog's own metadata are free to reuse (no attribution needed)
GEOJSON_LITERAL = GSP.geoJSONLiteral

_PREFIXES = {
    "dcat": DCAT, "dct": DCT, "dcatde": DCATDE, "dcatap": DCATAP, "foaf": FOAF, "vcard": VCARD, "locn": LOCN,
    "gsp": GSP, "hydra": HYDRA, "adms": ADMS, "xsd": XSD,
}  # fmt: skip

# Each dataset's distributions: (fragment, download name or None, title de, title en, media type, file type)
DISTRIBUTIONS = (
    ("ngsi-ld", None, "NGSI-LD-Abfrage (aktueller Zustand)", "NGSI-LD query (current state)",
     "application/ld+json", "JSON_LD"),
    ("current-csv", "current.csv", "Aktueller Zustand als CSV", "Current state as CSV", "text/csv", "CSV"),
    ("current-geojson", "current.geojson", "Aktueller Zustand als GeoJSON", "Current state as GeoJSON",
     "application/geo+json", "GEOJSON"),
    ("history-csv", "history.csv", "Zeitreihen als CSV", "Time series as CSV", "text/csv", "CSV"),
)  # fmt: skip


def new_graph() -> Graph:
    g = Graph()
    for prefix, namespace in _PREFIXES.items():
        g.bind(prefix, namespace)
    return g


def serialize(g: Graph, fmt: str) -> bytes:
    name, _ = FORMATS[fmt]
    if name == "json-ld":
        context = {prefix: str(ns) for prefix, ns in _PREFIXES.items()}
        return g.serialize(format="json-ld", context=context, auto_compact=True, encoding="utf-8")
    return g.serialize(format=name, encoding="utf-8")


def _time(value: str) -> Literal:
    return Literal(datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat(), datatype=XSD.dateTime)


def _both(g: Graph, node: URIRef | BNode, prop: URIRef, de: str, en: str) -> None:
    g.add((node, prop, Literal(de, lang="de")))
    g.add((node, prop, Literal(en, lang="en")))


def wkt_box(bbox: tuple[float, float, float, float]) -> str:
    w, s, e, n = (round(v, 7) for v in bbox)
    return f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"


def geojson_box(bbox: tuple[float, float, float, float]) -> str:
    w, s, e, n = (round(v, 7) for v in bbox)
    return f'{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}'


def _location(g: Graph, bbox: tuple[float, float, float, float]) -> BNode:
    node = BNode()
    g.add((node, RDF.type, DCT.Location))
    g.add((node, DCAT.bbox, Literal(wkt_box(bbox), datatype=GSP.wktLiteral)))
    g.add((node, LOCN.geometry, Literal(geojson_box(bbox), datatype=GEOJSON_LITERAL)))
    lon, lat = round((bbox[0] + bbox[2]) / 2, 7), round((bbox[1] + bbox[3]) / 2, 7)
    g.add((node, DCAT.centroid, Literal(f"POINT({lon} {lat})", datatype=GSP.wktLiteral)))
    return node


# the catalog -----------------------------------------------------------------------------------------------
def catalog_graph(
    views: list[DatasetView], links: Links, publisher: str, *, fmt: str, page: int, page_size: int
) -> Graph:
    """One page of the catalog: the catalog node, this page's datasets in full, and the Hydra paging."""
    g = new_graph()
    catalog = URIRef(links.catalog())
    g.add((catalog, RDF.type, DCAT.Catalog))
    _both(g, catalog, DCT.title, "Offene Daten des Verbunds", "Open data of the Verbund")
    _both(
        g, catalog, DCT.description,
        "Messdaten der Kommunen des Verbunds (Pegelstände, Verkehr, Umwelt) aus der gemeinsamen "
        "NGSI-LD-Datenplattform, als offene Daten nach DCAT-AP.de.",
        "Measurements of the Verbund's municipalities (water levels, traffic, environment) from the shared "
        "NGSI-LD data platform, as open data described with DCAT-AP.de.",
    )  # fmt: skip
    operator = URIRef(f"{links.base}/publisher")
    g.add((catalog, DCT.publisher, operator))
    g.add((operator, RDF.type, FOAF.Agent))
    g.add((operator, FOAF.name, Literal(publisher)))
    g.add((operator, DCT.type, LOCAL_AUTHORITY))
    g.add((catalog, FOAF.homepage, URIRef(f"{links.base}/")))
    g.add((catalog, DCT.language, LANGUAGE.DEU))
    g.add((catalog, DCT.language, LANGUAGE.ENG))
    g.add((catalog, DCT.license, licence_uri(METADATA_LICENCE)))
    g.add((catalog, DCAT.themeTaxonomy, THEME_SCHEME))
    if views:
        g.add((catalog, DCT.issued, _time(min(v.row.issued for v in views))))
        g.add((catalog, DCT.modified, _time(max(v.row.modified for v in views))))
        boxes = [v.row.bbox for v in views if v.row.bbox]
        if boxes:
            union = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            g.add((catalog, DCT.spatial, _location(g, union)))
    service = _data_service(g, links)
    g.add((catalog, DCAT.service, service))
    total = len(views)
    pages = max(1, -(-total // page_size))
    for view in views[(page - 1) * page_size : page * page_size]:
        dataset = add_dataset(g, view, links)
        g.add((catalog, DCAT.dataset, dataset))
        g.add((service, DCAT.servesDataset, dataset))
    _paging(g, links, fmt, page, pages, total, page_size)
    return g


def _paging(g: Graph, links: Links, fmt: str, page: int, pages: int, total: int, page_size: int) -> None:
    """Hydra paging in both the older (PagedCollection, nextPage) and newer (PartialCollectionView, next)
    terms, since harvesters in use read either."""
    node = URIRef(links.catalog_page(fmt, page))
    g.add((node, RDF.type, HYDRA.PagedCollection))
    g.add((node, RDF.type, HYDRA.PartialCollectionView))
    g.add((node, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    g.add((node, HYDRA.itemsPerPage, Literal(page_size, datatype=XSD.integer)))
    for old, new, number in (
        (HYDRA.firstPage, HYDRA.first, 1),
        (HYDRA.lastPage, HYDRA.last, pages),
        (HYDRA.nextPage, HYDRA.next, page + 1 if page < pages else None),
        (HYDRA.previousPage, HYDRA.previous, page - 1 if page > 1 else None),
    ):
        if number is not None:
            g.add((node, old, Literal(links.catalog_page(fmt, number))))
            g.add((node, new, URIRef(links.catalog_page(fmt, number))))


def _data_service(g: Graph, links: Links) -> URIRef:
    service = URIRef(links.data_service())
    g.add((service, RDF.type, DCAT.DataService))
    _both(g, service, DCT.title, "NGSI-LD-Schnittstelle des Verbunds", "NGSI-LD API of the Verbund")
    _both(
        g, service, DCT.description,
        "Kontextbroker nach ETSI GS CIM 009 (NGSI-LD): aktuelle Zustände, Abfragen, Zeitreihen und "
        "Abonnements. Die Kommune wird mit dem Kopf NGSILD-Tenant gewählt.",
        "Context broker following ETSI GS CIM 009 (NGSI-LD): current state, queries, time series and "
        "subscriptions. The municipality is selected with the NGSILD-Tenant header.",
    )  # fmt: skip
    g.add((service, DCAT.endpointURL, URIRef(links.ngsi_ld_api())))
    g.add((service, DCAT.endpointDescription, NGSI_LD_SPEC))
    g.add((service, DCT.conformsTo, NGSI_LD_SPEC))
    g.add((service, DCT.accessRights, ACCESS_RIGHT.PUBLIC))
    return service


# one dataset ---------------------------------------------------------------------------------------------
def dataset_graph(view: DatasetView, links: Links) -> Graph:
    g = new_graph()
    dataset = add_dataset(g, view, links)
    service = _data_service(g, links)
    g.add((service, DCAT.servesDataset, dataset))
    return g


def add_dataset(g: Graph, view: DatasetView, links: Links) -> URIRef:
    row, town = view.row, view.municipality
    dataset = URIRef(links.dataset(view.slug))
    g.add((dataset, RDF.type, DCAT.Dataset))
    g.add((dataset, DCT.identifier, Literal(view.slug)))
    _both(g, dataset, DCT.title, view.title_de, view.title_en)
    _both(g, dataset, DCT.description, view.description_de, view.description_en)
    g.add((dataset, DCT.publisher, _publisher(g, town, links)))
    g.add((dataset, DCAT.contactPoint, _contact(g, town, links)))
    for uri in geocoding_uris(town.kind, town.ags, town.regionalschluessel):
        g.add((dataset, DCATDE.politicalGeocodingURI, uri))
    g.add((dataset, DCATDE.politicalGeocodingLevelURI, geocoding_level(town.kind)))
    if row.bbox:
        g.add((dataset, DCT.spatial, _location(g, row.bbox)))
    if row.first_observed or row.last_observed:
        period = BNode()
        g.add((dataset, DCT.temporal, period))
        g.add((period, RDF.type, DCT.PeriodOfTime))
        if row.first_observed:
            g.add((period, DCAT.startDate, _time(row.first_observed)))
        if row.last_observed:
            g.add((period, DCAT.endDate, _time(row.last_observed)))
    g.add((dataset, DCT.issued, _time(row.issued)))
    g.add((dataset, DCT.modified, _time(row.modified)))
    for word in view.info.keywords_de:
        g.add((dataset, DCAT.keyword, Literal(word, lang="de")))
    for word in view.info.keywords_en:
        g.add((dataset, DCAT.keyword, Literal(word, lang="en")))
    g.add((dataset, DCAT.keyword, Literal(view.type)))
    for code in view.themes:
        g.add((dataset, DCAT.theme, THEME[code]))
    g.add((dataset, DCAT.landingPage, URIRef(links.dataset(view.slug))))
    g.add((dataset, DCT.accrualPeriodicity, FREQUENCY.UPDATE_CONT))
    g.add((dataset, DCT.language, LANGUAGE.DEU))
    g.add((dataset, DCT.accessRights, ACCESS_RIGHT.PUBLIC))
    if view.type_iri:
        g.add((dataset, DCT.conformsTo, URIRef(view.type_iri)))
    for spec in DISTRIBUTIONS:
        g.add((dataset, DCAT.distribution, _distribution(g, view, links, spec)))
    return dataset


def _publisher(g: Graph, town: Municipality, links: Links) -> URIRef:
    agent = URIRef(links.publisher(town.tenant))
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, FOAF.name, Literal(town.name, lang="de")))
    g.add((agent, DCT.type, LOCAL_AUTHORITY))
    if town.homepage:
        g.add((agent, FOAF.homepage, URIRef(town.homepage)))
    if town.contact.get("email"):
        g.add((agent, FOAF.mbox, URIRef("mailto:" + town.contact["email"])))
    return agent


def _contact(g: Graph, town: Municipality, links: Links) -> URIRef:
    card = URIRef(links.publisher(town.tenant) + "#contact")
    g.add((card, RDF.type, VCARD.Organization))
    g.add((card, VCARD.fn, Literal(town.contact.get("name") or town.name)))
    if town.contact.get("email"):
        g.add((card, VCARD.hasEmail, URIRef("mailto:" + town.contact["email"])))
    if town.contact.get("url"):
        g.add((card, VCARD.hasURL, URIRef(town.contact["url"])))
    if town.contact.get("phone"):
        g.add((card, VCARD.hasTelephone, URIRef("tel:" + town.contact["phone"].replace(" ", ""))))
    return card


def _distribution(g: Graph, view: DatasetView, links: Links, spec: tuple[Any, ...]) -> URIRef:
    fragment, download, title_de, title_en, media, file_type = spec
    node = URIRef(f"{links.dataset(view.slug)}#{fragment}")
    g.add((node, RDF.type, DCAT.Distribution))
    _both(g, node, DCT.title, title_de, title_en)
    if download is None:
        url = URIRef(links.ngsi_ld_query(view))
        g.add((node, DCAT.accessURL, url))
        g.add((node, DCAT.accessService, URIRef(links.data_service())))
        _both(
            g, node, DCT.description,
            f"NGSI-LD-Abfrage mit dem Kopf NGSILD-Tenant: {view.municipality.tenant}.",
            f"NGSI-LD query with the header NGSILD-Tenant: {view.municipality.tenant}.",
        )  # fmt: skip
    else:
        url = URIRef(links.download(view.slug, download))
        g.add((node, DCAT.accessURL, url))
        g.add((node, DCAT.downloadURL, url))
    g.add((node, DCAT.mediaType, URIRef(IANA + media)))
    g.add((node, DCT.format, FILE_TYPE[file_type]))
    g.add((node, DCT.license, licence_uri(view.municipality.licence)))
    if view.municipality.attribution:
        g.add((node, DCATDE.licenseAttributionByText, Literal(view.municipality.attribution, lang="de")))
    g.add((node, DCT.modified, _time(view.row.modified)))
    g.add((node, DCATAP.availability, AVAILABILITY.AVAILABLE))
    return node
