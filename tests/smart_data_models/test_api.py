"""The three policies over single and batch writes, against the real broker over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.smart_data_models.examples import VALID, normalized, variant
from tests.support.server import BrokerProcess

LINK = '<{}/ngsi-ld/contexts/verbund.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
GOOD = normalized(VALID["WaterObserved"])
BAD = normalized(variant("WaterObserved", {"id": "urn:ngsi-ld:WaterObserved:KL-bad", "height": -0.5}))
TRAFFIC = normalized(VALID["TrafficFlowObserved"])
UNKNOWN = {"id": "urn:ngsi-ld:Bench:1", "type": "Bench", "seats": {"type": "Property", "value": 3}}


def set_policy(broker: BrokerProcess, tenant: str, policy: Any) -> None:
    response = httpx.put(f"{broker.url}/verbund/v1/tenants/{tenant}/sdm-policy", json=policy)
    assert response.status_code == 204, response.text


def warnings(response: httpx.Response) -> list[str]:
    return response.headers.get_list("ngsild-warning")


def test_off_writes_an_invalid_entity_without_warning(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "off")

    response = client.post("/entities", json=BAD)

    assert response.status_code == 201
    assert warnings(response) == []


def test_warn_writes_and_names_the_violation_in_a_warning_header(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "warn")

    response = client.post("/entities", json=BAD)

    assert response.status_code == 201
    (line,) = warnings(response)
    assert line.startswith('199 verbund-sdm "urn:ngsi-ld:WaterObserved:KL-bad: WaterObserved: height:')
    assert "(minimum)" in line
    assert client.get(f"/entities/{BAD['id']}").status_code == 200
    metrics = httpx.get(broker.url + "/metrics").text
    assert 'verbund_sdm_checks_total{model="WaterObserved",policy="warn",outcome="invalid"}' in metrics


def test_enforce_rejects_an_invalid_entity_and_writes_nothing(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "enforce")

    response = client.post("/entities", json=BAD)

    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert {"model": "WaterObserved", "attribute": "height", "rule": "minimum"}.items() <= problem[
        "violations"
    ][0].items()
    assert client.get(f"/entities/{BAD['id']}").status_code == 404


def test_enforce_accepts_valid_water_level_and_traffic_entities(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "enforce")

    for entity in (GOOD, TRAFFIC):
        response = client.post("/entities", json=entity)
        assert response.status_code == 201, response.text
        assert warnings(response) == []


def test_enforce_checks_the_merged_entity_of_a_partial_update(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "enforce")
    assert client.post("/entities", json=GOOD).status_code == 201

    response = client.patch(
        f"/entities/{GOOD['id']}/attrs", json={"height": {"type": "Property", "value": -1}}
    )
    assert response.status_code == 400
    assert client.get(f"/entities/{GOOD['id']}").json()["height"]["value"] == 1.42
    assert (
        client.patch(
            f"/entities/{GOOD['id']}/attrs", json={"height": {"type": "Property", "value": 2.1}}
        ).status_code
        == 204
    )


@pytest.mark.parametrize("options", ["", "?options=update"])
def test_enforce_reports_a_batch_per_entity_and_writes_the_valid_ones(
    broker: BrokerProcess, client: httpx.Client, tenant: str, options: str
) -> None:
    set_policy(broker, tenant, "enforce")

    response = client.post(f"/entityOperations/upsert{options}", json=[GOOD, BAD, TRAFFIC])

    assert response.status_code == 207
    body = response.json()
    assert sorted(body["success"]) == sorted([GOOD["id"], TRAFFIC["id"]])
    (error,) = body["errors"]
    assert error["entityId"] == BAD["id"] and error["error"]["violations"][0]["attribute"] == "height"
    assert client.get(f"/entities/{BAD['id']}").status_code == 404


def test_warn_on_a_batch_writes_everything_and_warns_per_entity(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "warn")
    second = {**BAD, "id": "urn:ngsi-ld:WaterObserved:KL-bad-2"}

    response = client.post("/entityOperations/create", json=[GOOD, BAD, second, UNKNOWN])

    assert response.status_code == 201
    lines = warnings(response)
    assert len(lines) == 3
    assert any("Bench has no Smart Data Model" in line for line in lines)


def test_unknown_types_pass_enforce_unless_the_tenant_requires_known_types(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "enforce")
    assert client.post("/entities", json=UNKNOWN).status_code == 201

    set_policy(broker, tenant, {"mode": "enforce", "requireKnownTypes": True})
    response = client.post("/entities", json={**UNKNOWN, "id": "urn:ngsi-ld:Bench:2"})

    assert response.status_code == 400
    assert "no Smart Data Model is known for type Bench" in response.json()["detail"]


def test_the_platform_context_maps_terms_to_smart_data_models_iris(
    broker: BrokerProcess, tenant: str
) -> None:
    response = httpx.get(broker.url + "/ngsi-ld/contexts/verbund.jsonld")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    terms, core = response.json()["@context"]
    assert terms["WaterObserved"] == "https://smartdatamodels.org/dataModel.Environment/WaterObserved"
    assert core.startswith("https://uri.etsi.org/ngsi-ld/")


def test_a_link_to_the_platform_context_expands_to_sdm_iris_without_a_fetch(
    broker: BrokerProcess, client: httpx.Client, tenant: str
) -> None:
    set_policy(broker, tenant, "enforce")
    link = {"Link": LINK.format(broker.url)}
    kv = {
        "id": "urn:ngsi-ld:WaterObserved:kv-1",
        "type": "WaterObserved",
        "height": 1.1,
        "dateObserved": {"@type": "DateTime", "@value": "2026-11-25T18:45:00Z"},
        "location": VALID["WaterObserved"]["location"],
    }

    assert client.post("/entities", json=kv, headers=link).status_code == 201
    expanded = client.get(f"/entities/{kv['id']}").json()  # core context only: full IRIs come back

    assert "https://smartdatamodels.org/dataModel.Environment/height" in expanded
    assert expanded["type"] == "https://smartdatamodels.org/dataModel.Environment/WaterObserved"


@pytest.mark.parametrize("body", ["strict", {"mode": "warn", "requireKnownTypes": "yes"}, 3])
def test_a_bad_policy_is_refused(broker: BrokerProcess, tenant: str, body: Any) -> None:
    response = httpx.put(f"{broker.url}/verbund/v1/tenants/{tenant}/sdm-policy", json=body)

    assert response.status_code == 400
    assert response.json()["type"].endswith("BadRequestData")


def test_the_policy_can_be_read_back_and_reset_to_the_default(broker: BrokerProcess, tenant: str) -> None:
    url = f"{broker.url}/verbund/v1/tenants/{tenant}/sdm-policy"
    set_policy(broker, tenant, {"mode": "enforce", "requireKnownTypes": True})

    assert httpx.get(url).json() == {"mode": "enforce", "requireKnownTypes": True}
    assert httpx.delete(url).status_code == 204
    assert httpx.get(url).json() == {"mode": "off", "requireKnownTypes": False}
