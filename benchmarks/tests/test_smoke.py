"""The smoke tier end to end through the CLI (what CI runs): outputs exist and are sane."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import pytest

from mollifier_bench.cli import build_parser, run
from mollifier_bench.provenance import commit_info

REQUIRED = {
    "task",
    "arch",
    "derivatives",
    "noise",
    "seed",
    "steps",
    "step_time_s",
    "total_time_s",
    "peak_memory_mb",
    "diverged",
    "metrics",
    "device",
    "torch",
    "commit",
    "config",
}


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser("mollifier bench").parse_args(argv)


@pytest.mark.slow
def test_smoke_tier(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench"
    before = commit_info()["commit"]  # a commit may land while the tier runs
    assert run(parse(["--tier", "smoke", "--out", str(out), "--quiet"])) == 0
    commits = {before, commit_info()["commit"]}
    records = json.loads((out / "bench.json").read_text())
    matrix = [r for r in records if r["study"] == "matrix"]
    assert {r["task"] for r in matrix} == {"langevin", "heat", "chromatin"}
    assert {r["derivatives"] for r in matrix} == {"autodiff", "mollifier", "direct"}
    for r in matrix:
        assert REQUIRED <= set(r), REQUIRED - set(r)
        assert r["status"] == "ok" and r["diverged"] is False
        assert r["total_time_s"] > 0 and r["peak_memory_mb"] > 0
        assert r["commit"] in commits
        lam = r["metrics"]["lam"]
        assert -1 <= lam["pearson"] <= 1 and lam["rel_l2"] >= 0
        # every data field of the task has its unexplained variance (0 = perfect fit; a tiny
        # network after a few steps is far from perfect but cannot be much worse than the mean)
        misfit = r["data_misfit"]
        assert misfit and all(0 <= v < 3 for v in misfit.values()), misfit
        if r["derivatives"] != "direct":
            assert r["steps"] == r["config"]["steps"] > 0
            assert r["step_time_s"] > 0
            # the step time is the Adam loop's; the total adds set-up and the read-off
            assert 0 < r["step_time_s"] * r["steps"] <= r["total_time_s"]
        else:
            assert r["arch"] is None and r["steps"] == 0
    scaling = [r for r in records if r["study"].startswith("scaling")]
    assert {r["method"] for r in scaling} == {"none", "mollifier", "autodiff"}
    assert all(
        r["status"] == "ok" and r["step_time_s"] > 0 and r["peak_memory_mb"] > 0 for r in scaling
    )
    accuracy = [r for r in records if r["study"] == "accuracy"]
    assert len({(r["method"], r["order"], r["noise"]) for r in accuracy}) == len(accuracy) >= 40
    assert all(r["error"] >= 0 and r["consistency_error"] >= 0 for r in accuracy)

    md = (out / "bench.md").read_text()
    for heading in (
        "## Headline measurements",
        "## Inverse problems",
        "### Direct",
        "## Derivative cost against order",
        "## Derivative cost against grid size",
        "## Derivative accuracy",
    ):
        assert heading in md
    # the chromatin pair's ratio column holds the ratio of the two runs' step times
    ad, moll = (
        next(r for r in matrix if r["task"] == "chromatin" and r["derivatives"] == d)
        for d in ("autodiff", "mollifier")
    )
    row = next(line for line in md.splitlines() if line.startswith("| chromatin (4) | mlp"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert math.isclose(float(cells[7]), ad["step_time_s"] / moll["step_time_s"], rel_tol=0.01)
    assert re.search(r"command: `mollifier bench --tier smoke", md)
    for png in ("time_vs_order", "memory_vs_order", "scaling_grid", "accuracy_vs_noise", "fields"):
        assert (out / f"{png}.png").stat().st_size > 5000
    # the page: the five plots embedded, bench.md's tables, the command line recorded
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 5
    assert "Headline measurements" in page and "Derivative accuracy" in page
    assert "mollifier bench --tier smoke" in page
    # resume: everything cached, nothing re-run
    assert run(parse(["--tier", "smoke", "--out", str(out), "--quiet", "--no-plots"])) == 0
    assert json.loads((out / "bench.json").read_text()) == records


def test_commit_info(tmp_path: Path) -> None:
    info = commit_info()
    assert info["commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert commit_info(tmp_path) == {"commit": "unknown", "dirty": None}
