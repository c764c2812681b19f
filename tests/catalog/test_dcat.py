"""The catalog's DCAT-AP.de metadata: valid against SHACL shapes for the mandatory and recommended
properties (kept in tests/catalog/shapes, offline), the same in every format, paged for harvesters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from catalog.dcat import FORMATS, catalog_graph, dataset_graph, serialize
from catalog.model import Links, Views
from catalog.store import CatalogStore
from catalog.vocab import DCAT, DCATDE, DCT, HYDRA, geocoding_level, geocoding_uris
from tests.catalog.support import PUBLIC, municipality, offline_catalog, traffic, water

SHAPES = Graph().parse(Path(__file__).parent / "shapes" / "dcat-ap-de.ttl")
GEO = "http://dcat-ap.de/def/politicalGeocoding/"


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[tuple[CatalogStore, Views, Links]]:
    records = [
        municipality("kaiserslautern"),
        municipality(
            "kusel", name="Landkreis Kusel", kind="Landkreis", ags="07336000", regionalschluessel=None,
            area=None, bbox=[7.2, 49.4, 7.7, 49.7], licence="dl-zero-de/2.0", licenceAttribution=None,
        ),
    ]  # fmt: skip
    entities = {
        "kaiserslautern": [
            water(1, 1.42, 7.75, 49.44, "2026-11-20T10:00:00Z"),
            water(2, 0.98, 7.80, 49.45, "2026-11-25T10:00:00Z"),
            traffic(1, 120, 7.76, 49.43, "2026-11-24T08:00:00Z"),
        ],
        "kusel": [water(3, 2.10, 7.40, 49.53, "2026-11-22T06:00:00Z")],
    }
    store, views, links = offline_catalog(tmp_path, records, entities)
    yield store, views, links
    store.close()


def shacl_results(graph: Graph) -> tuple[bool, str]:
    conforms, _, text = validate(graph, shacl_graph=SHAPES, advanced=True, allow_warnings=False)
    return conforms, text


def test_the_whole_catalog_meets_the_mandatory_and_recommended_properties(catalog: Any) -> None:
    _, views, links = catalog
    graph = catalog_graph(views.published(), links, "Verbund", fmt="ttl", page=1, page_size=100)
    conforms, report = shacl_results(graph)
    assert conforms, report
    assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == 3
    assert len(list(graph.subjects(RDF.type, DCAT.Distribution))) == 12


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        (lambda g, d: g.remove((d, DCT.title, None)), "dct:title"),
        (lambda g, d: g.remove((None, DCT.license, None)), "license"),
        (lambda g, d: g.remove((None, DCATDE.licenseAttributionByText, None)), "attribution"),
        (lambda g, d: g.remove((d, DCATDE.politicalGeocodingLevelURI, None)), "politicalGeocodingLevelURI"),
        (lambda g, d: g.set((d, DCAT.theme, URIRef("http://example.org/themes/water"))), "data-theme"),
        (lambda g, d: g.remove((d, DCT.temporal, None)), "temporal"),
    ],
    ids=["no title", "no licence", "no attribution", "no geocoding level", "foreign theme", "no temporal"],
)
def test_the_shapes_catch_what_is_missing(catalog: Any, remove: Any, message: str) -> None:
    """The shapes can fail: each removal from a valid dataset is reported."""
    _, views, links = catalog
    view = next(v for v in views.published() if v.municipality.tenant == "kaiserslautern")
    graph = dataset_graph(view, links)
    assert shacl_results(graph)[0]
    remove(graph, URIRef(links.dataset(view.slug)))
    conforms, report = shacl_results(graph)
    assert not conforms
    assert message.lower() in report.lower(), report


def test_a_dataset_says_who_where_when_and_under_which_licence(catalog: Any) -> None:
    _, views, links = catalog
    view = next(v for v in views.published() if v.slug == "kaiserslautern-water-observed")
    g = dataset_graph(view, links)
    d = URIRef(f"{PUBLIC}/dataset/kaiserslautern-water-observed")
    titles = {(t.language, str(t)) for t in g.objects(d, DCT.title)}
    assert titles == {
        ("de", "Pegelstände – Stadt Kaiserslautern"),
        ("en", "Water levels – Stadt Kaiserslautern"),
    }
    assert {text.language for text in g.objects(d, DCT.description)} == {"de", "en"}
    assert set(g.objects(d, DCAT.theme)) == {
        URIRef("http://publications.europa.eu/resource/authority/data-theme/ENVI")
    }
    assert set(g.objects(d, DCATDE.politicalGeocodingURI)) == {
        URIRef(GEO + "municipalityKey/07312000"),
        URIRef(GEO + "regionalKey/073120000000"),
    }
    assert g.value(d, DCATDE.politicalGeocodingLevelURI) == URIRef(GEO + "Level/municipality")
    spatial = g.value(d, DCT.spatial)
    assert (
        str(g.value(spatial, DCAT.bbox)) == "POLYGON((7.75 49.44,7.8 49.44,7.8 49.45,7.75 49.45,7.75 49.44))"
    )
    period = g.value(d, DCT.temporal)
    assert g.value(period, DCAT.startDate).toPython().isoformat() == "2026-11-20T10:00:00+00:00"
    assert g.value(period, DCAT.endDate).toPython().isoformat() == "2026-11-25T10:00:00+00:00"
    publisher = g.value(d, DCT.publisher)
    assert str(g.value(publisher, URIRef("http://xmlns.com/foaf/0.1/name"))) == "Stadt Kaiserslautern"
    assert g.value(d, DCT.conformsTo) == URIRef(
        "https://smartdatamodels.org/dataModel.Environment/WaterObserved"
    )
    media = {
        str(g.value(dist, DCAT.mediaType)).rsplit("media-types/", 1)[1]
        for dist in g.objects(d, DCAT.distribution)
    }
    assert media == {"application/ld+json", "text/csv", "application/geo+json"}
    for dist in g.objects(d, DCAT.distribution):
        assert g.value(dist, DCT.license) == URIRef("http://dcat-ap.de/def/licenses/dl-by-de/2.0")
        assert g.value(dist, DCATDE.licenseAttributionByText) == Literal("Stadt Kaiserslautern", lang="de")
    downloads = sorted(str(u) for u in g.objects(None, DCAT.downloadURL))
    assert downloads == [f"{PUBLIC}/dataset/kaiserslautern-water-observed/{n}"
                         for n in ("current.csv", "current.geojson", "history.csv")]  # fmt: skip


def test_a_district_with_a_free_licence_is_coded_as_a_district_without_attribution(catalog: Any) -> None:
    _, views, links = catalog
    view = next(v for v in views.published() if v.municipality.tenant == "kusel")
    g = dataset_graph(view, links)
    d = URIRef(links.dataset(view.slug))
    assert set(g.objects(d, DCATDE.politicalGeocodingURI)) == {URIRef(GEO + "districtKey/07336")}
    assert g.value(d, DCATDE.politicalGeocodingLevelURI) == URIRef(GEO + "Level/administrativeDistrict")
    assert set(g.objects(None, DCT.license)) == {URIRef("http://dcat-ap.de/def/licenses/dl-zero-de/2.0")}
    assert not list(g.objects(None, DCATDE.licenseAttributionByText))


@pytest.mark.parametrize(
    ("kind", "ags", "rs", "uris", "level"),
    [
        ("Ortsgemeinde", "07138045", None, ["municipalityKey/07138045"], "municipality"),
        ("Stadt", None, "071385003045", ["regionalKey/071385003045"], "municipality"),
        ("Verbandsgemeinde", None, "071385003000", ["municipalAssociationKey/071385003"], "municipality"),
        ("Landkreis", None, "071370000000", ["districtKey/07137"], "administrativeDistrict"),
        ("Kreisfreie Stadt", "0731200", None, [], "municipality"),  # not eight digits: no key
    ],
)
def test_political_geocoding_follows_the_kind_of_municipality(
    kind: str, ags: str | None, rs: str | None, uris: list[str], level: str
) -> None:
    assert [str(u) for u in geocoding_uris(kind, ags, rs)] == [GEO + u for u in uris]
    assert str(geocoding_level(kind)) == GEO + "Level/" + level


@pytest.mark.parametrize("fmt", ["ttl", "rdf", "jsonld"])
def test_every_format_carries_the_same_graph(catalog: Any, fmt: str) -> None:
    _, views, links = catalog
    graph = catalog_graph(views.published(), links, "Verbund", fmt=fmt, page=1, page_size=100)
    body = serialize(graph, fmt)
    if fmt == "jsonld":  # read by an independent JSON-LD processor
        nquads = jsonld.to_rdf(json.loads(body), {"format": "application/n-quads"})
        parsed = Graph().parse(data=nquads, format="nt")
    else:
        parsed = Graph().parse(data=body, format=FORMATS[fmt][0])
    assert isomorphic(parsed, graph)


def test_harvesters_reach_every_dataset_by_following_the_hydra_pages(catalog: Any) -> None:
    _, views, links = catalog
    published = views.published()
    seen: list[URIRef] = []
    url: str | None = links.catalog_page("ttl", 1)
    pages = 0
    while url is not None:
        page = int(url.rsplit("=", 1)[1])
        g = catalog_graph(published, links, "Verbund", fmt="ttl", page=page, page_size=2)
        seen += list(g.objects(URIRef(links.catalog()), DCAT.dataset))
        view = URIRef(url)
        assert int(g.value(view, HYDRA.totalItems)) == 3
        nxt = g.value(view, HYDRA.nextPage)
        assert (nxt is None) == (g.value(view, HYDRA.next) is None)
        url = str(nxt) if nxt is not None else None
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(URIRef(links.dataset(v.slug)) for v in published)
