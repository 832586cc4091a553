"""The pages of a demo run, a fit sweep and a STORM batch, opened in headless Chromium.

Each page must load with no request but its own file and its ``data:`` figures, log no console
error, decode every image, hold ``result.json``'s numbers in its metrics table, link only to pages
that exist, and draw something.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from mollifier.report import REPORT_FILE

from ._chromium import Chromium, PageVisit

pytestmark = pytest.mark.browser

_IMAGES = "[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
_LINKS = "[...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.href])"
_CSP = "document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')?.content ?? ''"
_METRICS = (
    "[...document.querySelectorAll('#metrics tbody tr')].map(tr => [...tr.cells].map("
    "td => [td.textContent, td.dataset.value ?? null]))"
)


def check_page(browser: Chromium, path: Path, tmp_path: Path, *, images: int) -> PageVisit:
    """Open ``path`` and assert what every page must satisfy; returns the visit."""
    visit = browser.visit(path.as_uri())
    assert visit.console_errors == [], visit.console_errors
    others = [u for u in visit.requests if u != path.as_uri() and not u.startswith("data:")]
    assert others == [], f"{path}: requests {others}"
    csp = browser.evaluate(visit, _CSP)
    assert "default-src 'none'" in csp and "img-src data:" in csp
    assert browser.evaluate(visit, "document.scripts.length") == 0
    shown = browser.evaluate(visit, _IMAGES)
    assert len(shown) == images, shown
    assert all(done and w > 0 and h > 0 for done, w, h in shown), shown
    for href, resolved in browser.evaluate(visit, _LINKS):
        url = urlparse(resolved)
        assert url.scheme == "file" and not href.startswith(("/", "file:")), href
        assert Path(unquote(url.path)).is_file(), f"{path}: link {href} resolves to nothing"
    shot = browser.screenshot(visit, tmp_path / f"{abs(hash(str(path)))}.png")
    pixels = _pixels(shot)
    ink = np.mean(np.abs(pixels - pixels[0, 0]).sum(axis=-1) > 0.1)
    assert ink > 0.01, f"{path}: the screenshot is blank ({ink:.2%} of pixels drawn)"
    return visit


def _pixels(png: Path) -> np.ndarray:
    image = pytest.importorskip("matplotlib.image")
    return np.asarray(image.imread(png))[..., :3].astype(float)


def metrics(browser: Chromium, visit: PageVisit) -> list[list[tuple[str, float | None]]]:
    rows = browser.evaluate(visit, _METRICS)
    return [[(text, None if v is None else float(v)) for text, v in row] for row in rows]


def test_the_checks_catch_a_request_an_error_and_a_broken_image(browser, tmp_path):
    """The assertions above can fail: a page without the policy that loads a remote image and
    logs an error breaks three of them."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        '<script>console.error("boom")</script></body></html>'
    )
    visit = browser.visit(bad.as_uri())
    assert any(u.startswith("http://127.0.0.1:9/") for u in visit.requests)
    assert any("boom" in e for e in visit.console_errors)
    assert browser.evaluate(visit, _IMAGES) == [[True, 0, 0]]
    with pytest.raises(AssertionError):
        check_page(browser, bad, tmp_path, images=1)


def test_demo_pages(browser, demo_dir, tmp_path):
    top = check_page(browser, demo_dir / REPORT_FILE, tmp_path, images=0)
    rows = metrics(browser, top)
    assert [r[0][0] for r in rows] == ["direct", "network"]
    hrefs = [h for h, _ in browser.evaluate(top, _LINKS)]
    assert hrefs[:2] == ["direct/report.html", "network/report.html"]
    assert {"data/report.html", "direct/report.html", "network/report.html"} <= set(hrefs)
    for sub, images in (("data", 1), ("direct", 4), ("network", 5)):
        visit = check_page(browser, demo_dir / sub / REPORT_FILE, tmp_path, images=images)
        assert (
            browser.evaluate(visit, "document.getElementById('up').href")
            == (demo_dir / REPORT_FILE).as_uri()
        )
        if sub == "data":
            continue
        doc = json.loads((demo_dir / sub / "result.json").read_text())
        ((unknown, _), recovered, lo, hi, _true, r, l2, med, _rel) = metrics(browser, visit)[0]
        est, m = doc["unknowns"]["lam"], doc["metrics"]["lam"]
        assert unknown == "lam"
        assert [recovered[1], lo[1], hi[1]] == [est["median"], est["min"], est["max"]]
        assert [r[1], l2[1], med[1]] == [m["pearson"], m["rel_l2"], m["median_rel_error"]]
        assert r[0] == f"{m['pearson']:.4g}" and recovered[0] == f"median {est['median']:.4g}"
        # the collection's row of this solver holds the same numbers
        row = next(row for row in rows if row[0][0] == sub)
        assert row[3][1] == m["pearson"] and row[4][1] == m["rel_l2"]


def test_fit_sweep_summary(browser, sweep_dir, tmp_path):
    top = check_page(browser, sweep_dir / REPORT_FILE, tmp_path, images=0)
    rows = metrics(browser, top)
    for row, name in zip(rows, ("auto", "bump"), strict=True):
        doc = json.loads((sweep_dir / name / "result.json").read_text())
        assert row[0][0] == name
        assert row[3][1] == doc["metrics"]["lam"]["pearson"]
        assert row[4][1] == doc["metrics"]["lam"]["rel_l2"]
        visit = check_page(browser, sweep_dir / name / REPORT_FILE, tmp_path, images=4)
        text = browser.evaluate(visit, "document.body.innerText")
        assert "def heat_steady" in text and f"mollifier fit {sweep_dir.parent / name}.toml" in text
        assert 'builtin = "heat"' in text  # the config file's text


def test_config_sweep_pages(browser, config_sweep_dir, tmp_path):
    # the sweep's page: its comparison figure, one linked row per run, each run's own page
    top = check_page(browser, config_sweep_dir / REPORT_FILE, tmp_path, images=1)
    runs = sorted(p.name for p in config_sweep_dir.iterdir() if (p / "result.json").is_file())
    assert len(runs) == 4
    hrefs = [h for h, _ in browser.evaluate(top, _LINKS)]
    for name in runs:
        assert f"{name}/{REPORT_FILE}" in hrefs
        doc = json.loads((config_sweep_dir / name / "result.json").read_text())
        visit = check_page(browser, config_sweep_dir / name / REPORT_FILE, tmp_path, images=4)
        text = browser.evaluate(visit, "document.body.innerText")
        assert f"{doc['metrics']['lam']['pearson']:.4g}" in text


def test_storm_batch_pages(browser, storm_dir, tmp_path):
    top = check_page(browser, storm_dir / REPORT_FILE, tmp_path, images=1)
    text = browser.evaluate(top, "document.body.innerText")
    # the failed nucleus, named with markup, is shown as text among the warnings
    alerts = browser.evaluate(top, "document.getElementById('alerts').innerText")
    assert "<script>alert(1)<b>x: failed: LocalisationError" in alerts
    assert "nucleus_000: unreliable: " in alerts and "localisations/µm² in the nucleus" in alerts
    assert "the localisation table is empty" in text
    assert browser.evaluate(top, "document.querySelectorAll('#alerts b').length") == 0
    rows = metrics(browser, top)
    assert [r[0][0] for r in rows] == ["nucleus_000", "<script>alert(1)<b>x"]
    with (storm_dir / "summary.csv").open() as fh:  # the batch page shows the batch's table
        row = next(csv.DictReader(fh))
    assert rows[0][3][1] == float(row["lambda_median"]) and rows[0][5][1] == float(row["pearson"])
    summary = json.loads((storm_dir / "nucleus_000" / "result.json").read_text())
    assert rows[0][3][1] == pytest.approx(summary["summary"]["lambda_median"], rel=1e-5)
    assert browser.evaluate(top, _LINKS)[0][0] == "nucleus_000/report.html"
    nucleus = check_page(browser, storm_dir / "nucleus_000" / REPORT_FILE, tmp_path, images=4)
    values = {row[0][0]: row[1] for row in metrics(browser, nucleus)}
    assert values["median λ̂"][1] == summary["lambda"]["median"]
    assert values["against the truth: pearson"][1] == summary["metrics"]["pearson"]
