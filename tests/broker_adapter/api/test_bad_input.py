"""Bad input is refused with the right ProblemDetails and changes nothing (5.5.3, 5.5.4, 6.3.4, 6.3.5).

Each case targets a fresh id (a create that must not happen) or an existing entity (a change that must
not happen); after the request the existing entity reads back exactly as before and the new id is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.fixtures_b import CORE_CONTEXT_URL, JSON, JSON_LD, new_id
from tests.support.ngsild import assert_problem
from tests.support.ngsild import context_link as link

EXISTING = "urn:ngsi-ld:Vehicle:existing"
NEW = "urn:ngsi-ld:Vehicle:new"
MIB = 1024 * 1024


@dataclass
class Case:
    body: Any  # bytes are sent as they are; anything else as JSON
    status: int
    error: str | tuple[str, ...] | None  # None: any NGSI-LD error type (the spec names none, e.g. 413, 415)
    method: str = "POST"
    path: str = "/entities"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def _new(**attrs: Any) -> dict[str, Any]:
    return {"id": NEW, "type": "Vehicle", **attrs}


def _prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


def _geo(geometry: Any) -> dict[str, Any]:
    return _new(location={"type": "GeoProperty", "value": geometry})


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _append(error: str | tuple[str, ...], params: dict[str, str] | None = None, **attrs: Any) -> Case:
    """POST /entities/{EXISTING}/attrs with `attrs`, expected to fail with 400 `error`."""
    return Case(attrs, 400, error, path=f"/entities/{EXISTING}/attrs", params=params or {})


BAD = "BadRequestData"
INVALID = "InvalidRequest"

CASES: dict[str, Case] = {
    # syntax, size and shape of the body
    "malformed-json": Case(b'{"id": "urn:ngsi-ld:Vehicle:new", "type": ', 400, INVALID),
    "trailing-garbage": Case(b'{"id": "urn:ngsi-ld:Vehicle:new", "type": "Vehicle"} x', 400, INVALID),
    "empty-body": Case(b"", 400, INVALID),
    "body-over-1-MiB": Case(_new(blob=_prop("x" * (MIB + 16))), 413, None),
    "nesting-too-deep": Case(_new(deep=_prop(_nested(40))), 400, (BAD, INVALID)),
    "body-is-an-array": Case([_new()], 400, BAD),
    "body-is-a-string": Case(b'"urn:ngsi-ld:Vehicle:new"', 400, BAD),
    # ids
    "id-missing": Case({"type": "Vehicle", "speed": _prop(1)}, 400, BAD),
    "id-not-a-uri": Case({"id": "vehicle 1", "type": "Vehicle"}, 400, BAD),
    "id-relative-reference": Case({"id": "/vehicles/new", "type": "Vehicle"}, 400, BAD),
    "id-a-number": Case({"id": 42, "type": "Vehicle"}, 400, BAD),
    "id-in-url-not-a-uri": Case(None, 400, BAD, method="GET", path="/entities/not-a-uri"),
    "relationship-object-not-a-uri": Case(_new(owner={"type": "Relationship", "object": "bob"}), 400, BAD),
    "datasetId-not-a-uri": Case(_new(speed=_prop(1, datasetId="gps")), 400, BAD),
    # names
    "type-missing": Case({"id": NEW, "speed": _prop(1)}, 400, BAD),
    "type-with-space": Case(_new(type="Fire Truck"), 400, BAD),
    "type-with-equals": Case(_new(type="a=b"), 400, BAD),
    "type-a-number": Case(_new(type=7), 400, BAD),
    "type-empty-list": Case(_new(type=[]), 400, BAD),
    "type-a-json-ld-keyword": Case(_new(type="type"), 400, BAD),  # the core @context maps "type" to @type
    "attribute-with-space": Case(_new(**{"max speed": _prop(1)}), 400, BAD),
    "attribute-with-brackets": Case(_new(**{"speed[0]": _prop(1)}), 400, BAD),
    "attribute-keyword": Case(_new(**{"@graph": _prop(1)}), 400, BAD),
    "attribute-bad-iri": Case(_new(**{"http://a b/speed": _prop(1)}), 400, BAD),
    "sub-attribute-with-space": Case(_new(speed=_prop(1, **{"by whom": _prop("me")})), 400, BAD),
    # reserved names (core members and TemporalProperty names, clauses 4.8 note 2 and 5.2)
    "attribute-named-observedAt": Case(_new(observedAt=_prop("2024-01-01T00:00:00Z")), 400, BAD),
    "attribute-named-value": Case(_new(value=_prop(1)), 400, BAD),
    "attribute-named-object": Case(_new(object=_prop(1)), 400, BAD),
    "attribute-named-datasetId": Case(_new(datasetId=_prop(1)), 400, BAD),
    "attribute-named-unitCode": Case(_new(unitCode=_prop(1)), 400, BAD),
    "attribute-named-core-iri": Case(_new(**{"https://uri.etsi.org/ngsi-ld/observedAt": _prop(1)}), 400, BAD),
    # value missing or of the wrong shape for the kind
    "property-without-value": Case(_new(speed={"type": "Property", "unitCode": "KMH"}), 400, BAD),
    "property-value-null": Case(_new(speed={"type": "Property", "value": None}), 400, BAD),
    "property-value-ngsi-ld-null": Case(_new(speed="urn:ngsi-ld:null"), 400, BAD),
    "property-nested-ngsi-ld-null": Case(_new(engine=_prop({"fuel": "urn:ngsi-ld:null"})), 400, BAD),
    "relationship-without-object": Case(_new(owner={"type": "Relationship"}), 400, BAD),
    "relationship-object-a-number": Case(_new(owner={"type": "Relationship", "object": 3}), 400, BAD),
    "relationship-object-ngsi-ld-null": Case(
        _new(owner={"type": "Relationship", "object": "urn:ngsi-ld:null"}), 400, BAD
    ),
    "geoproperty-value-a-string": Case(_new(location={"type": "GeoProperty", "value": "here"}), 400, BAD),
    "languageproperty-map-a-string": Case(
        _new(name={"type": "LanguageProperty", "languageMap": "x"}), 400, BAD
    ),
    "languageproperty-bad-tag": Case(
        _new(name={"type": "LanguageProperty", "languageMap": {"not a tag": "x"}}), 400, BAD
    ),
    "listproperty-not-a-list": Case(_new(stops={"type": "ListProperty", "valueList": 3}), 400, BAD),
    "jsonproperty-a-number": Case(_new(raw={"type": "JsonProperty", "json": 3}), 400, BAD),
    "unknown-attribute-type": Case(_new(speed={"type": "Propertee", "value": 1}), 400, BAD),
    "unitCode-a-number": Case(_new(speed=_prop(1, unitCode=3)), 400, BAD),
    # GeoJSON (RFC 7946, clause 4.7)
    "geo-longitude-out-of-range": Case(_geo({"type": "Point", "coordinates": [180.5, 10]}), 400, BAD),
    "geo-latitude-out-of-range": Case(_geo({"type": "Point", "coordinates": [10, -90.5]}), 400, BAD),
    "geo-point-one-number": Case(_geo({"type": "Point", "coordinates": [10]}), 400, BAD),
    "geo-point-strings": Case(_geo({"type": "Point", "coordinates": ["10", "20"]}), 400, BAD),
    "geo-point-nested-too-deep": Case(_geo({"type": "Point", "coordinates": [[10, 20]]}), 400, BAD),
    "geo-polygon-not-closed": Case(
        _geo({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}), 400, BAD
    ),
    "geo-polygon-too-few-positions": Case(
        _geo({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}), 400, BAD
    ),
    "geo-polygon-missing-ring-level": Case(
        _geo({"type": "Polygon", "coordinates": [[0, 0], [1, 0], [1, 1], [0, 0]]}), 400, BAD
    ),
    "geo-linestring-one-position": Case(_geo({"type": "LineString", "coordinates": [[0, 0]]}), 400, BAD),
    "geo-unknown-type": Case(_geo({"type": "Circle", "coordinates": [0, 0]}), 400, BAD),
    "geo-no-coordinates": Case(_geo({"type": "Point"}), 400, BAD),
    # DateTimes (clause 4.6.3)
    "observedAt-words": Case(_new(speed=_prop(1, observedAt="yesterday")), 400, BAD),
    "observedAt-month-13": Case(_new(speed=_prop(1, observedAt="2024-13-01T00:00:00Z")), 400, BAD),
    "observedAt-february-30": Case(_new(speed=_prop(1, observedAt="2024-02-30T00:00:00Z")), 400, BAD),
    "observedAt-hour-25": Case(_new(speed=_prop(1, observedAt="2024-01-01T25:00:00Z")), 400, BAD),
    "observedAt-a-number": Case(_new(speed=_prop(1, observedAt=1700000000)), 400, BAD),
    "observedAt-date-only": Case(_new(speed=_prop(1, observedAt="2024-01-01")), 400, BAD),
    "typed-datetime-bad": Case(_new(when=_prop({"@type": "DateTime", "@value": "soon"})), 400, BAD),
    # media types and @context placement (clauses 6.3.4, 6.3.5)
    "content-type-text": Case(json.dumps(_new()).encode(), 415, None, headers={"Content-Type": "text/plain"}),
    "content-type-xml": Case(b"<entity/>", 415, None, headers={"Content-Type": "application/xml"}),
    "content-type-form": Case(
        b"id=urn:x:y", 415, None, headers={"Content-Type": "application/x-www-form-urlencoded"}
    ),
    "json-with-context-in-body": Case({"@context": CORE_CONTEXT_URL, **_new()}, 400, BAD),
    "json-ld-without-context": Case(_new(), 400, BAD, headers={"Content-Type": JSON_LD}),
    "json-ld-with-link-header": Case(
        {"@context": CORE_CONTEXT_URL, **_new()},
        400,
        BAD,
        headers={"Content-Type": JSON_LD, "Link": link(CORE_CONTEXT_URL)},
    ),
    "json-ld-context-a-number": Case({"@context": 5, **_new()}, 400, BAD, headers={"Content-Type": JSON_LD}),
    "context-not-http-url": Case(
        _new(), 400, (BAD, "LdContextNotAvailable"), headers={"Link": link("ftp://example.org/ctx.jsonld")}
    ),
    "attribute-embedded-context": Case(_new(speed={**_prop(1), "@context": {"x": "http://x/"}}), 400, BAD),
    "scoped-context": Case(
        {
            "@context": [
                {"speed": {"@id": "http://x/speed", "@context": {"a": "http://a/"}}},
                CORE_CONTEXT_URL,
            ],
            **_new(speed=_prop(1)),
        },
        400,
        BAD,
        headers={"Content-Type": JSON_LD},
    ),
    # query parameters
    "unknown-option-on-append": _append((BAD, INVALID), {"options": "bogus"}, speed=_prop(2)),
    "unknown-option-on-retrieve": Case(
        None, 400, (BAD, INVALID), method="GET", path=f"/entities/{EXISTING}", params={"options": "bogus"}
    ),
    "unknown-option-on-upsert": Case(
        [_new(speed=_prop(2))],
        400,
        (BAD, INVALID),
        path="/entityOperations/upsert",
        params={"options": "bogus"},
    ),
    # changes to the existing entity
    "append-bad-observedAt": _append(BAD, speed=_prop(2, observedAt="noon")),
    "append-bad-geometry": _append(
        BAD, location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [0, 91]}}
    ),
    "append-reserved-name": _append(BAD, speed=_prop(2), value=_prop(3)),
    "append-one-good-one-bad": _append(BAD, speed=_prop(2), owner={"type": "Relationship"}),
    "update-attrs-bad-value": Case(
        {"speed": {"type": "Relationship", "object": "x y"}},
        400,
        BAD,
        method="PATCH",
        path=f"/entities/{EXISTING}/attrs",
    ),
    "replace-entity-bad-attribute": Case(
        {"id": EXISTING, "type": "Vehicle", "speed": {"type": "Property"}},
        400,
        BAD,
        method="PUT",
        path=f"/entities/{EXISTING}",
    ),
    "replace-entity-id-mismatch": Case(
        {"id": NEW, "type": "Vehicle", "speed": _prop(2)},
        400,
        BAD,
        method="PUT",
        path=f"/entities/{EXISTING}",
    ),
}


def _send(client: httpx.Client, case: Case) -> httpx.Response:
    headers = {"Content-Type": JSON, **case.headers}
    if case.body is None:
        content = None
        if case.method == "GET":
            headers.pop("Content-Type")
    elif isinstance(case.body, bytes):
        content = case.body
    else:
        content = json.dumps(case.body).encode()
    return client.request(case.method, case.path, content=content, headers=headers, params=case.params)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_and_changes_nothing(client: httpx.Client, name: str) -> None:
    case = CASES[name]
    existing = {
        "id": EXISTING,
        "type": "Vehicle",
        "speed": _prop(1, unitCode="KMH"),
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.75, 49.44]}},
    }
    assert client.post("/entities", json=existing).status_code == 201
    before = client.get(f"/entities/{EXISTING}", params={"options": "sysAttrs"}).json()

    response = _send(client, case)

    assert_problem(response, case.status, case.error)
    assert client.get(f"/entities/{EXISTING}", params={"options": "sysAttrs"}).json() == before
    assert_problem(client.get(f"/entities/{NEW}"), 404, "ResourceNotFound")
    listed = client.get("/entities", params={"type": "Vehicle"}).json()
    assert [e["id"] for e in listed] == [EXISTING]


def test_a_body_just_under_the_limit_is_accepted(client: httpx.Client) -> None:
    """The bound refuses only what is over it: the 413 above is about size, not about long strings."""
    entity_id = new_id("Vehicle")
    response = client.post(
        "/entities", json={"id": entity_id, "type": "Vehicle", "blob": _prop("x" * (MIB - 1024))}
    )
    assert response.status_code == 201, response.text
    assert len(client.get(f"/entities/{entity_id}").json()["blob"]["value"]) == MIB - 1024


def test_created_at_given_by_the_client_is_not_stored(client: httpx.Client) -> None:
    """createdAt is when the entity entered the system (clause 4.8): a client's value does not replace it."""
    entity_id = new_id("Vehicle")
    body = {"id": entity_id, "type": "Vehicle", "createdAt": "1999-01-01T00:00:00Z", "speed": _prop(1)}
    assert client.post("/entities", json=body).status_code == 201
    stored = client.get(f"/entities/{entity_id}", params={"options": "sysAttrs"}).json()
    assert stored["createdAt"] != "1999-01-01T00:00:00Z"
    assert stored["createdAt"] > "2020"
