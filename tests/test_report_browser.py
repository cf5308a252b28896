"""The HTML report in a real browser: headless Chromium through Selenium.

Renders the report of ``bayes-scaling demo`` and checks what a reader sees: every section with its
text, tables and figures, every figure decoded at the size of its PNG, the summary sentences' numbers
equal to ``summary.json``'s, nothing logged to the console, nothing overflowing the page on screen or
on A4/Letter paper, and printing to PDF. A report with a hostile domain name shows it as text.

Needs the Debian packages ``chromium`` and ``chromium-driver``. Without them the browser tests skip
with the reason, except under CI (``CI=true``), where they fail with it: a CI run never passes by
skipping them (``.ci/run`` stops earlier, with one line, when it cannot install them).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image  # matplotlib's dependency
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from bayes_scaling.cli import main
from bayes_scaling.plots import format_count
from bayes_scaling.display import format_number
from bayes_scaling.report import Report, build_fit_report

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
REPO = Path(__file__).resolve().parents[1]


def find_browser() -> tuple[str | None, str | None, str | None]:
    """(browser, driver, why not): the Chromium binary and chromedriver on PATH, or the reason they are missing."""
    browser = next((p for p in map(shutil.which, _BROWSERS) if p), None)
    driver = shutil.which("chromedriver")
    missing = " and ".join(n for n, p in (("a Chromium browser", browser), ("chromedriver", driver)) if p is None)
    why = (f"chromium not installed: {missing} not found on PATH (Debian: apt-get install chromium chromium-driver)"
           if missing else None)
    return browser, driver, why


CHROMIUM, CHROMEDRIVER, MISSING = find_browser()


def browser_test(test):
    """Mark a test as a browser test (``browser``, ``slow``); the checks of ``.ci/run`` run in the quick tier, the
    two that start a fresh pytest process are ``slow``."""
    return pytest.mark.slow(pytest.mark.browser(test))

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
    if MISSING:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {MISSING}", pytrace=False)
        pytest.skip(MISSING)
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


def _sections(driver) -> list[dict]:
    """What a reader sees under each h2, up to the next: paragraphs' text, each table's header and body rows and
    each image (alt text, natural size in pixels of the decoded PNG)."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('h2')).map(h => {
            const out = {title: h.textContent, text: [], tables: [], images: []};
            for (let e = h.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) {
                if (e.tagName === 'P') out.text.push(e.textContent);
                const tables = e.tagName === 'TABLE' ? [e] : Array.from(e.querySelectorAll('table'));
                tables.forEach(t => out.tables.push({
                    head: Array.from(t.querySelectorAll('thead th')).map(c => c.textContent),
                    rows: Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))}));
                e.querySelectorAll('img').forEach(i => out.images.push(
                    {alt: i.alt, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}));
            }
            return out;
        });""")


_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def _shown(text: str) -> tuple[float, float]:
    """A number as a table shows it ('416.3', '22.1M', '1.2e+21') and half a unit of its last digit."""
    m = re.fullmatch(r"\s*(-?\d+(?:\.(\d+))?)(?:e([+-]?\d+))?\s*([kKMBT]?)\s*", text)
    assert m, text
    scale = _SUFFIX[m.group(4)] * 10.0 ** int(m.group(3) or 0)
    return float(m.group(1)) * scale, 0.5 * 10.0 ** -len(m.group(2) or "") * scale


def _assert_shown(cells: dict[str, str], values: dict) -> None:
    """Each shown cell is the value of the same name, up to half a unit of the last digit shown."""
    assert cells
    for key, cell in cells.items():
        value, half = _shown(cell)
        assert abs(value - values[key]) <= half * (1 + 1e-9), (key, cell, values[key])


def _figures_on_disk(out: Path) -> dict[str, tuple[int, int]]:
    """Caption -> (width, height) in pixels of each figure's PNG, from the Markdown twin's links."""
    links = re.findall(r"^!\[(.*)\]\((\w+\.png)\)$", (out / "report.md").read_text(encoding="utf-8"), flags=re.M)
    sizes = {}
    for caption, name in links:
        with Image.open(out / name) as im:
            sizes[caption] = im.size
    return sizes


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
@browser_test
def test_demo_report_renders_with_every_figure_and_no_console_errors(browser, demo, tmp_path):
    _open(browser, demo / "report.html")
    assert _severe(browser) == []
    assert browser.title == "bayes_scaling demo: Chinchilla runs (Hoffmann et al. 2022)"
    headings = [h.text for h in browser.find_elements("tag name", "h2")]
    # no Notes: with the runs on fewer tokens than parameters left out, the discrepancy term no longer favours another
    # model size than the law's optimum at the frontier's budgets (it did, by more than one run's noise, at 1e21-1e22)
    assert headings == ["Data", "Law and prior", "Posterior parameters", "Diagnostics", "Fit",
                        "Compute-optimal frontier", "Forecasts"]
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


@browser_test
def test_the_summary_sentences_show_the_numbers_of_summary_json(browser, demo):
    _open(browser, demo / "report.html")
    s = json.loads((demo / "summary.json").read_text(encoding="utf-8"))
    lines = [li.text for li in browser.find_elements("css selector", ".summary li")]
    assert len(lines) == 4
    head, front = s["predictions"][0], s["frontier"][-1]
    assert head["label"] == "Chinchilla 70B / 1.4T"
    assert lines[0] == (f"A 70B-parameter model on 1.4T tokens (chinchilla) reaches {head['loss_median']:.3f} nats/token "
                        f"(90% interval {head['loss_lower']:.3f}–{head['loss_upper']:.3f}, one training run).")
    assert front["flops"] == 5.88e23
    assert lines[1] == (
        f"At 5.88e23 FLOPs the compute-optimal model has {format_count(front['params_opt_median'])} parameters "
        f"(90% interval {format_count(front['params_opt_lower'])}–{format_count(front['params_opt_upper'])}) trained on "
        f"{format_number(front['tokens_per_param_median'], 3)} tokens per parameter "
        f"({format_number(front['tokens_per_param_lower'], 2)}–{format_number(front['tokens_per_param_upper'], 3)}), "
        f"reaching {front['loss_opt_median']:.3f} nats/token.")
    # the Chinchilla runs far above the law: one left (the five at 0.04-0.2 tokens per parameter are not fitted)
    assert lines[2].startswith("1 run(s) lie more than 5 noise scales above the fitted law (N = 1.27B, D = 9.83B, loss "
                               "2.648 nats/token ("), lines[2]
    assert s["diagnostics_ok"] is True
    assert lines[3] == "Sampling diagnostics passed (R-hat, effective sample size, divergences)."
    # the same sentences, number for number, in the Markdown twin
    md = (demo / "report.md").read_text(encoding="utf-8")
    assert all(f"- {line}" in md for line in lines)


@browser_test
def test_each_section_shows_its_content_and_every_figure_decoded(browser, demo):
    """Section by section, what a reader sees: the text, the tables (rows equal to summary.json's) and the figures,
    each decoded at the pixel size of its PNG next to the report."""
    _open(browser, demo / "report.html")
    s = json.loads((demo / "summary.json").read_text(encoding="utf-8"))
    sec = {x["title"]: x for x in _sections(browser)}
    assert list(sec) == ["Data", "Law and prior", "Posterior parameters", "Diagnostics", "Fit",
                         "Compute-optimal frontier", "Forecasts"]
    n_runs = s["data"]["n_runs"]
    assert n_runs == 234 and s["runs_left_out"] == 11
    assert sec["Data"]["text"][0].startswith(
        f"{n_runs} of the 245 training runs given (the 11 trained on fewer than 1 token per parameter were left out, "
        "see Diagnostics) in 1 domain; N from 57.3M to 16.2B parameters")
    assert sec["Diagnostics"]["text"][1].startswith("Note: 11 of 245 runs were left out of the fit: they were trained "
                                                    "on fewer than 1 token per parameter (as few as 0.036)")
    assert [t["rows"] for t in sec["Data"]["tables"]] == [[["chinchilla", str(n_runs), "no"]]]
    assert sec["Law and prior"]["text"][0] == f"Law: chinchilla. {s['law_citation']}"
    (prior,) = sec["Law and prior"]["tables"]
    assert [r[0] for r in prior["rows"]] == ["A", "B", "E", "alpha", "beta"]
    # posterior parameters: every median, interval end and published value is summary.json's, to the digits shown
    (post,) = sec["Posterior parameters"]["tables"]
    assert post["head"] == ["domain", "parameter", "median", "lower", "upper", "published"]
    assert [(r[0], r[1]) for r in post["rows"]] == [("chinchilla", k) for k in ("A", "B", "E", "alpha", "beta")]
    for row in post["rows"]:
        _assert_shown(dict(zip(post["head"][2:], row[2:], strict=True)), s["parameters"]["chinchilla"][row[1]])
    d = s["diagnostics"]
    assert sec["Diagnostics"]["text"][0].endswith(
        f"Max R-hat {d['max_rhat']:.4f}, min bulk ESS {d['min_ess_bulk']:.0f}, min tail ESS {d['min_ess_tail']:.0f}, "
        f"divergences {d['divergences']}. All checks passed.")
    # the frontier and forecast tables: each number is summary.json's (= frontier.csv's, predictions.csv's)
    (front,) = sec["Compute-optimal frontier"]["tables"]
    assert len(front["rows"]) == len(s["frontier"]) == 4
    for row, want in zip(front["rows"], s["frontier"], strict=True):
        _assert_shown(dict(zip(front["head"], row, strict=True)), want)
    (fore,) = sec["Forecasts"]["tables"]
    assert [r[0] for r in fore["rows"]] == [p["label"] for p in s["predictions"]] and len(fore["rows"]) == 4
    for row, want in zip(fore["rows"], s["predictions"], strict=True):
        shown = dict(zip(fore["head"], row, strict=True))
        assert shown.pop("label") == want["label"] and shown.pop("domain") == want["domain"] == "chinchilla"
        _assert_shown(shown, want)
    # figures: 1 + 2 + 1 + 1, each the decoded PNG written next to the report
    on_disk = _figures_on_disk(demo)
    counts = {t: len(x["images"]) for t, x in sec.items()}
    assert counts == {"Data": 0, "Law and prior": 0, "Posterior parameters": 1, "Diagnostics": 0, "Fit": 2,
                      "Compute-optimal frontier": 1, "Forecasts": 1}
    shown = [img for x in sec.values() for img in x["images"]]
    assert sorted(img["alt"] for img in shown) == sorted(on_disk)
    for img in shown:
        assert (img["naturalWidth"], img["naturalHeight"]) == on_disk[img["alt"]], img["alt"]
    assert _severe(browser) == []


@browser_test
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


@browser_test
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


@browser_test
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


@browser_test
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


# ------------------------------------------------------- CI cannot pass by skipping them (.ci/run: quick tier)
def _bin_without_chromium(tmp_path: Path, apt_get: str | None) -> Path:
    """A PATH directory with the few tools .ci/run needs before it installs anything, and no browser."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "date", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    if apt_get is not None:
        (bin_dir / "apt-get").write_text(apt_get)
        (bin_dir / "apt-get").chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("apt_get, why", [
    ("#!/bin/sh\nexit 100\n", "'apt-get install chromium chromium-driver' failed"),
    ("#!/bin/sh\nexit 0\n", "chromium or chromedriver is still not on PATH after 'apt-get install chromium chromium-driver'"),
    (None, "chromium or chromedriver is missing and apt-get is not available to install them"),
])
def test_ci_run_stops_with_one_line_when_chromium_cannot_be_installed(tmp_path, apt_get, why):
    bin_dir = _bin_without_chromium(tmp_path, apt_get)
    res = subprocess.run([shutil.which("bash"), str(REPO / ".ci" / "run")], env={"PATH": str(bin_dir), "CI": "true"},
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr == f"ci: error: {why}; the report's browser tests need a headless Chromium and its driver\n"
    assert res.stdout == ""


@pytest.mark.slow  # a fresh pytest process (PATH and CI are read at import): ~7 s each, most of it importing
@pytest.mark.parametrize("ci, code, outcome", [("true", 1, "1 error"), ("", 0, "1 skipped")])
def test_browser_tests_fail_under_ci_and_skip_elsewhere_without_a_driver(tmp_path, ci, code, outcome):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "CI": ci, "PYTHONPATH": os.pathsep.join(sys.path)}
    res = subprocess.run([sys.executable, "-m", "pytest", str(Path(__file__)), "-p", "no:cacheprovider", "-q", "-rs",
                          "-k", "test_the_alert_check_detects_markup_that_runs"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == code, res.stdout[-2000:]
    assert outcome in res.stdout.splitlines()[-1]
    reason = "chromium not installed: a Chromium browser and chromedriver not found on PATH (Debian: apt-get install " \
             "chromium chromium-driver)"
    assert (f"CI=true but {reason}" if ci else reason) in res.stdout
