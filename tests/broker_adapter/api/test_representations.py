"""GET /entities/{id} representations: normalized, concise, simplified, GeoJSON, projections, @context.

ETSI GS CIM 009 v1.8 clause 4.5 (representations), 4.5.16 (GeoJSON), 4.15 (lang), 6.3.6 (@context in
responses), 6.3.4 (content negotiation).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from broker_adapter.ngsild.core_context import CORE_CONTEXT_URL
from tests.support.ngsild import (
    CONTEXT_REL,
    CORE_CONTEXT,
    SYS,
    assert_problem,
    context_link,
    create,
    masked,
    media_type,
    retrieve,
)

ID = "urn:ngsi-ld:Sensor:rep"
POINT = {"type": "Point", "coordinates": [7.75, 49.44]}
AREA = {"type": "Polygon", "coordinates": [[[7.7, 49.4], [7.8, 49.4], [7.8, 49.5], [7.7, 49.4]]]}
OBSERVED = "2026-01-02T03:04:05.678Z"
ENTITY: dict[str, Any] = {
    "id": ID,
    "type": "Sensor",
    "temperature": {
        "type": "Property",
        "value": 21.5,
        "unitCode": "CEL",
        "observedAt": OBSERVED,
        "accuracy": {"type": "Property", "value": 0.5},
        "measuredBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
    },
    "name": {"type": "Property", "value": "Lauter"},
    "address": {"type": "Property", "value": {"city": "Kaiserslautern"}},
    "location": {"type": "GeoProperty", "value": POINT},
    "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
    "label": {"type": "LanguageProperty", "languageMap": {"de": "Brücke", "en": "bridge"}},
    "raw": {"type": "JsonProperty", "json": {"id": "x", "n": [1, 2]}},
    "order": {"type": "ListProperty", "valueList": [3, 1, 2]},
    "route": {
        "type": "ListRelationship",
        "objectList": [{"object": "urn:ngsi-ld:Stop:2"}, {"object": "urn:ngsi-ld:Stop:1"}],
    },
}
SIMPLIFIED = {
    "id": ID,
    "type": "Sensor",
    "temperature": 21.5,
    "name": "Lauter",
    "address": {"city": "Kaiserslautern"},
    "location": POINT,
    "owner": "urn:ngsi-ld:Person:p1",
    "label": {"languageMap": {"de": "Brücke", "en": "bridge"}},
    "raw": {"json": {"id": "x", "n": [1, 2]}},
    "order": [3, 1, 2],
    "route": ["urn:ngsi-ld:Stop:2", "urn:ngsi-ld:Stop:1"],
}
CONCISE = {
    "id": ID,
    "type": "Sensor",
    "temperature": {
        "value": 21.5,
        "unitCode": "CEL",
        "observedAt": OBSERVED,
        "accuracy": 0.5,
        "measuredBy": {"object": "urn:ngsi-ld:Device:d1"},
    },
    "name": "Lauter",
    "address": {"value": {"city": "Kaiserslautern"}},
    "location": POINT,
    "owner": {"object": "urn:ngsi-ld:Person:p1"},
    "label": {"languageMap": {"de": "Brücke", "en": "bridge"}},
    "raw": {"json": {"id": "x", "n": [1, 2]}},
    "order": {"valueList": [3, 1, 2]},
    "route": {"objectList": [{"object": "urn:ngsi-ld:Stop:2"}, {"object": "urn:ngsi-ld:Stop:1"}]},
}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture
def entity(client: httpx.Client) -> dict[str, Any]:
    create(client, ENTITY)
    return ENTITY


# formats ------------------------------------------------------------------------------------------------
def test_default_representation_is_normalized(client: httpx.Client, entity: dict) -> None:
    assert retrieve(client, ID) == ENTITY
    assert retrieve(client, ID, params={"options": "normalized"}) == ENTITY


@pytest.mark.parametrize("option", ["keyValues", "simplified"])
def test_simplified_representation(client: httpx.Client, entity: dict, option: str) -> None:
    assert retrieve(client, ID, params={"options": option}) == SIMPLIFIED


def test_simplified_representation_of_vocab_property(client: httpx.Client, user_context_url: str) -> None:
    create(
        client,
        {
            "@context": user_context_url,
            "id": ID,
            "type": "Sensor",
            "colour": {"type": "VocabProperty", "vocab": "red"},
        },
    )

    body = retrieve(
        client, ID, params={"options": "keyValues"}, headers={"Link": context_link(user_context_url)}
    )

    assert body == {"id": ID, "type": "Sensor", "colour": {"vocab": "red"}}


def test_concise_representation(client: httpx.Client, entity: dict) -> None:
    assert retrieve(client, ID, params={"options": "concise"}) == CONCISE


def test_concise_representation_of_vocab_property(client: httpx.Client, user_context_url: str) -> None:
    create(
        client,
        {
            "@context": user_context_url,
            "id": ID,
            "type": "Sensor",
            "colour": {"type": "VocabProperty", "vocab": "red"},
        },
    )

    body = retrieve(
        client, ID, params={"options": "concise"}, headers={"Link": context_link(user_context_url)}
    )

    assert body == {"id": ID, "type": "Sensor", "colour": {"vocab": "red"}}


def test_concise_output_can_be_posted_back_unchanged(client: httpx.Client, entity: dict) -> None:
    concise = retrieve(client, ID, params={"options": "concise"})
    copy = {**concise, "id": "urn:ngsi-ld:Sensor:copy"}

    create(client, copy)

    assert retrieve(client, "urn:ngsi-ld:Sensor:copy") == {**ENTITY, "id": "urn:ngsi-ld:Sensor:copy"}


def test_conflicting_formats_are_400(client: httpx.Client, entity: dict) -> None:
    response = client.get(f"/entities/{ID}", params={"options": "keyValues,concise"})

    assert_problem(response, 400, "BadRequestData")


@pytest.mark.parametrize(
    "params",
    [
        {"options": "fancy"},
        {"options": "keyValues,fancy"},
        {"format": "fancy"},
        {"format": "keyValues", "options": "x"},
    ],
)
def test_an_unknown_option_or_format_is_400_invalid_request(
    client: httpx.Client, entity: dict, params: dict
) -> None:
    # clause 6.3.20; the parameters are checked before the entity is looked up
    assert_problem(client.get(f"/entities/{ID}", params=params), 400, "InvalidRequest")
    assert_problem(client.get("/entities/urn:ngsi-ld:Sensor:none", params=params), 400, "InvalidRequest")


def test_format_takes_precedence_over_options(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"format": "keyValues", "options": "normalized"})

    assert body["name"] == entity["name"]["value"]


# projections --------------------------------------------------------------------------------------------
def test_attrs_selects_attributes_and_keeps_id_and_type(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"attrs": "name,owner"})

    assert body == {"id": ID, "type": "Sensor", "name": ENTITY["name"], "owner": ENTITY["owner"]}


def test_pick_selects_exactly_the_named_members(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"pick": "id,name"})

    assert body == {"id": ID, "name": ENTITY["name"]}


def test_omit_drops_the_named_members(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"omit": "type,temperature,raw"})

    assert body == {k: v for k, v in ENTITY.items() if k not in ("type", "temperature", "raw")}


def test_pick_combines_with_simplified(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"pick": "id,label,route", "options": "keyValues"})

    assert body == {"id": ID, "label": SIMPLIFIED["label"], "route": SIMPLIFIED["route"]}


def test_omit_can_drop_the_id(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"omit": "id,name"})

    assert body == {k: v for k, v in ENTITY.items() if k not in ("id", "name")}


def test_a_nested_projection_selects_the_linking_attribute(client: httpx.Client, entity: dict) -> None:
    # clause 4.21: owner{name} projects the linked entity; without a join only `owner` itself is returned
    body = retrieve(client, ID, params={"pick": "id,owner{name,address{street}}"})

    assert body == {"id": ID, "owner": ENTITY["owner"]}


@pytest.mark.parametrize("params", [{"pick": "nothingHere"}, {"omit": ",".join(ENTITY)}])
def test_pick_or_omit_that_leave_no_member_are_404(client: httpx.Client, entity: dict, params: dict) -> None:
    assert_problem(client.get(f"/entities/{ID}", params=params), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "params",
    [
        {"pick": "name", "omit": "name"},
        {"pick": "name", "attrs": "owner"},
        {"omit": "name", "attrs": "owner"},
        {"pick": "id;name"},
        {"pick": "id,owner{name"},
        {"pick": "id,owner{{name}"},
        {"pick": "id,,name"},
        {"pick": "id,owner{,name}"},
        {"pick": "id,owner{}"},
        {"omit": "name}"},
    ],
)
def test_malformed_or_conflicting_projections_are_400(
    client: httpx.Client, entity: dict, params: dict
) -> None:
    problem = assert_problem(client.get(f"/entities/{ID}", params=params), 400, "BadRequestData")
    assert problem["title"]


# system attributes ---------------------------------------------------------------------------------------
def test_sys_attrs_adds_created_and_modified_at_everywhere(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"options": "sysAttrs"})

    for holder in [body, *(body[name] for name in ENTITY if name not in ("id", "type"))]:
        assert TIMESTAMP.fullmatch(holder["createdAt"]), holder
        assert TIMESTAMP.fullmatch(holder["modifiedAt"]), holder
    assert masked(body)["name"] == {
        "type": "Property",
        "value": "Lauter",
        "createdAt": SYS,
        "modifiedAt": SYS,
    }


def test_sys_attrs_combines_with_concise(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"options": "concise,sysAttrs"})

    assert masked(body)["name"] == {"value": "Lauter", "createdAt": SYS, "modifiedAt": SYS}
    assert "createdAt" in body and "modifiedAt" in body


def test_system_attributes_in_input_are_ignored(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "createdAt": "2000-01-01T00:00:00.000Z",
            "a": {"type": "Property", "value": 1, "modifiedAt": "2000-01-01T00:00:00.000Z"},
        },
    )

    body = retrieve(client, ID, params={"options": "sysAttrs"})

    assert body["createdAt"] > "2001"
    assert body["a"]["modifiedAt"] > "2001"


# lang ---------------------------------------------------------------------------------------------------
def test_lang_turns_a_language_property_into_a_property(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"lang": "en", "attrs": "label"})

    assert body == {
        "id": ID,
        "type": "Sensor",
        "label": {"type": "Property", "value": "bridge", "lang": "en"},
    }


def test_lang_with_simplified_gives_the_string(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"lang": "de", "attrs": "label", "options": "keyValues"})

    assert body == {"id": ID, "type": "Sensor", "label": "Brücke"}


def test_lang_with_concise(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"lang": "de", "attrs": "label", "options": "concise"})

    assert body == {"id": ID, "type": "Sensor", "label": {"value": "Brücke", "lang": "de"}}


def test_lang_does_not_touch_other_attributes(client: httpx.Client, entity: dict) -> None:
    body = retrieve(client, ID, params={"lang": "en"})

    assert body == {**ENTITY, "label": {"type": "Property", "value": "bridge", "lang": "en"}}


# @context and media types -------------------------------------------------------------------------------
def test_accept_json_gives_the_context_in_a_link_header(client: httpx.Client, entity: dict) -> None:
    response = client.get(f"/entities/{ID}", headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert "@context" not in response.json()
    assert f"<{CORE_CONTEXT}>" in response.headers["Link"]
    assert f'rel="{CONTEXT_REL}"' in response.headers["Link"]


def test_accept_json_ld_gives_the_context_in_the_body(client: httpx.Client, entity: dict) -> None:
    response = client.get(f"/entities/{ID}", headers={"Accept": "application/ld+json"})

    assert response.status_code == 200
    assert media_type(response) == "application/ld+json"
    body = response.json()
    assert body.pop("@context") in (CORE_CONTEXT, [CORE_CONTEXT])
    assert body == ENTITY


def test_accept_json_ld_names_the_users_context(client: httpx.Client, user_context_url: str) -> None:
    create(client, {"@context": user_context_url, "id": ID, "type": "Sensor", "temperature": 20})

    response = client.get(
        f"/entities/{ID}", headers={"Accept": "application/ld+json", "Link": context_link(user_context_url)}
    )

    body = response.json()
    context = body.pop("@context")
    assert context == user_context_url or (isinstance(context, list) and user_context_url in context)
    assert body == {"id": ID, "type": "Sensor", "temperature": {"type": "Property", "value": 20}}


def test_accept_json_names_the_users_context_in_the_link_header(
    client: httpx.Client, user_context_url: str
) -> None:
    create(client, {"@context": user_context_url, "id": ID, "type": "Sensor", "temperature": 20})

    response = client.get(f"/entities/{ID}", headers={"Link": context_link(user_context_url)})

    assert f"<{user_context_url}>" in response.headers["Link"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/ld+json;q=0.9, application/json;q=0.5", "application/ld+json"),
        ("text/html, application/geo+json", "application/geo+json"),
        # equal weights: the order clause 6.3.4 offers them in (JSON first), not the order the client wrote
        ("application/ld+json, application/json", "application/json"),
        ("application/geo+json, application/json", "application/json"),
        # RFC 9110 12.5.1: the most specific range gives the weight, so */* cannot bring back a refused type
        ("application/json;q=0, */*", "application/ld+json"),
        ("*/*;q=0.9, application/ld+json;q=0.8", "application/json"),
        # an unreadable weight is ignored, not taken as 0
        ("application/ld+json;q=notanumber", "application/ld+json"),
    ],
)
def test_content_negotiation(client: httpx.Client, entity: dict, accept: str, expected: str) -> None:
    response = client.get(f"/entities/{ID}", headers={"Accept": accept})

    assert response.status_code == 200
    assert media_type(response) == expected


@pytest.mark.parametrize(
    "accept",
    ["text/html", "application/xml", "application/json;q=0", "*/*;q=0", "application/*;q=0, text/html"],
)
def test_unsupported_accept_is_406(client: httpx.Client, entity: dict, accept: str) -> None:
    assert_problem(client.get(f"/entities/{ID}", headers={"Accept": accept}), 406, None)


# GeoJSON --------------------------------------------------------------------------------------------------
def _feature(client: httpx.Client, **params: str) -> dict[str, Any]:
    response = client.get(f"/entities/{ID}", params=params, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200, response.text
    assert media_type(response) == "application/geo+json"
    feature = response.json()
    assert feature.pop("@context") == CORE_CONTEXT_URL  # clause 6.3.6: in the body by default
    return feature


def test_prefer_body_json_moves_the_geojson_context_to_the_link_header(
    client: httpx.Client, user_context_url: str
) -> None:
    create(
        client,
        {
            "@context": user_context_url,
            "id": ID,
            "type": "Sensor",
            "location": {"type": "GeoProperty", "value": POINT},
        },
    )
    link = {"Link": context_link(user_context_url), "Accept": "application/geo+json"}

    embedded = client.get(f"/entities/{ID}", headers=link)
    plain = client.get(f"/entities/{ID}", headers={**link, "Prefer": "body=json"})

    assert embedded.json()["@context"] == user_context_url
    assert "@context" not in plain.json()
    assert f"<{user_context_url}>" in plain.headers["Link"]
    assert plain.json() == {k: v for k, v in embedded.json().items() if k != "@context"}


def test_geojson_feature_of_an_entity(client: httpx.Client, entity: dict) -> None:
    properties = {k: v for k, v in ENTITY.items() if k != "id"}

    assert _feature(client) == {"id": ID, "type": "Feature", "geometry": POINT, "properties": properties}


def test_geojson_feature_with_simplified_properties(client: httpx.Client, entity: dict) -> None:
    properties = {k: v for k, v in SIMPLIFIED.items() if k != "id"}

    assert _feature(client, options="keyValues") == {
        "id": ID,
        "type": "Feature",
        "geometry": POINT,
        "properties": properties,
    }


def test_geometry_property_selects_the_geometry(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "location": {"type": "GeoProperty", "value": POINT},
            "area": {"type": "GeoProperty", "value": AREA},
        },
    )

    assert _feature(client, geometryProperty="area")["geometry"] == AREA


def test_geojson_geometry_is_the_default_instance(client: httpx.Client) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "location": [
                {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [9.0, 9.0]},
                    "datasetId": "urn:ds:gps",
                },
                {"type": "GeoProperty", "value": POINT},
            ],
        },
    )

    assert _feature(client)["geometry"] == POINT


@pytest.mark.parametrize(
    "params", [{}, {"geometryProperty": "name"}], ids=["no-location", "not-a-geoproperty"]
)
def test_geojson_geometry_is_null_without_a_geoproperty(client: httpx.Client, params: dict) -> None:
    create(client, {"id": ID, "type": "Sensor", "name": {"type": "Property", "value": "x"}})

    assert _feature(client, **params) == {
        "id": ID,
        "type": "Feature",
        "geometry": None,
        "properties": {"type": "Sensor", "name": {"type": "Property", "value": "x"}},
    }


@pytest.mark.parametrize("params", [{}, {"options": "sysAttrs"}, {"options": "concise"}])
def test_observed_at_is_shown_in_utc_without_a_zero_fraction(client: httpx.Client, params: dict) -> None:
    create(
        client,
        {
            "id": ID,
            "type": "Sensor",
            "a": {"type": "Property", "value": 1, "observedAt": "2026-11-25T11:00:00+01:00"},
            "b": {"type": "Property", "value": 2, "observedAt": "2026-11-25T10:00:00.250Z"},
        },
    )

    body = retrieve(client, ID, params=params)

    assert body["a"]["observedAt"] == "2026-11-25T10:00:00Z"
    assert body["b"]["observedAt"] == "2026-11-25T10:00:00.250Z"
