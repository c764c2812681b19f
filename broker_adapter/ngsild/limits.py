"""Bounds on untrusted JSON that the parsers do not enforce structurally."""

from __future__ import annotations

from typing import Any

from broker_adapter.ngsild.errors import BadRequestData

DEFAULT_MAX_DEPTH = 32


def check_depth(value: Any, max_depth: int, path: str = "the JSON") -> None:
    """Refuse JSON nested deeper than `max_depth` (iterative: a hostile body cannot blow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise BadRequestData(f"{path} is nested deeper than {max_depth} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
