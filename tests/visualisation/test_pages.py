"""The dashboard's pages in a real headless Chromium against a real platform fed through the IoT agents."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest

from tests.visualisation.browser import Browser
from tests.visualisation.conftest import (
    DISTRICT,
    ESELSFUERTH,
    GLAN,
    LANES,
    LAUTER,
    ODENBACH,
    TOWN,
    Cluster,
    _wait_for,
)

SENSORS = {TOWN: {LAUTER, ESELSFUERTH, *LANES}, DISTRICT: {GLAN, ODENBACH}}


def page(cluster: Cluster, path: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"lang": "de", **params}.items())
    return f"{cluster.dashboard}{path}?{query}"


def gauge_page(cluster: Cluster, tenant: str, entity_id: str, **params: str) -> str:
    return page(cluster, f"/m/{tenant}/gauges/{quote(entity_id, safe=':')}", **params)


def markers(browser: Browser) -> dict[str, str]:
    """Map markers drawn: entity id -> state."""
    return browser.js(
        "return Object.fromEntries([...document.querySelectorAll('#map .leaflet-marker-icon')]"
        ".map(m => [m.dataset.id, m.dataset.state]))"
    )


@pytest.mark.parametrize("tenant", [TOWN, DISTRICT])
def test_the_municipality_map_shows_one_marker_per_sensor_and_its_outline(
    cluster: Cluster, browser: Browser, tenant: str
) -> None:
    _wait_for(
        lambda: (
            len(httpx.get(f"{cluster.dashboard}/api/sensors", params={"tenant": tenant}).json()["sensors"])
            == len(SENSORS[tenant])
        ),
        "the sensors",
    )
    browser.open(page(cluster, f"/m/{tenant}"))
    drawn = browser.wait(
        lambda: markers(browser) if len(markers(browser)) >= len(SENSORS[tenant]) else None, "the markers"
    )
    assert set(drawn) == SENSORS[tenant]
    assert browser.js("return document.querySelectorAll('#map .leaflet-marker-icon').length") == len(drawn)
    if tenant == TOWN:
        assert drawn[LAUTER] == "alert"  # 1.44 m is above the Lauter's alert level of 1.2 m
    else:
        assert drawn[GLAN] == "alert"  # 2.7 m: the station's own alert level is 2.6 m
        assert drawn[ODENBACH] == "danger"  # 3.5 m: above the danger level of its station (3.4 m)
    # the registered area is drawn as the municipality's outline
    assert (
        browser.js("return document.querySelectorAll('#map path.leaflet-interactive, #map svg path').length")
        >= 1
    )
    browser.screenshot(f"map-{tenant}")


def test_the_region_map_shows_every_municipality_and_sensor(cluster: Cluster, browser: Browser) -> None:
    every = SENSORS[TOWN] | SENSORS[DISTRICT]
    browser.open(page(cluster, "/"))
    drawn = browser.wait(lambda: markers(browser) if len(markers(browser)) >= len(every) else None, "markers")
    assert set(drawn) == every
    assert browser.js("return document.querySelectorAll('#map svg path').length") == 2  # two outlines
    names = browser.js("return [...document.querySelectorAll('.municipalities a')].map(a => a.textContent)")
    assert names == ["Landkreis Kusel", "Stadt Kaiserslautern"]
    browser.screenshot("map-region")


def test_a_gauge_page_draws_the_chart_with_its_threshold_bands(cluster: Cluster, browser: Browser) -> None:
    browser.open(gauge_page(cluster, TOWN, LAUTER))
    points = browser.wait(lambda: browser.js("return document.querySelector('#chart path.series')"), "chart")
    assert int(points.get_attribute("data-points")) == len(cluster.gauge_history)
    band = browser.js("""
        const box = (s) => { const r = document.querySelector(s).getBBox(); return [r.y, r.height]; };
        return {alert: box('#chart rect.band-alert'), danger: box('#chart rect.band-danger')};""")
    # both bands are drawn; the danger band lies above the alert band (SVG y grows downwards)
    assert band["alert"][1] > 0 and band["danger"][1] > 0
    assert band["danger"][0] + band["danger"][1] == pytest.approx(band["alert"][0], abs=0.5)
    assert browser.js("return document.getElementById('current-value').textContent") == "1,44"
    assert browser.js("return document.getElementById('trend').textContent").startswith("steigend")
    browser.screenshot("gauge-24h")
    browser.open(gauge_page(cluster, TOWN, LAUTER, range="7d"))
    browser.wait(
        lambda: browser.js("return document.querySelector('#chart polygon.series-range')"), "min-max"
    )
    assert browser.js("return document.querySelectorAll('#chart rect.band-alert').length") == 1
    browser.screenshot("gauge-7d")


def test_a_gauge_takes_its_levels_from_the_flood_monitoring_station(
    cluster: Cluster, browser: Browser
) -> None:
    browser.open(gauge_page(cluster, DISTRICT, ODENBACH))
    browser.wait(lambda: browser.js("return document.querySelector('#chart rect.band-danger')"), "bands")
    assert "3,40" in browser.js("return document.getElementById('reading').textContent")
    assert browser.js("return document.getElementById('current-state').textContent") == "Gefahr"
    browser.screenshot("gauge-station-levels")


def test_a_new_measure_appears_on_the_open_page_without_reload(cluster: Cluster, browser: Browser) -> None:
    browser.open(gauge_page(cluster, TOWN, LAUTER))
    browser.wait_live()
    marker = uuid.uuid4().hex
    browser.js("window.verbundTestMarker = arguments[0]", marker)
    drawn = int(browser.js("return document.querySelector('#chart path.series').dataset.points"))

    sent = time.monotonic()
    cluster.measure("pegel-lauter", h=1.777)

    browser.wait(
        lambda: browser.js("return document.getElementById('current-value').textContent") == "1,78",
        "the new value on the page",
        timeout=20,
    )
    print(f"live update: measure posted to the agent -> shown on the page in {time.monotonic() - sent:.2f} s")
    # it came through the live stream: the page was not loaded again
    assert browser.js("return window.verbundTestMarker") == marker
    assert browser.js("return performance.getEntriesByType('navigation').length") == 1
    assert int(browser.js("return document.body.dataset.liveEvents")) >= 1
    assert browser.js("return document.getElementById('current-state').textContent") == "Gefahr"
    browser.wait(
        lambda: (
            int(browser.js("return document.querySelector('#chart path.series').dataset.points")) == drawn + 1
        ),
        "the new point in the chart",
    )
    browser.screenshot("gauge-live")


def test_a_new_measure_recolours_the_map_marker_without_reload(cluster: Cluster, browser: Browser) -> None:
    browser.open(page(cluster, f"/m/{DISTRICT}"))
    browser.wait_live()
    browser.wait(lambda: markers(browser).get(GLAN) == "alert", "the Glan marker")
    browser.js("window.verbundTestMarker = 1")
    cluster.measure("pegel-glan", h=1.9)
    browser.wait(lambda: markers(browser).get(GLAN) == "ok", "the marker turning normal", timeout=20)
    assert browser.js("return window.verbundTestMarker") == 1
    row = browser.js(
        f"return document.querySelector('#sensor-table tr[data-id=\"{GLAN}\"] .value').textContent"
    )
    assert row.startswith("1,90")


def test_the_traffic_page_shows_vehicles_per_hour_and_lane(cluster: Cluster, browser: Browser) -> None:
    browser.open(page(cluster, f"/m/{TOWN}/traffic/{quote(LANES[0], safe=':')}"))
    browser.wait(lambda: browser.js("return document.querySelectorAll('#chart rect.bar').length"), "bars")
    bars = browser.js("""return [0, 1].map(n => [...document.querySelectorAll('#chart rect.bar.lane-' + n)]
        .map(b => b.querySelector('title').textContent))""")
    assert [len(lane) for lane in bars] == [3, 3]  # three hours counted in each lane
    legend = browser.js("return [...document.querySelectorAll('#lane-legend li')].map(li => li.textContent)")
    assert legend == ["Fahrstreifen 1 (Hinrichtung)", "Fahrstreifen 2 (Rückrichtung)"]
    browser.screenshot("traffic-24h")
    answer = httpx.get(
        f"{cluster.dashboard}/api/m/{TOWN}/traffic.csv", params={"id": LANES[0], "range": "24h"}
    )
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    totals = {
        e: sum(int(r["intensity (vehicles per hour)"] or 0) for r in rows if r["entity"] == e) for e in LANES
    }
    assert totals == cluster.lane_counts


def test_the_csv_holds_exactly_what_the_chart_draws(cluster: Cluster, browser: Browser) -> None:
    browser.open(gauge_page(cluster, DISTRICT, GLAN))
    drawn = int(
        browser.wait(
            lambda: browser.js("return document.querySelector('#chart path.series')?.dataset.points"), "chart"
        )
    )
    href = browser.js("return document.getElementById('csv').href")
    rows = list(csv.reader(io.StringIO(httpx.get(href).text)))
    assert rows[0] == ["observedAt", "currentLevel (m)"]
    assert len(rows) - 1 == drawn
    assert [float(r[1]) for r in rows[1:]][-1] == pytest.approx(
        float(browser.js("return document.getElementById('current-value').textContent").replace(",", "."))
    )


def test_the_alert_list_shows_active_alerts_and_new_ones_live(cluster: Cluster, browser: Browser) -> None:
    browser.open(page(cluster, "/alerts"))
    browser.wait_live()
    rows = browser.js("return [...document.querySelectorAll('#alert-table tbody tr')].map(r => r.dataset.id)")
    assert rows == ["urn:ngsi-ld:Alert:flood-lauter"]  # the expired storm warning is not listed
    browser.js("window.verbundTestMarker = 1")
    issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with cluster.ngsi(DISTRICT) as ngsi:
        answer = ngsi.post(
            "/entities",
            json={
                "id": "urn:ngsi-ld:Alert:glan-danger",
                "type": "Alert",
                "category": {"type": "Property", "value": "naturalDisaster"},
                "severity": {"type": "Property", "value": "critical"},
                "description": {"type": "Property", "value": "Glan über der Gefahrenstufe"},
                "alertSource": {"type": "Property", "value": GLAN},
                "dateIssued": {"type": "Property", "value": issued},
            },
        )
        assert answer.status_code == 201, answer.text
    browser.wait(
        lambda: browser.js("return document.getElementById('alert-count').textContent") == "2",
        "the new alert",
        timeout=20,
    )
    first = browser.js("return document.querySelector('#alert-table tbody tr').dataset.id")
    assert first == "urn:ngsi-ld:Alert:glan-danger"  # the most severe first
    assert browser.js("return window.verbundTestMarker") == 1
    browser.screenshot("alerts")


@pytest.mark.parametrize(("lang", "heading"), [("de", "Wasserstand"), ("en", "Water level")])
def test_labels_in_german_and_english(cluster: Cluster, browser: Browser, lang: str, heading: str) -> None:
    browser.open(gauge_page(cluster, TOWN, LAUTER, lang=lang))
    assert browser.js("return document.documentElement.lang") == lang
    assert browser.js("return document.getElementById('chart-heading').textContent").startswith(heading)
