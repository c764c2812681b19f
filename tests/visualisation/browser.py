"""Real headless Chromium (Debian's chromium + chromedriver) for the dashboard's tests, and the checks a
person with a screen reader or a keyboard would notice (labels, alt texts, contrast, tab order)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("VERBUND_TEST_OUTPUT", ROOT / "test-output")) / "dashboard"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


class Browser:
    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="verbund-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1100",
            "--lang=de-DE",
            f"--user-data-dir={self.profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.wait(lambda: self.js("return document.readyState") == "complete", "page load")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_live(self) -> None:
        self.wait(lambda: self.js("return document.body.dataset.live") == "on", "the live connection")

    def screenshot(self, name: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def foreign_requests(self) -> list[str]:
        """Resources the page loaded from anywhere but its own origin (none allowed: works offline)."""
        return self.js(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(u => !u.startsWith(location.origin) && !u.startsWith('data:'))"
        )

    # accessibility ------------------------------------------------------------------------------------
    def unlabelled_controls(self) -> list[str]:
        return self.js(
            ACCESSIBLE_NAME
            + """
            const controls = [...document.querySelectorAll(
              'a[href], button, input, select, textarea, [role=button], [tabindex]:not([tabindex="-1"])')]
              .filter(visible);
            return controls.filter(c => !accessibleName(c)).map(c => c.outerHTML.slice(0, 120));
        """
        )

    def images_without_text(self) -> list[str]:
        return self.js(
            ACCESSIBLE_NAME
            + """
            const bad = [...document.images].filter(i => !i.hasAttribute('alt')).map(i => i.outerHTML);
            for (const svg of document.querySelectorAll('svg')) {
              if (svg.closest('[aria-hidden="true"]')) continue;
              const named = svg.getAttribute('role') === 'img' && accessibleName(svg);
              if (!named) bad.push(svg.outerHTML.slice(0, 120));
            }
            return bad;
        """
        )

    def contrast(self, selectors: list[str]) -> dict[str, float]:
        """The contrast ratio (WCAG 2) of each selector's first visible element against its background."""
        return self.js(CONTRAST, selectors)

    def tab_through(self, presses: int) -> list[str]:
        """Keyboard only: the elements TAB reaches from the top of a freshly loaded page."""
        seen = []
        for _ in range(presses):
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
            seen.append(self.js(DESCRIBE_ACTIVE))
        return seen


ACCESSIBLE_NAME = """
const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
const accessibleName = (el) => {
  const by = el.getAttribute('aria-labelledby');
  if (by) return by.split(/\\s+/).map(id => (document.getElementById(id) || {}).textContent || '')
    .join(' ').trim();
  if (el.getAttribute('aria-label')) return el.getAttribute('aria-label').trim();
  if (el.id) { const label = document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    if (label && label.textContent.trim()) return label.textContent.trim(); }
  const text = (el.textContent || '').trim();
  return text || el.getAttribute('title') || el.getAttribute('alt') || '';
};
"""

CONTRAST = """
const selectors = arguments[0];
const rgb = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
  return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
const lum = (c) => { const f = (v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
const background = (el) => { for (let n = el; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor); if (c.a > 0.5) return c; }
  return {r: 255, g: 255, b: 255, a: 1}; };
const out = {};
for (const sel of selectors) {
  const el = [...document.querySelectorAll(sel)].find(e => e.getBoundingClientRect().width > 0);
  if (!el) { out[sel] = -1; continue; }
  const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
  out[sel] = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}
return out;
"""

DESCRIBE_ACTIVE = """
const el = document.activeElement;
if (!el || el === document.body) return 'body';
const label = el.getAttribute('aria-label') || el.getAttribute('title')
  || (el.textContent || '').trim().slice(0, 40);
return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '[' + label + ']';
"""
