"""What a marker or a gauge shows of an NGSI-LD entity: value, unit, state, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from visualisation.municipalities import from_records
from visualisation.sensors import ThresholdIndex, alert_summary, sort_alerts, summarise

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def prop(value, **more):
    return {"type": "Property", "value": value, **more}


def gauge(height=None, observed=NOW, **attrs):
    entity = {
        "id": "urn:ngsi-ld:WaterObserved:g",
        "type": "WaterObserved",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.7, 49.4]}},
    }
    if height is not None:
        entity["height"] = prop(height, observedAt=observed.isoformat().replace("+00:00", "Z"))
    entity.update({k: prop(v) for k, v in attrs.items()})
    return entity


@pytest.mark.parametrize(
    ("height", "observed", "state"),
    [
        (1.0, NOW, "ok"),
        (1.2, NOW, "alert"),
        (1.59, NOW, "alert"),
        (1.6, NOW, "danger"),
        (1.0, NOW - timedelta(days=2), "stale"),
        (None, NOW, "unknown"),
    ],
)
def test_a_gauge_state_follows_its_levels(height, observed, state) -> None:
    got = summarise(gauge(height, observed, alertLevel=1.2, dangerLevel=1.6), "kl", None, NOW)
    assert got["state"] == state
    assert (got["lon"], got["lat"], got["unit"]) == (7.7, 49.4, "m")


def test_a_gauge_without_levels_takes_its_stations() -> None:
    station = {
        "id": "urn:ngsi-ld:FloodMonitoring:s",
        "type": "FloodMonitoring",
        "stationID": prop("glan"),
        "alertLevel": prop(2.6),
        "dangerLevel": prop(3.4),
    }
    index = ThresholdIndex()
    index.load("kusel", [station])
    got = summarise(gauge(3.0, stationID="glan"), "kusel", index, NOW)
    assert (got["alertLevel"], got["dangerLevel"], got["state"]) == (2.6, 3.4, "alert")
    assert summarise(gauge(3.0, stationID="glan"), "other", index, NOW)["state"] == "ok"  # other tenant


def test_congested_traffic_is_an_alert() -> None:
    flow = {
        "id": "urn:ngsi-ld:TrafficFlowObserved:t",
        "type": "TrafficFlowObserved",
        "intensity": prop(40),
        "congested": prop(True),
        "laneId": prop(1),
    }
    got = summarise(flow, "kl", None, NOW)
    assert (got["kind"], got["value"], got["state"], got["laneId"]) == ("traffic", 40.0, "alert", 1)


def test_only_current_alerts_are_active_most_severe_first() -> None:
    def alert(name, severity, issued, valid_to=None):
        a = {
            "id": f"urn:ngsi-ld:Alert:{name}",
            "type": "Alert",
            "severity": prop(severity),
            "dateIssued": prop(issued),
            "category": prop("weather"),
        }
        if valid_to:
            a["validTo"] = prop(valid_to)
        return alert_summary(a, "kl", NOW)

    alerts = [
        alert("a", "low", "2026-03-01T10:00:00Z"),
        alert("b", "high", "2026-03-01T09:00:00Z"),
        alert("c", "high", "2026-03-01T11:00:00Z"),
        alert("d", "critical", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"),
    ]
    active = sort_alerts([a for a in alerts if a["active"]])
    assert [a["id"][-1] for a in active] == ["c", "b", "a"]


def test_the_dashboard_shows_open_data_municipalities_and_the_listed_ones() -> None:
    records = [
        {"tenant": "kusel", "name": "Landkreis Kusel", "openData": True, "bbox": [7.1, 49.4, 7.7, 49.7]},
        {"tenant": "intern", "name": "Intern", "openData": False},
        {"tenant": "alt", "name": "Alt", "openData": True, "status": "retired"},
        {"tenant": "staff", "name": "Staff", "openData": False},
    ]
    shown = from_records(records, ("staff", "extra"))
    assert [m.tenant for m in shown] == ["extra", "kusel", "staff"]
    assert shown[1].area["type"] == "Polygon"  # the bbox is drawn as an outline


def test_map_images_come_only_from_us_or_the_configured_tile_server() -> None:
    from visualisation.security import csp

    assert "img-src 'self' data:;" in csp("")
    assert "img-src 'self' data: https://tiles.example.org;" in csp("https://tiles.example.org")
