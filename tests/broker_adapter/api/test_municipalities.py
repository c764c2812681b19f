"""The municipality registry over real HTTP: register, read, change, retire; the effect on the tenant."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker_adapter.notifications import open_notify_store
from broker_adapter.storage.transfer import RETENTION, open_transfer
from smart_data_models.policy import Policy
from tests.support.ngsild import assert_problem, context_link
from tests.support.receivers import HttpReceiver, wait_for
from tests.support.server import BrokerProcess, open_broker_store
from tests.support.subscriptions import NOTIFY_ENV
from verbund.feeds import subscription_id, verify_feed_token

SECRET = "feed-secret-for-tests"
API = "/verbund/v1/municipalities"
KL_AREA = {
    "type": "Polygon",
    "coordinates": [[[7.65, 49.38], [7.90, 49.38], [7.90, 49.50], [7.65, 49.50], [7.65, 49.38]]],
}
PLATFORM_CONTEXT_PATH = "/ngsi-ld/contexts/verbund.jsonld"


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.close()


@pytest.fixture(scope="module")
def registry_broker(
    tmp_path_factory: pytest.TempPathFactory, receiver: HttpReceiver
) -> Iterator[BrokerProcess]:
    # No VERBUND_NOTIFY_ALLOWED_HOSTS: the configured feed URL is trusted although it is on loopback.
    env = {k: v for k, v in NOTIFY_ENV.items() if k != "VERBUND_NOTIFY_ALLOWED_HOSTS"}
    env |= {"VERBUND_FEEDS": f"catalog={receiver.url}/catalog/notify", "VERBUND_FEED_SECRET": SECRET}
    process = BrokerProcess(tmp_path_factory.mktemp("registry"), env=env).start()
    yield process
    process.stop()


@pytest.fixture
def admin(registry_broker: BrokerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_broker.url, timeout=30) as c:
        yield c


def new_tenant() -> str:
    return "m" + uuid.uuid4().hex[:10]


def municipality(tenant: str, **members: Any) -> dict[str, Any]:
    record = {
        "tenant": tenant,
        "name": "Stadt Kaiserslautern",
        "kind": "Kreisfreie Stadt",
        "regionalschluessel": "073120000000",
        "area": KL_AREA,
        "contactPoint": {"name": "Open Data", "email": "opendata@kaiserslautern.de"},
        "openData": True,
        "sdmPolicy": "warn",
        "historyRetention": "P5Y",
        "regions": ["suedwest"],
    }
    record.update(members)
    return {k: v for k, v in record.items() if v is not None}


def register(admin: httpx.Client, tenant: str, **members: Any) -> dict[str, Any]:
    response = admin.post(API, json=municipality(tenant, **members))
    assert response.status_code == 201, response.text
    record = response.json()
    record.pop("credentials")
    return record


def gauge(broker: BrokerProcess, suffix: str = "1") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:WaterObserved:lauter-{suffix}",
        "type": "WaterObserved",
        "height": {"type": "Property", "value": 1.42},
    }


def ngsi(broker: BrokerProcess, tenant: str) -> httpx.Client:
    """A client in the tenant that reads with the platform @context (terms like WaterObserved)."""
    headers = {"NGSILD-Tenant": tenant, "Link": context_link(broker.url + PLATFORM_CONTEXT_PATH)}
    return httpx.Client(base_url=broker.url + "/ngsi-ld/v1", headers=headers, timeout=10)


# registering ---------------------------------------------------------------------------------------------


def test_register_returns_the_record_with_derived_members(admin: httpx.Client) -> None:
    tenant = new_tenant()
    response = admin.post(API, json=municipality(tenant))
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{API}/{tenant}"
    record = response.json()
    first = record.pop("credentials")  # the municipality's first admin key, shown once
    assert first["role"] == "municipality-admin" and first["tenants"] == [tenant]
    assert first["key"].startswith("vk_") and "hash" not in first
    assert record["ags"] == "07312000"  # digits 1-5 and 10-12 of the Regionalschlüssel
    assert record["bbox"] == [7.65, 49.38, 7.9, 49.5]  # from the area
    assert record["licence"] == "dl-by-de/2.0"
    assert record["licenceAttribution"] == "Stadt Kaiserslautern"  # dl-by requires naming the source
    assert record["status"] == "active"
    assert record["createdAt"] == record["modifiedAt"]
    assert admin.get(f"{API}/{tenant}").json() == record
    listed = admin.get(API, params={"region": "suedwest", "status": "active"}).json()
    assert record in listed


def test_registration_creates_the_tenant_and_applies_its_settings(
    admin: httpx.Client, registry_broker: BrokerProcess
) -> None:
    tenant = new_tenant()
    with ngsi(registry_broker, tenant) as client:
        assert_problem(client.get("/entities", params={"type": "WaterObserved"}), 404, "NonexistentTenant")
        register(admin, tenant, sdmPolicy={"mode": "enforce", "requireKnownTypes": True})
        assert client.get("/entities", params={"type": "WaterObserved"}).json() == []
        # enforce with known types only: an entity type without a Smart Data Model is refused
        unknown = {"id": "urn:ngsi-ld:Gadget:1", "type": "Gadget"}
        refused = client.post("/entities", json=unknown)
        assert_problem(refused, 400, "BadRequestData")
    policy = admin.get(f"/verbund/v1/tenants/{tenant}/sdm-policy").json()
    assert policy == {"mode": "enforce", "requireKnownTypes": True}
    store = open_broker_store(registry_broker.data_dir)
    try:
        assert open_transfer(store).settings(tenant)[RETENTION] == "P5Y"
    finally:
        store.close()


def test_registration_feeds_the_configured_service_with_a_tenant_token(
    admin: httpx.Client, registry_broker: BrokerProcess, receiver: HttpReceiver
) -> None:
    tenant = new_tenant()
    register(admin, tenant)
    with ngsi(registry_broker, tenant) as client:
        sub = client.get(f"/subscriptions/{subscription_id('catalog')}")
        assert sub.status_code == 200, sub.text
        created = client.post("/entities", json=gauge(registry_broker))
        assert created.status_code == 201, created.text

    def delivered() -> list[Any]:
        return [r for r in receiver.requests("/catalog/notify") if r.headers["x-verbund-tenant"] == tenant]

    got = wait_for(delivered)[0]
    assert verify_feed_token(SECRET, tenant, got.headers["x-verbund-feed-token"])
    assert got.body["data"][0]["id"] == "urn:ngsi-ld:WaterObserved:lauter-1"


def test_registering_a_tenant_twice_is_409(admin: httpx.Client) -> None:
    tenant = new_tenant()
    register(admin, tenant)
    assert_problem(admin.post(API, json=municipality(tenant, name="Other")), 409, "AlreadyExists")
    assert admin.get(f"{API}/{tenant}").json()["name"] == "Stadt Kaiserslautern"


@pytest.mark.parametrize(
    ("members", "detail"),
    [
        ({"tenant": "Kaiserslautern"}, "tenant"),
        ({"tenant": "k"}, "tenant"),
        ({"name": ""}, "name"),
        ({"kind": "Dorf"}, "kind"),
        ({"regionalschluessel": None, "ags": "0731200"}, "ags: expected 8 digits"),
        ({"regionalschluessel": None, "ags": "17312000"}, "Land code"),
        ({"regionalschluessel": "07312000000"}, "regionalschluessel: expected 12 digits"),
        ({"ags": "07335000"}, "does not match regionalschluessel"),
        ({"regionalschluessel": None}, "give ags"),
        ({"area": None}, "give area"),
        ({"area": {"type": "Point", "coordinates": [7.7, 49.4]}}, "area"),
        ({"area": {"type": "Polygon", "coordinates": [[[7, 49], [8, 49]]]}}, "area"),
        ({"area": None, "bbox": [7.6, 49.3, 7.9]}, "bbox"),
        ({"area": None, "bbox": [7.6, 99, 7.9, 100]}, "bbox"),
        ({"licence": "dl-de-by-2.0"}, "dcat-ap.de licence id"),
        ({"historyRetention": "5 years"}, "historyRetention"),
        ({"sdmPolicy": "strict"}, "sdmPolicy"),
        ({"openData": "yes"}, "openData"),
        ({"regions": ["Süd West"]}, "regions[0]"),
        ({"contactPoint": {"email": "nobody"}}, "contactPoint.email"),
        ({"contactPoint": {"fax": "123"}}, "contactPoint"),
        ({"status": "retired"}, "status is set by the registry"),
        ({"colour": "red"}, "unknown member"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_registered(
    admin: httpx.Client, members: dict[str, Any], detail: str
) -> None:
    body = {**municipality(new_tenant()), **members}
    body = {k: v for k, v in body.items() if v is not None}
    problem = assert_problem(admin.post(API, json=body), 400, "BadRequestData")
    assert detail in problem["detail"]
    assert admin.get(f"{API}/{body['tenant']}").status_code == 404


def test_a_body_that_is_not_json_is_refused(admin: httpx.Client) -> None:
    response = admin.post(API, content=b"{tenant", headers={"Content-Type": "application/json"})
    assert_problem(response, 400, ("InvalidRequest", "BadRequestData"))


def test_regions_and_tenants_do_not_share_names(admin: httpx.Client) -> None:
    region = "r" + uuid.uuid4().hex[:8]
    register(admin, new_tenant(), regions=[region])
    problem = assert_problem(admin.post(API, json=municipality(region)), 400, "BadRequestData")
    assert "region" in problem["detail"]
    tenant = new_tenant()
    register(admin, tenant)
    clash = admin.post(API, json=municipality(new_tenant(), regions=[tenant]))
    assert_problem(clash, 400, "BadRequestData")


# changing ------------------------------------------------------------------------------------------------


def test_patch_merges_and_null_removes_a_member(admin: httpx.Client) -> None:
    tenant = new_tenant()
    before = register(admin, tenant)
    response = admin.patch(
        f"{API}/{tenant}",
        json={"name": "Universitätsstadt Kaiserslautern", "contactPoint": None, "openData": False},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["name"] == "Universitätsstadt Kaiserslautern"
    assert "contactPoint" not in after and after["openData"] is False
    assert after["createdAt"] == before["createdAt"] and after["modifiedAt"] >= before["modifiedAt"]
    assert admin.get(f"{API}/{tenant}").json() == after


def test_patch_applies_a_changed_policy_to_the_tenant(admin: httpx.Client) -> None:
    tenant = new_tenant()
    register(admin, tenant)
    assert admin.patch(f"{API}/{tenant}", json={"sdmPolicy": "off"}).status_code == 200
    assert admin.get(f"/verbund/v1/tenants/{tenant}/sdm-policy").json()["mode"] == "off"


@pytest.mark.parametrize(
    ("patch", "detail"),
    [
        ({"tenant": "other"}, "tenant cannot be changed"),
        ({"status": "retired"}, "status cannot be changed"),
        ({"ags": "07335000"}, "does not match"),
        ({"kind": None}, "kind"),
    ],
)
def test_bad_patches_change_nothing(admin: httpx.Client, patch: dict[str, Any], detail: str) -> None:
    tenant = new_tenant()
    before = register(admin, tenant)
    problem = assert_problem(admin.patch(f"{API}/{tenant}", json=patch), 400, "BadRequestData")
    assert detail in problem["detail"]
    assert admin.get(f"{API}/{tenant}").json() == before


def test_unknown_municipalities_are_404(admin: httpx.Client) -> None:
    assert_problem(admin.get(f"{API}/nowhere0"), 404, "ResourceNotFound")
    assert_problem(admin.patch(f"{API}/nowhere0", json={"name": "X"}), 404, "ResourceNotFound")
    assert_problem(admin.post(f"{API}/nowhere0/retire"), 404, "ResourceNotFound")
    assert_problem(admin.get(f"{API}/NOT..VALID"), 404, "ResourceNotFound")


# retiring ------------------------------------------------------------------------------------------------


def _with_data(admin: httpx.Client, broker: BrokerProcess) -> str:
    tenant = new_tenant()
    register(admin, tenant)
    with ngsi(broker, tenant) as client:
        for n in ("1", "2"):
            created = client.post("/entities", json=gauge(broker, n))
            assert created.status_code == 201, created.text
    return tenant


def test_retire_keeping_data_stops_the_feed_and_keeps_the_entities(
    admin: httpx.Client, registry_broker: BrokerProcess
) -> None:
    tenant = _with_data(admin, registry_broker)
    response = admin.post(f"{API}/{tenant}/retire", json={"data": "keep"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["data"] == "keep"
    assert result["municipality"]["status"] == "retired" and result["municipality"]["retiredAt"]
    with ngsi(registry_broker, tenant) as client:
        assert client.get(f"/subscriptions/{subscription_id('catalog')}").status_code == 404
        assert len(client.get("/entities", params={"type": "WaterObserved", "limit": 10}).json()) == 2
    assert admin.get(f"{API}/{tenant}").json()["status"] == "retired"
    assert_problem(admin.post(f"{API}/{tenant}/retire"), 409, "AlreadyExists")
    assert_problem(admin.patch(f"{API}/{tenant}", json={"name": "X"}), 403, "AccessDenied")
    with ngsi(registry_broker, tenant) as client:  # a retired municipality's data is read-only
        assert_problem(client.post("/entities", json=gauge(registry_broker, "3")), 403, "AccessDenied")
        assert_problem(client.delete("/entities/urn:ngsi-ld:WaterObserved:lauter-1"), 403, "AccessDenied")
        assert client.get("/entities/urn:ngsi-ld:WaterObserved:lauter-1").status_code == 200
    assert tenant not in [r["tenant"] for r in admin.get(API, params={"status": "active"}).json()]


def test_retire_with_export_writes_the_entities_then_deletes_them(
    admin: httpx.Client, registry_broker: BrokerProcess
) -> None:
    tenant = _with_data(admin, registry_broker)
    result = admin.post(f"{API}/{tenant}/retire", json={"data": "export"}).json()
    assert result["export"]["entities"] == 2 and result["deletedEntities"] == 2
    path = Path(result["export"]["path"])
    assert path.parent == registry_broker.data_dir / "exports" and path.stat().st_mode & 0o077 == 0
    download = admin.get(f"{API}/{tenant}/export")
    assert download.status_code == 200
    exported = download.json()
    assert [e["id"] for e in exported] == [
        "urn:ngsi-ld:WaterObserved:lauter-1",
        "urn:ngsi-ld:WaterObserved:lauter-2",
    ]
    assert exported[0]["type"] == "WaterObserved" and exported[0]["height"]["value"] == 1.42
    assert exported[0]["@context"] == registry_broker.url + PLATFORM_CONTEXT_PATH
    with ngsi(registry_broker, tenant) as client:
        assert_problem(client.get("/entities", params={"type": "WaterObserved"}), 404, "NonexistentTenant")
    # the export is re-importable as it is
    fresh = new_tenant()
    upsert = httpx.post(
        registry_broker.url + "/ngsi-ld/v1/entityOperations/upsert",
        json=exported,
        headers={"Content-Type": "application/ld+json", "NGSILD-Tenant": fresh},
    )
    assert upsert.status_code in (201, 204), upsert.text
    with ngsi(registry_broker, fresh) as client:
        assert len(client.get("/entities", params={"type": "WaterObserved"}).json()) == 2


def test_retire_deleting_data_removes_entities_history_and_subscriptions(
    admin: httpx.Client, registry_broker: BrokerProcess, receiver: HttpReceiver
) -> None:
    tenant = _with_data(admin, registry_broker)
    with ngsi(registry_broker, tenant) as client:
        own = {
            "type": "Subscription",
            "entities": [{"type": "Room"}],
            "notification": {"endpoint": {"uri": f"{receiver.url}/catalog/notify"}},
        }
        assert client.post("/subscriptions", json=own).status_code == 201
    result = admin.post(f"{API}/{tenant}/retire", json={"data": "delete"}).json()
    assert result["deletedEntities"] == 2 and "export" not in result
    with ngsi(registry_broker, tenant) as client:
        assert_problem(client.get("/entities", params={"type": "WaterObserved"}), 404, "NonexistentTenant")
        temporal = client.get("/temporal/entities/urn:ngsi-ld:WaterObserved:lauter-1")
        assert temporal.status_code == 404
    store = open_broker_store(registry_broker.data_dir)
    try:
        assert open_notify_store(store).list_subscriptions(tenant, 10, 0) == ([], 0)
    finally:
        store.close()
    assert admin.get(f"{API}/{tenant}").json()["status"] == "retired"


@pytest.mark.parametrize("options", [{"data": "archive"}, {"data": "keep", "force": True}, ["keep"]])
def test_bad_retire_options_are_refused(admin: httpx.Client, options: Any) -> None:
    tenant = new_tenant()
    register(admin, tenant)
    assert_problem(admin.post(f"{API}/{tenant}/retire", json=options), 400, "BadRequestData")
    assert admin.get(f"{API}/{tenant}").json()["status"] == "active"


# documentation and command line --------------------------------------------------------------------------


def test_the_admin_api_is_in_the_openapi_document(admin: httpx.Client) -> None:
    paths = admin.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths[API])
    assert {"get", "patch"} <= set(paths[API + "/{tenant}"])
    schema = paths[API]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"tenant", "ags", "regionalschluessel", "area", "bbox", "licence"} <= set(schema["properties"])
    assert "post" in paths[API + "/{tenant}/retire"]


def cli(broker: BrokerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verbund", "municipality", *args, "--broker-url", broker.url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_registers_lists_shows_updates_and_retires(
    registry_broker: BrokerProcess, tmp_path: Path
) -> None:
    tenant = new_tenant()
    area = tmp_path / "area.json"
    area.write_text(json.dumps({"area": KL_AREA}))
    added = cli(registry_broker, "add", tenant, "--name", "Kusel", "--kind", "Stadt", "--ags", "07336050",
                "--file", str(area), "--region", "westpfalz", "--contact-email", "info@kusel.de")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["tenant"] == tenant
    listed = cli(registry_broker, "list", "--region", "westpfalz")
    assert listed.returncode == 0 and tenant in listed.stdout and "Kusel" in listed.stdout
    updated = cli(registry_broker, "update", tenant, "--open-data", "--unset", "contactPoint")
    assert updated.returncode == 0, updated.stderr
    shown = json.loads(cli(registry_broker, "show", tenant).stdout)
    assert shown["openData"] is True and "contactPoint" not in shown
    bad = cli(registry_broker, "add", new_tenant(), "--name", "X", "--kind", "Stadt", "--ags", "123")
    assert bad.returncode == 1 and "ags: expected 8 digits" in bad.stderr
    retired = cli(registry_broker, "retire", tenant, "--data", "delete")
    assert retired.returncode == 0, retired.stderr
    assert json.loads(cli(registry_broker, "show", tenant).stdout)["status"] == "retired"


def test_the_tenant_policy_endpoint_keeps_the_municipality_record_in_step(admin: httpx.Client) -> None:
    tenant = new_tenant()
    register(admin, tenant)
    policy_url = f"/verbund/v1/tenants/{tenant}/sdm-policy"
    assert admin.put(policy_url, json="enforce").status_code == 204
    assert admin.get(policy_url).json()["mode"] == "enforce"
    assert Policy.from_json(admin.get(f"{API}/{tenant}").json()["sdmPolicy"]).mode == "enforce"
    assert admin.delete(policy_url).status_code == 204
    assert "sdmPolicy" not in admin.get(f"{API}/{tenant}").json()
    assert admin.get(policy_url).json()["mode"] == "off"  # the platform default of this broker
