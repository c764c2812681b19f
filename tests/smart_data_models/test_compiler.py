"""The compiler against jsonschema, keyword by keyword, on small schemas (same verdict, every case)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

from smart_data_models.catalog import FORMAT_CHECKER
from smart_data_models.compiler import Compiler
from smart_data_models.keywords import Unsupported

CASES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "integer"}, 3),
    ({"type": "integer"}, 3.0),
    ({"type": "integer"}, 3.5),
    ({"type": "integer"}, True),
    ({"type": "number"}, False),
    ({"type": ["string", "null"]}, None),
    ({"enum": [1, "a"]}, 1.0),
    ({"enum": [1, "a"]}, True),
    ({"const": {"a": [1]}}, {"a": [1.0]}),
    ({"minimum": 2}, "x"),
    ({"exclusiveMaximum": 2}, 2),
    ({"multipleOf": 0.5}, 1.5),
    ({"multipleOf": 0.5}, 1.2),
    ({"minLength": 2}, "é"),
    ({"pattern": "^a+$"}, "aaa"),
    ({"pattern": "b"}, "abc"),
    ({"format": "date-time"}, "2026-02-30T10:00:00Z"),
    ({"format": "date-time"}, "2026-01-30T10:00:00+01:00"),
    ({"format": "date-time"}, "2026-01-30"),
    ({"format": "date"}, "2026-01-30"),
    ({"format": "uri"}, "urn:x:y"),
    ({"format": "uri"}, "not a uri"),
    ({"format": "ipv4"}, "10.0.0.256"),
    ({"format": "unknown-format"}, "x"),
    ({"items": {"type": "number"}, "minItems": 2}, [1, "a"]),
    ({"prefixItems": [{"type": "string"}]}, [1]),
    ({"uniqueItems": True}, [1, 1.0]),
    ({"uniqueItems": True}, [1, True]),
    ({"contains": {"const": 3}}, [1, 2]),
    ({"required": ["a"], "properties": {"a": {"type": "string"}}}, {"a": 1}),
    ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}),
    ({"patternProperties": {"^x": {"type": "number"}}, "additionalProperties": False}, {"x1": "s"}),
    ({"propertyNames": {"maxLength": 2}}, {"abc": 1}),
    ({"dependentRequired": {"a": ["b"]}}, {"a": 1}),
    ({"allOf": [{"properties": {"a": {"minimum": 1}}}, {"properties": {"a": {"maximum": 3}}}]}, {"a": 5}),
    ({"anyOf": [{"type": "string"}, {"minimum": 3}]}, 2),
    ({"oneOf": [{"minimum": 1}, {"maximum": 5}]}, 3),
    ({"not": {"type": "null"}}, None),
    ({"if": {"minimum": 10}, "then": {"multipleOf": 5}}, 12),
    ({"if": {"minimum": 10}, "then": {"multipleOf": 5}, "else": {"const": 1}}, 2),
    (False, 1),
    (True, 1),
    (
        {
            "$defs": {
                "n": {
                    "type": "object",
                    "properties": {"next": {"$ref": "#/$defs/n"}, "v": {"type": "number"}},
                }
            },
            "$ref": "#/$defs/n",
        },
        {"next": {"next": {"v": "deep"}}},
    ),
]


def _compile(schema: Any, spec=DRAFT202012):
    uri = "https://schemas.test.invalid/s.json"
    registry = Registry().with_resource(uri, Resource(contents=schema, specification=spec))
    return Compiler(lambda _: spec).compile(registry.resolver(), uri)


@pytest.mark.parametrize(("schema", "instance"), CASES)
def test_compiled_verdict_equals_jsonschema(schema: Any, instance: Any) -> None:
    expected = jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER).is_valid(instance)

    assert (_compile(schema)(instance) is None) == expected


def test_draft07_reads_items_as_a_tuple_and_ref_without_siblings() -> None:
    schema = {
        "definitions": {"s": {"type": "string"}},
        "items": [{"$ref": "#/definitions/s"}],
        "additionalItems": False,
    }
    check = _compile(schema, DRAFT7)

    assert check(["a"]) is None
    assert check([1]) is not None
    assert check(["a", "b"]) is not None
    assert (
        _compile({"$ref": "#/definitions/s", "minLength": 9, "definitions": {"s": {}}}, DRAFT7)("x") is None
    )


def test_a_keyword_the_compiler_lacks_is_reported_not_ignored() -> None:
    with pytest.raises(Unsupported, match="unevaluatedProperties"):
        _compile({"unevaluatedProperties": False})


def test_a_violation_names_the_nested_path() -> None:
    schema = {"properties": {"location": {"properties": {"coordinates": {"items": {"type": "number"}}}}}}

    (violation,) = _compile(schema)({"location": {"coordinates": [7.7, "49"]}})

    assert (violation.where, violation.rule) == ("location.coordinates[1]", "type")
