"""JavaScript value semantics, because iotagent-node-lib evaluates JEXL in JavaScript: ``"a" + 1`` is
``"a1"``, ``undefined * 2`` is NaN, ``6 / 12 + 1`` is 1.5 and integral floats print without ``.0``."""

from __future__ import annotations

import math
import re
from typing import Any


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()
NAN = float("nan")
_NUMBER_PREFIX = re.compile(r"\s*[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Infinity)")
_INT_PREFIX = re.compile(r"\s*[-+]?\d+")


def is_nullish(value: Any) -> bool:
    return value is None or value is UNDEFINED or (isinstance(value, float) and math.isnan(value))


def js_str(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEFINED else js_str(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def to_number(value: Any) -> float | int:
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        try:
            return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
        except ValueError:
            return NAN
    if isinstance(value, list):
        return to_number(js_str(value)) if len(value) <= 1 else NAN
    return NAN


def normalise_number(value: float | int) -> float | int:
    """Integral results stay ints (JSON ``30`` rather than ``30.0``), as JavaScript prints them."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def truthy(value: Any) -> bool:
    if value is None or value is UNDEFINED or value is False:
        return False
    if isinstance(value, int | float):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def loose_equals(a: Any, b: Any) -> bool:
    if (a is None or a is UNDEFINED) or (b is None or b is UNDEFINED):
        return (a is None or a is UNDEFINED) and (b is None or b is UNDEFINED)
    if type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float)):
        if isinstance(a, bool) != isinstance(b, bool):
            return to_number(a) == to_number(b)
        return a == b
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return to_number(a) == to_number(b)


def parse_float(value: Any) -> float | int:
    match = _NUMBER_PREFIX.match(js_str(value))
    if match is None:
        return NAN
    text = match.group(0).strip()
    if text.endswith("Infinity"):
        return -math.inf if text.startswith("-") else math.inf
    return normalise_number(float(text))


def parse_int(value: Any) -> float | int:
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    match = _INT_PREFIX.match(js_str(value))
    return int(match.group(0)) if match else NAN
