"""/ngsi-ld/v1/temporal/...: history recorded by every entity operation, temporal provision and
consumption (normalized, temporalValues, aggregatedValues), pagination and bad input.

ETSI GS CIM 009 v1.8 clauses 4.5.7, 4.5.9 and 4.5.19 (temporal representations), 5.6.11-5.6.18 and
5.7.3-5.7.4 (operations), 6.3.10 (temporal pagination), 6.18-6.22 and 6.24 (HTTP binding).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.ngsild import assert_problem
from tests.support.server import BrokerProcess

ID = "urn:ngsi-ld:Sensor:t1"
DS = "urn:ngsi-ld:Dataset:backup"
NULL = "urn:ngsi-ld:null"


def reading(value: Any, observed: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": observed, **extra}


def temporal(client: httpx.Client, entity_id: str = ID, **params: Any) -> httpx.Response:
    return client.get(f"/temporal/entities/{entity_id}", params=params)


def pairs(body: dict[str, Any], attr: str = "height") -> list[list[Any]]:
    return body[attr]["values"]


@pytest.fixture
def gauge(client: httpx.Client) -> None:
    """A temporal entity: height 1..4 every 6 hours on 1 January 2024, and one datasetId instance."""
    body = {
        "id": ID,
        "type": "Sensor",
        "height": [
            reading(1, "2024-01-01T00:00:00Z"),
            reading(2, "2024-01-01T06:00:00Z"),
            reading(3, "2024-01-01T12:00:00Z"),
            reading(4, "2024-01-01T18:00:00Z"),
            reading(10, "2024-01-01T12:00:00Z", datasetId=DS),
        ],
    }
    response = client.post("/temporal/entities", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/ngsi-ld/v1/temporal/entities/{ID}"


# recording through the entity API -------------------------------------------------------------------
def test_entity_operations_build_the_history_with_deletions(client: httpx.Client) -> None:
    eid = "urn:ngsi-ld:Sensor:rec"
    created = client.post(
        "/entities", json={"id": eid, "type": "Sensor", "height": reading(1, "2024-01-01T00:00:00Z")}
    )
    assert created.status_code == 201
    steps = [
        client.patch(f"/entities/{eid}/attrs", json={"height": reading(2, "2024-01-01T01:00:00Z")}),
        client.post(
            f"/entities/{eid}/attrs", json={"height": reading(5, "2024-01-01T01:00:00Z", datasetId=DS)}
        ),
        client.post(
            "/entityOperations/upsert",
            params={"options": "update"},
            json=[{"id": eid, "type": "Sensor", "height": reading(3, "2024-01-01T02:00:00Z")}],
        ),
        # the same reading again: nothing new
        client.post(
            "/entityOperations/upsert",
            params={"options": "update"},
            json=[{"id": eid, "type": "Sensor", "height": reading(3, "2024-01-01T02:00:00Z")}],
        ),
        client.delete(f"/entities/{eid}/attrs/height", params={"datasetId": DS}),
        client.delete(f"/entities/{eid}"),
    ]
    assert [r.status_code for r in steps] == [204, 204, 204, 204, 204, 204]

    body = temporal(client, eid).json()

    default = [i for i in body["height"] if "datasetId" not in i]
    backup = [i for i in body["height"] if i.get("datasetId") == DS]
    assert [(i["value"], i.get("observedAt")) for i in default] == [
        (1, "2024-01-01T00:00:00Z"),
        (2, "2024-01-01T01:00:00Z"),
        (3, "2024-01-01T02:00:00Z"),
        (NULL, None),
    ]
    assert [(i["value"], i.get("observedAt")) for i in backup] == [
        (5, "2024-01-01T01:00:00Z"),
        (NULL, None),
    ]
    assert "deletedAt" in default[-1] and "deletedAt" in backup[-1]
    assert all(i["instanceId"].startswith("urn:ngsi-ld:attribute:instance:") for i in body["height"])
    deleted = temporal(client, eid, timeproperty="deletedAt", options="temporalValues").json()
    assert [p[0] for item in deleted["height"] for p in item["values"]] == [NULL, NULL]


# consumption ----------------------------------------------------------------------------------------
def test_normalized_temporal_representation(client: httpx.Client, gauge: None) -> None:
    response = temporal(client, attrs="height", timerel="before", timeAt="2024-01-01T12:00:00Z")

    assert response.status_code == 200
    body = response.json()
    assert [{k: v for k, v in i.items() if k != "instanceId"} for i in body["height"]] == [
        {"type": "Property", "value": 1, "observedAt": "2024-01-01T00:00:00Z"},
        {"type": "Property", "value": 2, "observedAt": "2024-01-01T06:00:00Z"},
    ]
    assert body["id"] == ID and body["type"] == "Sensor"


def test_temporal_values_per_dataset(client: httpx.Client, gauge: None) -> None:
    body = temporal(client, options="temporalValues", timerel="after", timeAt="2024-01-01T06:00:00Z").json()

    assert body["height"] == [
        {"type": "Property", "values": [[3, "2024-01-01T12:00:00Z"], [4, "2024-01-01T18:00:00Z"]]},
        {"type": "Property", "values": [[10, "2024-01-01T12:00:00Z"]], "datasetId": DS},
    ]


def test_last_n(client: httpx.Client, gauge: None) -> None:
    body = temporal(client, options="temporalValues", lastN="2").json()

    assert body["height"][0]["values"] == [[3, "2024-01-01T12:00:00Z"], [4, "2024-01-01T18:00:00Z"]]


def test_aggregated_values(client: httpx.Client, gauge: None) -> None:
    response = temporal(
        client,
        options="aggregatedValues",
        aggrMethods="totalCount,sum,avg,min,max,sumsq,distinctCount,stddev",
        aggrPeriodDuration="PT12H",
        timerel="between",
        timeAt="2024-01-01T00:00:00Z",
        endTimeAt="2024-01-02T00:00:00Z",
    )

    assert response.status_code == 200
    first = ["2024-01-01T00:00:00Z", "2024-01-01T12:00:00Z"]
    second = ["2024-01-01T12:00:00Z", "2024-01-02T00:00:00Z"]
    height = response.json()["height"]
    assert height[0] == {
        "type": "Property",
        "totalCount": [[2, *first], [2, *second]],
        "sum": [[3, *first], [7, *second]],
        "avg": [[1.5, *first], [3.5, *second]],
        "min": [[1, *first], [3, *second]],
        "max": [[2, *first], [4, *second]],
        "sumsq": [[5, *first], [25, *second]],
        "distinctCount": [[2, *first], [2, *second]],
        "stddev": [[pytest.approx(0.7071068), *first], [pytest.approx(0.7071068), *second]],
    }
    assert height[1]["datasetId"] == DS and height[1]["max"] == [[10, *second]]


def test_query_selects_by_type_id_pattern_and_q(client: httpx.Client, gauge: None) -> None:
    other = "urn:ngsi-ld:Sensor:t2"
    client.post(
        "/entities", json={"id": other, "type": "Sensor", "height": reading(7, "2024-01-01T00:00:00Z")}
    )

    everything = client.get(
        "/temporal/entities", params={"type": "Sensor", "options": "count,temporalValues"}
    )
    by_pattern = client.get("/temporal/entities", params={"idPattern": ".*t2$", "attrs": "height"})
    by_q = client.get("/temporal/entities", params={"type": "Sensor", "q": "height>5"})
    posted = client.post(
        "/temporal/entityOperations/query",
        json={
            "type": "Query",
            "entities": [{"type": "Sensor", "id": other}],
            "temporalQ": {"timerel": "before", "timeAt": "2025-01-01T00:00:00Z", "lastN": 1},
        },
    )

    assert everything.status_code == 200 and everything.headers["NGSILD-Results-Count"] == "2"
    assert [e["id"] for e in everything.json()] == [ID, other]
    assert [e["id"] for e in by_pattern.json()] == [other]
    assert [e["id"] for e in by_q.json()] == [other]  # t1 has no current state
    assert posted.status_code == 200, posted.text
    assert [i["value"] for i in posted.json()[0]["height"]] == [7]


def test_sys_attrs_show_instance_times(client: httpx.Client, gauge: None) -> None:
    body = temporal(client, options="sysAttrs", lastN="1").json()

    assert {"createdAt", "modifiedAt", "instanceId"} <= set(body["height"][0])
    assert "createdAt" in body


# provision ------------------------------------------------------------------------------------------
def test_post_to_an_existing_temporal_entity_adds_instances(client: httpx.Client, gauge: None) -> None:
    again = client.post(
        "/temporal/entities", json={"id": ID, "type": "Sensor", "height": reading(5, "2024-01-02T00:00:00Z")}
    )
    attrs = client.post(
        f"/temporal/entities/{ID}/attrs", json={"flow": [reading(0.5, "2024-01-02T00:00:00Z")]}
    )

    assert (again.status_code, attrs.status_code) == (204, 204)
    body = temporal(client, options="temporalValues", timerel="after", timeAt="2024-01-01T20:00:00Z").json()
    assert body["height"]["values"] == [[5, "2024-01-02T00:00:00Z"]]
    assert body["flow"]["values"] == [[0.5, "2024-01-02T00:00:00Z"]]


def test_modify_and_delete_an_instance(client: httpx.Client, gauge: None) -> None:
    first = temporal(client, lastN="4").json()["height"][0]
    instance = first["instanceId"]

    patched = client.patch(f"/temporal/entities/{ID}/attrs/height/{instance}", json={"value": 100})
    assert patched.status_code == 204, patched.text
    assert temporal(client, lastN="4").json()["height"][0]["value"] == 100
    assert client.delete(f"/temporal/entities/{ID}/attrs/height/{instance}").status_code == 204
    again = client.delete(f"/temporal/entities/{ID}/attrs/height/{instance}")
    assert_problem(again, 404, "ResourceNotFound")
    assert [i["value"] for i in temporal(client, lastN="4").json()["height"] if "datasetId" not in i] == [
        2,
        3,
        4,
    ]


def test_delete_attribute_by_dataset_and_entity(client: httpx.Client, gauge: None) -> None:
    assert client.delete(f"/temporal/entities/{ID}/attrs/height", params={"datasetId": DS}).status_code == 204
    assert all("datasetId" not in i for i in temporal(client).json()["height"])
    assert (
        client.delete(f"/temporal/entities/{ID}/attrs/height", params={"deleteAll": "true"}).status_code
        == 204
    )
    assert "height" not in temporal(client).json()
    assert_problem(client.delete(f"/temporal/entities/{ID}/attrs/height"), 404, "ResourceNotFound")
    assert client.delete(f"/temporal/entities/{ID}").status_code == 204
    assert_problem(temporal(client), 404, "ResourceNotFound")
    assert_problem(client.delete(f"/temporal/entities/{ID}"), 404, "ResourceNotFound")


def test_adding_to_an_unknown_temporal_entity_is_not_found(client: httpx.Client, gauge: None) -> None:
    response = client.post(
        "/temporal/entities/urn:ngsi-ld:Sensor:none/attrs", json={"h": reading(1, "2024-01-01T00:00:00Z")}
    )
    assert_problem(response, 404, "ResourceNotFound")


# bad input ------------------------------------------------------------------------------------------
BAD_QUERIES = {
    "timerel without timeAt": {"timerel": "before"},
    "unknown timerel": {"timerel": "during", "timeAt": "2024-01-01T00:00:00Z"},
    "between without endTimeAt": {"timerel": "between", "timeAt": "2024-01-01T00:00:00Z"},
    "endTimeAt before timeAt": {
        "timerel": "between",
        "timeAt": "2024-01-02T00:00:00Z",
        "endTimeAt": "2024-01-01T00:00:00Z",
    },
    "unparseable timeAt": {"timerel": "after", "timeAt": "yesterday"},
    "timeAt without zone": {"timerel": "after", "timeAt": "2024-01-01T00:00:00"},
    "unknown timeproperty": {"timeproperty": "seenAt"},
    "lastN zero": {"lastN": "0"},
    "lastN negative": {"lastN": "-3"},
    "lastN not a number": {"lastN": "many"},
    "aggregatedValues without aggrMethods": {"options": "aggregatedValues"},
    "unknown aggregation method": {"options": "aggregatedValues", "aggrMethods": "median"},
    "unparseable duration": {
        "options": "aggregatedValues",
        "aggrMethods": "max",
        "aggrPeriodDuration": "1 day",
    },
    "duration with hours before T": {
        "options": "aggregatedValues",
        "aggrMethods": "max",
        "aggrPeriodDuration": "P1H",
    },
    "keyValues": {"options": "keyValues"},
    "two representations": {"options": "temporalValues,aggregatedValues", "aggrMethods": "max"},
}


@pytest.mark.parametrize("name", BAD_QUERIES)
def test_bad_temporal_queries_are_bad_request_data(client: httpx.Client, gauge: None, name: str) -> None:
    assert_problem(temporal(client, **BAD_QUERIES[name]), 400, "BadRequestData")
    assert_problem(
        client.get("/temporal/entities", params={"type": "Sensor", **BAD_QUERIES[name]}),
        400,
        "BadRequestData",
    )


# pagination (a broker whose answers hold at most 3 instances per attribute) -------------------------
@pytest.fixture(scope="module")
def small_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    process = BrokerProcess(
        tmp_path_factory.mktemp("pages"), env={"VERBUND_TEMPORAL_MAX_INSTANCES": "3"}
    ).start()
    with httpx.Client(base_url=process.url + "/ngsi-ld/v1", timeout=10) as c:
        height = [reading(n, f"2024-01-01T0{n}:00:00Z") for n in range(1, 6)]
        flow = [reading(n * 10, f"2024-01-01T0{n}:30:00Z") for n in range(1, 3)]
        created = c.post(
            "/temporal/entities", json={"id": ID, "type": "Sensor", "height": height, "flow": flow}
        )
        assert created.status_code == 201, created.text
        yield c
    process.stop()


def test_a_long_history_is_paged_forwards_with_content_range(small_pages: httpx.Client) -> None:
    first = temporal(small_pages, options="temporalValues")
    assert first.status_code == 206
    assert first.headers["Content-Range"] == "date-time 2024-01-01T01:00:00Z-2024-01-01T03:00:00Z/*"
    assert [v for v, _ in pairs(first.json())] == [1, 2, 3]
    assert [v for v, _ in pairs(first.json(), "flow")] == [10, 20]

    rest = temporal(small_pages, options="temporalValues", timerel="after", timeAt="2024-01-01T03:00:00Z")
    assert rest.status_code == 200 and "Content-Range" not in rest.headers
    assert [v for v, _ in pairs(rest.json())] == [4, 5]


def test_last_n_above_the_limit_pages_backwards(small_pages: httpx.Client) -> None:
    response = temporal(small_pages, options="temporalValues", lastN="5", attrs="height")

    assert response.status_code == 206
    assert response.headers["Content-Range"] == "date-time 2024-01-01T05:00:00Z-2024-01-01T03:00:00Z/5"
    assert [v for v, _ in pairs(response.json())] == [3, 4, 5]


def test_last_n_within_the_limit_is_complete(small_pages: httpx.Client) -> None:
    response = temporal(small_pages, lastN="2", attrs="height")

    assert response.status_code == 200
    assert [i["value"] for i in response.json()["height"]] == [4, 5]


def test_aggregation_is_not_paged(small_pages: httpx.Client) -> None:
    response = temporal(small_pages, options="aggregatedValues", aggrMethods="totalCount", attrs="height")

    assert response.status_code == 200
    assert response.json()["height"]["totalCount"] == [[5, "2024-01-01T01:00:00Z", "2024-01-01T05:00:00Z"]]


# refusals found by replaying the ETSI test-suite ----------------------------------------------------
def test_a_temporal_query_that_selects_nothing_is_400(client: httpx.Client, gauge: None) -> None:
    response = client.get("/temporal/entities", params={"timerel": "after", "timeAt": "2024-01-01T00:00:00Z"})

    assert_problem(response, 400, "BadRequestData")
    by_type = client.get(
        "/temporal/entities", params={"type": "Sensor", "timerel": "after", "timeAt": "2024-01-01T00:00:00Z"}
    )
    assert [e["id"] for e in by_type.json()] == [ID]


def test_retrieving_only_unknown_attributes_is_404(client: httpx.Client, gauge: None) -> None:
    assert_problem(temporal(client, attrs="unknownAttribute"), 404, "ResourceNotFound")
    assert temporal(client, attrs="height,unknownAttribute").status_code == 200


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_an_instance_id_that_is_not_a_uri_is_400_and_changes_nothing(
    client: httpx.Client, gauge: None, method: str
) -> None:
    before = temporal(client).json()
    body = {"height": reading(99, "2024-01-01T00:00:00Z")} if method == "PATCH" else None

    response = client.request(method, f"/temporal/entities/{ID}/attrs/height/invalidId", json=body)

    assert_problem(response, 400, "BadRequestData")
    assert temporal(client).json() == before
