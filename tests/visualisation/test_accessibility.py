"""Accessibility basics on every page, in a real Chromium: every control has a name, every image a text,
the main text colours reach WCAG AA contrast, and the keyboard reaches the controls; nothing is loaded
from a third party and the Content-Security-Policy is never violated."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.visualisation.browser import Browser
from tests.visualisation.conftest import LANES, LAUTER, TOWN, Cluster

PAGES = {
    "region": "/",
    "municipality": f"/m/{TOWN}",
    "gauge": f"/m/{TOWN}/gauges/{quote(LAUTER, safe=':')}",
    "traffic": f"/m/{TOWN}/traffic/{quote(LANES[0], safe=':')}",
    "alerts": "/alerts",
}
# what the keyboard must reach on each page (besides the header's links)
CONTROLS = {
    "region": ["a[Stadt Kaiserslautern]", "div[Pegel Kaiserslautern (Lauter)", "a[Zoom in"],
    "municipality": ["div[Pegel Kaiserslautern (Lauter)", "a[Pegel Kaiserslautern (Lauter)]"],
    "gauge": ["a[24 Stunden]", "a[7 Tage]", "a[30 Tage]", "a#csv[CSV herunterladen]"],
    "traffic": ["a[24 Stunden]", "a[7 Tage]", "a#csv[CSV herunterladen]"],
    "alerts": ["a[Stadt Kaiserslautern]"],
}
TEXT = [
    "main p",
    "main td",
    "main th",
    "main a",
    "header.top a",
    "h1",
    "caption",
    "footer p",
    ".facts",
    ".badge.state-ok",
    ".badge.state-alert",
    ".badge.state-danger",
    ".badge.severity-medium",
    "figcaption",
    ".ranges a[aria-current]",
    ".ranges a:not([aria-current])",
]


@pytest.mark.parametrize("name", PAGES)
def test_accessibility_basics(cluster: Cluster, browser: Browser, name: str) -> None:
    browser.open(f"{cluster.dashboard}{PAGES[name]}?lang=de")
    browser.wait_live()
    browser.wait(
        lambda: browser.js(
            "return document.querySelector('#map .leaflet-marker-icon, #chart svg, #alert-table')"
        ),
        "the page's content",
    )
    assert browser.unlabelled_controls() == []
    assert browser.images_without_text() == []
    ratios = browser.contrast(TEXT)
    low = {selector: round(ratio, 2) for selector, ratio in ratios.items() if 0 <= ratio < 4.5}
    assert low == {}
    assert ratios["main td"] > 0 or ratios["main p"] > 0  # the checks found the page's text
    assert browser.js("return document.documentElement.lang") == "de"
    assert browser.js("return document.title").endswith("Verbund Dashboard")

    controls = browser.js("return document.querySelectorAll('a[href], button, [tabindex=\"0\"]').length")
    reached = browser.tab_through(controls + 5)
    assert reached[0].startswith("a[Zum Inhalt springen")  # the skip link comes first
    for expected in ["a[Region]", "a[Warnungen]", "a[Deutsch]", "a[English]", *CONTROLS[name]]:
        assert any(r.startswith(expected) or expected in r for r in reached), (expected, reached)

    assert browser.foreign_requests() == []
    assert [e for e in browser.console_errors() if "Content Security Policy" in e or "Refused" in e] == []
    browser.screenshot(f"a11y-{name}")
