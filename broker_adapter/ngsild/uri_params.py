"""The URI parameter names of the NGSI-LD API (ETSI GS CIM 009 v1.8, clause 6 and its tables).

Clause 6.3.20: a request with a parameter the API does not define is answered 400 InvalidRequest, so a
misspelt `tpye=` or `limt=` is reported instead of silently widening a query. One union for every
resource: a name the spec defines for some operation is never refused, even where it has no effect.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from broker_adapter.ngsild.errors import InvalidRequest

KNOWN: frozenset[str] = frozenset(
    {
        # entities, query, retrieve, representation
        "id", "type", "idPattern", "attrs", "pick", "omit", "q", "csf", "scopeQ", "georel", "geometry",
        "coordinates", "geoproperty", "geometryProperty", "lang", "options", "format", "limit", "offset",
        "count", "local", "via", "datasetId", "deleteAll", "expandValues", "entityMap", "containedBy",
        "join", "joinLevel", "jsonKeys", "collect", "observationSpace", "operationSpace",
        # temporal
        "timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods", "aggrPeriodDuration",
        # @context management, discovery
        "details", "kind", "reload",
    }
)  # fmt: skip


def check_query_string(query_string: bytes) -> None:
    """InvalidRequest naming the first parameter the NGSI-LD API does not define."""
    for pair in query_string.split(b"&"):
        name = pair.split(b"=", 1)[0]
        if not name:
            continue
        text = unquote_plus(name.decode("latin-1"), encoding="utf-8", errors="replace")
        if text not in KNOWN:
            raise InvalidRequest(f"unknown URI parameter {text!r}: the NGSI-LD API does not define it")
