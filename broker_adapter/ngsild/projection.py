"""The `pick` and `omit` parameters (clause 4.21): a comma list of entity members, each optionally followed
by a braced projection of the entities it links to, e.g. `id,locatedAt{name,address}`.

The grammar is checked in full, so a malformed expression is a BadRequestData. Only the top-level members
are returned: this broker does not follow relationships into linked entities (no `join`), so a nested
projection has nothing to select.
"""

from __future__ import annotations

from broker_adapter.ngsild import names
from broker_adapter.ngsild.errors import BadRequestData

_DELIMITERS = ",{}"


def projection_members(raw: str | None, parameter: str) -> list[str] | None:
    """The top-level members named by `raw`, in order; None when the parameter is absent."""
    if raw is None:
        return None
    members, end = _list(raw, 0, parameter, depth=0)
    if end != len(raw):
        raise BadRequestData(f"{parameter}: unexpected {raw[end]!r} at position {end} of {raw!r}")
    return members


def _list(raw: str, at: int, parameter: str, depth: int) -> tuple[list[str], int]:
    members = []
    while True:
        start = at
        while at < len(raw) and raw[at] not in _DELIMITERS:
            at += 1
        name = raw[start:at].strip()
        if not name:
            where = f"position {start} of {raw!r}"
            raise BadRequestData(f"{parameter}: a member name is missing at {where}")
        names.check_name(name, parameter, "member name")
        members.append(name)
        if at < len(raw) and raw[at] == "{":
            if depth >= 8:
                raise BadRequestData(f"{parameter}: projections nest deeper than 8 levels in {raw!r}")
            _, at = _list(raw, at + 1, parameter, depth + 1)
            if at >= len(raw) or raw[at] != "}":
                raise BadRequestData(f"{parameter}: a '{{' is not closed in {raw!r}")
            at += 1
        if at < len(raw) and raw[at] == ",":
            at += 1
            continue
        return members, at
