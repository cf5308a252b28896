"""The HTML report in a real browser: headless Chromium through Selenium.

Renders the report of ``bayes-scaling demo``: every figure loads, nothing is logged
to the console, nothing overflows the page on screen or on A4/Letter paper, and
printing to PDF works. A report with a hostile domain name shows it as text.

Needs the Debian packages ``chromium`` and ``chromium-driver``; the module is
skipped (with the reason) only when they cannot be found.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((p for p in map(shutil.which, _BROWSERS) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    missing = " and ".join(n for n, p in (("a Chromium browser", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if p is None)
    pytest.skip(
        f"chromium not installed: {missing} not found on PATH (Debian: apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from PIL import Image  # noqa: E402  (matplotlib's dependency)
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from bayes_scaling.cli import main  # noqa: E402
from bayes_scaling.report import Report, build_fit_report  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]
WIDTH = 1280
#: paper (inches) for Page.printToPDF, and its size in PDF points
PAPERS = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0)}
PAGE_MARGIN_MM = 15  # the report's @page margin
HOSTILE = "<script>alert(1)</script>"
HOSTILE_IMG = '<img src="x" onerror="alert(2)">'


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.add_argument(f"--window-size={WIDTH},900")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chrome):
    """The module's browser at a 1280 px screen viewport; the console log starts empty."""
    _viewport(chrome, WIDTH, 900, media="screen")
    chrome.get_log("browser")
    yield chrome
    _viewport(chrome, WIDTH, 900, media="screen")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """``bayes-scaling demo`` run in-process (reuses a compiled model of the session)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out


# ------------------------------------------------------------------- helpers
def _viewport(driver, width: int, height: int, media: str = "screen") -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "" if media == "screen" else media})


def _open(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _images(driver) -> list[dict]:
    return driver.execute_script(
        "return Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 22), "
        "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, width: i.getBoundingClientRect().width, "
        "right: i.getBoundingClientRect().right}))"
    )


def _overflow(driver) -> dict:
    """Page width and the right edges of tables and images (CSS px)."""
    return driver.execute_script(
        "const r = s => Array.from(document.querySelectorAll(s)).map(e => e.getBoundingClientRect().right);"
        "return {client: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,"
        "tables: r('table'), images: r('img')}"
    )


def _pdf(driver, paper: str) -> bytes:
    w, h = PAPERS[paper]
    res = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": w, "paperHeight": h, "printBackground": True,
                                                     "preferCSSPageSize": False})
    return base64.b64decode(res["data"])


def _alert_opened(driver) -> bool:
    try:
        WebDriverWait(driver, 1).until(EC.alert_is_present())
    except Exception:  # noqa: BLE001 - selenium's TimeoutException: no alert
        return False
    driver.switch_to.alert.accept()
    return True


# --------------------------------------------------------------------- tests
def test_demo_report_renders_with_every_figure_and_no_console_errors(browser, demo, tmp_path):
    _open(browser, demo / "report.html")
    assert _severe(browser) == []
    assert browser.title == "bayes_scaling demo: Chinchilla runs (Hoffmann et al. 2022)"
    headings = [h.text for h in browser.find_elements("tag name", "h2")]
    assert headings == ["Data", "Law and prior", "Posterior parameters", "Diagnostics", "Fit",
                        "Compute-optimal frontier", "Forecasts"]
    summary = browser.find_element("css selector", ".summary").text
    assert "A 70B-parameter model on 1.4T tokens" in summary and "nats/token" in summary
    # every figure is an inline PNG that decoded, shown at its size in inches (96 px/in) or narrower
    images = _images(browser)
    pngs = sorted(demo.glob("*.png"))
    assert len(images) == len(pngs) == 5
    for img in images:
        assert img["src"] == "data:image/png;base64,"
        assert img["naturalWidth"] > 0 and img["naturalHeight"] > 0
        assert 300 <= img["width"] <= img["naturalWidth"] * 96 / 150 + 0.5
    # self-contained: no scripts, stylesheets or other resources to fetch
    assert browser.execute_script("return document.querySelectorAll('script, link, iframe, object').length") == 0
    # nothing wider than the window (wide tables scroll inside their own box)
    ov = _overflow(browser)
    assert ov["scroll"] <= ov["client"]
    # a full-page screenshot that shows something
    height = browser.execute_script("return document.documentElement.scrollHeight")
    _viewport(browser, WIDTH, height)
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 100_000
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (WIDTH, height) and height > 3000
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
    ink = (pixels < 200).any(axis=1).mean()  # text, lines, bands
    assert 0.02 < ink < 0.6
    assert len(np.unique(pixels[::7], axis=0)) > 200  # figures, not a blank or one-colour page
    assert _severe(browser) == []


@pytest.mark.parametrize("paper", list(PAPERS))
def test_demo_report_prints_to_pdf(browser, demo, tmp_path, paper):
    _open(browser, demo / "report.html")
    pdf = _pdf(browser, paper)
    (tmp_path / f"report-{paper}.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 100_000  # the five figures are in it
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert len(boxes) >= 3  # several pages
    w, h = PAPERS[paper]
    for bw, bh in boxes:
        assert float(bw) == pytest.approx(w * 72, abs=1) and float(bh) == pytest.approx(h * 72, abs=1)
    assert _severe(browser) == []


@pytest.mark.parametrize("paper", list(PAPERS))
def test_print_layout_fits_the_paper(browser, demo, paper):
    """In print media, at the printable width of the paper, no table or figure sticks out of the page."""
    printable = round((PAPERS[paper][0] * 25.4 - 2 * PAGE_MARGIN_MM) / 25.4 * 96)
    _viewport(browser, printable, 1100, media="print")
    _open(browser, demo / "report.html")
    ov = _overflow(browser)
    assert ov["scroll"] <= ov["client"] <= printable
    assert len(ov["tables"]) >= 4 and max(ov["tables"]) <= ov["client"] + 0.5
    assert len(ov["images"]) == 5 and max(ov["images"]) <= ov["client"] + 0.5
    # print styles are in force: no screen-width cap, tables in the small print size
    assert browser.execute_script("return getComputedStyle(document.body).maxWidth") == "none"
    assert browser.execute_script("return getComputedStyle(document.querySelector('table')).fontSize") == "10px"


@pytest.fixture
def hostile_report(fake_fit, tmp_path) -> tuple[Path, int]:
    """A real report of a fit whose domain (user input) is a script tag, plus text and a table carrying markup."""
    fit = fake_fit
    hostile = dataclasses.replace(fit, domains=[HOSTILE], runs=fit.runs.assign(domain=HOSTILE))
    targets = pd.DataFrame({"params": [7e10, 1e10], "tokens": [1.4e12, 2e11], "domain": [HOSTILE, HOSTILE]})
    pred = hostile.predict(targets)
    frontier = hostile.frontier([1e21, 1e22], domain=HOSTILE)
    rep = build_fit_report(hostile, pred, frontier, title=f"Forecast for {HOSTILE}", data_note=f"Runs: {HOSTILE}.csv",
                           threshold=float(pred["loss_median"].iloc[0]))
    extra = rep.section(f"Notes {HOSTILE_IMG}")
    extra.text(f"A note with {HOSTILE_IMG} and {HOSTILE}")
    extra.table(pd.DataFrame({"domain": [HOSTILE, HOSTILE_IMG], "runs": [3, 4]}), caption=HOSTILE)
    rep.summary.append(f"Domain {HOSTILE}")
    files = rep.write(tmp_path / "hostile")
    return files["html"], len(files["figures"])


def test_user_text_is_shown_as_text_not_run(browser, hostile_report, fake_fit, tmp_path):
    path, n_figures = hostile_report
    _open(browser, path)
    assert not _alert_opened(browser)
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    # the only images are the report's own figures; the <img onerror> payload is text
    images = _images(browser)
    assert len(images) == n_figures >= 4
    assert all(i["src"] == "data:image/png;base64," and i["naturalWidth"] > 0 for i in images)
    body = browser.find_element("tag name", "body").text
    assert browser.title == f"Forecast for {HOSTILE}"
    assert body.count(HOSTILE) >= 8  # title, summary, data note, tables, notes
    assert HOSTILE_IMG in body
    cells = [td.text for td in browser.find_elements("css selector", "td.t")]
    assert HOSTILE in cells and HOSTILE_IMG in cells
    assert _severe(browser) == []
    # the Jupyter representation of the same fit, in a page of its own
    fit = fake_fit
    hostile_fit = dataclasses.replace(fit, domains=[HOSTILE], runs=fit.runs.assign(domain=HOSTILE))
    page = tmp_path / "repr.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>repr</title></head><body>"
                    f"{hostile_fit._repr_html_()}</body></html>", encoding="utf-8")
    _open(browser, page)
    assert not _alert_opened(browser)
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    assert HOSTILE in browser.find_element("tag name", "body").text
    assert _severe(browser) == []


def test_the_alert_check_detects_markup_that_runs(browser, tmp_path):
    """Control: the same checks catch the payload when it is *not* escaped."""
    page = tmp_path / "unsafe.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>unsafe</title></head><body><p>{HOSTILE}</p></body></html>",
                    encoding="utf-8")
    browser.get(page.resolve().as_uri())
    assert _alert_opened(browser)
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1
    assert HOSTILE not in browser.find_element("tag name", "body").text
    # and an escaped report of the same text is inert
    rep = Report(f"safe {HOSTILE}")
    rep.section("s").text(HOSTILE)
    _open(browser, rep.write(tmp_path / "safe")["html"])
    assert not _alert_opened(browser)
    assert HOSTILE in browser.find_element("tag name", "body").text
