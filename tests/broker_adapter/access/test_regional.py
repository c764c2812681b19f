"""Regional queries: NGSILD-Tenant naming a region or a list of tenants, with authentication on.

The region holds three municipalities: the private one (where the tenant-bound credentials belong), the
public (open-data) one, and a hidden one no tenant-bound credential may read. Gauge:c exists in two.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.broker_adapter.access.conftest import Secured, register
from tests.support.access import bearer
from tests.support.ngsild import assert_problem

GAUGES = {"private": ("a", "c"), "public": ("b", "c"), "hidden": ("d",)}


@pytest.fixture(scope="module")
def region(secured: Secured) -> dict[str, str]:
    """Role name -> tenant id of the three municipalities, with their gauges written."""
    hidden = "hidden" + secured.region.removeprefix("region")
    with secured.client(secured.admin_key) as admin:
        register(admin, hidden, open_data=False, regions=[secured.region])
    tenants = {"private": secured.private, "public": secured.public, "hidden": hidden}
    for role, tenant in tenants.items():
        with secured.client(secured.admin_key, tenant) as admin:
            batch = [
                {"id": f"urn:ngsi-ld:Gauge:{g}", "type": "Gauge", "level": {"type": "Property", "value": 1.5},
                 "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.7, 49.4]}}}
                for g in GAUGES[role]
            ]  # fmt: skip
            assert admin.post("/ngsi-ld/v1/entityOperations/create", json=batch).status_code == 201
    return tenants


def query(s: Secured, token: str | None, tenant_header: str, **params: Any) -> httpx.Response:
    return httpx.get(
        s.broker + "/ngsi-ld/v1/entities",
        params={"type": "Gauge", **params},
        headers={**bearer(token), "NGSILD-Tenant": tenant_header},
    )


def found(response: httpx.Response, region: dict[str, str]) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.text
    by_tenant = {tenant: role for role, tenant in region.items()}
    return [(e["id"].rsplit(":", 1)[1], by_tenant[e["verbund:tenant"]["value"]]) for e in response.json()]


def test_a_reader_of_every_tenant_gets_the_whole_region_marked_and_ordered(
    secured: Secured, region: dict[str, str]
) -> None:
    response = query(secured, secured.keys["reader-all"], secured.region, count="true")
    assert found(response, region) == [("a", "private"), ("b", "public"), ("c", "private"), ("c", "public"),
                                       ("d", "hidden")]  # fmt: skip
    assert response.headers["NGSILD-Results-Count"] == "5"
    first = response.json()[0]
    assert first["verbund:tenant"] == {"type": "Property", "value": region["private"]}
    assert first["level"]["value"] == 1.5


def test_a_tenant_reader_gets_only_the_tenants_it_may_read(secured: Secured, region: dict[str, str]) -> None:
    response = query(secured, secured.keys["reader"], secured.region, count="true")
    assert found(response, region) == [("a", "private"), ("b", "public"), ("c", "private"), ("c", "public")]
    assert response.headers["NGSILD-Results-Count"] == "4"


def test_anonymous_callers_get_the_open_data_of_the_region(secured: Secured, region: dict[str, str]) -> None:
    assert found(query(secured, None, secured.region), region) == [("b", "public"), ("c", "public")]


def test_a_list_of_tenants_and_regions(secured: Secured, region: dict[str, str]) -> None:
    listed = f"{region['private']}, {region['hidden']}"
    assert found(query(secured, secured.keys["reader"], listed), region) == [
        ("a", "private"),
        ("c", "private"),
    ]
    # a tenant the caller may not read and one that does not exist are left out alike
    with_unknown = f"{region['private']},nosuchtenant"
    assert (
        query(secured, secured.keys["reader"], with_unknown).json()
        == query(secured, secured.keys["reader"], listed).json()
    )
    everything = f"{secured.region},{region['private']}"
    assert len(query(secured, secured.keys["reader-all"], everything).json()) == 5


def test_paging_and_counting_across_tenants(secured: Secured, region: dict[str, str]) -> None:
    token = secured.keys["reader-all"]
    first = query(secured, token, secured.region, limit="2", count="true")
    assert found(first, region) == [("a", "private"), ("b", "public")]
    assert 'rel="next"' in first.headers["Link"] and first.headers["NGSILD-Results-Count"] == "5"
    second = query(secured, token, secured.region, limit="2", offset="2")
    assert found(second, region) == [("c", "private"), ("c", "public")]
    assert 'rel="prev"' in second.headers["Link"] and 'rel="next"' in second.headers["Link"]
    last = query(secured, token, secured.region, limit="2", offset="4")
    assert found(last, region) == [("d", "hidden")] and 'rel="next"' not in last.headers["Link"]
    only_count = query(secured, token, secured.region, limit="0", count="true")
    assert only_count.json() == [] and only_count.headers["NGSILD-Results-Count"] == "5"


def test_other_formats_carry_the_tenant_too(secured: Secured, region: dict[str, str]) -> None:
    token = secured.keys["reader"]
    key_values = query(secured, token, secured.region, options="keyValues").json()
    assert key_values[0] == {"id": "urn:ngsi-ld:Gauge:a", "type": "Gauge", "level": 1.5,
                             "location": {"type": "Point", "coordinates": [7.7, 49.4]},
                             "verbund:tenant": region["private"]}  # fmt: skip
    geo = httpx.get(
        secured.broker + "/ngsi-ld/v1/entities",
        params={"type": "Gauge"},
        headers={**bearer(token), "NGSILD-Tenant": secured.region, "Accept": "application/geo+json"},
    ).json()
    assert geo["type"] == "FeatureCollection"
    assert [f["properties"]["verbund:tenant"]["value"] for f in geo["features"]][:2] == [
        region["private"],
        region["public"],
    ]


def test_post_query_names_a_region_too(secured: Secured, region: dict[str, str]) -> None:
    response = httpx.post(
        secured.broker + "/ngsi-ld/v1/entityOperations/query",
        json={"type": "Query", "entities": [{"type": "Gauge"}], "q": "level>1"},
        headers={**bearer(secured.keys["reader"]), "NGSILD-Tenant": secured.region},
    )
    assert found(response, region) == [("a", "private"), ("b", "public"), ("c", "private"), ("c", "public")]


def test_a_region_with_nothing_readable_is_refused(secured: Secured, region: dict[str, str]) -> None:
    assert_problem(query(secured, secured.keys["writer"], f"{region['hidden']},other1"), 403, "AccessDenied")
    assert_problem(query(secured, None, f"{region['private']},{region['hidden']}"), 401, "Unauthorized")
    assert_problem(query(secured, secured.keys["reader"], "a,Not Valid"), 400, "BadRequestData")
