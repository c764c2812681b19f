"""GET /entities and POST /entityOperations/query: every parameter, every georel, paging, bad input.

Every test talks to the real broker process over loopback, on a fresh tenant.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from broker_adapter.ngsild.core_context import CORE_CONTEXT_URL
from tests.support.ngsild import assert_problem

LOCATION_PROPS = {"type": "GeoProperty"}


def point(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


ENTITIES: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:Sensor:p1",
        "type": "Sensor",
        "scope": ["/KL/Lauter"],
        "temperature": {
            "type": "Property",
            "value": 21.5,
            "unitCode": "CEL",
            "observedAt": "2026-01-01T10:00:00Z",
        },
        "name": {"type": "Property", "value": "Lauter Brücke"},
        "address": {"type": "Property", "value": {"city": "Kaiserslautern", "zip": "67655"}},
        "label": {"type": "LanguageProperty", "languageMap": {"de": "Brücke", "en": "bridge"}},
        "controlledBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:alice"},
        "active": {"type": "Property", "value": True},
        "since": {"type": "Property", "value": {"@type": "DateTime", "@value": "2025-06-01T08:00:00Z"}},
        "location": {"type": "GeoProperty", "value": point(7.75, 49.44)},
    },
    {
        "id": "urn:ngsi-ld:Sensor:p2",
        "type": "Sensor",
        "scope": ["/KL/Waschmuehle"],
        "temperature": [
            {"type": "Property", "value": 30, "unitCode": "CEL"},
            {"type": "Property", "value": 5, "datasetId": "urn:ngsi-ld:Dataset:raw"},
        ],
        "name": {"type": "Property", "value": "Speyer"},
        "controlledBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:bob"},
        "active": {"type": "Property", "value": False},
        "location": {"type": "GeoProperty", "value": point(8.0, 49.0)},
    },
    {
        "id": "urn:ngsi-ld:Park:poly",
        "type": ["Park", "Area"],
        "scope": ["/KL"],
        "name": {"type": "Property", "value": "Volkspark"},
        "area": {
            "type": "Property",
            "value": 12000,
            "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:alice"},
        },
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Polygon", "coordinates": square(7.7, 49.4, 7.8, 49.5)},
        },
    },
    {
        "id": "urn:ngsi-ld:Road:line",
        "type": "Road",
        "name": {"type": "Property", "value": "B 270"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "LineString", "coordinates": [[7.0, 49.0], [7.1, 49.1]]},
        },
        "observationSpace": {"type": "GeoProperty", "value": point(7.75, 49.44)},
    },
]
P1, P2, POLY, LINE = (e["id"] for e in ENTITIES)


@pytest.fixture
def seeded(client: httpx.Client) -> httpx.Client:
    response = client.post("/entityOperations/create", json=ENTITIES)
    assert response.status_code == 201, response.text
    return client


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


def query(client: httpx.Client, **params: Any) -> list[str]:
    return ids(client.get("/entities", params=params))


# -- selection ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "Sensor"}, [P1, P2]),
        ({"type": "Sensor,Road"}, [P1, P2, LINE]),
        ({"type": "Park;Area"}, [POLY]),
        ({"type": "(Park;Area)|Road"}, [POLY, LINE]),
        ({"type": "Sensor;Road"}, []),
        ({"id": f"{P2},{LINE}"}, [P2, LINE]),
        ({"idPattern": "^urn:ngsi-ld:Sensor:"}, [P1, P2]),
        ({"type": "Sensor", "idPattern": "p2$"}, [P2]),
        ({"attrs": "area,observationSpace"}, [POLY, LINE]),
        ({"scopeQ": "/KL"}, [POLY]),
        ({"scopeQ": "/KL/#"}, [P1, P2, POLY]),
        ({"scopeQ": "/KL/+"}, [P1, P2]),
        ({"scopeQ": "/KL/Lauter,/KL/Waschmuehle"}, [P1, P2]),
        ({"local": "true"}, [POLY, LINE, P1, P2]),
        ({"type": "Sensor", "csf": 'endpoint=="http://x.org"'}, [P1, P2]),
    ],
)
def test_selection_parameters(seeded: httpx.Client, params: dict[str, str], expected: list[str]) -> None:
    assert query(seeded, **params) == sorted(expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("temperature>20", [P1, P2]),
        ("temperature<10", [P2]),  # any instance (datasetId raw has 5)
        ("temperature==21.5", [P1]),
        ("temperature==20..25", [P1]),
        ("temperature!=21.5", [P2]),
        ("temperature==5,30", [P2]),
        ('temperature.unitCode=="CEL"', [P1, P2]),
        ("temperature.datasetId==urn:ngsi-ld:Dataset:raw", [P2]),
        ("temperature.observedAt>=2026-01-01T00:00:00Z", [P1]),
        ("since<2026-01-01T00:00:00Z", [P1]),
        ('name~="^Lauter"', [P1]),
        ('name~="(?i)volks"', [POLY]),
        ('name!~="a"', [P2, LINE]),
        ('address[city]=="Kaiserslautern"', [P1]),
        ('label[en]=="bridge"', [P1]),
        ('label=="Brücke"', [P1]),
        ("controlledBy==urn:ngsi-ld:Person:alice", [P1]),
        ("area.measuredBy==urn:ngsi-ld:Person:alice", [POLY]),
        ("active==true", [P1]),
        ("active==false", [P2]),
        ("area", [POLY]),
        ("!temperature", [POLY, LINE]),
        ("temperature>25|area>10000", [P2, POLY]),
        ('(temperature>25|area>10000);name=="Speyer"', [P2]),
        ('name=="Speyer";temperature==30', [P2]),
    ],
)
def test_q(seeded: httpx.Client, q: str, expected: list[str]) -> None:
    assert query(seeded, q=q) == sorted(expected)


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "expected"),
    [
        ("near;maxDistance==1000", "Point", "[7.75,49.44]", [P1]),
        ("near;minDistance==1000", "Point", "[7.75,49.44]", [P2, LINE]),
        ("within", "Polygon", str(square(7.6, 49.3, 7.9, 49.6)), [P1, POLY]),
        ("contains", "Point", "[7.75,49.45]", [POLY]),
        ("intersects", "LineString", "[[7.65,49.45],[7.85,49.45]]", [POLY]),
        ("equals", "Point", "[8.0,49.0]", [P2]),
        ("disjoint", "Polygon", str(square(7.6, 49.3, 7.9, 49.6)), [P2, LINE]),
        ("overlaps", "Polygon", str(square(7.75, 49.45, 7.9, 49.6)), [POLY]),
        ("intersects", "MultiPoint", "[[7.75,49.44],[8.0,49.0]]", [P1, P2, POLY]),
        ("intersects", "MultiLineString", "[[[7.0,49.0],[7.05,49.05]]]", [LINE]),
        (
            "intersects",
            "MultiPolygon",
            str([square(7.74, 49.43, 7.76, 49.45), square(7.99, 48.99, 8.01, 49.01)]),
            [P1, P2, POLY],
        ),
    ],
)
def test_every_georel(
    seeded: httpx.Client, georel: str, geometry: str, coordinates: str, expected: list[str]
) -> None:
    params = {"georel": georel, "geometry": geometry, "coordinates": coordinates.replace(" ", "")}
    assert query(seeded, **params) == sorted(expected)


def test_geoproperty_selects_the_geometry_attribute(seeded: httpx.Client) -> None:
    params = {"georel": "near;maxDistance==10", "geometry": "Point", "coordinates": "[7.75,49.44]"}
    assert query(seeded, **params, geoproperty="observationSpace") == [LINE]
    assert query(seeded, **params, type="Sensor") == [P1]


# -- representation -----------------------------------------------------------------------------------
def test_attrs_pick_and_omit_shape_the_entities(seeded: httpx.Client) -> None:
    kv = {"type": "Sensor", "options": "keyValues"}
    picked = seeded.get("/entities", params={**kv, "pick": "id,name"}).json()
    assert picked == [{"id": P1, "name": "Lauter Brücke"}, {"id": P2, "name": "Speyer"}]
    omitted = seeded.get(
        "/entities", params={**kv, "omit": "location,label,address,since,controlledBy"}
    ).json()
    assert set(omitted[0]) == {"id", "type", "scope", "temperature", "name", "active"}
    attrs = seeded.get("/entities", params={**kv, "attrs": "name"}).json()
    assert attrs[1] == {"id": P2, "type": "Sensor", "scope": ["/KL/Waschmuehle"], "name": "Speyer"}


def test_options_and_lang(seeded: httpx.Client) -> None:
    base = {"id": P1, "pick": "id,name,label"}
    assert seeded.get("/entities", params={**base, "options": "concise"}).json()[0]["name"] == "Lauter Brücke"
    normalized = seeded.get("/entities", params=base).json()[0]
    assert normalized["name"] == {"type": "Property", "value": "Lauter Brücke"}
    with_sys = seeded.get("/entities", params={**base, "options": "sysAttrs"}).json()[0]
    assert "createdAt" in with_sys and "modifiedAt" in with_sys["name"]
    lang = seeded.get("/entities", params={**base, "lang": "en"}).json()[0]
    assert lang["label"] == {"type": "Property", "value": "bridge", "lang": "en"}


def test_geojson_is_a_feature_collection(seeded: httpx.Client) -> None:
    response = seeded.get(
        "/entities",
        params={"type": "Road", "geometryProperty": "observationSpace"},
        headers={"Accept": "application/geo+json"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["@context"] == CORE_CONTEXT_URL  # clause 6.3.6: in the body unless Prefer: body=json
    (feature,) = body["features"]
    assert feature["id"] == LINE and feature["geometry"] == point(7.75, 49.44)

    plain = seeded.get(
        "/entities",
        params={"type": "Road", "geometryProperty": "observationSpace"},
        headers={"Accept": "application/geo+json", "Prefer": "body=json"},
    )
    assert "@context" not in plain.json()
    assert f"<{CORE_CONTEXT_URL}>" in plain.headers["Link"]
    assert plain.json()["features"] == body["features"]


# -- count and paging -----------------------------------------------------------------------------------
def test_count_header_and_limit_zero(seeded: httpx.Client) -> None:
    response = seeded.get("/entities", params={"type": "Sensor,Park", "count": "true", "limit": "1"})
    assert ids(response) == [POLY]
    assert response.headers["NGSILD-Results-Count"] == "3"
    only_count = seeded.get("/entities", params={"type": "Sensor", "count": "true", "limit": "0"})
    assert only_count.json() == [] and only_count.headers["NGSILD-Results-Count"] == "2"


def _links(response: httpx.Response) -> dict[str, str]:
    found = re.findall(r'<([^>]*)>;\s*rel="(next|prev)"', response.headers.get("Link", ""))
    return {rel: url for url, rel in found}


def test_paging_with_link_headers_returns_each_entity_once(client: httpx.Client) -> None:
    total = 237
    batch = [
        {"id": f"urn:ngsi-ld:Item:{n:04d}", "type": "Item", "n": {"type": "Property", "value": n}}
        for n in range(total)
    ]
    assert client.post("/entityOperations/create", json=batch).status_code == 201
    seen: list[str] = []
    url: str | None = "/entities?type=Item&q=n%3E=0&limit=50"
    pages = 0
    while url is not None:
        response = client.get(url.removeprefix("/ngsi-ld/v1"))
        page = ids(response)
        assert len(page) == (50 if pages < 4 else total - 200)
        links = _links(response)
        assert ("prev" in links) == (pages > 0)
        seen += page
        url = links.get("next")
        pages += 1
    assert pages == 5
    assert seen == sorted(e["id"] for e in batch)
    last = client.get("/entities", params={"type": "Item", "limit": "50", "offset": "200"})
    assert "offset=150" in _links(last)["prev"] and "next" not in _links(last)


def test_paging_a_geo_query_is_stable(client: httpx.Client) -> None:
    batch = [
        {
            "id": f"urn:ngsi-ld:Pin:{n:03d}",
            "type": "Pin",
            "location": {"type": "GeoProperty", "value": point(n / 100, 0)},
        }
        for n in range(60)
    ]
    assert client.post("/entityOperations/create", json=batch).status_code == 201
    geo = {
        "georel": "within",
        "geometry": "Polygon",
        "coordinates": str(square(0.095, -1, 0.495, 1)).replace(" ", ""),
    }
    first = client.get("/entities", params={**geo, "limit": "25", "count": "true"})
    second = client.get("/entities", params={**geo, "limit": "25", "offset": "25", "count": "true"})
    assert first.headers["NGSILD-Results-Count"] == "40"
    assert ids(first) + ids(second) == [f"urn:ngsi-ld:Pin:{n:03d}" for n in range(10, 50)]
    assert "next" in _links(first) and "next" not in _links(second)


# -- POST /entityOperations/query -----------------------------------------------------------------------
def test_post_query_takes_the_query_data_type(seeded: httpx.Client) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Sensor", "idPattern": "p1$"}, {"id": POLY, "type": "Park"}],
        "attrs": ["name"],
        "q": 'name~="a"',
    }
    response = seeded.post(
        "/entityOperations/query", json=body, params={"options": "keyValues", "count": "true"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": POLY, "type": ["Park", "Area"], "scope": ["/KL"], "name": "Volkspark"},
        {"id": P1, "type": "Sensor", "scope": ["/KL/Lauter"], "name": "Lauter Brücke"},
    ]
    assert response.headers["NGSILD-Results-Count"] == "2"


def test_post_query_with_geoq_and_scopeq(seeded: httpx.Client) -> None:
    body = {
        "type": "Query",
        "geoQ": {"geometry": "Polygon", "coordinates": square(7.6, 49.3, 7.9, 49.6), "georel": "within"},
        "scopeQ": "/KL/#",
    }
    assert ids(seeded.post("/entityOperations/query", json=body)) == [POLY, P1]


# -- bad input ------------------------------------------------------------------------------------------
GEO = {"georel": "within", "geometry": "Polygon", "coordinates": str(square(0, 0, 1, 1)).replace(" ", "")}


@pytest.mark.parametrize(
    ("params", "status", "kind", "hint"),
    [
        ({}, 400, "BadRequestData", "at least one of"),
        ({"q": "(temperature>1"}, 400, "BadRequestData", "position"),
        ({"q": "temperature>1)"}, 400, "BadRequestData", "position"),
        ({"q": "temperature=>1"}, 400, "BadRequestData", "position"),
        ({"q": "temperature>true"}, 400, "BadRequestData", "number"),
        ({"q": 'temperature==1.."a"'}, 400, "BadRequestData", "same type"),
        ({"q": 'name~="(a+)+"'}, 400, "BadRequestData", "backtracking"),
        ({"q": 'name~="[a"'}, 400, "BadRequestData", "position"),
        ({"q": "a{b}==1"}, 422, "OperationNotSupported", "linked-entity"),
        ({"type": "Sensor;;Road"}, 400, "BadRequestData", "position"),
        ({"idPattern": "(x"}, 400, "BadRequestData", "idPattern"),
        ({"idPattern": "(a*)*b"}, 400, "BadRequestData", "idPattern"),
        ({"scopeQ": "KL"}, 400, "BadRequestData", "scope"),
        ({"type": "T", "csf": "(("}, 400, "BadRequestData", "position"),
        ({**GEO, "georel": "near"}, 400, "BadRequestData", "distance"),
        ({**GEO, "georel": "near;maxDistance==-5"}, 400, "BadRequestData", "number"),
        ({**GEO, "georel": "touches"}, 400, "BadRequestData", "relation"),
        ({**GEO, "geometry": "Circle"}, 400, "BadRequestData", "geometry"),
        ({**GEO, "coordinates": "[[1,2]]"}, 400, "BadRequestData", "coordinates"),
        ({**GEO, "coordinates": "[1,"}, 400, "BadRequestData", "JSON"),
        ({"georel": "within"}, 400, "BadRequestData", "together"),
        ({"type": "T", "limit": "5000"}, 400, "BadRequestData", "maximum"),
        ({"type": "T", "limit": "-1"}, 400, "BadRequestData", "limit"),
        ({"type": "T", "limit": "0"}, 400, "BadRequestData", "count=true"),
        ({"type": "T", "offset": "-3"}, 400, "BadRequestData", "offset"),
        ({"type": "T", "options": "everything"}, 400, "InvalidRequest", "unknown option"),
        ({"type": "T", "count": "yes"}, 400, "BadRequestData", "count"),
    ],
)
def test_bad_query_input_is_a_problem_a_person_can_act_on(
    client: httpx.Client, params: dict[str, str], status: int, kind: str, hint: str
) -> None:
    assert client.post("/entities", json={"id": "urn:ngsi-ld:T:1", "type": "T"}).status_code == 201
    body = assert_problem(client.get("/entities", params=params), status, kind)
    assert hint.lower() in body["detail"].lower(), body["detail"]


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ([], "Query object"),
        ({"type": "Subscription"}, "Query"),
        ({"type": "Query"}, "at least one"),
        ({"type": "Query", "entities": [{}]}, "entities[0]"),
        ({"type": "Query", "entities": "Sensor"}, "array"),
        ({"type": "Query", "q": 5}, "string"),
        (
            {"type": "Query", "geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 2]}},
            "distance",
        ),
    ],
)
def test_bad_query_bodies(client: httpx.Client, body: Any, hint: str) -> None:
    assert client.post("/entities", json={"id": "urn:ngsi-ld:T:1", "type": "T"}).status_code == 201
    problem = assert_problem(client.post("/entityOperations/query", json=body), 400, "BadRequestData")
    assert hint.lower() in problem["detail"].lower(), problem["detail"]


# -- projections that leave nothing, and datasetId --------------------------------------------------------
@pytest.mark.parametrize("accept", ["application/json", "application/ld+json"])
def test_entities_that_pick_leaves_empty_are_not_listed(client: httpx.Client, accept: str) -> None:
    named = {"id": "urn:ngsi-ld:Thing:named", "type": "Thing", "name": {"type": "Property", "value": "a"}}
    unnamed = {"id": "urn:ngsi-ld:Thing:unnamed", "type": "Thing", "size": {"type": "Property", "value": 1}}
    assert client.post("/entityOperations/create", json=[named, unnamed]).status_code == 201

    response = client.get("/entities", params={"type": "Thing", "pick": "name"}, headers={"Accept": accept})

    assert response.status_code == 200, response.text
    assert [{k: v for k, v in e.items() if k != "@context"} for e in response.json()] == [
        {"name": named["name"]}
    ]


def test_the_dataset_id_parameter_keeps_only_those_instances(client: httpx.Client) -> None:
    fr, de = "urn:ngsi-ld:Dataset:fr", "urn:ngsi-ld:Dataset:de"
    name = [
        {"type": "Property", "value": "Eiffel Tower"},
        {"type": "Property", "value": "Tour Eiffel", "datasetId": fr},
        {"type": "Property", "value": "Eiffelturm", "datasetId": de},
    ]
    located = {"type": "Relationship", "object": "urn:ngsi-ld:City:paris", "datasetId": fr}
    entity = {
        "id": "urn:ngsi-ld:Building:eiffel",
        "type": "Building",
        "name": name,
        "locatedAt": located,
        "height": {"type": "Property", "value": 330},
    }
    assert client.post("/entities", json=entity).status_code == 201

    def query(**params: str) -> dict:
        response = client.get("/entities", params={"type": "Building", **params})
        assert response.status_code == 200, response.text
        (found,) = response.json()
        return found

    assert query(datasetId=fr) == {
        "id": entity["id"],
        "type": "Building",
        "name": name[1],
        "locatedAt": located,
    }
    assert query(datasetId=f"{fr},{de}")["name"] == name[1:]
    assert query(datasetId="@none") == {
        "id": entity["id"],
        "type": "Building",
        "name": name[0],
        "height": entity["height"],
    }
    assert query(datasetId="urn:ngsi-ld:Dataset:es", attrs="name") == {"id": entity["id"], "type": "Building"}
    retrieved = client.get(f"/entities/{entity['id']}", params={"datasetId": de}).json()
    assert retrieved == {"id": entity["id"], "type": "Building", "name": name[2]}
    assert_problem(
        client.get("/entities", params={"type": "Building", "datasetId": "not a uri"}), 400, "BadRequestData"
    )
