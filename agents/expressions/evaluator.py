"""Evaluate a parsed expression against a context, within a step, size and time budget.

The tree comes from ``parser.parse``; nothing reaches Python's ``eval``. Each node costs a step; strings and
arrays are capped; a deadline bounds the whole evaluation (a regular expression transform is the one
place that could otherwise run long, and its input is capped too).
"""

from __future__ import annotations

import math
import time
from typing import Any

from agents.expressions.jsvalues import (
    NAN,
    UNDEFINED,
    js_str,
    loose_equals,
    normalise_number,
    to_number,
    truthy,
)
from agents.expressions.parser import ExpressionSyntaxError, Node, parse
from agents.expressions.transforms import NULLARY, TRANSFORMS, TransformError


class EvaluationError(ValueError):
    pass


class Limits:
    __slots__ = ("max_length", "max_seconds", "max_size", "max_steps")

    def __init__(
        self,
        max_length: int = 4096,
        max_steps: int = 10_000,
        max_size: int = 100_000,
        max_seconds: float = 0.05,
    ) -> None:
        self.max_length = max_length
        self.max_steps = max_steps
        self.max_size = max_size
        self.max_seconds = max_seconds


DEFAULT_LIMITS = Limits()


class _Run:
    __slots__ = ("context", "deadline", "limits", "steps")

    def __init__(self, context: dict[str, Any], limits: Limits) -> None:
        self.context = context
        self.limits = limits
        self.steps = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def check(self, value: Any) -> Any:
        if isinstance(value, str | list | dict) and len(value) > self.limits.max_size:
            raise EvaluationError(f"a value grew beyond {self.limits.max_size} elements")
        return value

    def eval(self, node: Node) -> Any:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise EvaluationError("expression exceeded its step budget")
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise EvaluationError("expression exceeded its time budget")
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "id":
            return self.context.get(node[1], UNDEFINED)
        if kind == "member":
            return self.member(self.eval(node[1]), self.eval(node[2]))
        if kind == "bin":
            return self.check(self.binary(node[1], node[2], node[3]))
        if kind == "unary":
            value = self.eval(node[2])
            return (not truthy(value)) if node[1] == "!" else normalise_number(-to_number(value))
        if kind == "cond":
            return self.eval(node[2]) if truthy(self.eval(node[1])) else self.eval(node[3])
        if kind == "array":
            return self.check([self.eval(item) for item in node[1]])
        if kind == "object":
            return {key: self.eval(value) for key, value in node[1]}
        if kind == "transform":
            return self.transform(node[1], [self.eval(node[2]), *(self.eval(a) for a in node[3])])
        if kind == "call":
            if node[1] not in NULLARY:
                raise EvaluationError(f"unknown function {node[1]!r}")
            return TRANSFORMS[node[1]]()
        raise EvaluationError(f"unknown node {kind!r}")

    def member(self, subject: Any, key: Any) -> Any:
        if isinstance(subject, dict):
            return subject.get(js_str(key), UNDEFINED)
        if isinstance(subject, list | str):
            if isinstance(key, int | float) and not isinstance(key, bool) and float(key).is_integer():
                index = int(key)
                return subject[index] if 0 <= index < len(subject) else UNDEFINED
            if key == "length":
                return len(subject)
        return UNDEFINED

    def transform(self, name: str, args: list[Any]) -> Any:
        function = TRANSFORMS.get(name)
        if function is None:
            raise EvaluationError(f"unknown transform {name!r}")
        if args and args[0] is UNDEFINED:
            return UNDEFINED  # a measure that did not come: the attribute is simply not sent
        if name in ("replaceregexp", "replaceallregexp") and len(js_str(args[0])) > 10_000:
            raise EvaluationError("regular expression input too long")
        try:
            return self.check(function(*args))
        except (TransformError, TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
            raise EvaluationError(f"transform {name}: {exc}") from exc

    def binary(self, op: str, left_node: Node, right_node: Node) -> Any:
        left = self.eval(left_node)
        if op == "&&":
            return self.eval(right_node) if truthy(left) else left
        if op == "||":
            return left if truthy(left) else self.eval(right_node)
        right = self.eval(right_node)
        if op == "+":
            if isinstance(left, str | list | dict) or isinstance(right, str | list | dict):
                return js_str(left) + js_str(right)
            return normalise_number(to_number(left) + to_number(right))
        if op in ("==", "!="):
            return loose_equals(left, right) == (op == "==")
        if op == "in":
            if isinstance(right, list):
                return any(loose_equals(left, item) for item in right)
            return js_str(left) in js_str(right)
        if op in ("<", "<=", ">", ">="):
            if isinstance(left, str) and isinstance(right, str):
                a, b = left, right
            else:
                a, b = to_number(left), to_number(right)
                if math.isnan(a) or math.isnan(b):
                    return False
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        a, b = to_number(left), to_number(right)
        if math.isnan(a) or math.isnan(b):
            return NAN
        return normalise_number(_arithmetic(op, a, b))


def _arithmetic(op: str, a: float, b: float) -> float:
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "^":
        try:
            return float(a) ** b
        except (OverflowError, ZeroDivisionError):
            return math.inf
    if b == 0:
        if op == "%" or a == 0:
            return NAN
        return math.copysign(math.inf, a) * math.copysign(1, b)
    if op == "/":
        return a / b
    if op == "//":
        return math.floor(a / b)
    return math.fmod(a, b)  # JavaScript's % keeps the dividend's sign


def evaluate(expression: str, context: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> Any:
    """Evaluate; ``UNDEFINED``/``None``/NaN results mean "no value" to the caller."""
    try:
        tree = parse(expression, limits.max_length)
    except ExpressionSyntaxError as exc:
        raise EvaluationError(str(exc)) from exc
    return _Run(context, limits).eval(tree)


def check_syntax(expression: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Parse, and refuse transforms we do not have (so provisioning, not the first measure, finds them)."""
    try:
        tree = parse(expression, limits.max_length)
    except ExpressionSyntaxError as exc:
        raise EvaluationError(str(exc)) from exc
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple) and node[:1] in (("transform",), ("call",)) and node[1] not in TRANSFORMS:
            raise EvaluationError(f"unknown transform {node[1]!r}")
        if isinstance(node, tuple | list):
            stack.extend(item for item in node if isinstance(item, tuple | list))
