"""The transforms of iotagent-node-lib ``lib/jexlTranformsMap.js`` (doc/api.md, "Available functions"),
each the Python equivalent of the JavaScript one-liner the library registers."""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agents.expressions.jsvalues import (
    NAN,
    UNDEFINED,
    is_nullish,
    js_str,
    loose_equals,
    normalise_number,
    parse_float,
    parse_int,
    to_number,
)


class TransformError(ValueError):
    pass


def _iso(ms: float) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_date_ms(value: Any) -> float:
    """``new Date(value).getTime()``: epoch milliseconds, or an ISO 8601 string."""
    if isinstance(value, bool) or value is None:
        raise TransformError(f"invalid date {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = js_str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TransformError(f"invalid date {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def toisodate(value: Any) -> str:
    return _iso(to_date_ms(value))


def _substr(value: Any, start: Any = 0, length: Any = UNDEFINED) -> str:
    text = js_str(value)
    begin = int(to_number(start)) if not is_nullish(start) else 0
    if begin < 0:
        begin = max(len(text) + begin, 0)
    if length is UNDEFINED:
        return text[begin:]
    return text[begin : begin + max(int(to_number(length)), 0)]


def _mapper(value: Any, values: list[Any], choices: list[Any]) -> Any:
    for index, target in enumerate(values):
        if loose_equals(target, value):
            return choices[index] if index < len(choices) else UNDEFINED
    return UNDEFINED


def _thmapper(value: Any, values: list[Any], choices: list[Any]) -> Any:
    """The first threshold the value is at or below selects the choice."""
    number = to_number(value)
    for index, threshold in enumerate(values):
        if number <= to_number(threshold):
            return choices[index] if index < len(choices) else UNDEFINED
    return UNDEFINED


def _bitwisemask(value: Any, mask: Any, op: str, shift: Any) -> int:
    number, m = int(parse_int(value)), int(to_number(mask))
    result = {"&": number & m, "|": number | m, "^": number ^ m}.get(op, number)
    return result >> int(to_number(shift))


def _typeof(value: Any) -> str:
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _round(value: Any) -> Any:
    number = to_number(value)
    if not math.isfinite(number):
        return number
    return math.floor(number + 0.5)  # Math.round rounds .5 up, unlike Python's round()


def _tofixed(value: Any, decimals: Any = 0) -> str:
    number = parse_float(value)
    if not math.isfinite(number):
        return js_str(number)
    return f"{number:.{int(to_number(decimals))}f}"


def _hextostring(value: Any) -> str:
    return bytes.fromhex(js_str(value)).decode("utf-8", errors="replace")


def _replace_regexp(text: Any, pattern: Any, to: Any, count: int) -> str:
    return re.sub(js_str(pattern), js_str(to), js_str(text), count=count)


def _addset(values: list[Any], item: Any) -> list[Any]:
    out = list(dict.fromkeys(json.dumps(v, sort_keys=True) for v in values))
    result = [json.loads(v) for v in out]
    if not any(loose_equals(v, item) for v in result):
        result.append(item)
    return result


TRANSFORMS: dict[str, Callable[..., Any]] = {
    "jsonparse": lambda s: json.loads(js_str(s)),
    "jsonstringify": lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False),
    "indexOf": lambda v, c: js_str(v).find(js_str(c)),
    "length": lambda v: len(js_str(v)),
    "trim": lambda v: js_str(v).strip(),
    "substr": _substr,
    "addreduce": lambda arr: normalise_number(sum(to_number(v) for v in arr)),
    "lengtharray": lambda arr: len(arr),
    "typeof": _typeof,
    "isarray": lambda arr: isinstance(arr, list),
    "isnan": lambda v: isinstance(to_number(v), float) and math.isnan(to_number(v)),
    "parseint": parse_int,
    "parsefloat": parse_float,
    "toisodate": toisodate,
    "tostring": js_str,
    "urlencode": lambda v: urllib.parse.quote(js_str(v), safe="~@#$&()*!+=:;,.?/'-_"),
    "urldecode": lambda v: urllib.parse.unquote(js_str(v)),
    "replacestr": lambda s, a, b: js_str(s).replace(js_str(a), js_str(b), 1),
    "replaceregexp": lambda s, r, t: _replace_regexp(s, r, t, 1),
    "replaceallstr": lambda s, a, b: js_str(s).replace(js_str(a), js_str(b)),
    "replaceallregexp": lambda s, r, t: _replace_regexp(s, r, t, 0),
    "split": lambda s, ch: js_str(s).split(js_str(ch)) if js_str(ch) else list(js_str(s)),
    "joinarrtostr": lambda arr, ch=",": js_str(ch).join(js_str(v) for v in arr),
    "concatarr": lambda a, b: list(a) + (list(b) if isinstance(b, list) else [b]),
    "mapper": _mapper,
    "thmapper": _thmapper,
    "bitwisemask": _bitwisemask,
    "slice": lambda arr, start=0, end=None: arr[
        int(to_number(start)) : None if end is None else int(to_number(end))
    ],
    "addset": _addset,
    "removeset": lambda arr, x: [v for v in arr if not loose_equals(v, x)],
    "touppercase": lambda v: js_str(v).upper(),
    "tolowercase": lambda v: js_str(v).lower(),
    "round": _round,
    "floor": lambda v: math.floor(to_number(v)) if math.isfinite(to_number(v)) else to_number(v),
    "ceil": lambda v: math.ceil(to_number(v)) if math.isfinite(to_number(v)) else to_number(v),
    "tofixed": _tofixed,
    "gettime": lambda d: normalise_number(to_date_ms(d)),
    "toisostring": toisodate,
    "now": lambda: int(time.time() * 1000),
    "hextostring": _hextostring,
}

# Transforms that take no subject (``now()``); every other one applies to the value before the pipe.
NULLARY = {"now"}
__all__ = ["NAN", "NULLARY", "TRANSFORMS", "TransformError", "toisodate"]
