"""UltraLight 2.0 measures: ``t|25|h|42``; ``#`` separates measure groups; an odd field count means the
first field is the group's timestamp (iotagent-ul ``lib/ulParser.js``, "Measure syntax")."""

from __future__ import annotations

from agents.errors import BadPayload


def parse_measures(payload: str) -> list[dict[str, str]]:
    groups: list[dict[str, str]] = []
    for part in payload.strip().split("#"):
        if not part.strip():
            continue
        fields = part.strip().split("|")
        measure: dict[str, str] = {}
        if len(fields) % 2 == 1:
            measure["TimeInstant"] = fields.pop(0).strip()
        for name, value in zip(fields[::2], fields[1::2], strict=True):
            if not name.strip():
                raise BadPayload(payload, "a measure has an empty name")
            measure[name.strip()] = value
        if len(measure) == (1 if "TimeInstant" in measure else 0):
            raise BadPayload(payload, "a measure group has no values")
        groups.append(measure)
    if not groups:
        raise BadPayload(payload, "no measures")
    return groups
