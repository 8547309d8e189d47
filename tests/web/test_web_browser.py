"""The explorer in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium),
as a person uses it: search → a composition → its plots; overview, validation, models with a prediction.

Checks that every figure is drawn (SVG for 2-D plots, a WebGL canvas for the 3-D structures) and that the
browser console has no error. Screenshots go to the test's output folder, and also to
``$AMORPHDB_WEB_SCREENSHOTS`` when set (how docs/img/web_*.png were made). Skips when Chromium is absent,
unless ``CI`` is set: then it fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from web_fixtures import FORMULA, MODEL, OURS

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

CHROMIUM = os.environ.get("AMORPHDB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AMORPHDB_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-unsafe-swiftshader",  # software WebGL for the 3-D views (our own local pages only)
         "--window-size=1400,1800"]
TIMEOUT_S = 60


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[web]')"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the browser tests cannot run: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="amorphdb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT_S)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def shots(tmp_path):
    """Save a screenshot under the test's folder (and $AMORPHDB_WEB_SCREENSHOTS when set)."""
    out = tmp_path / "screenshots"
    out.mkdir()
    keep = os.environ.get("AMORPHDB_WEB_SCREENSHOTS")

    def save(driver, name: str) -> Path:
        path = out / f"web_{name}.png"
        assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    return save


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _wait_for_figures(driver, expected: int) -> None:
    """Until ``expected`` figures have been drawn by plotly (``data-rendered``), then check what they hold."""
    from selenium.webdriver.support.ui import WebDriverWait

    figures = driver.find_elements("css selector", "[data-figure]")
    assert len(figures) == expected, [f.get_attribute("id") for f in figures]
    WebDriverWait(driver, TIMEOUT_S).until(
        lambda d: len(d.find_elements("css selector", "[data-figure][data-rendered=true]")) == expected)
    for fig in figures:
        is_3d = fig.get_attribute("data-figure").startswith("structure")
        if is_3d:
            assert fig.find_elements("css selector", "canvas"), fig.get_attribute("id")
        else:
            assert fig.find_elements("css selector", "svg.main-svg"), fig.get_attribute("id")
            traces = fig.find_elements("css selector", ".scatterlayer .trace, .boxlayer .trace, .barlayer .trace")
            assert traces, fig.get_attribute("id")


def _open(driver, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, TIMEOUT_S).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_search_to_composition_to_plots(browser, live_url, shots):
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, live_url + "/")
    browser.find_element("name", "elements").send_keys("Li,Ti")
    browser.find_element("name", "exclude").send_keys("O")
    browser.find_element("id", "search-button").click()
    WebDriverWait(browser, TIMEOUT_S).until(lambda d: "elements=Li%2CTi" in d.current_url)
    assert "temperature=" not in browser.current_url  # the blank fields were dropped
    count = browser.find_element("id", "result-count").text
    assert "runs match" in count and not count.startswith("0 ")
    browser.find_element("link text", "D").click()  # sort by D
    WebDriverWait(browser, TIMEOUT_S).until(lambda d: "sort=D" in d.current_url)
    shots(browser, "search")
    links = [a for a in browser.find_elements("css selector", "a.formula") if a.text == FORMULA]
    assert links, "the composition is not in the results"
    links[0].click()
    WebDriverWait(browser, TIMEOUT_S).until(lambda d: d.find_elements("id", "formula"))
    assert browser.find_element("id", "formula").text == FORMULA
    _wait_for_figures(browser, expected=5)  # D(T), Arrhenius, RDFs, two structures
    page = browser.page_source
    assert "paper-aimd" in page and OURS in page and "R²" in page
    shots(browser, "composition")
    browser.execute_script("document.getElementById('figure-rdf').scrollIntoView()")
    shots(browser, "composition_rdf")
    assert _console_errors(browser) == []


def test_overview_validation_models(browser, live_url, shots):
    from selenium.webdriver.support.ui import Select, WebDriverWait

    _open(browser, live_url + "/overview")
    _wait_for_figures(browser, expected=3)
    shots(browser, "overview")
    _open(browser, live_url + "/validation")
    _wait_for_figures(browser, expected=2)  # D parity and the RDF R² histogram (no Ea of ours stored)
    shots(browser, "validation")
    _open(browser, live_url + "/models")
    Select(browser.find_element("name", "model")).select_by_visible_text(MODEL)
    browser.find_element("name", "formula").send_keys(FORMULA)
    browser.find_element("id", "predict-button").click()
    WebDriverWait(browser, TIMEOUT_S).until(lambda d: d.find_elements("id", "predictions"))
    _wait_for_figures(browser, expected=1)
    assert MODEL in browser.find_element("id", "models").text
    assert len(browser.find_elements("css selector", "#predictions tbody tr")) == 4
    shots(browser, "models")
    _open(browser, live_url + "/docs")
    WebDriverWait(browser, TIMEOUT_S).until(lambda d: d.find_elements("css selector", ".opblock"))
    assert "/api/materials" in browser.page_source
    assert _console_errors(browser) == []
