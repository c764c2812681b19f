"""Subscriptions (clauses 5.2.12, 5.2.14, 5.2.15, 5.8): API payload ↔ stored form, and the checks.

The stored form keeps the API's shape with every name expanded (entity types, watchedAttributes,
notification.attributes, geoQ.geoproperty); q and scopeQ stay text and are parsed again, with the
subscription's @context, when the matcher loads it. Status members are not stored in the document:
the store counts them and `render` adds them.

Only the members the client sent are stored (and so returned): a default (isActive true, notificationTrigger
attributeCreated + attributeUpdated, format normalized, accept application/json, sysAttrs and showChanges
false) is applied where the subscription is used (matching.py, payload.py, `status_of`), never written
into the document, as the ETSI conformance tests (028_01, 030_03, 031_01) compare whole documents. The one
exception is jsonldContext, which records the @context the notifications use.

Every member is checked; an unknown member, a wrong type or an inconsistent combination is a 400
(BadRequestData) and nothing is stored.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from broker_adapter.ngsild import names
from broker_adapter.ngsild.datetimes import normalize_datetime, parse_datetime
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.query import parse_geo_query, parse_q, parse_scope_query
from broker_adapter.ngsild.query.patterns import PatternError, check_pattern
from broker_adapter.ngsild.termmap import TermMap
from broker_adapter.storage.notify_port import StoredSubscription

TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")  # clause 5.2.12
FORMATS = {
    "normalized": "normalized",
    "concise": "concise",
    "keyValues": "simplified",
    "simplified": "simplified",
}
ACCEPTS = ("application/json", "application/ld+json", "application/geo+json")
SCHEMES = ("http", "https", "mqtt", "mqtts")
MQTT_VERSIONS = ("mqtt3.1.1", "mqtt5.0")
STATUS_MEMBERS = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure", "createdAt",
     "modifiedAt"}
)  # fmt: skip
_TOP = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "csf",
        "isActive",
        "notification",
        "expiresAt",
        "throttling",
        "scopeQ",
        "lang",
        "jsonldContext",
        "datasetId",
        "@context",
    }
)
_NOTIFICATION = frozenset({"attributes", "sysAttrs", "format", "showChanges", "endpoint"})
_ENDPOINT = frozenset({"uri", "accept", "timeout", "cooldown", "receiverInfo", "notifierInfo"})
_SELECTOR = frozenset({"id", "idPattern", "type"})
_GEOQ = frozenset({"geometry", "coordinates", "georel", "geoproperty"})
_REMOVABLE = frozenset(
    {"subscriptionName", "description", "watchedAttributes", "notificationTrigger", "timeInterval", "q",
     "geoQ", "csf", "expiresAt", "throttling", "scopeQ", "lang", "datasetId"}
)  # fmt: skip


def _fail(path: str, problem: str) -> BadRequestData:
    return BadRequestData(f"{path}: {problem}")


def _object(value: Any, path: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"must be a JSON object, not {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        if set(unknown) & STATUS_MEMBERS:
            raise _fail(path, f"{', '.join(unknown)} are read-only members set by the broker")
        raise _fail(path, f"unknown member(s) {', '.join(unknown)}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, "must be a non-empty string")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, "must be true or false")
    return value


def _positive(value: Any, path: str, *, zero: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, "must be a number")
    if value < 0 or (value == 0 and not zero):
        raise _fail(path, "must be greater than 0" if not zero else "must not be negative")
    return value


def _names(value: Any, path: str, tm: TermMap) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(path, "must be a non-empty array of attribute names")
    out: list[str] = []
    for n, item in enumerate(value):
        names.check_attribute_name(item, f"{path}[{n}]")
        iri = tm.expand_name(item)
        if iri in out:
            raise _fail(path, f"{item!r} is listed twice")
        out.append(iri)
    return out


_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def valid_header(name: str, value: str) -> bool:
    """An HTTP header a notification can carry: the name a token, the value printable ASCII (or tab), so
    no receiverInfo pair can inject a header line or end the header block."""
    return bool(name) and all(c in _TOKEN for c in name) and all(" " <= c <= "~" or c == "\t" for c in value)


def _key_values(value: Any, path: str, *, headers: bool = False) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise _fail(path, "must be an array of {key, value} objects")
    for n, item in enumerate(value):
        _object(item, f"{path}[{n}]", frozenset({"key", "value"}))
        _string(item.get("key"), f"{path}[{n}].key")
        if not isinstance(item.get("value"), str):
            raise _fail(f"{path}[{n}].value", "must be a string")
        if headers and not valid_header(item["key"], item["value"]):
            raise _fail(
                f"{path}[{n}]",
                "is sent as an HTTP header: the key must be a header name (letters, digits and"
                " !#$%&'*+-.^_`|~) and the value printable ASCII without line breaks",
            )
    return value


# members ---------------------------------------------------------------------------------------------
def _entities(value: Any, tm: TermMap) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _fail("entities", "must be a non-empty array of entity selectors")
    out = []
    for n, raw in enumerate(value):
        path = f"entities[{n}]"
        selector = _object(raw, path, _SELECTOR)
        if "type" not in selector:
            raise _fail(path, "type is mandatory in an entity selector")
        names.check_name(selector["type"], f"{path}.type", "entity type")
        item = {"type": tm.expand_name(selector["type"])}
        if "id" in selector and "idPattern" in selector:
            raise _fail(path, "give id or idPattern, not both")
        if "id" in selector:
            item["id"] = names.check_entity_id(selector["id"], f"{path}.id")
        if "idPattern" in selector:
            pattern = _string(selector["idPattern"], f"{path}.idPattern")
            try:
                check_pattern(pattern)
            except PatternError as exc:
                raise _fail(f"{path}.idPattern", f"not a valid regular expression: {exc}") from exc
            item["idPattern"] = pattern
        out.append(item)
    return out


def _geoq(value: Any, tm: TermMap) -> dict[str, Any]:
    geo = _object(value, "geoQ", _GEOQ)
    for key in ("geometry", "georel"):
        _string(geo.get(key), f"geoQ.{key}")
    coordinates = geo.get("coordinates")
    if isinstance(coordinates, str):
        coordinates = coordinates.strip()
    if coordinates is None:
        raise _fail("geoQ.coordinates", "is mandatory")
    parse_geo_query(geo["georel"], geo["geometry"], coordinates, geo.get("geoproperty"), tm)
    out = {"geometry": geo["geometry"], "coordinates": coordinates, "georel": geo["georel"]}
    if "geoproperty" in geo:
        out["geoproperty"] = tm.expand_name(_string(geo["geoproperty"], "geoQ.geoproperty"))
    return out


def _endpoint(value: Any) -> dict[str, Any]:
    ep = _object(value, "notification.endpoint", _ENDPOINT)
    uri = names.check_uri(ep.get("uri"), "notification.endpoint.uri", "endpoint URI")
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES:
        raise _fail(
            "notification.endpoint.uri", f"scheme {parts.scheme!r} is not supported; use {', '.join(SCHEMES)}"
        )
    if not parts.hostname:
        raise _fail("notification.endpoint.uri", "must name a host")
    out: dict[str, Any] = {"uri": uri}
    if "accept" in ep:
        if ep["accept"] not in ACCEPTS:
            raise _fail("notification.endpoint.accept", f"must be one of {', '.join(ACCEPTS)}")
        out["accept"] = ep["accept"]
    for key in ("timeout", "cooldown"):
        if key in ep:
            out[key] = _positive(ep[key], f"notification.endpoint.{key}", zero=True)
    if "receiverInfo" in ep:
        http = urlsplit(out["uri"]).scheme.startswith("http")
        path = "notification.endpoint.receiverInfo"
        out["receiverInfo"] = _key_values(ep["receiverInfo"], path, headers=http)
    if "notifierInfo" in ep:
        info = _key_values(ep["notifierInfo"], "notification.endpoint.notifierInfo")
        for item in info:
            if item["key"] == "MQTT-QoS" and item["value"] not in ("0", "1", "2"):
                raise _fail("notification.endpoint.notifierInfo", "MQTT-QoS must be 0, 1 or 2")
            if item["key"] == "MQTT-Version" and item["value"] not in MQTT_VERSIONS:
                raise _fail(
                    "notification.endpoint.notifierInfo", f"MQTT-Version must be one of {MQTT_VERSIONS}"
                )
        out["notifierInfo"] = info
    if parts.scheme in ("mqtt", "mqtts") and not parts.path.strip("/"):
        raise _fail("notification.endpoint.uri", "an MQTT endpoint needs a topic: mqtt://host[:port]/topic")
    return out


def _notification(value: Any, tm: TermMap, current: dict[str, Any] | None) -> dict[str, Any]:
    raw = _object(value, "notification", _NOTIFICATION)
    out = dict(current or {})
    for key, item in raw.items():
        if item is None and key in ("attributes",):
            out.pop(key, None)
        elif key == "attributes":
            out[key] = _names(item, "notification.attributes", tm)
        elif key in ("sysAttrs", "showChanges"):
            out[key] = _bool(item, f"notification.{key}")
        elif key == "format":
            if item not in FORMATS:
                raise _fail("notification.format", f"must be one of {', '.join(FORMATS)}")
            out[key] = "keyValues" if FORMATS[item] == "simplified" else item
        elif key == "endpoint":
            out[key] = _endpoint(item)
    if "endpoint" not in out:
        raise _fail("notification", "endpoint is mandatory")
    if out.get("showChanges") and out.get("format") == "keyValues":
        raise _fail("notification.showChanges", "cannot be true with format keyValues")
    return out


def _member(doc: dict[str, Any], key: str, value: Any, tm: TermMap, now: datetime) -> None:
    """Validate one top-level member into its stored value (None removes an optional member)."""
    if value is None:
        if key not in _REMOVABLE:
            raise _fail(key, "cannot be null")
        doc.pop(key, None)
    elif key in ("subscriptionName", "description", "csf", "lang"):
        doc[key] = _string(value, key)
    elif key == "entities":
        doc[key] = _entities(value, tm)
    elif key == "watchedAttributes":
        doc[key] = _names(value, key, tm)
    elif key == "notificationTrigger":
        if not isinstance(value, list) or not value or any(t not in TRIGGERS for t in value):
            raise _fail(key, f"must be a non-empty array of {', '.join(TRIGGERS)}")
        doc[key] = list(dict.fromkeys(value))
    elif key in ("timeInterval", "throttling"):
        doc[key] = _positive(value, key)
    elif key == "q":
        parse_q(_string(value, key), tm)
        doc[key] = value
    elif key == "scopeQ":
        parse_scope_query(_string(value, key))
        doc[key] = value
    elif key == "geoQ":
        doc[key] = _geoq(value, tm)
    elif key == "isActive":
        doc[key] = _bool(value, key)
    elif key == "expiresAt":
        if parse_datetime(value, key) <= now:
            raise _fail(key, f"{value} is in the past")
        doc[key] = normalize_datetime(value, key)
    elif key == "jsonldContext":
        doc[key] = names.check_uri(value, key, "@context URL")
    elif key == "datasetId":
        if not isinstance(value, list) or not value:
            raise _fail(key, "must be a non-empty array of URIs")
        ids = [names.check_uri(item, f"{key}[{n}]", "datasetId") for n, item in enumerate(value)]
        doc[key] = list(dict.fromkeys(ids))
    elif key == "notification":
        doc[key] = _notification(value, tm, doc.get("notification"))


def _check_whole(doc: dict[str, Any]) -> None:
    """Cross-member rules of clause 5.2.12."""
    if "entities" not in doc and "watchedAttributes" not in doc:
        raise BadRequestData("a subscription needs entities or watchedAttributes (or both)")
    if "timeInterval" in doc:
        if "watchedAttributes" in doc:
            raise BadRequestData("timeInterval and watchedAttributes cannot be used together")
        if "throttling" in doc:
            raise BadRequestData("timeInterval and throttling cannot be used together")
        if "entities" not in doc:
            raise BadRequestData("a periodic subscription (timeInterval) needs entities")
    if "notification" not in doc:
        raise BadRequestData("notification is mandatory")


def parse_subscription(
    body: Any, tm: TermMap, context_url: str, now: datetime | None = None
) -> dict[str, Any]:
    """The stored form of a new subscription (id may be absent: the caller generates one)."""
    body = _object(body, "subscription", _TOP)
    if body.get("type") != "Subscription":
        raise _fail("type", 'must be "Subscription"')
    now = now or datetime.now(UTC)
    doc: dict[str, Any] = {"type": "Subscription"}
    if "id" in body:
        doc["id"] = names.check_uri(body["id"], "id", "subscription id")
    for key, value in body.items():
        if key in ("id", "type", "@context"):
            continue
        if value is None:
            raise _fail(key, "cannot be null")
        _member(doc, key, value, tm, now)
    doc.setdefault("jsonldContext", context_url)
    _check_whole(doc)
    return doc


def patch_subscription(
    doc: dict[str, Any], fragment: Any, tm: TermMap, now: datetime | None = None
) -> dict[str, Any]:
    """Apply an update fragment (clause 5.8.2): each member given replaces the stored one; null removes it."""
    fragment = _object(fragment, "subscription fragment", _TOP)
    if not any(k not in ("@context",) for k in fragment):
        raise BadRequestData("the fragment is empty")
    if "id" in fragment and fragment["id"] != doc["id"]:
        raise _fail("id", "cannot be changed")
    if "type" in fragment and fragment["type"] != "Subscription":
        raise _fail("type", 'must be "Subscription"')
    now = now or datetime.now(UTC)
    new = {k: v for k, v in doc.items()}
    for key, value in fragment.items():
        if key in ("id", "type", "@context"):
            continue
        _member(new, key, value, tm, now)
    _check_whole(new)
    return new


# rendering -------------------------------------------------------------------------------------------
def status_of(sub: StoredSubscription, now: datetime | None = None) -> str:
    doc = sub.doc
    now = now or datetime.now(UTC)
    if "expiresAt" in doc and parse_datetime(doc["expiresAt"], "expiresAt") <= now:
        return "expired"
    if not doc.get("isActive", True):
        return "paused"
    if sub.last_failure and (not sub.last_success or sub.last_failure > sub.last_success):
        return "failed"
    return "active"


def render(sub: StoredSubscription, tm: TermMap, *, sys_attrs: bool = False) -> dict[str, Any]:
    """The subscription as the API returns it, names compacted with the caller's @context."""
    doc = sub.doc
    out: dict[str, Any] = {"id": sub.id, "type": "Subscription"}
    for key, value in doc.items():
        if key in ("id", "type"):
            continue
        if key == "entities":
            value = [{**s, "type": tm.compact_name(s["type"])} for s in value]
        elif key == "watchedAttributes":
            value = [tm.compact_name(i) for i in value]
        elif key == "geoQ" and "geoproperty" in value:
            value = {**value, "geoproperty": tm.compact_name(value["geoproperty"])}
        elif key == "notification":
            value = dict(value)
            if "attributes" in value:
                value["attributes"] = [tm.compact_name(i) for i in value["attributes"]]
            value["timesSent"] = sub.times_sent
            value["timesFailed"] = sub.times_failed
            for member, at in (
                ("lastNotification", sub.last_notification),
                ("lastSuccess", sub.last_success),
                ("lastFailure", sub.last_failure),
            ):
                if at:
                    value[member] = at
            if sub.last_notification:
                value["status"] = "failed" if sub.last_failure == sub.last_notification else "ok"
        out[key] = value
    out["status"] = status_of(sub)
    if sys_attrs:
        out["createdAt"] = sub.created_at
        out["modifiedAt"] = sub.modified_at
    return out
