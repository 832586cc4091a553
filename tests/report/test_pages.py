"""Report pages built from result directories, without a browser: contents, escaping, refusal."""

from __future__ import annotations

import csv
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mollifier.cli import main
from mollifier.report import REPORT_FILE, NotAResultError, detect, write_report
from mollifier.report.bench_pages import markdown_blocks
from mollifier.report.provenance import residual_source

#: The 5 MB the issue allows one fit's page.
MAX_PAGE_BYTES = 5 * 2**20


class _Cells(HTMLParser):
    """The ``data-value`` cells of the table with a given id: rows of (text, value)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows = table_id, False, []
        self._cell: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self._cell = ["", a.get("data-value")]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append((self._cell[0], self._cell[1]))
            self._cell = None


def table(html: str, table_id: str = "metrics") -> list[list[tuple[str, str | None]]]:
    parser = _Cells(table_id)
    parser.feed(html)
    return [r for r in parser.rows if r]


def test_a_result_written_before_the_report_gets_a_page(old_result, capsys):
    assert main(["report", str(old_result)]) == 0
    html = (old_result / REPORT_FILE).read_text()
    doc = json.loads((old_result / "result.json").read_text())
    ((name, _), recovered, lo, hi, true, r, l2, med, rel) = table(html)[0]
    assert name == "lam" and true[0] == "not recorded" and rel[0] == "—"
    assert float(recovered[1]) == doc["unknowns"]["lam"]["median"]
    assert (float(lo[1]), float(hi[1])) == (
        doc["unknowns"]["lam"]["min"],
        doc["unknowns"]["lam"]["max"],
    )
    m = doc["metrics"]["lam"]
    assert [float(c[1]) for c in (r, l2, med)] == [m["pearson"], m["rel_l2"], m["median_rel_error"]]
    assert r[0] == f"{m['pearson']:.4g}"
    # the figure present is embedded, the absent ones and the provenance are named as missing
    assert html.count('src="data:image/png;base64,') == 1
    missing = html[html.index('id="missing"') :]
    for name in ("data.png", "fit.png", "unknowns.png", "provenance.json", "residual&#39;s source"):
        assert name in missing
    assert "loss.png" not in missing  # a direct result has no loss curve to miss
    assert "48 × 48 nodes" in html  # the grid, read from unknowns.npz
    assert f"wrote {old_result / REPORT_FILE}" in capsys.readouterr().out


@pytest.mark.parametrize("make", ["empty", "absent", "stray_file", "bad_json", "bad_layout"])
def test_a_directory_that_is_no_result_is_refused_with_status_2(tmp_path, capsys, make):
    d = tmp_path / "d"
    if make != "absent":
        d.mkdir()
    if make == "stray_file":
        (d / "notes.txt").write_text("hello")
    if make == "bad_json":
        (d / "result.json").write_text("{not json")
    if make == "bad_layout":
        (d / "result.json").write_text('{"unknowns": [1], "method": "direct"}')
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mollifier report: error: ") and str(d) in err
    expected = {
        "absent": "no such directory",
        "bad_json": "not readable JSON",
        "bad_layout": "not have the expected layout",
    }
    assert expected.get(make, "not a mollifier result") in err
    assert not (d / REPORT_FILE).exists()
    with pytest.raises(NotAResultError):
        write_report(d)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_names_and_messages_are_escaped_not_run(tmp_path):
    """A nucleus named ``<script>…</script>`` with an HTML error message, and a fit folder named
    ``<script>…`` whose quality gate failed with a ``<script>`` reason, render as text."""
    batch = tmp_path / "batch"
    batch.mkdir()
    evil = "<script>alert(1)</script>"
    _write_csv(
        batch / "summary.csv",
        [
            {
                "name": evil,
                "condition": "c",
                "status": "error",
                "error": '<img src=x onerror="alert(2)">',
            }
        ],
    )
    _write_csv(batch / "comparison.csv", [{"metric": "lambda_median", "condition": "<b>c</b>"}])
    fit = tmp_path / "<script>alert(3)"
    fit.mkdir()
    (fit / "result.json").write_text(
        json.dumps(
            {
                "unknowns": {"<i>nu</i>": 0.5},
                "method": "direct",
                "status": "failed",
                "reasons": ["<script>alert(4)</script>"],
            }
        )
    )
    pages = write_report(batch) + write_report(fit)
    for page in pages:
        html = page.read_text()
        assert not re.search(r"<\s*(script|img\s+src=x|b>|i>)", html, re.I), page
        assert "onerror=" not in html.replace("onerror=&#34;", "")
    batch_html, fit_html = (p.read_text() for p in pages)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in batch_html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in batch_html
    assert "&lt;script&gt;alert(3)" in fit_html and "&lt;i&gt;nu&lt;/i&gt;" in fit_html
    # the failed gate is the page's status, its reason shown first
    assert 'id="status">error<' in fit_html
    alerts = fit_html[fit_html.index('id="alerts"') : fit_html.index('id="problem"')]
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in alerts


def test_demo_writes_linked_pages_with_provenance_and_truth(demo_dir):
    top = demo_dir / REPORT_FILE
    assert top.is_file() and detect(demo_dir) == "collection"
    html = top.read_text()
    for sub in ("data", "direct", "network"):
        assert f'href="{sub}/report.html"' in html
        assert (demo_dir / sub / REPORT_FILE).is_file()
    prov = json.loads((demo_dir / "provenance.json").read_text())
    assert prov["command"] == f"mollifier demo --out {demo_dir} --steps 5 --quiet"
    assert prov["options"]["steps"] == 5 and prov["wall_time_s"] > 0
    assert prov["residual"]["spec"] == "heat" and 'd(f.u, "xx")' in prov["residual"]["source"]
    # the true λ's median over the interior, as recorded, is the page's "true" cell
    with np.load(demo_dir / "data" / "data.npz") as z:
        lam = z["lam"]
    for solver in ("direct", "network"):
        page = (demo_dir / solver / REPORT_FILE).read_text()
        assert len(page.encode()) < MAX_PAGE_BYTES
        with np.load(demo_dir / solver / "unknowns.npz") as z:
            interior = z["interior"]
        (row,) = table(page)
        assert float(row[4][1]) == pytest.approx(float(np.median(lam[interior])), rel=1e-12)
        doc = json.loads((demo_dir / solver / "result.json").read_text())
        assert float(row[5][1]) == doc["metrics"]["lam"]["pearson"]
        assert "def heat_steady" in page and "mollifier demo --out" in page
        assert 'href="../report.html"' in page
    network = (demo_dir / "network" / REPORT_FILE).read_text()
    assert "data field &#39;u&#39; not fitted" in network  # 5 steps cannot fit: warned first
    assert network.index('id="alerts"') < network.index('id="problem"')
    assert network.count('src="data:image/png;base64,') == 5  # data, fit, unknowns, residual, loss


def test_a_network_page_shows_its_fit_diagnosis_and_a_direct_page_none(demo_dir):
    """The demo's 5-step network: the table holds result.json's ratios and verdicts exactly."""
    doc = json.loads((demo_dir / "network" / "result.json").read_text())
    fit = doc["diagnostics"]["fit"]
    rows = table((demo_dir / "network" / REPORT_FILE).read_text(), "fit")
    by = {(r[0][0], r[1][0]): r for r in rows}
    data = by[("data", "u")]
    assert float(data[2][1]) == fit["data"]["u"]["ratio"]
    assert data[4][0] == fit["data"]["u"]["verdict"] == "not fitted"
    assert f"1 − R² = {fit['data']['u']['unexplained']:.4g}" in data[3][0]
    residual = by[("residual", "residual")]
    assert float(residual[2][1]) == fit["residual"]["residual"]["ratio"]
    assert residual[4][0] == fit["residual"]["residual"]["verdict"]
    top = fit["loss"]["dominant"]
    assert by[("loss", top)][4][0] == "dominant"
    assert float(by[("loss", top)][2][1]) == fit["loss"]["share"][top]
    for name, share in fit["loss"]["gradient_share"].items():
        assert float(by[("gradient", name)][2][1]) == share
    assert table((demo_dir / "direct" / REPORT_FILE).read_text(), "fit") == []


def test_sweep_summary_links_each_fit_and_shows_its_config(sweep_dir):
    html = (sweep_dir / REPORT_FILE).read_text()
    rows = table(html)
    assert [r[0][0] for r in rows] == ["auto", "bump"]
    for name, row in zip(["auto", "bump"], rows, strict=True):
        doc = json.loads((sweep_dir / name / "result.json").read_text())
        assert f'<a href="{name}/report.html">{name}</a>' in html
        assert float(row[3][1]) == doc["metrics"]["lam"]["pearson"]
        page = (sweep_dir / name / REPORT_FILE).read_text()
        assert "kernel = &#34;bump&#34;" in page if name == "bump" else "[solver]" in page
        assert f"mollifier fit {sweep_dir.parent / (name + '.toml')}" in page


def test_residual_source_is_read_without_running_the_file(tmp_path):
    f = tmp_path / "pde.py"
    f.write_text(
        'raise SystemExit("this file must not run")\n\n\n'
        "def wave(f, d, p):\n"
        '    """Damped wave u_tt + γ u_t = c² u_xx."""\n'
        '    return d(f.u, "tt") + p.gamma * d(f.u, "t") - p.c**2 * d(f.u, "xx")\n'
    )
    got = residual_source("pde.py:wave", tmp_path)
    assert got is not None
    assert got["source"] == (
        "def wave(f, d, p):\n"
        '    return d(f.u, "tt") + p.gamma * d(f.u, "t") - p.c**2 * d(f.u, "xx")'
    )
    assert got["summary"] == "Damped wave u_tt + γ u_t = c² u_xx."
    assert residual_source("pde.py:nothing", tmp_path) is None
    assert residual_source("heat-transient")["source"].startswith("def heat_transient(")


def test_bench_notes_are_read_into_tables():
    blocks = markdown_blocks(
        "# Benchmark\n\n- command: `x`\n- device: cpu\n\n## Checks\n\n"
        "| check | verdict |\n|---|---|\n| a | PASS |\n| b | FAIL |\n\nSome text\nover two lines.\n"
    )
    assert blocks == [
        ("h", (2, "Benchmark")),
        ("list", ["command: `x`", "device: cpu"]),
        ("h", (3, "Checks")),
        ("table", [["check", "verdict"], ["a", "PASS"], ["b", "FAIL"]]),
        ("p", "Some text over two lines."),
    ]


def test_a_bench_directory_gets_its_tables_plots_and_failures(tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    records = [
        {"study": "matrix", "label": "heat mlp", "status": "ok", "commit": "abc", "torch": "2"},
        {"study": "matrix", "label": "chromatin pirate", "status": "error", "error": "boom"},
    ]
    (d / "bench.json").write_text(json.dumps(records))
    (d / "bench.md").write_text("## Checks\n\n| check | verdict |\n|---|---|\n| r | FAIL |\n")
    (page,) = write_report(d)
    html = page.read_text()
    assert "chromatin pirate: error: boom" in html and "Checks: r: FAIL" in html
    assert "<caption>Checks</caption>" in html
    missing = html[html.index('id="missing"') :]
    assert "provenance.json" in missing and ".png" not in missing  # the plots are optional
    assert 'id="status">warning<' in html and "abc" in html


def test_without_jinja2_the_command_says_which_extra_to_install(old_result, monkeypatch, capsys):
    from mollifier.report import render

    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.setattr(render, "_ENV", [])
    assert main(["report", str(old_result)]) == 2
    assert "pip install 'mollifier[report]'" in capsys.readouterr().err
