"""User @contexts end to end (clauses 4.4, 5.5.5-5.5.7, 5.13; HTTP binding 6.3.5): given by Link header or
inline, served by a real HTTP server on 127.0.0.1; read back with another @context or none; remote
failures; the core context; the /jsonldContexts API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest

from tests.support.fixtures_b import CORE_CONTEXT_URL, DEFAULT_VOCAB, JSON_LD, ContextServer, new_id
from tests.support.ngsild import assert_problem
from tests.support.ngsild import context_link as link
from tests.support.server import BrokerProcess, free_port

EX = "https://vocab.example.org/"
CONTEXT_A = {"Sensor": EX + "Sensor", "temp": EX + "temperature", "owner": EX + "ownedBy"}
CONTEXT_B = {"Gauge": EX + "Sensor", "warmth": EX + "temperature", "owner": EX + "ownedBy"}


@pytest.fixture(scope="module")
def contexts() -> Iterator[ContextServer]:
    with ContextServer() as server:
        yield server


def _sensor(entity_id: str, type_term: str = "Sensor", temp_term: str = "temp") -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": type_term,
        temp_term: {"type": "Property", "value": 21.5, "unitCode": "CEL"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:ann"},
    }


def _read(client: httpx.Client, entity_id: str, context_url: str | None = None) -> dict[str, Any]:
    headers = {"Link": link(context_url)} if context_url else {}
    response = client.get(f"/entities/{entity_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _assert_absent(client: httpx.Client, entity_id: str) -> None:
    assert_problem(client.get(f"/entities/{entity_id}"), 404, ("ResourceNotFound", "NonexistentTenant"))


# round trips -------------------------------------------------------------------------------------
def test_link_context_round_trip_with_another_context_and_with_none(
    client: httpx.Client, contexts: ContextServer
) -> None:
    url_a, url_b = contexts.serve(CONTEXT_A), contexts.serve(CONTEXT_B)
    entity_id = new_id("Sensor")
    response = client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url_a)})
    assert response.status_code == 201, response.text

    same = _read(client, entity_id, url_a)
    assert same["type"] == "Sensor" and same["temp"]["value"] == 21.5 and same["temp"]["unitCode"] == "CEL"
    other = _read(client, entity_id, url_b)
    assert other["type"] == "Gauge" and other["warmth"]["value"] == 21.5 and "temp" not in other
    assert other["owner"]["object"] == "urn:ngsi-ld:Person:ann"
    bare = _read(client, entity_id)
    assert bare["type"] == EX + "Sensor"
    assert bare[EX + "temperature"]["value"] == 21.5 and bare[EX + "ownedBy"]["type"] == "Relationship"


def test_inline_json_ld_context_round_trip(client: httpx.Client, contexts: ContextServer) -> None:
    url_b = contexts.serve(CONTEXT_B)
    entity_id = new_id("Sensor")
    body = {**_sensor(entity_id), "@context": [CONTEXT_A, CORE_CONTEXT_URL]}
    response = client.post("/entities", json=body, headers={"Content-Type": JSON_LD})
    assert response.status_code == 201, response.text
    assert _read(client, entity_id, url_b)["warmth"]["value"] == 21.5
    assert _read(client, entity_id)[EX + "temperature"]["value"] == 21.5


def test_json_ld_body_context_by_url(client: httpx.Client, contexts: ContextServer) -> None:
    url_a, url_b = contexts.serve(CONTEXT_A), contexts.serve(CONTEXT_B)
    entity_id = new_id("Sensor")
    body = {**_sensor(entity_id), "@context": [url_a, CORE_CONTEXT_URL]}
    response = client.post("/entities", json=body, headers={"Content-Type": JSON_LD})
    assert response.status_code == 201, response.text
    assert _read(client, entity_id, url_b)["type"] == "Gauge"


def test_json_ld_response_carries_the_request_context(client: httpx.Client, contexts: ContextServer) -> None:
    url_a = contexts.serve(CONTEXT_A)
    entity_id = new_id("Sensor")
    assert client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url_a)}).status_code == 201
    as_json = client.get(
        f"/entities/{entity_id}", headers={"Link": link(url_a), "Accept": "application/json"}
    )
    assert url_a in as_json.headers["Link"]
    as_ld = client.get(f"/entities/{entity_id}", headers={"Link": link(url_a), "Accept": JSON_LD})
    assert as_ld.headers["content-type"].startswith(JSON_LD)
    assert as_ld.json()["@context"] in (url_a, [url_a], [url_a, CORE_CONTEXT_URL])
    assert as_ld.json()["temp"]["value"] == 21.5


def test_query_expands_the_type_with_the_request_context(
    client: httpx.Client, contexts: ContextServer
) -> None:
    url_a, url_b = contexts.serve(CONTEXT_A), contexts.serve(CONTEXT_B)
    entity_id = new_id("Sensor")
    assert client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url_a)}).status_code == 201
    found = client.get("/entities", params={"type": "Gauge"}, headers={"Link": link(url_b)})
    assert [e["id"] for e in found.json()] == [entity_id]
    assert found.json()[0]["warmth"]["value"] == 21.5
    # without a context "Sensor" is the default-context IRI, another type
    assert client.get("/entities", params={"type": "Sensor"}).json() == []
    by_iri = client.get("/entities", params={"type": EX + "Sensor"}).json()
    assert [e["id"] for e in by_iri] == [entity_id]


def test_default_context_terms_round_trip(client: httpx.Client, contexts: ContextServer) -> None:
    """No user @context: terms expand with the core @vocab (5.5.5); any context naming that IRI reads it."""
    renaming = contexts.serve({"velocity": DEFAULT_VOCAB + "speed"})
    unrelated = contexts.serve(CONTEXT_A)
    entity_id = new_id("Car")
    body = {"id": entity_id, "type": "Car", "speed": {"type": "Property", "value": 80}}
    assert client.post("/entities", json=body).status_code == 201
    assert _read(client, entity_id)["speed"]["value"] == 80
    assert _read(client, entity_id, unrelated)["speed"]["value"] == 80
    renamed = _read(client, entity_id, renaming)
    assert renamed["velocity"]["value"] == 80 and "speed" not in renamed
    assert client.get("/entities", params={"type": DEFAULT_VOCAB + "Car"}).json()[0]["id"] == entity_id


def test_batch_with_link_context_applies_it_to_every_entity(
    client: httpx.Client, contexts: ContextServer
) -> None:
    url_a = contexts.serve(CONTEXT_A)
    ids = [new_id("Sensor"), new_id("Sensor")]
    response = client.post(
        "/entityOperations/create", json=[_sensor(i) for i in ids], headers={"Link": link(url_a)}
    )
    assert response.status_code == 201, response.text
    for entity_id in ids:
        assert _read(client, entity_id)[EX + "temperature"]["value"] == 21.5


# remote contexts that cannot be used -------------------------------------------------------------
def _unusable(contexts: ContextServer, kind: str) -> str:
    if kind == "unreachable":
        return f"http://127.0.0.1:{free_port()}/ctx.jsonld"
    if kind == "http-404":
        return contexts.base + "/no-such-context.jsonld"
    if kind == "http-500":
        return contexts.serve(CONTEXT_A, status=500)
    if kind == "not-json":
        return contexts.serve_raw(b"<html><body>context</body></html>", content_type="text/html")
    if kind == "oversized":  # the broker's default bound is 2 MiB
        big = {f"term{n}": f"{EX}term{n}" for n in range(80_000)}
        return contexts.serve(big)
    raise AssertionError(kind)


UNUSABLE = ["unreachable", "http-404", "http-500", "not-json", "oversized"]


@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_remote_context_in_link_is_503_and_nothing_is_written(
    client: httpx.Client, contexts: ContextServer, kind: str
) -> None:
    url = _unusable(contexts, kind)
    entity_id = new_id("Sensor")
    started = time.monotonic()
    response = client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url)})
    assert time.monotonic() - started < 4.0
    assert_problem(response, 503, "LdContextNotAvailable")
    _assert_absent(client, entity_id)


@pytest.mark.parametrize("kind", UNUSABLE)
def test_unusable_remote_context_in_body_is_503_and_nothing_is_written(
    client: httpx.Client, contexts: ContextServer, kind: str
) -> None:
    entity_id = new_id("Sensor")
    body = {**_sensor(entity_id), "@context": [_unusable(contexts, kind), CORE_CONTEXT_URL]}
    response = client.post("/entities", json=body, headers={"Content-Type": JSON_LD})
    assert_problem(response, 503, "LdContextNotAvailable")
    _assert_absent(client, entity_id)


def test_unusable_remote_context_on_batch_writes_nothing(
    client: httpx.Client, contexts: ContextServer
) -> None:
    ids = [new_id("Sensor"), new_id("Sensor")]
    response = client.post(
        "/entityOperations/upsert",
        json=[_sensor(i) for i in ids],
        headers={"Link": link(_unusable(contexts, "unreachable"))},
    )
    assert_problem(response, 503, "LdContextNotAvailable")
    for entity_id in ids:
        _assert_absent(client, entity_id)


def test_unusable_remote_context_on_read_is_503(client: httpx.Client, contexts: ContextServer) -> None:
    entity_id = new_id("Sensor")
    assert client.post("/entities", json=_sensor(entity_id)).status_code == 201
    response = client.get(f"/entities/{entity_id}", headers={"Link": link(_unusable(contexts, "not-json"))})
    assert_problem(response, 503, "LdContextNotAvailable")


def test_invalid_remote_context_is_bad_request_data(client: httpx.Client, contexts: ContextServer) -> None:
    """5.5.6: an unavailable remote @context is LdContextNotAvailable, an invalid one BadRequestData."""
    url = contexts.serve({"temp": 42})
    entity_id = new_id("Sensor")
    response = client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url)})
    assert_problem(response, 400, "BadRequestData")
    _assert_absent(client, entity_id)


def test_slow_remote_context_times_out_with_503(tmp_path: Path, contexts: ContextServer) -> None:
    broker = BrokerProcess(tmp_path / "data", env={"VERBUND_CONTEXT_FETCH_TIMEOUT": "1"}).start()
    try:
        with httpx.Client(base_url=broker.url + "/ngsi-ld/v1", timeout=15) as client:
            url = contexts.serve(CONTEXT_A, delay=10)
            entity_id = new_id("Sensor")
            started = time.monotonic()
            response = client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url)})
            elapsed = time.monotonic() - started
            assert_problem(response, 503, "LdContextNotAvailable")
            assert elapsed < 4.0, elapsed
            _assert_absent(client, entity_id)
            # the broker is not stuck: a request without that context still works
            assert client.post("/entities", json=_sensor(new_id("Sensor"))).status_code == 201
    finally:
        broker.stop()


# the core context --------------------------------------------------------------------------------
CORE_URLS = [
    CORE_CONTEXT_URL,
    CORE_CONTEXT_URL.replace("https:", "http:"),
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld",
]


@pytest.mark.parametrize("url", CORE_URLS)
def test_core_context_url_is_never_fetched(client: httpx.Client, url: str) -> None:
    """The core @context is built in: uri.etsi.org is not reachable from here, so a fetch would be a 503."""
    entity_id = new_id("Car")
    body = {"id": entity_id, "type": "Car", "speed": {"type": "Property", "value": 80}}
    started = time.monotonic()
    assert client.post("/entities", json=body, headers={"Link": link(url)}).status_code == 201
    ld = client.post(
        "/entities",
        json={**body, "id": entity_id + "-ld", "@context": url},
        headers={"Content-Type": JSON_LD},
    )
    assert ld.status_code == 201, ld.text
    read = client.get(f"/entities/{entity_id}", headers={"Link": link(url)})
    assert time.monotonic() - started < 2.0
    assert read.status_code == 200 and read.json()["speed"]["value"] == 80


def test_user_context_cannot_redefine_core_terms(client: httpx.Client, contexts: ContextServer) -> None:
    """4.4 / 5.5.7: the core @context has absolute precedence, whatever the user @context says."""
    url = contexts.serve({"location": EX + "where", "Property": EX + "NotAProperty"})
    entity_id = new_id("Sensor")
    body = {
        "id": entity_id,
        "type": "Sensor",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.7, 49.4]}},
    }
    assert client.post("/entities", json=body, headers={"Link": link(url)}).status_code == 201
    bare = _read(client, entity_id)
    assert bare["location"]["type"] == "GeoProperty" and EX + "where" not in bare


# /jsonldContexts ---------------------------------------------------------------------------------
def test_jsonld_contexts_add_list_serve_use_and_delete(client: httpx.Client, broker: BrokerProcess) -> None:
    context = {"Meter": EX + "Meter", "reading": EX + "reading"}
    added = client.post("/jsonldContexts", json={"@context": context})
    assert added.status_code == 201, added.text
    location = added.headers["Location"]
    assert location.startswith("/ngsi-ld/v1/jsonldContexts/")
    url = broker.url + unquote(location)  # the Location may percent-encode the id's ":"

    listed = client.get("/jsonldContexts").json()
    assert url in listed and CORE_CONTEXT_URL in listed
    assert url in client.get("/jsonldContexts", params={"kind": "Hosted"}).json()
    details = client.get("/jsonldContexts", params={"details": "true", "kind": "Hosted"}).json()
    assert any(d["URL"] == url and d["kind"] == "Hosted" for d in details)

    served = httpx.get(url, timeout=10)  # Accept: */*
    assert served.status_code == 200
    assert served.json() == {"@context": context}
    assert served.headers["Content-Type"] == "application/json"  # 6.3.4: JSON unless asked otherwise
    as_json_ld = httpx.get(url, headers={"Accept": "application/ld+json"}, timeout=10)
    assert as_json_ld.headers["Content-Type"] == "application/ld+json"
    assert as_json_ld.json() == {"@context": context}

    entity_id = new_id("Meter")
    body = {"id": entity_id, "type": "Meter", "reading": {"type": "Property", "value": 7}}
    assert client.post("/entities", json=body, headers={"Link": link(url)}).status_code == 201
    assert _read(client, entity_id, url)["reading"]["value"] == 7
    assert _read(client, entity_id)[EX + "reading"]["value"] == 7

    assert httpx.delete(url, timeout=10).status_code == 204
    assert_problem(httpx.get(url, timeout=10), 404, "ResourceNotFound")
    assert url not in client.get("/jsonldContexts").json()
    assert_problem(httpx.delete(url, timeout=10), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # 5.13.2.4: a payload of the wrong shape is an InvalidRequest, a wrong @context in it BadRequestData
        ({"context": {}}, "InvalidRequest"),
        ([{"@context": {}}], "InvalidRequest"),
        ({"@context": {"x": 5}}, "BadRequestData"),
        ({"@context": 3}, "BadRequestData"),
    ],
    ids=["no-@context", "array", "invalid-term", "number"],
)
def test_jsonld_contexts_refuses_invalid_contexts(client: httpx.Client, body: Any, error: str) -> None:
    before = client.get("/jsonldContexts").json()
    response = client.post(
        "/jsonldContexts", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, error)
    assert client.get("/jsonldContexts").json() == before


def test_jsonld_contexts_unknown_id_is_not_found(client: httpx.Client) -> None:
    assert_problem(
        client.get("/jsonldContexts/urn:uuid:00000000-0000-0000-0000-000000000000"), 404, "ResourceNotFound"
    )


def test_jsonld_contexts_core_context_cannot_be_deleted(client: httpx.Client) -> None:
    response = client.delete(f"/jsonldContexts/{CORE_CONTEXT_URL}")
    assert_problem(response, 400, "BadRequestData")
    assert CORE_CONTEXT_URL in client.get("/jsonldContexts").json()


# numberOfHits and lastUsage (5.13.3.5; ETSI 053_04, 053_06, 053_08) ------------------------------------
def _details(client: httpx.Client, context: str) -> dict[str, Any]:
    response = client.get(f"/jsonldContexts/{quote(context, safe='')}", params={"details": "true"})
    assert response.status_code == 200, response.text
    return response.json()


def test_each_request_using_a_cached_context_counts_one_hit(
    client: httpx.Client, contexts: ContextServer
) -> None:
    url = contexts.serve(CONTEXT_A)
    entity_id = new_id("Sensor")
    assert client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url)}).status_code == 201
    first = _details(client, url)
    assert (first["kind"], first["numberOfHits"]) == ("Cached", 1)  # the request that fetched it
    assert first["lastUsage"] >= first["createdAt"]
    for _ in range(3):  # served from the broker's memory
        assert _read(client, entity_id, url)["temp"]["value"] == 21.5
    assert _details(client, url)["numberOfHits"] == 4
    listed = client.get("/jsonldContexts", params={"details": "true", "kind": "Cached"}).json()
    assert [d["numberOfHits"] for d in listed if d["URL"] == url] == [4]
    assert contexts.hits[urlsplit(url).path] == 1


def test_hosted_context_used_by_its_relative_location_counts_hits(
    client: httpx.Client, broker: BrokerProcess
) -> None:
    context = {"Meter": EX + "Meter", "reading": EX + "reading"}
    added = client.post("/jsonldContexts", json={"@context": context})
    assert added.status_code == 201, added.text
    location = added.headers["Location"]  # relative: /ngsi-ld/v1/jsonldContexts/urn:uuid:...
    assert _details(client, location.rsplit("/", 1)[1])["numberOfHits"] == 0

    entity_id = new_id("Meter")
    body = {
        "id": entity_id,
        "type": "Meter",
        "reading": {"type": "Property", "value": 7},
        "@context": location,
    }
    created = client.post("/entities", json=body, headers={"Content-Type": JSON_LD})
    assert created.status_code == 201, created.text
    details = _details(client, location.rsplit("/", 1)[1])
    assert (details["kind"], details["numberOfHits"]) == ("Hosted", 1)
    assert "lastUsage" in details

    url = broker.url + unquote(location)
    assert _read(client, entity_id)[EX + "reading"]["value"] == 7  # the hosted terms were applied
    assert _read(client, entity_id, url)["reading"]["value"] == 7
    assert _details(client, url)["numberOfHits"] == 2


def test_implicitly_created_context_counts_hits_like_the_others(client: httpx.Client) -> None:
    inline = {"Lamp": EX + "Lamp", "lux": EX + "lux", "marker": new_id("Marker")}  # content of this test only
    for _ in range(2):
        entity_id = new_id("Lamp")
        body = {"id": entity_id, "type": "Lamp", "lux": {"type": "Property", "value": 300}}
        response = client.post(
            "/entities",
            json={**body, "@context": [inline, CORE_CONTEXT_URL]},
            headers={"Content-Type": JSON_LD},
        )
        assert response.status_code == 201, response.text
    implicit = [
        url
        for url in client.get("/jsonldContexts", params={"kind": "ImplicitlyCreated"}).json()
        if httpx.get(url, timeout=10).json()["@context"][0] == inline
    ]
    assert len(implicit) == 1
    assert _details(client, implicit[0])["numberOfHits"] == 2
    assert _read(client, entity_id, implicit[0])["lux"]["value"] == 300
    details = _details(client, implicit[0])
    assert (details["kind"], details["numberOfHits"]) == ("ImplicitlyCreated", 3)


def test_relative_context_that_names_no_hosted_context_is_refused(client: httpx.Client) -> None:
    entity_id = new_id("Sensor")
    for ref, status, kind in [
        (
            "/ngsi-ld/v1/jsonldContexts/urn:uuid:00000000-0000-0000-0000-000000000000",
            503,
            "LdContextNotAvailable",
        ),
        ("/contexts/ctx.jsonld", 400, "BadRequestData"),
    ]:
        body = {**_sensor(entity_id), "@context": ref}
        assert_problem(client.post("/entities", json=body, headers={"Content-Type": JSON_LD}), status, kind)
    _assert_absent(client, entity_id)


def test_context_host_that_does_not_resolve_is_503_and_a_forbidden_one_stays_400(
    client: httpx.Client,
) -> None:
    """043_01: a context that cannot be retrieved is LdContextNotAvailable, also when DNS has no answer; a
    host on an internal address is still refused (SSRF), as the client named it."""
    entity_id = new_id("Sensor")
    url = "https://nonexistent.invalid/ctx.jsonld"
    problem = assert_problem(
        client.post("/entities", json=_sensor(entity_id), headers={"Link": link(url)}),
        503,
        "LdContextNotAvailable",
    )
    assert url in problem["detail"]
    body = {**_sensor(entity_id), "@context": [url, CORE_CONTEXT_URL]}
    assert_problem(
        client.post("/entities", json=body, headers={"Content-Type": JSON_LD}), 503, "LdContextNotAvailable"
    )
    forbidden = "http://10.1.2.3/ctx.jsonld"
    assert_problem(
        client.post("/entities", json=_sensor(entity_id), headers={"Link": link(forbidden)}),
        400,
        "BadRequestData",
    )
    _assert_absent(client, entity_id)
