"""Bounds on untrusted JSON that the parsers do not enforce structurally."""

from __future__ import annotations

from typing import Any

from broker_adapter.ngsild.errors import BadRequestData

DEFAULT_MAX_DEPTH = 32


def check_depth(value: Any, max_depth: int, path: str = "the JSON", *, forbidden: str | None = None) -> None:
    """Refuse JSON nested deeper than `max_depth` (iterative: a hostile body cannot blow the stack),
    and, when given, any string equal to `forbidden` anywhere inside (one walk for both checks)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise BadRequestData(f"{path} is nested deeper than {max_depth} levels")
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif forbidden is not None and child == forbidden:
                raise BadRequestData(
                    f"{path} contains {forbidden!r}, which is only allowed in merge operations"
                )
