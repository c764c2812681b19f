"""What a subscription shows and accepts beyond the basics (clauses 5.2.12, 5.8), as the ETSI conformance
tests check it: only the members sent are returned, paging links, an unavailable jsonldContext, datasetId."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.ngsild import CORE_CONTEXT, assert_problem
from tests.support.receivers import HttpReceiver, wait_for
from tests.support.server import BrokerProcess, free_port
from tests.support.subscriptions import subscribe, subscription

URI = "http://127.0.0.1:9/notify"  # allowed by the test broker's policy; nothing is sent to it
JSON_LD = "application/ld+json"


def _periodic(sub_id: str) -> dict[str, Any]:
    """ETSI data/subscriptions/subscription.jsonld: no isActive, sysAttrs, showChanges or trigger."""
    return subscription(
        URI,
        id=sub_id,
        timeInterval=5,
        notification={"format": "keyValues", "endpoint": {"uri": URI, "accept": "application/json"}},
    )


def test_retrieve_returns_only_the_members_sent_and_the_status_members(ld: httpx.Client) -> None:
    subscribe(ld, _periodic("urn:ngsi-ld:Subscription:sent"))

    got = ld.get("/subscriptions/urn:ngsi-ld:Subscription:sent")

    assert got.status_code == 200, got.text
    assert got.json() == {
        "id": "urn:ngsi-ld:Subscription:sent",
        "type": "Subscription",
        "entities": [{"type": "Room"}],
        "timeInterval": 5,
        "notification": {
            "format": "keyValues",
            "endpoint": {"uri": URI, "accept": "application/json"},
            "timesSent": 0,
            "timesFailed": 0,
        },
        "jsonldContext": CORE_CONTEXT,
        "status": "active",
    }


def test_defaults_of_the_notification_parameters_are_not_shown(ld: httpx.Client) -> None:
    sub_id = subscribe(ld, subscription(URI))

    sub = ld.get(f"/subscriptions/{sub_id}").json()

    assert sub["notification"] == {"endpoint": {"uri": URI}, "timesSent": 0, "timesFailed": 0}
    assert "isActive" not in sub and "notificationTrigger" not in sub
    assert sub["status"] == "active"


def test_list_shows_is_active_only_where_it_was_sent(ld: httpx.Client) -> None:
    subscribe(ld, _periodic("urn:ngsi-ld:Subscription:list-1"))
    subscribe(ld, subscription(URI, id="urn:ngsi-ld:Subscription:list-2", isActive=False))

    listed = {s["id"]: s for s in ld.get("/subscriptions").json()}

    assert "isActive" not in listed["urn:ngsi-ld:Subscription:list-1"]
    assert listed["urn:ngsi-ld:Subscription:list-2"]["isActive"] is False
    assert listed["urn:ngsi-ld:Subscription:list-2"]["status"] == "paused"
    assert all("sysAttrs" not in s["notification"] for s in listed.values())
    assert all("showChanges" not in s["notification"] for s in listed.values())


def test_is_active_is_shown_once_an_update_sets_it(ld: httpx.Client) -> None:
    sub_id = subscribe(ld, subscription(URI))

    patched = ld.patch(f"/subscriptions/{sub_id}", json={"isActive": True})
    sub = ld.get(f"/subscriptions/{sub_id}").json()

    assert patched.status_code == 204, patched.text
    assert sub["isActive"] is True and sub["status"] == "active"


# paging ----------------------------------------------------------------------------------------------
def _page(ld: httpx.Client, limit: int, offset: int, accept: str = JSON_LD) -> httpx.Response:
    response = ld.get("/subscriptions", params={"limit": limit, "offset": offset}, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    return response


def _link(rel: str, offset: int) -> str:
    return f'</ngsi-ld/v1/subscriptions?limit=1&offset={offset}>;rel="{rel}";type="application/ld+json"'


def test_query_pages_carry_prev_and_next_links(ld: httpx.Client) -> None:
    for n in range(3):
        subscribe(ld, subscription(URI, id=f"urn:ngsi-ld:Subscription:link-{n}"))

    middle = _page(ld, limit=1, offset=1)
    last = _page(ld, limit=1, offset=2)
    everything = _page(ld, limit=15, offset=0)

    assert [s["id"] for s in middle.json()] == ["urn:ngsi-ld:Subscription:link-1"]
    assert sorted(middle.headers["Link"].replace(" ", "").split(",")) == sorted(
        [_link("prev", 0), _link("next", 2)]
    )
    assert last.headers["Link"] == _link("prev", 1)  # 031_02_02 compares the header character by character
    assert "Link" not in everything.headers and len(everything.json()) == 3


def test_paging_links_follow_the_context_link_with_plain_json(ld: httpx.Client) -> None:
    for n in range(2):
        subscribe(ld, subscription(URI, id=f"urn:ngsi-ld:Subscription:plain-{n}"))

    first = _page(ld, limit=1, offset=0, accept="application/json")

    links = first.headers["Link"].split(",")
    assert len(links) == 2 and "json-ld#context" in links[0]
    assert links[1] == '</ngsi-ld/v1/subscriptions?limit=1&offset=1>;rel="next";type="application/json"'


# jsonldContext ---------------------------------------------------------------------------------------
UNAVAILABLE = [
    ("not found", lambda broker: broker.url + "/no-such-context.jsonld"),
    ("connection refused", lambda broker: f"http://127.0.0.1:{free_port()}/context.jsonld"),
    ("host not resolvable", lambda broker: "http://context.invalid/context.jsonld"),  # RFC 6761
    ("not stored here", lambda broker: broker.url + "/ngsi-ld/v1/jsonldContexts/urn:ngsi-ld:missing"),
]


@pytest.mark.parametrize(("case", "url"), UNAVAILABLE, ids=[case for case, _ in UNAVAILABLE])
def test_a_jsonld_context_that_cannot_be_retrieved_is_refused_and_nothing_is_stored(
    ld: httpx.Client, notify_broker: BrokerProcess, case: str, url: Any
) -> None:
    body = subscription(URI, id="urn:ngsi-ld:Subscription:ctx", jsonldContext=url(notify_broker))

    response = ld.post("/subscriptions", json=body)

    assert_problem(response, 503, "LdContextNotAvailable")
    ld.post("/entities", json={"id": "urn:ngsi-ld:Room:exists", "type": "Room"})  # the tenant exists
    assert_problem(ld.get("/subscriptions/urn:ngsi-ld:Subscription:ctx"), 404, "ResourceNotFound")


def test_an_update_to_an_unavailable_jsonld_context_changes_nothing(
    ld: httpx.Client, user_context_url: str
) -> None:
    sub_id = subscribe(ld, subscription(URI, jsonldContext=user_context_url))

    refused = ld.patch(f"/subscriptions/{sub_id}", json={"jsonldContext": "http://context.invalid/c.jsonld"})

    assert_problem(refused, 503, "LdContextNotAvailable")
    assert ld.get(f"/subscriptions/{sub_id}").json()["jsonldContext"] == user_context_url


# datasetId -------------------------------------------------------------------------------------------
FRENCH = "urn:ngsi-ld:Dataset:french-name"


def test_dataset_id_is_stored_and_returned(ld: httpx.Client) -> None:
    sub_id = subscribe(ld, subscription(URI, datasetId=[FRENCH]))

    sub = ld.get(f"/subscriptions/{sub_id}").json()
    removed = ld.patch(f"/subscriptions/{sub_id}", json={"datasetId": None})

    assert sub["datasetId"] == [FRENCH]
    assert removed.status_code == 204, removed.text
    assert "datasetId" not in ld.get(f"/subscriptions/{sub_id}").json()


@pytest.mark.parametrize("value", [[], ["not a uri"], FRENCH, [FRENCH, 3]], ids=str)
def test_dataset_id_must_be_an_array_of_uris(ld: httpx.Client, value: Any) -> None:
    response = ld.post("/subscriptions", json=subscription(URI, datasetId=value))

    detail = assert_problem(response, 400, "BadRequestData")["detail"]
    assert detail.startswith("datasetId") and "unknown member" not in detail, detail  # a known member


def _instances(values: dict[str | None, Any], kind: str = "Property") -> list[dict[str, Any]]:
    member = "object" if kind == "Relationship" else "value"
    out = []
    for dataset, value in values.items():
        instance = {"type": kind, member: value}
        if dataset is not None:
            instance["datasetId"] = dataset
        out.append(instance)
    return out


def test_notifications_keep_only_the_instances_of_the_subscribed_datasets(
    ld: httpx.Client, receiver: HttpReceiver
) -> None:
    """ETSI 046_19: the default instance and other datasets are left out, as is an attribute without an
    instance in the datasets."""
    entity = {
        "id": "urn:ngsi-ld:Room:eiffel",
        "type": "Room",
        "name": _instances(
            {None: "Eiffel Tower", FRENCH: "Tour Eiffel", "urn:ngsi-ld:Dataset:german-name": "Eiffelturm"}
        ),
        "locatedAt": _instances(
            {None: "urn:ngsi-ld:City:Paris", FRENCH: "urn:ngsi-ld:Ville:Paris"}, kind="Relationship"
        ),
        "temperature": {"type": "Property", "value": 20},
    }
    assert ld.post("/entities", json=entity).status_code == 201
    subscribe(ld, subscription(receiver.url + "/n", datasetId=[FRENCH]))

    update = {"name": {"type": "Property", "value": "Le Tour Eiffel", "datasetId": FRENCH}}
    assert ld.patch("/entities/urn:ngsi-ld:Room:eiffel/attrs", json=update).status_code == 204
    (notification,) = wait_for(lambda: receiver.bodies("/n"))

    assert notification["data"] == [
        {
            "id": "urn:ngsi-ld:Room:eiffel",
            "type": "Room",
            "name": {"type": "Property", "value": "Le Tour Eiffel", "datasetId": FRENCH},
            "locatedAt": {"type": "Relationship", "object": "urn:ngsi-ld:Ville:Paris", "datasetId": FRENCH},
        }
    ]
