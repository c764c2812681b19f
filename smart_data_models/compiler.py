"""JSON Schema compiled once into plain Python closures, so that checking an entity costs microseconds.

Why not call jsonschema per entity: it walks the schema and resolves every $ref again on each call, about
1 ms for a Smart Data Models entity, ten times the broker's whole per-entity ingest budget. jsonschema still
checks each schema document against its meta-schema (catalog.py); this module turns a checked schema into
nested closures, resolving $refs once through the `referencing` registry it is given.

Every compiled check takes an instance and returns None when it is valid (no allocation on that path) or a
list of Violations whose paths are relative to that instance; a parent prefixes its key only on failure.

Supported: type, enum, const, the numeric, string, array and object keywords, format (asserted for
date-time, date, time, uri, uri-reference, email, idn-email, ipv4, ipv6, uuid, hostname; others are
annotations), allOf/anyOf/oneOf/not, if/then/else, $ref (cycles too), prefixItems and draft-07 array
`items`, dependentRequired/dependentSchemas/dependencies. A schema using anything else that changes
validity ($dynamicRef, $recursiveRef, unevaluated*) raises Unsupported; the catalog then validates that
model with jsonschema (slower, same verdicts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from referencing import Specification
from referencing.exceptions import Unresolvable

from smart_data_models.keywords import (
    Check,
    SchemaProblem,
    Unsupported,
    Violation,
    add,
    all_of,
    any_of,
    const_check,
    discriminator,
    enum_check,
    json_equal,
    numeric_check,
    ok,
    one,
    one_of,
    prefixed,
    show,
    string_check,
    tagged_one_of,
    type_check,
)

if TYPE_CHECKING:  # referencing does not export the class it returns from Registry.resolver()
    from referencing._core import Resolver

_BARE_REF_KEYS = frozenset({"$ref", "description", "title", "$comment"})
_UNSUPPORTED = frozenset({"$dynamicRef", "$recursiveRef", "unevaluatedProperties", "unevaluatedItems"})


class _Cell:
    """A $ref target being compiled: lets a recursive schema refer to itself."""

    __slots__ = ("check",)

    def __init__(self) -> None:
        self.check: Check | None = None


class _Folded:
    """Properties and required names gathered from allOf members, checked with the parent's object."""

    __slots__ = ("object_type", "props", "required")

    def __init__(self) -> None:
        self.props: dict[str, list[Check]] = {}
        self.required: list[str] = []
        self.object_type = False


_FOLDABLE_KEYS = frozenset(
    {
        "type",
        "properties",
        "required",
        "title",
        "description",
        "$comment",
        "$id",
        "$schema",
        "$defs",
        "definitions",
    }
)


def _foldable(schema: Any) -> bool:
    return (
        isinstance(schema, Mapping)
        and schema.get("type", "object") == "object"
        and all(key in _FOLDABLE_KEYS or key.startswith("x-") for key in schema)
    )


class Compiler:
    """Compiles the schemas of one registry; compiled $ref targets are shared between models."""

    def __init__(self, dialect_of: Callable[[str], Specification[Any]]) -> None:
        self._dialect_of = dialect_of  # root URI of a document -> its JSON Schema dialect
        self._memo: dict[int, _Cell] = {}
        self._keep: list[Any] = []  # memo keys are id()s: keep the targets alive

    def compile(self, resolver: Resolver[Any], uri: str) -> Check:
        """The check of the schema document (or subschema) at uri."""
        return self._ref(uri, resolver, self._dialect_of(uri.partition("#")[0]))

    # schema objects -------------------------------------------------------------------------------------
    def _schema(self, schema: Any, resolver: Resolver[Any], spec: Specification[Any]) -> Check:
        if schema is True:
            return ok
        if schema is False:
            return lambda _: [Violation((), "false", "no value is allowed here")]
        if not isinstance(schema, Mapping):
            raise SchemaProblem(f"a schema must be an object or a boolean, not {show(schema)}")
        if "$id" in schema and isinstance(schema["$id"], str) and not schema["$id"].startswith("#"):
            resolver = resolver.in_subresource(spec.create_resource(schema))
        used = _UNSUPPORTED.intersection(schema)
        if used:
            raise Unsupported(", ".join(sorted(used)))
        legacy = spec.name.startswith("draft") and spec.name not in ("draft2019-09", "draft2020-12")
        if "$ref" in schema and legacy:  # before 2019-09, $ref replaces its siblings
            return self._ref(schema["$ref"], resolver, spec)
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"], resolver, spec))
        if "type" in schema:
            checks.append(type_check(schema["type"]))
        if "enum" in schema:
            checks.append(enum_check(schema["enum"]))
        if "const" in schema:
            checks.append(const_check(schema["const"]))
        numeric = numeric_check(schema, legacy)
        if numeric is not None:
            checks.append(numeric)
        string = string_check(schema)
        if string is not None:
            checks.append(string)
        array = self._array(schema, resolver, spec, legacy)
        if array is not None:
            checks.append(array)
        folded, rest = self._fold_all_of(schema, resolver, spec)
        obj = self._object(schema, resolver, spec, folded)
        if obj is not None:
            checks.append(obj)
        if folded.object_type and "type" not in schema:
            checks.append(type_check("object"))
        if rest:
            checks.append(all_of(rest))
        checks.extend(self._combinators(schema, resolver, spec))
        return all_of(checks)

    def _fold_all_of(
        self, schema: Mapping[str, Any], resolver: Resolver[Any], spec: Specification[Any]
    ) -> tuple[_Folded, list[Check]]:
        """Merge allOf members that only declare properties (GSMA-Commons, ...) into one object check.

        allOf[A, B] over plain `properties`/`required` equals one check with both sets (a name in both gets
        both checks), and walks the entity's members once instead of once per member. Not done when the
        schema's own additionalProperties/patternProperties depend on which names its properties list."""
        folded = _Folded()
        parts = schema.get("allOf")
        if not isinstance(parts, list):
            return folded, []
        if "additionalProperties" in schema or "patternProperties" in schema:
            return folded, [self._sub(part, resolver, spec) for part in parts]
        rest: list[Check] = []
        for part in parts:
            target, part_resolver, part_spec = self._chase(part, resolver, spec)
            if not _foldable(target):
                rest.append(self._sub(part, resolver, spec))
                continue
            if "$id" in target:
                part_resolver = part_resolver.in_subresource(part_spec.create_resource(target))
            for name, sub in target.get("properties", {}).items():
                folded.props.setdefault(name, []).append(self._sub(sub, part_resolver, part_spec))
            folded.required.extend(target.get("required", ()))
            folded.object_type = folded.object_type or target.get("type") == "object"
        return folded, rest

    def _chase(
        self, schema: Any, resolver: Resolver[Any], spec: Specification[Any]
    ) -> tuple[Any, Resolver[Any], Specification[Any]]:
        """Follow a chain of bare $refs to the schema object they name (with its resolver and dialect)."""
        for _ in range(8):
            if not (isinstance(schema, Mapping) and set(schema) <= _BARE_REF_KEYS):
                break
            try:
                resolved = resolver.lookup(schema["$ref"])
            except Unresolvable as exc:
                raise SchemaProblem(f"$ref {schema['$ref']!r} cannot be resolved locally ({exc})") from exc
            base = getattr(resolved.resolver, "_base_uri", "") or ""
            schema, resolver = resolved.contents, resolved.resolver
            spec = self._dialect_of(base.partition("#")[0]) if base else spec
        return schema, resolver, spec

    def _sub(self, schema: Any, resolver: Resolver[Any], spec: Specification[Any]) -> Check:
        return self._schema(schema, resolver, spec)

    def _ref(self, ref: str, resolver: Resolver[Any], spec: Specification[Any]) -> Check:
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable as exc:
            raise SchemaProblem(f"$ref {ref!r} cannot be resolved from the local schemas ({exc})") from exc
        key = id(resolved.contents)
        cell = self._memo.get(key)
        if cell is None:
            cell = self._memo[key] = _Cell()
            self._keep.append(resolved.contents)
            # referencing keeps the target's base URI private; it names the document, hence the dialect
            base = getattr(resolved.resolver, "_base_uri", "") or ""
            target_spec = self._dialect_of(base.partition("#")[0]) if base else spec
            try:
                cell.check = self._schema(resolved.contents, resolved.resolver, target_spec)
            except BaseException:
                del self._memo[key]
                raise
        if cell.check is None:  # a cycle: bind late

            def late(instance: Any) -> list[Violation] | None:
                return cell.check(instance)  # type: ignore[misc]

            return late
        return cell.check

    def _resolved(self, schema: Any, resolver: Resolver[Any], depth: int = 0) -> Any:
        """A subschema with its $ref chain followed (for compile-time analysis only)."""
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and depth < 8:
            try:
                resolved = resolver.lookup(schema["$ref"])
            except Unresolvable:
                return schema
            schema, resolver, depth = resolved.contents, resolved.resolver, depth + 1
        return schema

    def _array(
        self, schema: Mapping[str, Any], resolver: Resolver[Any], spec: Specification[Any], legacy: bool
    ) -> Check | None:
        prefix: tuple[Check, ...] = ()
        rest: Check | None = None
        items = schema.get("items")
        if legacy and isinstance(items, list):
            prefix = tuple(self._sub(s, resolver, spec) for s in items)
            if "additionalItems" in schema:
                rest = self._sub(schema["additionalItems"], resolver, spec)
        else:
            if "prefixItems" in schema:
                prefix = tuple(self._sub(s, resolver, spec) for s in schema["prefixItems"])
            if items is not None:
                rest = self._sub(items, resolver, spec)
        min_items, max_items = schema.get("minItems"), schema.get("maxItems")
        unique = schema.get("uniqueItems") is True
        contains = self._sub(schema["contains"], resolver, spec) if "contains" in schema else None
        min_contains, max_contains = schema.get("minContains", 1), schema.get("maxContains")
        if not (prefix or rest or min_items is not None or max_items is not None or unique or contains):
            return None

        def run(instance: Any) -> list[Violation] | None:
            if not isinstance(instance, list):
                return None
            errors: list[Violation] | None = None
            n = len(instance)
            if min_items is not None and n < min_items:
                errors = one("minItems", f"has {n} item(s); at least {min_items} required")
            if max_items is not None and n > max_items:
                errors = add(errors, "maxItems", f"has {n} items; at most {max_items}")
            for index, item in enumerate(instance):
                check = prefix[index] if index < len(prefix) else rest
                if check is not None:
                    found = check(item)
                    if found is not None:
                        errors = prefixed(errors, index, found)
            if unique and n > 1 and not unique_items(instance):
                errors = add(errors, "uniqueItems", "has repeated items")
            if contains is not None:
                hits = sum(1 for item in instance if contains(item) is None)
                if hits < min_contains or (max_contains is not None and hits > max_contains):
                    errors = (errors or []) + [
                        Violation((), "contains", f"{hits} item(s) match the 'contains' schema")
                    ]
            return errors

        return run

    def _object(
        self,
        schema: Mapping[str, Any],
        resolver: Resolver[Any],
        spec: Specification[Any],
        folded: _Folded | None = None,
    ) -> Check | None:
        own = {name: [self._sub(s, resolver, spec)] for name, s in schema.get("properties", {}).items()}
        if folded is not None:
            for name, checks in folded.props.items():
                own.setdefault(name, []).extend(checks)
        props = {name: all_of(checks) for name, checks in own.items()}
        try:
            patterns = tuple(
                (re.compile(p), self._sub(s, resolver, spec))
                for p, s in schema.get("patternProperties", {}).items()
            )
        except re.error as exc:
            raise SchemaProblem(f"patternProperties: bad regular expression: {exc}") from exc
        additional = (
            self._sub(schema["additionalProperties"], resolver, spec)
            if "additionalProperties" in schema
            else None
        )
        names = self._sub(schema["propertyNames"], resolver, spec) if "propertyNames" in schema else None
        required = tuple(dict.fromkeys([*schema.get("required", ()), *(folded.required if folded else ())]))
        dep_required = {k: tuple(v) for k, v in schema.get("dependentRequired", {}).items()}
        dep_schemas = {k: self._sub(v, resolver, spec) for k, v in schema.get("dependentSchemas", {}).items()}
        for key, value in schema.get("dependencies", {}).items():  # draft-07 spelling of both
            if isinstance(value, list):
                dep_required[key] = tuple(value)
            else:
                dep_schemas[key] = self._sub(value, resolver, spec)
        min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
        if (
            not (props or patterns or additional or names or required or dep_required or dep_schemas)
            and min_props is None
            and max_props is None
        ):
            return None
        get_prop = props.get
        scan = bool(patterns or additional or names)

        def run(instance: Any) -> list[Violation] | None:
            if not isinstance(instance, dict):
                return None
            errors: list[Violation] | None = None
            for name in required:
                if name not in instance:
                    errors = errors or []
                    errors.append(Violation((name,), "required", f"required attribute {name!r} is missing"))
            if scan:
                errors = _scan_members(instance, get_prop, patterns, additional, names, errors)
            elif len(instance) <= len(props):
                for key, value in instance.items():
                    check = get_prop(key)
                    if check is not None:
                        found = check(value)
                        if found is not None:
                            errors = prefixed(errors, key, found)
            else:
                for key, check in props.items():
                    if key in instance:
                        found = check(instance[key])
                        if found is not None:
                            errors = prefixed(errors, key, found)
            for key, needed in dep_required.items():
                if key in instance:
                    for name in needed:
                        if name not in instance:
                            errors = (errors or []) + [
                                Violation((name,), "dependentRequired", f"{name!r} is required with {key!r}")
                            ]
            for key, check in dep_schemas.items():
                if key in instance:
                    found = check(instance)
                    if found is not None:
                        errors = (errors or []) + found
            n = len(instance)
            if min_props is not None and n < min_props:
                errors = add(errors, "minProperties", f"has {n} members; {min_props}+")
            if max_props is not None and n > max_props:
                errors = add(errors, "maxProperties", f"has {n} members; {max_props} max")
            return errors

        return run

    def _combinators(
        self, schema: Mapping[str, Any], resolver: Resolver[Any], spec: Specification[Any]
    ) -> list[Check]:
        checks: list[Check] = []
        if "anyOf" in schema:
            checks.append(any_of([self._sub(s, resolver, spec) for s in schema["anyOf"]], schema["anyOf"]))
        if "oneOf" in schema:
            branches = [self._sub(s, resolver, spec) for s in schema["oneOf"]]
            tags = discriminator([self._resolved(s, resolver) for s in schema["oneOf"]])
            if tags is not None:
                by_tag = dict(zip(tags[1], branches, strict=True))
                checks.append(tagged_one_of(tags[0], by_tag, schema["oneOf"]))
            else:
                checks.append(one_of(branches, schema["oneOf"]))
        if "not" in schema:
            negated = self._sub(schema["not"], resolver, spec)
            checks.append(
                lambda v: (
                    [Violation((), "not", "matches a schema it must not match")]
                    if negated(v) is None
                    else None
                )
            )
        if "if" in schema:
            condition = self._sub(schema["if"], resolver, spec)
            then = self._sub(schema["then"], resolver, spec) if "then" in schema else ok
            otherwise = self._sub(schema["else"], resolver, spec) if "else" in schema else ok
            checks.append(lambda v: then(v) if condition(v) is None else otherwise(v))
        return checks


def _scan_members(
    instance: dict[str, Any],
    get_prop: Callable[[str], Check | None],
    patterns: tuple[tuple[re.Pattern[str], Check], ...],
    additional: Check | None,
    names: Check | None,
    errors: list[Violation] | None,
) -> list[Violation] | None:
    for key, value in instance.items():
        if names is not None and names(key) is not None:
            errors = (errors or []) + [Violation((key,), "propertyNames", f"{key!r} is not an allowed name")]
        check = get_prop(key)
        matched = check is not None
        if check is not None:
            found = check(value)
            if found is not None:
                errors = prefixed(errors, key, found)
        for pattern, pattern_check in patterns:
            if pattern.search(key):
                matched = True
                found = pattern_check(value)
                if found is not None:
                    errors = prefixed(errors, key, found)
        if not matched and additional is not None:
            found = additional(value)
            if found is not None:
                if found and found[0].rule == "false" and not found[0].path:
                    found = [Violation((), "additionalProperties", "this attribute is not allowed")]
                errors = prefixed(errors, key, found)
    return errors


def unique_items(items: list[Any]) -> bool:
    return not any(json_equal(items[i], items[j]) for i in range(len(items)) for j in range(i))
