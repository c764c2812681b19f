"""Roles × tenants × operations with authentication on: the status every caller gets, on a real platform.

The private municipality is where the tenant-bound credentials belong; the public one is open data.
Operations, in the order of the expected strings below:

    read       GET  /ngsi-ld/v1/entities/{id}         (the retrieve fast path)
    query      GET  /ngsi-ld/v1/entities?type=Room
    write      POST /ngsi-ld/v1/entities/{id}/attrs
    subscribe  POST /ngsi-ld/v1/subscriptions
    provision  POST /iot/devices                      (IoT agent provisioning API)
    ingest     POST /iot/json?k=&i=                   (IoT agent southbound)
    admin      PATCH /verbund/v1/municipalities/{tenant}
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.broker_adapter.access.conftest import Secured
from tests.support.access import bearer
from tests.support.ngsild import assert_problem

ROOM = "urn:ngsi-ld:Room:matrix"
OPERATIONS = ("read", "query", "write", "subscribe", "provision", "ingest", "admin")
EXPECTED: dict[str, dict[str, str]] = {
    #                        read query write sub  prov ingest admin
    "platform-admin":     {"private": "200 200 204 201 201 200 200", "public": "200 200 204 201 201 200 200"},
    "municipality-admin": {"private": "200 200 204 201 201 200 200", "public": "200 200 403 403 403 404 403"},
    "writer":             {"private": "200 200 204 201 403 200 403", "public": "200 200 403 403 403 404 403"},
    "jwt-writer":         {"private": "200 200 204 201 403 200 403", "public": "200 200 403 403 403 404 403"},
    "reader":             {"private": "200 200 403 201 403 403 403", "public": "200 200 403 403 403 404 403"},
    "device":             {"private": "403 403 403 403 403 200 403", "public": "200 200 403 403 403 404 403"},
    "reader-all":         {"private": "200 200 403 201 403 403 403", "public": "200 200 403 201 403 403 403"},
    "anonymous":          {"private": "401 401 401 401 401 401 401", "public": "200 200 401 401 401 401 401"},
}  # fmt: skip


@pytest.fixture(scope="module")
def seeded(secured: Secured) -> Secured:
    """A Room in both tenants and a config group (API key k-<tenant>) in both services."""
    for tenant in (secured.private, secured.public):
        with secured.client(secured.admin_key, tenant) as admin:
            room = {"id": ROOM, "type": "Room", "temperature": {"type": "Property", "value": 20}}
            assert admin.post("/ngsi-ld/v1/entities", json=room).status_code == 201
        group = {"apikey": f"k-{tenant}", "resource": "/iot/json", "entity_type": "Room"}
        created = httpx.post(
            secured.platform.north + "/iot/groups",
            json={"groups": [group]},
            headers={"fiware-service": tenant, "fiware-servicepath": "/", **bearer(secured.admin_key)},
        )
        assert created.status_code == 201, created.text
    return secured


def operation(name: str, s: Secured, token: str | None, tenant: str) -> httpx.Response:
    ngsi = {**bearer(token), "NGSILD-Tenant": tenant}
    api = s.broker + "/ngsi-ld/v1"
    fiware = {**bearer(token), "fiware-service": tenant, "fiware-servicepath": "/"}
    unique = uuid.uuid4().hex[:8]
    calls: dict[str, Callable[[], httpx.Response]] = {
        "read": lambda: httpx.get(f"{api}/entities/{ROOM}", headers=ngsi),
        "query": lambda: httpx.get(f"{api}/entities", params={"type": "Room"}, headers=ngsi),
        "write": lambda: httpx.post(
            f"{api}/entities/{ROOM}/attrs",
            json={"temperature": {"type": "Property", "value": 21}},
            headers=ngsi,
        ),
        "subscribe": lambda: httpx.post(
            f"{api}/subscriptions",
            json={
                "type": "Subscription",
                "entities": [{"type": "Room"}],
                "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
            },
            headers=ngsi,
        ),
        "provision": lambda: httpx.post(
            s.platform.north + "/iot/devices",
            json={"devices": [{"device_id": f"d-{unique}", "entity_type": "Room"}]},
            headers=fiware,
        ),
        "ingest": lambda: httpx.post(
            s.platform.south + "/iot/json",
            params={"k": f"k-{tenant}", "i": f"s-{unique}"},
            json={"t": 21},
            headers=bearer(token),
        ),
        "admin": lambda: httpx.patch(
            f"{s.broker}/verbund/v1/municipalities/{tenant}",
            json={"contactPoint": {"email": "opendata@example.org"}},
            headers=bearer(token),
        ),
    }
    return calls[name]()


@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize("where", ["private", "public"])
def test_each_role_gets_the_expected_status_for_each_operation(seeded: Secured, who: str, where: str) -> None:
    token = None if who == "anonymous" else seeded.keys[who]
    tenant = seeded.private if where == "private" else seeded.public
    got = [operation(name, seeded, token, tenant).status_code for name in OPERATIONS]
    expected = [int(code) for code in EXPECTED[who][where].split()]
    assert dict(zip(OPERATIONS, got, strict=True)) == dict(zip(OPERATIONS, expected, strict=True))


def test_refusals_are_problem_details_with_a_bearer_challenge(seeded: Secured) -> None:
    api = seeded.broker + "/ngsi-ld/v1"
    anonymous = httpx.get(f"{api}/entities/{ROOM}", headers={"NGSILD-Tenant": seeded.private})
    assert_problem(anonymous, 401, "Unauthorized")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    headers = {**bearer(seeded.keys["reader"]), "NGSILD-Tenant": seeded.private}
    denied = httpx.post(
        f"{api}/entities/{ROOM}/attrs", json={"x": {"type": "Property", "value": 1}}, headers=headers
    )
    assert_problem(denied, 403, "AccessDenied")
    # the IoT agents answer in their own format
    fiware = {"fiware-service": seeded.private, "fiware-servicepath": "/"}
    north = httpx.get(seeded.platform.north + "/iot/devices", headers=fiware)
    assert north.status_code == 401 and north.json()["name"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "token",
    ["not-a-key", "vk_0123456789abcdef_" + "A" * 43, "Basic dXNlcjpwYXNz", "eyJhbGciOiJub25lIn0.e30."],
)
def test_a_bad_credential_is_401_and_never_anonymous_open_data(seeded: Secured, token: str) -> None:
    header = token if token.startswith("Basic") else f"Bearer {token}"
    response = httpx.get(
        f"{seeded.broker}/ngsi-ld/v1/entities/{ROOM}",
        headers={"Authorization": header, "NGSILD-Tenant": seeded.public},
    )
    assert_problem(response, 401, "Unauthorized")


def test_a_refusal_does_not_tell_whether_the_tenant_or_entity_exists(seeded: Secured) -> None:
    """The same 403 for an existing entity, a missing one, and a tenant that does not exist."""
    headers = bearer(seeded.keys["writer"])
    api = seeded.broker + "/ngsi-ld/v1"
    tenant_of_other = "other" + uuid.uuid4().hex[:6]
    with seeded.client(seeded.admin_key, tenant_of_other) as admin:
        assert admin.post("/ngsi-ld/v1/entities", json={"id": ROOM, "type": "Room"}).status_code == 201
    answers = []
    for tenant, entity in ((tenant_of_other, ROOM), (tenant_of_other, ROOM + "x"), ("nosuchtenant", ROOM)):
        response = httpx.get(f"{api}/entities/{entity}", headers={**headers, "NGSILD-Tenant": tenant})
        problem = assert_problem(response, 403, "AccessDenied")
        answers.append(problem["detail"].replace(tenant, "<tenant>"))
    assert len(set(answers)) == 1


def test_the_default_tenant_needs_a_grant_on_every_tenant(seeded: Secured) -> None:
    api = seeded.broker + "/ngsi-ld/v1"
    own = httpx.get(f"{api}/entities", params={"type": "Room"}, headers=bearer(seeded.keys["writer"]))
    assert_problem(own, 403, "AccessDenied")
    assert (
        httpx.get(
            f"{api}/entities", params={"type": "Room"}, headers=bearer(seeded.keys["reader-all"])
        ).status_code
        == 200
    )


def test_municipality_admins_manage_only_their_own_credentials(seeded: Secured) -> None:
    muni = seeded.keys["municipality-admin"]
    with seeded.client(muni) as c:
        for body in (
            {"role": "platform-admin", "tenants": [seeded.private]},
            {"role": "reader", "tenants": ["*"]},
            {"role": "writer", "tenants": [seeded.public]},
        ):
            assert_problem(c.post("/verbund/v1/credentials", json=body), 403, "AccessDenied")
        listed = c.get("/verbund/v1/credentials").json()
        assert listed and all(k["tenants"] == [seeded.private] for k in listed)
        assert all("hash" not in k and "key" not in k for k in listed)
        with seeded.client(seeded.admin_key) as admin:
            everyone = admin.get("/verbund/v1/credentials").json()
        hidden = next(k for k in everyone if k["tenants"] == ["*"])
        assert_problem(c.get(f"/verbund/v1/credentials/{hidden['id']}"), 404, "ResourceNotFound")
        assert_problem(c.delete(f"/verbund/v1/credentials/{hidden['id']}"), 404, "ResourceNotFound")
    with seeded.client(seeded.keys["writer"]) as c:
        assert c.get("/verbund/v1/credentials").json() == []
        assert_problem(
            c.post("/verbund/v1/credentials", json={"role": "reader", "tenants": [seeded.private]}),
            403,
            "AccessDenied",
        )


def test_municipality_records_are_shown_to_readers_and_open_data_to_everyone(seeded: Secured) -> None:
    api = "/verbund/v1/municipalities"
    with seeded.client(None) as anonymous:
        assert [r["tenant"] for r in anonymous.get(api).json()] == [seeded.public]
        assert anonymous.get(f"{api}/{seeded.public}").status_code == 200
        assert_problem(anonymous.get(f"{api}/{seeded.private}"), 401, "Unauthorized")
        assert_problem(anonymous.post(api, json={"tenant": "x"}), 401, "Unauthorized")
    with seeded.client(seeded.keys["reader"]) as reader:
        assert {r["tenant"] for r in reader.get(api).json()} == {seeded.private, seeded.public}
        assert_problem(reader.post(api, json={"tenant": "x"}), 403, "AccessDenied")
    with seeded.client(seeded.keys["municipality-admin"]) as muni:
        assert_problem(muni.patch(f"{api}/{seeded.private}", json={"regions": []}), 403, "AccessDenied")
        assert_problem(muni.post(f"{api}/{seeded.private}/retire"), 403, "AccessDenied")
