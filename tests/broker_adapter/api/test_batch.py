"""/entityOperations/{create,upsert,update,delete,merge} against a real broker (clauses 5.6.7-5.6.10,
5.6.20, 5.5.11; HTTP binding 6.14-6.17, 6.31). Every test reads the store back through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.fixtures_b import ERRORS, JSON_LD, new_id
from tests.support.ngsild import assert_problem, context_link

OPS = "/entityOperations/"


def _entity(entity_id: str, **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Vehicle",
        **{name: {"type": "Property", "value": value} for name, value in attrs.items()},
    }


def _get(client: httpx.Client, entity_id: str) -> httpx.Response:
    return client.get(f"/entities/{entity_id}")


def _value(client: httpx.Client, entity_id: str, attr: str) -> Any:
    response = _get(client, entity_id)
    assert response.status_code == 200, response.text
    body = response.json()
    return body[attr]["value"] if attr in body else None


def _assert_absent(client: httpx.Client, entity_id: str) -> None:
    assert_problem(_get(client, entity_id), 404, ("ResourceNotFound", "NonexistentTenant"))


def _seed(client: httpx.Client, *entities: dict[str, Any]) -> None:
    for entity in entities:
        assert client.post("/entities", json=entity).status_code == 201


def _error_ids(body: dict[str, Any]) -> list[str]:
    return sorted(e["entityId"] for e in body["errors"])


def _assert_batch_result(response: httpx.Response, success: list[str], errors: dict[str, str]) -> dict:
    """207 with a BatchOperationResult (5.2.16): success ids, and per failed id a ProblemDetails type."""
    assert response.status_code == 207, response.text
    body = response.json()
    assert sorted(body["success"]) == sorted(success)
    assert _error_ids(body) == sorted(errors)
    for item in body["errors"]:
        problem = item["error"]
        assert problem["type"] == ERRORS + errors[item["entityId"]], item
        assert problem["title"]
    return body


# create ------------------------------------------------------------------------------------------
def test_batch_create_returns_201_with_created_ids_and_stores_every_entity(client: httpx.Client) -> None:
    ids = [new_id("Vehicle") for _ in range(3)]
    response = client.post(OPS + "create", json=[_entity(i, speed=n) for n, i in enumerate(ids)])
    assert response.status_code == 201, response.text
    assert sorted(response.json()) == sorted(ids)
    assert [_value(client, i, "speed") for i in ids] == [0, 1, 2]


def test_batch_create_with_good_and_bad_entities_writes_only_the_good_ones(client: httpx.Client) -> None:
    existing, good, bad_geo, bad_rel = (new_id("Vehicle") for _ in range(4))
    _seed(client, _entity(existing, speed=1))
    batch = [
        _entity(good, speed=2),
        _entity(existing, speed=99),
        {
            **_entity(bad_geo, speed=3),
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [200, 10]}},
        },
        {**_entity(bad_rel, speed=4), "owner": {"type": "Relationship", "object": "not a uri"}},
        {"id": "not-a-uri", "type": "Vehicle"},
    ]
    response = client.post(OPS + "create", json=batch)
    _assert_batch_result(
        response,
        [good],
        {
            existing: "AlreadyExists",
            bad_geo: "BadRequestData",
            bad_rel: "BadRequestData",
            "not-a-uri": "BadRequestData",
        },
    )
    assert _value(client, good, "speed") == 2
    assert _value(client, existing, "speed") == 1
    _assert_absent(client, bad_geo)
    _assert_absent(client, bad_rel)


def test_batch_create_with_duplicate_ids_creates_the_first_and_reports_the_rest(client: httpx.Client) -> None:
    """5.5.11.1: the first occurrence creates the entity; later ones are AlreadyExists errors."""
    entity_id = new_id("Vehicle")
    response = client.post(
        OPS + "create",
        json=[_entity(entity_id, speed=1), _entity(entity_id, speed=2), _entity(entity_id, speed=3)],
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["success"] == [entity_id]
    assert [e["entityId"] for e in body["errors"]] == [entity_id, entity_id]
    assert {e["error"]["type"] for e in body["errors"]} == {ERRORS + "AlreadyExists"}
    assert _value(client, entity_id, "speed") == 1


def test_batch_create_json_ld_uses_each_entitys_own_context(client: httpx.Client) -> None:
    first, second = new_id("Vehicle"), new_id("Vehicle")
    batch = [
        {"@context": {"speed": "https://a.example/speed"}, **_entity(first, speed=1)},
        {"@context": [{"speed": "https://b.example/speed"}], **_entity(second, speed=2)},
    ]
    response = client.post(OPS + "create", json=batch, headers={"Content-Type": JSON_LD})
    assert response.status_code == 201, response.text
    one, two = _get(client, first).json(), _get(client, second).json()
    assert one["https://a.example/speed"]["value"] == 1 and "https://b.example/speed" not in one
    assert two["https://b.example/speed"]["value"] == 2 and "https://a.example/speed" not in two


def test_batch_create_json_ld_entity_without_context_is_rejected_alone(client: httpx.Client) -> None:
    with_ctx, without_ctx = new_id("Vehicle"), new_id("Vehicle")
    batch = [
        {"@context": {"speed": "https://a.example/speed"}, **_entity(with_ctx, speed=1)},
        _entity(without_ctx, speed=2),
    ]
    response = client.post(OPS + "create", json=batch, headers={"Content-Type": JSON_LD})
    _assert_batch_result(response, [with_ctx], {without_ctx: "BadRequestData"})
    _assert_absent(client, without_ctx)


@pytest.mark.parametrize("operation", ["create", "upsert", "update", "merge"])
def test_an_entity_with_its_own_context_sent_as_plain_json_is_rejected_alone(
    client: httpx.Client, operation: str
) -> None:
    """Clause 6.3.5: with application/json an @context in an entity is that entity's error (207)."""
    plain, with_ctx = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(new_id("Vehicle")))  # the tenant exists
    if operation != "create":
        _seed(client, _entity(plain, speed=1), _entity(with_ctx, speed=1))
    batch = [
        _entity(plain, speed=2),
        {"@context": {"speed": "https://a.example/speed"}, **_entity(with_ctx, speed=2)},
    ]

    response = client.post(OPS + operation, json=batch)

    _assert_batch_result(response, [plain], {with_ctx: "BadRequestData"})
    assert _value(client, plain, "speed") == 2
    if operation == "create":
        _assert_absent(client, with_ctx)
    else:
        assert _value(client, with_ctx, "speed") == 1


@pytest.mark.parametrize("operation", ["create", "upsert", "update", "merge"])
def test_a_link_header_with_json_ld_refuses_the_whole_batch(client: httpx.Client, operation: str) -> None:
    """Clause 6.3.5: with application/ld+json the @context may not come in a Link header (400, no write)."""
    existing, fresh = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(existing, speed=1))
    batch = [
        {"@context": {"speed": "https://a.example/speed"}, **_entity(i, speed=2)} for i in (existing, fresh)
    ]
    link = context_link("https://a.example/ctx.jsonld")

    response = client.post(OPS + operation, json=batch, headers={"Content-Type": JSON_LD, "Link": link})

    assert_problem(response, 400, "BadRequestData")
    assert _value(client, existing, "speed") == 1
    _assert_absent(client, fresh)


# request-level errors: the whole batch is refused and nothing is written ---------------------------
@pytest.mark.parametrize("operation", ["create", "upsert", "update", "delete", "merge"])
@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"id": "urn:ngsi-ld:Vehicle:x", "type": "Vehicle"}', b'"urn:x:y"'],
    ids=["empty-array", "object-not-array", "string"],
)
def test_batch_refuses_a_body_that_is_not_a_non_empty_array(
    client: httpx.Client, operation: str, body: bytes
) -> None:
    _seed(client, _entity(new_id("Vehicle")))  # the tenant exists: the body alone is at fault
    response = client.post(OPS + operation, content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "BadRequestData")


@pytest.mark.parametrize("operation", ["create", "upsert", "update", "merge"])
def test_batch_with_a_null_item_is_refused_whole(client: httpx.Client, operation: str) -> None:
    """5.6.7.4, 5.6.8.4, 5.6.9.4: an array containing null → BadRequestData, and no sibling is written."""
    existing, fresh = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(existing, speed=1))
    response = client.post(OPS + operation, json=[_entity(existing, speed=2), _entity(fresh, speed=3), None])
    assert_problem(response, 400, "BadRequestData")
    assert _value(client, existing, "speed") == 1
    _assert_absent(client, fresh)


def test_batch_delete_with_a_null_item_is_refused_whole(client: httpx.Client) -> None:
    """5.6.10.4: an array containing null → BadRequestData; the listed entity is not deleted."""
    existing = new_id("Vehicle")
    _seed(client, _entity(existing, speed=1))
    assert_problem(client.post(OPS + "delete", json=[existing, None]), 400, "BadRequestData")
    assert _value(client, existing, "speed") == 1


def test_batch_malformed_json_is_invalid_request(client: httpx.Client) -> None:
    response = client.post(
        OPS + "create", content=b'[{"id": "urn:x:1", ', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "InvalidRequest")


def test_batch_create_refuses_options(client: httpx.Client) -> None:
    entity_id = new_id("Vehicle")
    response = client.post(OPS + "create", params={"options": "bogus"}, json=[_entity(entity_id)])
    assert_problem(response, 400, ("BadRequestData", "InvalidRequest"))
    _assert_absent(client, entity_id)


# upsert ------------------------------------------------------------------------------------------
def test_batch_upsert_creates_missing_and_replaces_existing_by_default(client: httpx.Client) -> None:
    existing, fresh = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, {**_entity(existing, speed=1), "colour": {"type": "Property", "value": "red"}})
    response = client.post(OPS + "upsert", json=[_entity(existing, speed=2), _entity(fresh, speed=3)])
    assert response.status_code == 201, response.text
    assert response.json() == [fresh]  # only the ids of created entities
    replaced = _get(client, existing).json()
    assert replaced["speed"]["value"] == 2 and "colour" not in replaced
    assert _value(client, fresh, "speed") == 3


def test_batch_upsert_of_existing_entities_only_is_204(client: httpx.Client) -> None:
    a, b = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(a, speed=1), _entity(b, speed=1))
    response = client.post(OPS + "upsert", json=[_entity(a, speed=7), _entity(b, speed=8)])
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert [_value(client, a, "speed"), _value(client, b, "speed")] == [7, 8]


def test_batch_upsert_update_mode_keeps_attributes_not_given(client: httpx.Client) -> None:
    existing = new_id("Vehicle")
    _seed(client, {**_entity(existing, speed=1), "colour": {"type": "Property", "value": "red"}})
    response = client.post(OPS + "upsert", params={"options": "update"}, json=[_entity(existing, speed=2)])
    assert response.status_code == 204, response.text
    body = _get(client, existing).json()
    assert body["speed"]["value"] == 2 and body["colour"]["value"] == "red"


@pytest.mark.parametrize(("options", "expected"), [(None, {"b"}), ("replace", {"b"}), ("update", {"a", "b"})])
def test_batch_upsert_applies_duplicate_ids_in_order(
    client: httpx.Client, options: str | None, expected: set[str]
) -> None:
    """5.5.11.2: the first occurrence creates, later ones replace (default) or update in array order."""
    entity_id = new_id("Vehicle")
    params = {"options": options} if options else {}
    response = client.post(
        OPS + "upsert",
        params=params,
        json=[_entity(entity_id, a=1, speed=1), _entity(entity_id, b=2, speed=2)],
    )
    assert response.status_code == 201, response.text
    assert response.json() == [entity_id]
    body = _get(client, entity_id).json()
    assert {k for k in ("a", "b") if k in body} == expected
    assert body["speed"]["value"] == 2


def test_batch_upsert_bad_entity_leaves_the_existing_one_unchanged(client: httpx.Client) -> None:
    existing, good = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(existing, speed=1))
    bad = {**_entity(existing, speed=2), "seen": {"type": "Property", "value": 1, "observedAt": "yesterday"}}
    response = client.post(OPS + "upsert", json=[bad, _entity(good, speed=3)])
    _assert_batch_result(response, [good], {existing: "BadRequestData"})
    body = _get(client, existing).json()
    assert body["speed"]["value"] == 1 and "seen" not in body


def test_batch_upsert_refuses_both_modes_at_once(client: httpx.Client) -> None:
    entity_id = new_id("Vehicle")
    response = client.post(OPS + "upsert", params={"options": "replace,update"}, json=[_entity(entity_id)])
    assert_problem(response, 400, ("BadRequestData", "InvalidRequest"))
    _assert_absent(client, entity_id)


# update ------------------------------------------------------------------------------------------
def test_batch_update_overwrites_and_appends_attributes(client: httpx.Client) -> None:
    a, b = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(a, speed=1), _entity(b, speed=1))
    response = client.post(OPS + "update", json=[_entity(a, speed=5, colour="red"), _entity(b, speed=6)])
    assert response.status_code == 204, response.text
    body = _get(client, a).json()
    assert body["speed"]["value"] == 5 and body["colour"]["value"] == "red"
    assert _value(client, b, "speed") == 6


def test_batch_update_no_overwrite_keeps_existing_values_and_reports_them(client: httpx.Client) -> None:
    """5.6.9.4: an entity whose existing attributes noOverwrite kept is in the errors (207); what was new
    is written; an entity whose attributes were all new is a success."""
    kept, fresh = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(kept, speed=1), _entity(fresh, speed=1))
    batch = [
        _entity(kept, speed=9, colour="red"),
        _entity(fresh, colour="blue"),
    ]

    response = client.post(OPS + "update", params={"options": "noOverwrite"}, json=batch)

    body = _assert_batch_result(response, [fresh], {kept: "AlreadyExists"})
    assert "speed" in body["errors"][0]["error"]["detail"]
    after = _get(client, kept).json()
    assert after["speed"]["value"] == 1 and after["colour"]["value"] == "red"
    assert _get(client, fresh).json()["colour"]["value"] == "blue"


def test_batch_update_of_a_missing_entity_reports_it_and_creates_nothing(client: httpx.Client) -> None:
    existing, missing = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(existing, speed=1))
    response = client.post(OPS + "update", json=[_entity(existing, speed=2), _entity(missing, speed=3)])
    _assert_batch_result(response, [existing], {missing: "ResourceNotFound"})
    assert _value(client, existing, "speed") == 2
    _assert_absent(client, missing)


def test_batch_update_with_invalid_attribute_leaves_the_entity_unchanged(client: httpx.Client) -> None:
    a, b = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(a, speed=1), _entity(b, speed=1))
    bad = {
        "id": a,
        "speed": {"type": "Property", "value": 2},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        },
    }
    response = client.post(OPS + "update", json=[bad, _entity(b, speed=2)])
    _assert_batch_result(response, [b], {a: "BadRequestData"})
    body = _get(client, a).json()
    assert body["speed"]["value"] == 1 and "location" not in body
    assert _value(client, b, "speed") == 2


# delete ------------------------------------------------------------------------------------------
def test_batch_delete_removes_every_listed_entity(client: httpx.Client) -> None:
    ids = [new_id("Vehicle") for _ in range(3)]
    _seed(client, *(_entity(i) for i in ids))
    response = client.post(OPS + "delete", json=ids)
    assert response.status_code == 204, response.text
    for entity_id in ids:
        _assert_absent(client, entity_id)


def test_batch_delete_reports_missing_and_invalid_ids_and_deletes_the_rest(client: httpx.Client) -> None:
    present, missing = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(present))
    response = client.post(OPS + "delete", json=[present, missing, "not a uri"])
    _assert_batch_result(response, [present], {missing: "ResourceNotFound", "not a uri": "BadRequestData"})
    _assert_absent(client, present)


def test_batch_delete_duplicate_id_deletes_once_and_reports_the_repeat(client: httpx.Client) -> None:
    """5.5.11.4: the first occurrence deletes, later ones are 'entity does not exist' errors."""
    entity_id = new_id("Vehicle")
    _seed(client, _entity(entity_id))
    response = client.post(OPS + "delete", json=[entity_id, entity_id])
    body = _assert_batch_result(response, [entity_id], {entity_id: "ResourceNotFound"})
    assert len(body["errors"]) == 1
    _assert_absent(client, entity_id)


# merge -------------------------------------------------------------------------------------------
def test_batch_merge_merges_values_and_deletes_with_ngsi_ld_null(client: httpx.Client) -> None:
    entity_id = new_id("Vehicle")
    _seed(
        client,
        {
            **_entity(entity_id, speed=1, colour="red"),
            "engine": {"type": "Property", "value": {"power": 100, "fuel": "diesel"}},
        },
    )
    patch = {
        "id": entity_id,
        "speed": {"type": "Property", "value": 2},
        "colour": "urn:ngsi-ld:null",
        "engine": {"type": "Property", "value": {"power": 120}},
    }
    response = client.post(OPS + "merge", json=[patch])
    assert response.status_code == 204, response.text
    body = _get(client, entity_id).json()
    assert body["speed"]["value"] == 2
    assert "colour" not in body
    assert body["engine"]["value"]["power"] == 120


def test_batch_merge_of_a_missing_entity_reports_it_and_creates_nothing(client: httpx.Client) -> None:
    existing, missing = new_id("Vehicle"), new_id("Vehicle")
    _seed(client, _entity(existing, speed=1))
    response = client.post(OPS + "merge", json=[_entity(existing, speed=2), _entity(missing, speed=3)])
    _assert_batch_result(response, [existing], {missing: "ResourceNotFound"})
    assert _value(client, existing, "speed") == 2
    _assert_absent(client, missing)


def test_batch_merge_applies_duplicate_ids_in_order(client: httpx.Client) -> None:
    """5.5.11.5: repeated ids are merged in array order."""
    entity_id = new_id("Vehicle")
    _seed(client, _entity(entity_id, speed=1))
    response = client.post(
        OPS + "merge", json=[{"id": entity_id, "speed": 2, "a": 1}, {"id": entity_id, "speed": 3, "b": 1}]
    )
    assert response.status_code == 204, response.text
    body = _get(client, entity_id).json()
    assert body["speed"]["value"] == 3 and "a" in body and "b" in body
