"""The dashboard in headless Chromium: the overview, a search typed into the search box, the
artist page it leads to with its chart drawn, the genre and data-quality pages; a screenshot
of the artist page is saved. Pages work offline: nothing is loaded from anywhere else."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_or_skip
from tests.service.browser import Page, chromium_path, headless_page
from tests.service.conftest import DUMP_DT, running, settings_of

SCREENSHOT_DIR = os.environ.get("TUNELAKE_SCREENSHOT_DIR")
"""Where to keep the screenshot too (the test's own tmp directory always gets one)."""

# every SVG chart on the page, with its drawn shapes and its size on screen
CHARTS = """[...document.querySelectorAll('figure svg')].map(svg => {
  const box = svg.getBoundingClientRect();
  return {parent: svg.parentElement.id, shapes: svg.querySelectorAll('path, rect, use').length,
          width: box.width, height: box.height};
})"""
# every resource the page loaded: only its own server's
RESOURCES = "performance.getEntriesByType('resource').map(r => r.name).concat([location.href])"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    service_or_skip("chromium", chromium_path() is not None, "apt-get install chromium")
    with headless_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page


@pytest.fixture(scope="module")
def site(published: Path) -> Iterator[httpx.Client]:
    with running(settings_of(published)) as client:
        yield client


def drawn(page: Page, chart: str) -> dict[str, float]:
    charts = {c["parent"]: c for c in page.evaluate(CHARTS)}
    assert chart in charts, f"no {chart} on {page.evaluate('location.href')}"
    shown: dict[str, float] = charts[chart]
    assert shown["shapes"] > 5 and shown["width"] > 200 and shown["height"] > 100, shown
    return shown


def only_from(page: Page, base: str) -> None:
    assert all(url.startswith(base) for url in page.evaluate(RESOURCES))


def test_search_an_artist_and_see_its_page(
    browser: Page, site: httpx.Client, tmp_path: Path
) -> None:
    base = str(site.base_url).rstrip("/")
    browser.open(f"{base}/")
    assert browser.evaluate("document.querySelector('#artists b').textContent") == "62"
    assert browser.evaluate("document.querySelectorAll('#runs tbody tr').length") == 2

    browser.evaluate_then_load(
        "document.querySelector('nav input[name=q]').value = 'the';"
        "document.querySelector('nav form').submit()"
    )
    assert browser.evaluate("location.pathname + location.search") == "/dashboard/artists?q=the"
    first = browser.evaluate("document.querySelector('#results a').textContent")
    assert "the" in first.lower()

    browser.evaluate_then_load("document.querySelector('#results a').click()")

    assert browser.evaluate("document.querySelector('h1').textContent") == first
    drawn(browser, "profile-chart")
    assert browser.evaluate("document.querySelectorAll('#top-tracks tbody tr').length") > 0
    assert browser.evaluate("document.querySelectorAll('#neighbours tbody tr a').length") == 10
    only_from(browser, base)
    shot = browser.screenshot(tmp_path / "artist.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if SCREENSHOT_DIR:
        shutil.copy(shot, Path(SCREENSHOT_DIR) / "dashboard-artist.png")

    # a neighbour's link leads to its own page
    neighbour = browser.evaluate("document.querySelector('#neighbours tbody tr a').textContent")
    browser.evaluate_then_load("document.querySelector('#neighbours tbody tr a').click()")
    assert browser.evaluate("document.querySelector('h1').textContent") == neighbour


def test_genres_and_data_quality_pages(browser: Page, site: httpx.Client) -> None:
    base = str(site.base_url).rstrip("/")
    browser.open(f"{base}/dashboard/genres")
    drawn(browser, "genre-chart")
    browser.open(f"{base}/dashboard/quality")
    drawn(browser, "rejects-chart")
    rows = browser.evaluate(
        "[...document.querySelectorAll('#rejects tbody tr')].map(r => r.cells[0].textContent + ' '"
        " + r.cells[2].textContent + ' ' + r.cells[4].textContent)"
    )
    assert rows == [f"{DUMP_DT} audio_features 1"]
    only_from(browser, base)
