"""The optional CKAN push: a configured municipality's datasets become CKAN packages, are updated only when
they change, never created twice, and deleted when the municipality retires."""

from __future__ import annotations

from tests.catalog.conftest import Platform
from tests.catalog.support import municipality, water


def extras(package: dict) -> dict[str, str]:
    return {e["key"]: e["value"] for e in package["extras"]}


def test_datasets_are_pushed_to_ckan_idempotently(platform: Platform) -> None:
    tenant, ckan = platform.ckan_tenant, platform.ckan
    slug = f"{tenant}-water-observed"
    record = municipality(tenant, name="Landkreis Kusel", kind="Landkreis", ags="07336000",
                          regionalschluessel=None, licenceAttribution="Landkreis Kusel")  # fmt: skip
    platform.register(tenant, record)
    platform.upsert(
        tenant,
        water(1, 1.0, 7.40, 49.53, "2026-11-20T10:05:00Z"),
        water(2, 2.0, 7.45, 49.55, "2026-11-20T10:10:00Z"),
    )
    package = platform.wait(lambda: (p := ckan.packages.get(slug)) and "2 NGSI-LD" in p["notes"] and p)
    assert package["title"] == "Pegelstände – Landkreis Kusel"
    assert package["owner_org"] == "kusel"
    assert package["license_id"] == "dl-by-de/2.0"
    assert package["url"] == f"{platform.catalog.url}/dataset/{slug}"
    assert [r["format"] for r in package["resources"]] == ["JSON-LD", "CSV", "GeoJSON", "CSV"]
    assert (
        extras(package)["politicalGeocodingURI"]
        == '["http://dcat-ap.de/def/politicalGeocoding/districtKey/07336"]'
    )
    assert extras(package)["licenseAttributionByText"] == "Landkreis Kusel"
    assert extras(package)["temporal_start"] == "2026-11-20T10:00:00Z"  # rounded to the hour

    # A new reading within the same hour changes nothing CKAN keeps: no further writes, over several syncs.
    writes = [a for a in ckan.actions(slug) if a != "package_show"]
    platform.upsert(tenant, water(2, 2.1, 7.45, 49.55, "2026-11-20T10:40:00Z"))
    synced = platform.web.get("/health").json()["lastSync"]
    platform.wait(lambda: platform.web.get("/health").json()["lastSync"] > synced)
    synced = platform.web.get("/health").json()["lastSync"]
    platform.wait(lambda: platform.web.get("/health").json()["lastSync"] > synced)
    assert [a for a in ckan.actions(slug) if a != "package_show"] == writes

    # A third gauge changes the package: it is updated in place.
    platform.upsert(tenant, water(3, 0.5, 7.50, 49.60, "2026-11-21T08:00:00Z"))
    platform.wait(lambda: "3 NGSI-LD" in ckan.packages[slug]["notes"])
    assert ckan.actions(slug).count("package_create") == 1
    assert ckan.actions(slug)[-1] == "package_update"
    assert extras(ckan.packages[slug])["temporal_end"] == "2026-11-21T08:00:00Z"

    retired = platform.admin.post(f"/verbund/v1/municipalities/{tenant}/retire")
    assert retired.status_code == 200, retired.text
    platform.wait(lambda: slug not in ckan.packages)
    assert ckan.actions(slug)[-1] == "package_delete"
