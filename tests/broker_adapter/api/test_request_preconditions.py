"""What the HTTP binding asks of every request (ETSI GS CIM 009 v1.8 clauses 6.3.2, 6.3.4, 6.3.20, 6.4): a
trailing slash names the same resource, a parameter the API does not define is refused, and a body without
Content-Length gets a bare 411; refused requests change nothing."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.support.ngsild import assert_problem, create, retrieve
from tests.support.server import BrokerProcess

ID = "urn:ngsi-ld:Sensor:slash"
SENSOR = {"id": ID, "type": "Sensor", "level": {"type": "Property", "value": 1}}


def test_every_operation_accepts_its_resource_path_with_a_trailing_slash(client: httpx.Client) -> None:
    created = client.post("/entities/", json=SENSOR)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/ngsi-ld/v1/entities/{ID}"

    queried = client.get("/entities/", params={"type": "Sensor"})
    assert queried.status_code == 200, queried.text
    assert [e["id"] for e in queried.json()] == [ID]

    appended = client.post(f"/entities/{ID}/attrs/", json={"mode": {"type": "Property", "value": "auto"}})
    assert appended.status_code == 204, appended.text
    updated = client.patch(f"/entities/{ID}/attrs/", json={"level": {"type": "Property", "value": 2}})
    assert updated.status_code == 204, updated.text
    assert client.get(f"/entities/{ID}/").json()["level"]["value"] == 2

    batch = client.post("/entityOperations/upsert/", json=[{**SENSOR, "id": ID + "-2"}])
    assert batch.status_code == 201, batch.text
    assert client.get("/types/").status_code == 200

    purged = client.delete("/entities/", params={"type": "Sensor"})
    assert purged.status_code == 204, purged.text
    assert client.get("/entities", params={"type": "Sensor"}).json() == []


def test_an_id_ending_in_an_encoded_slash_keeps_it(client: httpx.Client) -> None:
    entity_id = "https://example.org/sensors/1/"
    create(client, {"id": entity_id, "type": "Sensor"})

    encoded = client.get("/entities/" + quote(entity_id, safe=""))
    assert encoded.status_code == 200, encoded.text
    assert encoded.json()["id"] == entity_id
    assert_problem(client.get("/entities/" + quote(entity_id[:-1], safe="")), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/entities?type=Sensor&invalidParams=invalidValue", None),
        ("POST", "/entities?invalidParams=invalidValue", SENSOR),
        ("GET", "/types?invalidParams=invalidValue", None),
        ("GET", "/subscriptions?invalidParams=invalidValue", None),
        ("GET", "/temporal/entities?type=Sensor&invalidParams=invalidValue", None),
        ("DELETE", "/entities?type=Sensor&tpye=Sensor", None),
        ("POST", "/entityOperations/upsert?optoins=update", [SENSOR]),
    ],
)
def test_a_parameter_the_api_does_not_define_is_400_invalid_request_and_changes_nothing(
    client: httpx.Client, method: str, path: str, body: object
) -> None:
    create(client, {"id": "urn:ngsi-ld:Sensor:kept", "type": "Sensor"})

    response = client.request(method, path, json=body)

    problem = assert_problem(response, 400, "InvalidRequest")
    assert "URI parameter" in problem["detail"]
    assert [e["id"] for e in client.get("/entities", params={"type": "Sensor"}).json()] == [
        "urn:ngsi-ld:Sensor:kept"
    ]


def test_parameters_the_spec_defines_are_accepted_where_they_change_nothing(
    client: httpx.Client,
) -> None:
    create(client, SENSOR)

    response = client.get(f"/entities/{ID}", params={"local": "true", "options": "sysAttrs"})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/entities"),
        ("PATCH", f"/entities/{ID}/attrs"),
        ("PUT", f"/entities/{ID}"),
        ("POST", "/entityOperations/upsert"),
    ],
)
def test_a_body_without_content_length_is_a_bare_411_and_changes_nothing(
    client: httpx.Client, method: str, path: str
) -> None:
    create(client, SENSOR)
    body = b'{"id": "urn:ngsi-ld:Sensor:other", "type": "Sensor", "level": {"type": "Property", "value": 9}}'
    if "entityOperations" in path:
        body = b"[" + body + b"]"

    response = client.request(
        method, path, content=iter([body]), headers={"Content-Type": "application/json"}
    )

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 411
    assert response.content == b""
    assert [e["id"] for e in client.get("/entities", params={"type": "Sensor"}).json()] == [ID]
    assert retrieve(client, ID)["level"]["value"] == 1


def test_the_length_precondition_comes_before_the_tenant_is_looked_up(broker: BrokerProcess) -> None:
    with httpx.Client(base_url=broker.url + "/ngsi-ld/v1", timeout=10) as c:
        response = c.post(
            "/entities",
            content=iter([b"{}"]),
            headers={"Content-Type": "application/json", "NGSILD-Tenant": "nosuchtenant411"},
        )
        assert (response.status_code, response.content) == (411, b"")
        assert c.get("/entities", params={"type": "Sensor"}).status_code == 200  # GET needs no length
