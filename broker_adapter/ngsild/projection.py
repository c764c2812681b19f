"""The `pick` and `omit` parameters (clause 4.21): a comma list of entity members, each optionally followed
by a braced projection of the entities it links to, e.g. `id,locatedAt{name,address}`.

The grammar is checked in full, so a malformed expression is a BadRequestData. A nested projection applies
to the linked entities a `join` (clause 4.5.23) brings in through that member; without a join it selects
nothing more than the member itself.
"""

from __future__ import annotations

from broker_adapter.ngsild import names
from broker_adapter.ngsild.errors import BadRequestData

_DELIMITERS = ",{}"


Projection = dict[str, "Projection | None"]  # member → the projection of the entities it links to


def projection_members(raw: str | None, parameter: str) -> list[str] | None:
    """The top-level members named by `raw`, in order; None when the parameter is absent."""
    tree = projection_tree(raw, parameter)
    return None if tree is None else list(tree)


def projection_tree(raw: str | None, parameter: str) -> Projection | None:
    """Every member named by `raw` with the projection given to it in braces (None: no braces)."""
    if raw is None:
        return None
    members, end = _list(raw, 0, parameter, depth=0)
    if end != len(raw):
        raise BadRequestData(f"{parameter}: unexpected {raw[end]!r} at position {end} of {raw!r}")
    return members


def _list(raw: str, at: int, parameter: str, depth: int) -> tuple[Projection, int]:
    members: Projection = {}
    while True:
        start = at
        while at < len(raw) and raw[at] not in _DELIMITERS:
            at += 1
        name = raw[start:at].strip()
        if not name:
            where = f"position {start} of {raw!r}"
            raise BadRequestData(f"{parameter}: a member name is missing at {where}")
        names.check_name(name, parameter, "member name")
        members[name] = None
        if at < len(raw) and raw[at] == "{":
            if depth >= 8:
                raise BadRequestData(f"{parameter}: projections nest deeper than 8 levels in {raw!r}")
            members[name], at = _list(raw, at + 1, parameter, depth + 1)
            if at >= len(raw) or raw[at] != "}":
                raise BadRequestData(f"{parameter}: a '{{' is not closed in {raw!r}")
            at += 1
        if at < len(raw) and raw[at] == ",":
            at += 1
            continue
        return members, at
