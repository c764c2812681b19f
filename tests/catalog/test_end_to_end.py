"""The catalog against a real broker: a municipality registers, its water levels and traffic counts become
datasets whose extent and downloads follow the data; changes missed while the catalog was down are
reconciled on start; retired or closed municipalities are not published."""

from __future__ import annotations

import csv
import io
from typing import Any

from rdflib import Graph, URIRef

from catalog.vocab import DCAT, DCT
from tests.catalog.conftest import Platform
from tests.catalog.support import municipality, new_tenant, traffic, water

THEMES = "http://publications.europa.eu/resource/authority/data-theme/"


def dataset(platform: Platform, slug: str) -> Graph | None:
    response = platform.web.get(f"/dataset/{slug}.ttl")
    if response.status_code != 200:
        return None
    return Graph().parse(data=response.text, format="turtle")


def extent(platform: Platform, slug: str) -> tuple[str, str, str] | None:
    """(bbox WKT, first observation, last observation) as the catalog publishes them."""
    g = dataset(platform, slug)
    if g is None:
        return None
    d = URIRef(f"{platform.catalog.url}/dataset/{slug}")
    period = g.value(d, DCT.temporal)
    box = g.value(g.value(d, DCT.spatial), DCAT.bbox)
    return str(box), str(g.value(period, DCAT.startDate)), str(g.value(period, DCAT.endDate))


def published_count(platform: Platform, slug: str) -> int | None:
    """How many entities the catalog counts in a dataset (its description says)."""
    g = dataset(platform, slug)
    if g is None:
        return None
    text = g.value(URIRef(f"{platform.catalog.url}/dataset/{slug}"), DCT.description, any=True)
    return int(str(text).split(": ", 1)[1].split(" ", 1)[0])


def csv_rows(platform: Platform, path: str) -> list[dict[str, str]]:
    response = platform.web.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_a_municipality_s_data_becomes_datasets_that_follow_the_data(platform: Platform) -> None:
    tenant = new_tenant()
    platform.register(tenant, municipality(tenant))
    platform.upsert(
        tenant,
        water(1, 1.42, 7.75, 49.44, "2026-11-20T10:00:00Z"),
        water(2, 0.98, 7.80, 49.45, "2026-11-21T10:00:00Z"),
        traffic(1, 120, 7.76, 49.43, "2026-11-21T08:00:00Z"),
    )
    water_slug, traffic_slug = f"{tenant}-water-observed", f"{tenant}-traffic-flow-observed"
    # Notifications may bring the entities one by one: wait for the extent of both gauges.
    first = (
        "POLYGON((7.75 49.44,7.8 49.44,7.8 49.45,7.75 49.45,7.75 49.44))",
        "2026-11-20T10:00:00+00:00",
        "2026-11-21T10:00:00+00:00",
    )
    platform.wait(lambda: extent(platform, water_slug) == first)
    traffic_graph = platform.wait(lambda: dataset(platform, traffic_slug))
    assert URIRef(THEMES + "TRAN") in set(traffic_graph.objects(None, DCAT.theme))
    catalog = Graph().parse(data=platform.web.get("/catalog.ttl").text, format="turtle")
    listed = set(catalog.objects(URIRef(f"{platform.catalog.url}/catalog"), DCAT.dataset))
    assert {URIRef(f"{platform.catalog.url}/dataset/{s}") for s in (water_slug, traffic_slug)} <= listed

    rows = csv_rows(platform, f"/dataset/{water_slug}/current.csv")
    assert [(r["id"], r["height"], r["longitude"]) for r in rows] == [
        ("urn:ngsi-ld:WaterObserved:pegel-1", "1.42", "7.75"),
        ("urn:ngsi-ld:WaterObserved:pegel-2", "0.98", "7.8"),
    ]
    features = platform.web.get(f"/dataset/{water_slug}/current.geojson").json()
    assert features["type"] == "FeatureCollection"
    assert {f["properties"]["height"] for f in features["features"]} == {1.42, 0.98}

    # The gauge moves downstream and reports a later level: extent, end of the period and downloads follow.
    platform.upsert(tenant, water(2, 1.05, 7.95, 49.52, "2026-11-25T10:00:00Z"))
    moved = (
        "POLYGON((7.75 49.44,7.95 49.44,7.95 49.52,7.75 49.52,7.75 49.44))",
        "2026-11-20T10:00:00+00:00",
        "2026-11-25T10:00:00+00:00",
    )
    platform.wait(lambda: extent(platform, water_slug) == moved)
    heights = [
        (r["observedAt"], r["value"])
        for r in csv_rows(platform, f"/dataset/{water_slug}/history.csv")
        if r["id"].endswith("pegel-2") and r["attribute"] == "height"
    ]
    assert heights == [("2026-11-21T10:00:00Z", "0.98"), ("2026-11-25T10:00:00Z", "1.05")]
    recent = csv_rows(platform, f"/dataset/{water_slug}/history.csv?from=2026-11-24T00:00:00Z")
    assert [(r["id"][-7:], r["value"]) for r in recent if r["attribute"] == "height"] == [("pegel-2", "1.05")]


def test_a_restarted_catalog_reconciles_what_it_missed(platform: Platform) -> None:
    tenant = new_tenant()
    platform.register(tenant, municipality(tenant))
    platform.upsert(
        tenant,
        water(1, 1.0, 7.70, 49.40, "2026-11-20T10:00:00Z"),
        water(2, 1.1, 7.80, 49.45, "2026-11-21T10:00:00Z"),
    )
    slug = f"{tenant}-water-observed"
    platform.wait(lambda: extent(platform, slug) and extent(platform, slug)[2] == "2026-11-21T10:00:00+00:00")
    issued = dataset(platform, slug).value(URIRef(f"{platform.catalog.url}/dataset/{slug}"), DCT.issued)

    platform.catalog.stop()
    # Deleting sends no notification at all, and the new gauge's notification finds nobody listening.
    deleted = platform.admin.delete(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:pegel-1", headers={"NGSILD-Tenant": tenant}
    )
    assert deleted.status_code == 204
    platform.upsert(tenant, water(3, 0.7, 7.85, 49.50, "2026-11-22T10:00:00Z"))
    platform.catalog.start()

    reconciled = platform.wait(
        lambda: extent(platform, slug) == (
            "POLYGON((7.8 49.45,7.85 49.45,7.85 49.5,7.8 49.5,7.8 49.45))",
            "2026-11-21T10:00:00+00:00",
            "2026-11-22T10:00:00+00:00",
        )
    )  # fmt: skip
    assert reconciled
    ids = [r["id"] for r in csv_rows(platform, f"/dataset/{slug}/current.csv")]
    assert ids == ["urn:ngsi-ld:WaterObserved:pegel-2", "urn:ngsi-ld:WaterObserved:pegel-3"]
    # The state survived the restart: the dataset was not published anew.
    g = dataset(platform, slug)
    assert g.value(URIRef(f"{platform.catalog.url}/dataset/{slug}"), DCT.issued) == issued


def test_a_retired_municipality_s_datasets_are_withdrawn(platform: Platform) -> None:
    tenant = new_tenant()
    platform.register(tenant, municipality(tenant))
    platform.upsert(tenant, water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))
    slug = f"{tenant}-water-observed"
    platform.wait(lambda: dataset(platform, slug))
    retired = platform.admin.post(f"/verbund/v1/municipalities/{tenant}/retire", json={"data": "keep"})
    assert retired.status_code == 200, retired.text

    platform.wait(lambda: platform.web.get(f"/dataset/{slug}.ttl").status_code == 410)
    assert platform.web.get(f"/dataset/{slug}/current.csv").status_code == 410
    page = platform.web.get(f"/dataset/{slug}")
    assert page.status_code == 410 and "zurückgezogen" in page.text
    assert slug not in platform.web.get("/catalog.ttl").text


def test_data_of_a_municipality_that_does_not_publish_is_never_shown(platform: Platform) -> None:
    closed, open_ = new_tenant(), new_tenant()
    platform.register(closed, municipality(closed, openData=False))
    platform.register(open_, municipality(open_))
    platform.upsert(closed, water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))
    platform.upsert(open_, water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))
    # Once the open one (registered later, fed the same way) is published, the closed one has had its chance.
    platform.wait(lambda: dataset(platform, f"{open_}-water-observed"))
    synced = platform.web.get("/health").json()["lastSync"]
    platform.wait(lambda: (platform.web.get("/health").json()["lastSync"] or 0) > synced)
    for path in (".ttl", "", "/current.csv", "/history.csv", "/current.geojson"):
        assert platform.web.get(f"/dataset/{closed}-water-observed{path}").status_code == 404
    assert closed not in platform.web.get("/catalog.ttl").text
    assert closed not in platform.web.get("/").text


def _downloads_problem(platform: Platform, path: str) -> dict[str, Any]:
    response = platform.web.get(path)
    assert response.headers["content-type"] == "application/problem+json"
    return {"status": response.status_code, **response.json()}


def test_bad_download_requests_get_clear_problems(platform: Platform) -> None:
    tenant = new_tenant()
    platform.register(tenant, municipality(tenant))
    platform.upsert(tenant, water(1, 1.0, 7.7, 49.4, "2026-11-20T10:00:00Z"))
    slug = f"{tenant}-water-observed"
    platform.wait(lambda: dataset(platform, slug))
    problem = _downloads_problem(platform, f"/dataset/{slug}/history.csv?from=yesterday")
    assert problem["status"] == 400 and "from" in problem["detail"]
    assert _downloads_problem(platform, "/dataset/nowhere-water-observed/current.csv")["status"] == 404
    assert _downloads_problem(platform, "/catalog.ttl?page=0")["status"] == 400
    assert _downloads_problem(platform, "/catalog.ttl?page=999")["status"] == 404
    assert _downloads_problem(platform, "/catalog.xls")["status"] == 404
    page = platform.web.get("/no/such/page", headers={"Accept": "text/html"})  # a person gets a page
    assert page.status_code == 404 and "Nicht gefunden" in page.text
