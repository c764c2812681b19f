"""Temporal answers: pagination (clause 6.3.10) and the three temporal representations of an entity.

Representations:
- normalized temporal (clause 4.5.7): each attribute an array of its instances (every datasetId),
  each instance with `instanceId`; deletion instances carry `deletedAt` and the NGSI-LD null value.
- simplified temporal (4.5.9, options=temporalValues): `{"type": kind, "values": [[value, time], ...]}`
  with the member named after the kind (values, objects, languageMaps, vocabs, jsons, valueLists,
  objectLists); one such object per datasetId. The time is the timeproperty's (observedAt, else the
  time the instance was recorded).
- aggregated (4.5.19, options=aggregatedValues): `{"type": kind, "<method>": [[value, start, end], ...]}`.

Pagination: each attribute returns at most the server's instance limit. When one was cut, the answer is
206 with `Content-Range: date-time <start>-<end>/<size>`, every attribute trimmed to the same `end`, so
the next request (timerel=after&timeAt=<end>, or before for lastN) continues exactly where this one
stopped. lastN pages backwards (size = lastN), otherwise forwards (size = *).
"""

from __future__ import annotations

from typing import Any

from broker_adapter.ngsild.datetimes import public_datetime
from broker_adapter.ngsild.durations import ms_to_canonical
from broker_adapter.ngsild.render import Renderer, RenderOptions
from broker_adapter.ngsild.temporal import NORMALIZED, TEMPORAL_VALUES, TemporalRequest
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.ngsild.types import (
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    CompactedEntity,
    Iri,
)
from broker_adapter.storage.history import AggregateSeries, Series, TemporalEntityRecord

_SIMPLIFIED_MEMBER = {
    PROPERTY: "values",
    "GeoProperty": "values",
    RELATIONSHIP: "objects",
    LANGUAGE_PROPERTY: "languageMaps",
    VOCAB_PROPERTY: "vocabs",
    JSON_PROPERTY: "jsons",
    LIST_PROPERTY: "valueLists",
    LIST_RELATIONSHIP: "objectLists",
}


# pagination ------------------------------------------------------------------------------------------
def paginate(series: list[Series], request: TemporalRequest, limit: int) -> str | None:
    """Trim every series to a common boundary when one was cut; the Content-Range value, or None."""
    last_n = request.last_n
    if last_n is not None and last_n <= limit:
        return None  # the caller asked for the last n and got them
    cut = [s for s in series if s.truncated and s.times]
    if not cut:
        return None
    backwards = last_n is not None
    for s in cut:
        _drop_tied_edge(s, backwards)
    if backwards:
        end = max(s.times[0] for s in cut)
        keep = lambda t: t >= end  # noqa: E731
    else:
        end = min(s.times[-1] for s in cut)
        keep = lambda t: t <= end  # noqa: E731
    for s in series:
        pairs = [(t, inst) for t, inst in zip(s.times, s.instances, strict=True) if keep(t)]
        s.times = [t for t, _ in pairs]
        s.instances = [inst for _, inst in pairs]
    times = [t for s in series for t in s.times]
    time = request.time
    if backwards:
        start = {"before": time.time_at, "between": time.end_time_at}.get(time.timerel or "", max(times))
    else:
        start = time.time_at if time.timerel in ("after", "between") else min(times)
    size = str(last_n) if backwards else "*"
    return f"date-time {_shown(start)}-{_shown(end)}/{size}"


def _drop_tied_edge(s: Series, backwards: bool) -> None:
    """Instances sharing the time of the first one left out go to the next page too (the next request's
    strict before/after would skip them otherwise); unless that would empty the page."""
    edge = s.next_time
    if backwards:
        n = next((i for i, t in enumerate(s.times) if t != edge), None)
        if n:
            del s.times[:n], s.instances[:n]
    else:
        n = next((i for i, t in enumerate(reversed(s.times)) if t != edge), None)
        if n:
            del s.times[-n:], s.instances[-n:]


# representations -------------------------------------------------------------------------------------
def _shown(ms: int) -> str:
    return public_datetime(ms_to_canonical(ms))


class TemporalRenderer:
    def __init__(self, tm: TermMap, request: TemporalRequest) -> None:
        self.tm = tm
        self.request = request
        self._renderer = Renderer(tm, RenderOptions(sys_attrs=request.sys_attrs))

    def entity(
        self, record: TemporalEntityRecord, found: list[Series] | list[AggregateSeries]
    ) -> CompactedEntity:
        types = [self.tm.compact_name(t) for t in record.types]
        out: CompactedEntity = {"id": record.id, "type": types[0] if len(types) == 1 else types}
        if self.request.sys_attrs:
            out["createdAt"] = _shown(record.created_at)
            if record.deleted_at is not None:
                out["deletedAt"] = _shown(record.deleted_at)
        by_attr: dict[Iri, list[Any]] = {}
        for s in found:
            if isinstance(s, AggregateSeries):
                by_attr.setdefault(s.attr, []).append(self._aggregated(s))
            elif s.instances:
                if self.request.format == TEMPORAL_VALUES:
                    by_attr.setdefault(s.attr, []).append(self._simplified(s))
                else:
                    by_attr.setdefault(s.attr, []).extend(self._instance(i) for i in s.instances)
        for iri, items in by_attr.items():
            normalized = self.request.format == NORMALIZED
            out[self.tm.compact_name(iri)] = items if normalized or len(items) > 1 else items[0]
        return out

    def _instance(self, inst: dict[str, Any]) -> dict[str, Any]:
        out = self._renderer.attribute(inst)
        if "deletedAt" in inst:
            out["deletedAt"] = inst["deletedAt"]
        return out

    def _simplified(self, s: Series) -> dict[str, Any]:
        kind = s.instances[-1].get("type", PROPERTY)
        member = VALUE_MEMBER.get(kind, "value")
        pairs = []
        for t, inst in zip(s.times, s.instances, strict=True):
            rendered = self._renderer.attribute(inst)
            pairs.append([rendered.get(member, rendered.get("value")), _shown(t)])
        out: dict[str, Any] = {"type": kind, _SIMPLIFIED_MEMBER.get(kind, "values"): pairs}
        if s.dataset_id is not None:
            out["datasetId"] = s.dataset_id
        return out

    def _aggregated(self, s: AggregateSeries) -> dict[str, Any]:
        out: dict[str, Any] = {"type": s.kind}
        for method, periods in s.periods.items():
            out[method] = [[value, _shown(a), _shown(b)] for value, a, b in periods]
        if s.dataset_id is not None:
            out["datasetId"] = s.dataset_id
        return out
