"""The vocabulary of compiled checks: violations, formats, and the closures for single keywords.

compiler.py builds schemas out of these; each check returns None when the instance is valid (no
allocation on that path) or a list of Violations with paths relative to the instance it was given.
Formats are asserted for date-time, date, time, uri, uri-reference, email, idn-email, ipv4, ipv6, uuid
and hostname; other formats are annotations, as JSON Schema 2020-12 makes them by default.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (attribute path), which keyword, and a sentence saying why."""

    path: Path
    rule: str
    message: str

    @property
    def where(self) -> str:
        return render_path(self.path)

    def to_json(self) -> dict[str, str]:
        return {"attribute": self.where, "rule": self.rule, "message": self.message}


Check = Callable[[Any], "list[Violation] | None"]


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not implement."""


class SchemaProblem(Exception):
    """The schema cannot be compiled: an unresolvable $ref, a bad regular expression, ..."""


def render_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(entity)"


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def ok(_: Any) -> None:
    return None


def _is_number(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and type(value) is not bool


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
}


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 equals 1.0, containers compare member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


# formats ---------------------------------------------------------------------------------------------
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*")
_URI_REFERENCE = re.compile(r"[^\s]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


def _date_time(value: str) -> bool:
    if not _DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _date(value: str) -> bool:
    try:
        return len(value) == 10 and date.fromisoformat(value) is not None
    except ValueError:
        return False


def _time(value: str) -> bool:
    m = _TIME.fullmatch(value)
    return bool(m) and int(m[1]) < 24 and int(m[2]) < 60 and int(m[3]) < 61


def _ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _uuid(value: str) -> bool:
    try:
        return len(value) == 36 and uuid.UUID(value) is not None
    except ValueError:
        return False


FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _date_time,
    "date": _date,
    "time": _time,
    "uri": lambda v: bool(_URI.fullmatch(v)),
    "uri-reference": lambda v: bool(_URI_REFERENCE.fullmatch(v)),
    "email": lambda v: bool(_EMAIL.fullmatch(v)),
    "idn-email": lambda v: bool(_EMAIL.fullmatch(v)),
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "uuid": _uuid,
    "hostname": lambda v: bool(_HOSTNAME.fullmatch(v)),
}


# Keywords that never change validity; anything else unknown is an annotation too (JSON Schema 2020-12).
def one(rule: str, message: str) -> list[Violation]:
    return [Violation((), rule, message)]


def add(errors: list[Violation] | None, rule: str, message: str) -> list[Violation]:
    out = errors if errors is not None else []
    out.append(Violation((), rule, message))
    return out


def prefixed(errors: list[Violation] | None, key: str | int, found: list[Violation]) -> list[Violation]:
    out = errors if errors is not None else []
    out.extend(Violation((key, *v.path), v.rule, v.message) for v in found)
    return out


def all_of(checks: list[Check]) -> Check:
    if not checks:
        return ok
    if len(checks) == 1:
        return checks[0]
    group = tuple(checks)

    def run(instance: Any) -> list[Violation] | None:
        errors = None
        for check in group:
            found = check(instance)
            if found is not None:
                if errors is None:
                    errors = list(found)
                else:
                    errors.extend(found)
        return errors

    return run


def type_check(declared: str | list[str]) -> Check:
    names = [declared] if isinstance(declared, str) else list(declared)
    try:
        tests = tuple(_TYPE_TESTS[name] for name in names)
    except KeyError as exc:
        raise SchemaProblem(f"unknown type {exc.args[0]!r}") from exc
    wanted = " or ".join(names)
    if names == ["number"]:  # the commonest case, inlined (type() is bool for booleans, so they fail)
        return lambda v: (
            None if type(v) is float or type(v) is int else one("type", f"{show(v)} is not a number")
        )
    if len(tests) == 1:
        test = tests[0]
        return lambda v: None if test(v) else one("type", f"{show(v)} is not of type {wanted}")
    return lambda v: None if any(t(v) for t in tests) else one("type", f"{show(v)} is not of type {wanted}")


def enum_check(values: list[Any]) -> Check:
    allowed = ", ".join(show(v) for v in values[:12]) + (", ..." if len(values) > 12 else "")
    message = f"is not one of the allowed values ({allowed})"
    if all(isinstance(v, str) for v in values):
        strings = frozenset(values)
        return lambda v: None if type(v) is str and v in strings else one("enum", f"{show(v)} {message}")
    items = tuple(values)
    return lambda v: None if any(json_equal(v, e) for e in items) else one("enum", f"{show(v)} {message}")


def const_check(value: Any) -> Check:
    if isinstance(value, str):
        return lambda v: (
            None if v == value and type(v) is str else one("const", f"{show(v)} is not {value!r}")
        )
    return lambda v: None if json_equal(v, value) else one("const", f"{show(v)} is not {show(value)}")


def numeric_check(schema: Mapping[str, Any], legacy: bool) -> Check | None:
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    multiple = schema.get("multipleOf")
    if isinstance(ex_low, bool) or isinstance(ex_high, bool):  # draft-04 form, refused by the meta-schemas
        raise SchemaProblem("exclusiveMinimum/exclusiveMaximum must be numbers")
    if low is None and high is None and ex_low is None and ex_high is None and multiple is None:
        return None

    def run(v: Any) -> list[Violation] | None:
        if type(v) is not float and type(v) is not int:
            return None
        errors = None
        if low is not None and v < low:
            errors = one("minimum", f"{show(v)} is less than the minimum of {low}")
        if high is not None and v > high:
            errors = add(errors, "maximum", f"{show(v)} is more than the maximum of {high}")
        if ex_low is not None and v <= ex_low:
            errors = add(errors, "exclusiveMinimum", f"{show(v)} must be more than {ex_low}")
        if ex_high is not None and v >= ex_high:
            errors = add(errors, "exclusiveMaximum", f"{show(v)} must be less than {ex_high}")
        if multiple is not None:
            quotient = v / multiple
            if not (quotient == int(quotient) if abs(quotient) < 2**53 else False):
                errors = add(errors, "multipleOf", f"{show(v)} is not a multiple of {multiple}")
        return errors

    return run


def string_check(schema: Mapping[str, Any]) -> Check | None:
    min_len, max_len = schema.get("minLength"), schema.get("maxLength")
    try:
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    except re.error as exc:
        raise SchemaProblem(f"pattern {schema['pattern']!r} is not a valid regex: {exc}") from exc
    fmt = schema.get("format")
    fmt_test = FORMATS.get(fmt) if isinstance(fmt, str) else None
    if min_len is None and max_len is None and pattern is None and fmt_test is None:
        return None

    def run(v: Any) -> list[Violation] | None:
        if not isinstance(v, str):
            return None
        errors = None
        if min_len is not None and len(v) < min_len:
            errors = one("minLength", f"{show(v)} is shorter than {min_len} characters")
        if max_len is not None and len(v) > max_len:
            errors = add(errors, "maxLength", f"is longer than {max_len} characters")
        if pattern is not None and not pattern.search(v):
            errors = add(errors, "pattern", f"{show(v)} does not match {pattern.pattern!r}")
        if fmt_test is not None and not fmt_test(v):
            errors = add(errors, "format", f"{show(v)} is not a valid {fmt}")
        return errors

    return run


def _branch_name(schema: Any, index: int) -> str:
    if isinstance(schema, Mapping):
        for key in ("title", "$ref"):
            if isinstance(schema.get(key), str):
                return schema[key].rsplit("/", 1)[-1]
    return f"alternative {index + 1}"


def _relevant(found: list[Violation]) -> bool:
    """A branch whose failure is not about the instance's kind (type, or a discriminating const/enum)."""
    return not any(v.rule in ("type", "const", "enum") and len(v.path) <= 1 for v in found)


def _none_matched(rule: str, results: list[list[Violation]], schemas: list[Any]) -> list[Violation]:
    relevant = [found for found in results if _relevant(found)]
    if len(relevant) == 1:  # one alternative was clearly meant: its reasons are the useful ones
        return relevant[0]
    if len(results) == 1:
        return results[0]
    names = ", ".join(_branch_name(s, i) for i, s in enumerate(schemas))
    return [Violation((), rule, f"matches none of the allowed forms ({names})")]


def any_of(checks: list[Check], schemas: list[Any]) -> Check:
    group = tuple(checks)

    def run(v: Any) -> list[Violation] | None:
        results = []
        for check in group:
            found = check(v)
            if found is None:
                return None
            results.append(found)
        return _none_matched("anyOf", results, schemas)

    return run


def discriminator(branches: list[Any]) -> tuple[str, list[str]] | None:
    """(member, tags) when every branch requires one member pinned to a distinct string (GeoJSON's type).

    Then at most one branch can match an instance: oneOf reduces to that branch, without evaluating (and
    building the violations of) the others."""
    if len(branches) < 2 or not all(isinstance(b, Mapping) for b in branches):
        return None
    for member in branches[0].get("required", ()):
        tags = []
        for branch in branches:
            pinned = branch.get("properties", {}).get(member)
            if not isinstance(pinned, Mapping) or member not in branch.get("required", ()):
                break
            if branch.get("type") not in ("object", None):
                break
            const = pinned.get("const")
            if const is None and isinstance(pinned.get("enum"), list) and len(pinned["enum"]) == 1:
                const = pinned["enum"][0]
            if not isinstance(const, str):
                break
            tags.append(const)
        else:
            if len(set(tags)) == len(tags) and all(b.get("type") == "object" for b in branches):
                return member, tags
    return None


def tagged_one_of(member: str, by_tag: dict[str, Check], schemas: list[Any]) -> Check:
    names = ", ".join(_branch_name(s, i) for i, s in enumerate(schemas))

    def run(v: Any) -> list[Violation] | None:
        branch = by_tag.get(v.get(member)) if isinstance(v, dict) and type(v.get(member)) is str else None
        if branch is None:
            return [Violation((), "oneOf", f"matches none of the allowed forms ({names})")]
        return branch(v)

    return run


def one_of(checks: list[Check], schemas: list[Any]) -> Check:
    group = tuple(checks)

    def run(v: Any) -> list[Violation] | None:
        results: list[list[Violation]] = []
        passed: list[int] = []
        for index, check in enumerate(group):
            found = check(v)
            if found is None:
                passed.append(index)
            else:
                results.append(found)
        if len(passed) == 1:
            return None
        if not passed:
            return _none_matched("oneOf", results, schemas)
        names = " and ".join(_branch_name(schemas[i], i) for i in passed[:2])
        return [Violation((), "oneOf", f"matches more than one allowed form ({names})")]

    return run
