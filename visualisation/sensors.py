"""What the dashboard shows of an NGSI-LD entity (normalized, compacted with the platform @context).

A sensor is any observed entity with a value worth drawing; its *kind* picks the page (gauge, traffic) and
its *state* the marker colour:

    gauge    WaterObserved (height) or FloodMonitoring (currentLevel): ok < alertLevel <= alert <
             dangerLevel <= danger. Thresholds come from the entity itself (FloodMonitoring, or a station's
             own alertLevel/dangerLevel attributes) or from the FloodMonitoring entity of the same station
             (same stationID or refDevice).
    traffic  TrafficFlowObserved (intensity): alert when congested.
    other    the other observed models (first numeric property): ok.
    stale    no observation for STALE_AFTER; unknown: no value at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

GAUGE_TYPES = {"WaterObserved": "height", "FloodMonitoring": "currentLevel"}
TRAFFIC_TYPES = {"TrafficFlowObserved": "intensity", "ItemFlowObserved": "intensity"}
SENSOR_TYPES = (
    "WaterObserved",
    "FloodMonitoring",
    "TrafficFlowObserved",
    "ItemFlowObserved",
    "WeatherObserved",
    "AirQualityObserved",
    "NoiseLevelObserved",
    "OffStreetParking",
    "ParkingSpot",
    "Streetlight",
)
ALERT_TYPE = "Alert"
STALE_AFTER = timedelta(hours=24)
STATES = ("ok", "alert", "danger", "stale", "unknown")
# UN/CEFACT common codes (unitCode) as people read them
UNITS = {
    "MTR": "m",
    "CMT": "cm",
    "MMT": "mm",
    "MQS": "m³/s",
    "CEL": "°C",
    "KMH": "km/h",
    "P1": "%",
    "2N": "dB",
    "GQ": "µg/m³",
    "E50": "",
}
_SKIP = {"id", "type", "location", "@context", "scope", "createdAt", "modifiedAt"}


def attribute(entity: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The attribute (first instance when there are several datasetIds), or None."""
    attr = entity.get(name)
    if isinstance(attr, list):
        attr = attr[0] if attr else None
    return attr if isinstance(attr, dict) else None


def value(entity: dict[str, Any], name: str) -> Any:
    attr = attribute(entity, name)
    if attr is None:
        return None
    for key in ("value", "object", "vocab"):
        if key in attr:
            return attr[key]
    return None


def number(entity: dict[str, Any], name: str) -> float | None:
    v = value(entity, name)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def text(entity: dict[str, Any], name: str) -> str | None:
    v = value(entity, name)
    if isinstance(v, dict) and "@value" in v:
        v = v["@value"]
    return str(v) if isinstance(v, str | int | float) and not isinstance(v, bool) else None


def type_of(entity: dict[str, Any]) -> str:
    t = entity.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x in GAUGE_TYPES or x in TRAFFIC_TYPES), t[0] if t else "")
    return str(t or "")


def kind_of(entity_type: str) -> str:
    if entity_type in GAUGE_TYPES:
        return "gauge"
    if entity_type in TRAFFIC_TYPES:
        return "traffic"
    if entity_type == ALERT_TYPE:
        return "alert"
    return "other"


def main_attribute(entity: dict[str, Any]) -> str | None:
    t = type_of(entity)
    if t in GAUGE_TYPES:
        return GAUGE_TYPES[t]
    if t in TRAFFIC_TYPES:
        return TRAFFIC_TYPES[t]
    for name in sorted(entity):
        if name not in _SKIP and number(entity, name) is not None:
            return name
    return None


def point(entity: dict[str, Any]) -> tuple[float, float] | None:
    """(lon, lat) of the location: the point, or the first position of another geometry."""
    geometry = value(entity, "location")
    if not isinstance(geometry, dict):
        return None
    coordinates: Any = geometry.get("coordinates")
    while isinstance(coordinates, list) and coordinates and isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    if (
        isinstance(coordinates, list)
        and len(coordinates) >= 2
        and all(isinstance(c, int | float) for c in coordinates[:2])
    ):
        return float(coordinates[0]), float(coordinates[1])
    return None


def parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def thresholds(entity: dict[str, Any]) -> tuple[float | None, float | None]:
    return number(entity, "alertLevel"), number(entity, "dangerLevel")


def station_keys(entity: dict[str, Any]) -> list[str]:
    """What links a gauge to the FloodMonitoring entity of its station."""
    keys = []
    station = text(entity, "stationID")
    if station:
        keys.append("station:" + station)
    device = value(entity, "refDevice")
    if isinstance(device, str):
        keys.append("device:" + device)
    return keys


class ThresholdIndex:
    """The alert/danger levels of each station's FloodMonitoring entity, per tenant."""

    def __init__(self) -> None:
        self._levels: dict[str, dict[str, tuple[float | None, float | None]]] = {}

    def loaded(self, tenant: str) -> bool:
        return tenant in self._levels

    def load(self, tenant: str, entities: list[dict[str, Any]]) -> None:
        self._levels[tenant] = {}
        for entity in entities:
            self.learn(tenant, entity)

    def learn(self, tenant: str, entity: dict[str, Any]) -> None:
        if type_of(entity) != "FloodMonitoring":
            return
        levels = thresholds(entity)
        if levels == (None, None):
            return
        known = self._levels.setdefault(tenant, {})
        for key in station_keys(entity):
            known[key] = levels

    def lookup(self, tenant: str, entity: dict[str, Any]) -> tuple[float | None, float | None]:
        known = self._levels.get(tenant, {})
        for key in station_keys(entity):
            if key in known:
                return known[key]
        return None, None


def state(kind: str, reading: float | None, observed: datetime | None, entity: dict[str, Any],
          alert: float | None, danger: float | None, now: datetime) -> str:  # fmt: skip
    if reading is None:
        return "unknown"
    if observed is not None and now - observed > STALE_AFTER:
        return "stale"
    if kind == "gauge":
        if danger is not None and reading >= danger:
            return "danger"
        if alert is not None and reading >= alert:
            return "alert"
    if kind == "traffic" and value(entity, "congested") is True:
        return "alert"
    return "ok"


def summarise(
    entity: dict[str, Any], tenant: str, index: ThresholdIndex | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The JSON a map marker, a list row or a live update carries."""
    now = now or datetime.now(UTC)
    entity_type = type_of(entity)
    kind = kind_of(entity_type)
    name = main_attribute(entity)
    attr = attribute(entity, name) if name else None
    reading = number(entity, name) if name else None
    observed_raw = attr.get("observedAt") if attr else None
    observed_raw = observed_raw or value(entity, "dateObserved") or entity.get("modifiedAt")
    observed = parse_time(observed_raw)
    alert, danger = thresholds(entity)
    if kind == "gauge" and alert is None and danger is None and index is not None:
        alert, danger = index.lookup(tenant, entity)
    unit_code = attr.get("unitCode") if attr else None
    if unit_code is None and kind == "gauge":
        unit_code = "MTR"  # the models' documented unit
    where = point(entity)
    entity_id = str(entity.get("id", ""))
    return {
        "id": entity_id,
        "type": entity_type,
        "tenant": tenant,
        "kind": kind,
        "name": text(entity, "name") or entity_id.rsplit(":", 1)[-1],
        "lon": where[0] if where else None,
        "lat": where[1] if where else None,
        "attribute": name,
        "value": reading,
        "unit": UNITS.get(str(unit_code), str(unit_code or "")),
        "observedAt": observed.isoformat().replace("+00:00", "Z") if observed else None,
        "state": state(kind, reading, observed, entity, alert, danger, now),
        "alertLevel": alert,
        "dangerLevel": danger,
        "laneId": value(entity, "laneId"),
        "laneDirection": text(entity, "laneDirection"),
        "roadSegment": value(entity, "refRoadSegment"),
    }


SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}


def alert_summary(entity: dict[str, Any], tenant: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    valid_from = parse_time(value(entity, "validFrom"))
    valid_to = parse_time(value(entity, "validTo"))
    where = point(entity)
    return {
        "id": str(entity.get("id", "")),
        "tenant": tenant,
        "category": text(entity, "category") or "",
        "subCategory": text(entity, "subCategory") or "",
        "severity": text(entity, "severity") or "informational",
        "description": text(entity, "description") or "",
        "alertSource": text(entity, "alertSource") or "",
        "dateIssued": text(entity, "dateIssued") or "",
        "validFrom": text(entity, "validFrom") or "",
        "validTo": text(entity, "validTo") or "",
        "lon": where[0] if where else None,
        "lat": where[1] if where else None,
        "active": (valid_from is None or valid_from <= now) and (valid_to is None or valid_to > now),
    }


def sort_alerts(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most severe first; within a severity the newest first."""
    newest_first = sorted(alerts, key=lambda a: a.get("dateIssued") or "", reverse=True)
    return sorted(newest_first, key=lambda a: SEVERITY_ORDER.get(a["severity"], 5))
