"""The portal in a real headless Chromium with JavaScript switched off: list, search by text, municipality
and theme, a dataset page with its map extent, attribute table and working downloads."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.catalog.conftest import Platform
from tests.catalog.support import municipality, new_tenant, traffic, water
from tests.catalog.test_end_to_end import published_count

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    assert shutil.which(CHROMEDRIVER), "Debian's chromium-driver is needed (apt-get install chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1600",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):  # fmt: skip
        options.add_argument(arg)
    # Pages must be readable without JavaScript: it is switched off.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def towns(platform: Platform) -> tuple[str, str]:
    """Two published municipalities: a city with water levels and traffic, a village with one gauge."""
    city, village = new_tenant("pc"), new_tenant("pv")
    platform.register(city, municipality(city, name=f"Stadt Portalstadt {city}"))
    record = municipality(
        village,
        name=f"Ortsgemeinde Portaldorf {village}",
        kind="Ortsgemeinde",
        ags="07138045",
        regionalschluessel=None,
        area=None,
        bbox=[7.25, 50.55, 7.32, 50.60],
    )
    platform.register(village, record)
    platform.upsert(
        city,
        water(1, 1.42, 7.75, 49.44, "2026-11-20T10:00:00Z"),
        water(2, 0.98, 7.80, 49.46, "2026-11-21T10:00:00Z"),
        water(3, 1.10, 7.70, 49.42, "2026-11-21T11:00:00Z"),
        traffic(1, 120, 7.76, 49.43, "2026-11-21T08:00:00Z"),
    )
    platform.upsert(village, water(1, 0.55, 7.28, 50.57, "2026-11-22T10:00:00Z"))
    counts = {f"{city}-water-observed": 3, f"{city}-traffic-flow-observed": 1, f"{village}-water-observed": 1}
    for slug, count in counts.items():
        platform.wait(lambda slug=slug, count=count: published_count(platform, slug) == count)
    return city, village


def wait_for_next_page(driver: WebDriver, page: WebElement) -> None:
    """Until the answer has replaced `page`. Asking a page that is being replaced can fail inside
    chromedriver ("unhandled inspector error"); that is asked again, like a page not yet replaced."""
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(staleness_of(page))


def titles(driver: WebDriver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".dataset-card h2 a")]


def search(
    driver: WebDriver, platform: Platform, *, text: str = "", tenant: str = "", theme: str = ""
) -> list[str]:
    driver.get(platform.catalog.url + "/")
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(text)
    Select(driver.find_element(By.ID, "municipality")).select_by_value(tenant)
    Select(driver.find_element(By.ID, "theme")).select_by_value(theme)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form.search button").click()
    wait_for_next_page(driver, page)
    return titles(driver)


def test_the_list_can_be_searched_by_municipality_theme_and_text(
    browser: WebDriver, platform: Platform, towns: tuple[str, str]
) -> None:
    city, village = towns
    browser.get(platform.catalog.url + "/")
    assert browser.title.startswith("Datensätze")
    everything = titles(browser)
    assert f"Pegelstände – Ortsgemeinde Portaldorf {village}" in everything
    assert sorted(search(browser, platform, tenant=city)) == [
        f"Pegelstände – Stadt Portalstadt {city}",
        f"Verkehrsfluss – Stadt Portalstadt {city}",
    ]
    assert search(browser, platform, tenant=city, theme="TRAN") == [
        f"Verkehrsfluss – Stadt Portalstadt {city}"
    ]
    assert search(browser, platform, text=f"pegel portaldorf {village}") == [
        f"Pegelstände – Ortsgemeinde Portaldorf {village}"
    ]
    assert search(browser, platform, text="no such words anywhere") == []
    assert browser.find_element(By.ID, "result-count").text == "0 Datensätze"


def test_a_dataset_page_shows_extent_attributes_and_working_downloads(
    browser: WebDriver, platform: Platform, towns: tuple[str, str], output_dir: Path
) -> None:
    city, _ = towns
    search(browser, platform, tenant=city, theme="ENVI")
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, f"Pegelstände – Stadt Portalstadt {city}").click()
    wait_for_next_page(browser, page)
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Pegelstände – Stadt Portalstadt {city}"
    assert browser.find_element(By.ID, "entity-count").text == "3"
    assert browser.find_element(By.ID, "temporal").text == "2026-11-20 10:00:00 bis 2026-11-21 11:00:00 UTC"
    svg = browser.find_element(By.CSS_SELECTOR, "svg.extent-map")
    assert len(svg.find_elements(By.CSS_SELECTOR, "circle.map-point")) == 3
    assert len(svg.find_elements(By.CSS_SELECTOR, "polygon.map-extent")) == 1
    assert svg.size["width"] > 200 and svg.size["height"] > 100  # drawn, not collapsed
    assert "7.70000, 49.42000 – 7.80000, 49.46000" in browser.find_element(By.ID, "bbox").text
    rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in browser.find_elements(By.CSS_SELECTOR, "table.attributes tbody tr")]  # fmt: skip
    assert ["height", "Property", "MTR", "1.1"] in rows
    browser.save_screenshot(str(output_dir / "dataset-page.png"))
    assert (output_dir / "dataset-page.png").stat().st_size > 10_000

    # Every link to a download answers with the file; nothing on the page comes from another origin.
    links = {
        a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "ul.downloads a")
    }
    csv_text = httpx.get(links["Aktueller Zustand (CSV)"]).text
    assert csv_text.count("urn:ngsi-ld:WaterObserved:") == 3
    assert httpx.get(links["Aktueller Zustand (GeoJSON)"]).json()["type"] == "FeatureCollection"
    assert "height" in httpx.get(links["Zeitreihen (CSV)"]).text
    assert "dcat:Dataset" in httpx.get(links["Turtle"]).text
    origin = urlsplit(platform.catalog.url).netloc
    resources = browser.find_elements(By.CSS_SELECTOR, "link[href], script, img[src], iframe")
    assert resources and all(urlsplit(r.get_attribute("href") or "").netloc == origin for r in resources)


def test_pages_carry_security_headers(platform: Platform, towns: tuple[str, str]) -> None:
    response = platform.web.get(f"/dataset/{towns[0]}-water-observed")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_home_page_screenshot(
    browser: WebDriver, platform: Platform, towns: tuple[str, str], output_dir: Path
) -> None:
    search(browser, platform, text="portal")
    assert len(titles(browser)) == 3
    browser.save_screenshot(str(output_dir / "home-page.png"))
    assert (output_dir / "home-page.png").stat().st_size > 10_000
