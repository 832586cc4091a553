"""The standalone scripts in benchmarks/ run and print sane tables (tiny settings).

They are what `benchmarks/gpu_check.sh` runs on a lent GPU, where a crash costs device time;
the numbers themselves are recorded in benchmarks/RESULTS.md, not asserted here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str) -> list[list[str]]:
    """Run ``benchmarks/<name>`` and return the cells of its markdown table's data rows."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in proc.stdout.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    assert len(rows) >= 2, proc.stdout  # a header and at least one data row
    return rows[1:]


def positive(cell: str) -> float:
    value = float(cell.replace("×", "").replace("`", "").replace(",", ""))
    assert math.isfinite(value) and value > 0, cell
    return value


def test_conv_crossover_script():
    rows = run_script(
        "conv_crossover.py",
        "--sizes",
        "32",
        "48",
        "--taps",
        "13",
        "--repeats",
        "2",
        "--threads",
        "1",
    )
    assert [r[0] for r in rows] == ["32", "48"]
    for row in rows:
        times = dict(zip(("direct", "fft", "matrix"), map(positive, row[2:5]), strict=True))
        assert times[row[5]] == min(times.values())  # the named method is the fastest


def test_network_cost_script():
    rows = run_script("network_cost.py", "--n", "32", "--cycles", "2", "--threads", "1")
    assert [r[0] for r in rows] == ["`mlp`", "`pirate`", "`pinnsformer`"]
    for row in rows:
        floor, moll, ad, ad_moll, moll_floor = (positive(c) for c in row[2:7])
        # the ratios are of the unrounded times; the printed times have 4 decimals
        assert ad_moll == pytest.approx(ad / moll, rel=0.1)
        assert moll_floor == pytest.approx(moll / floor, rel=0.1)


def test_layer_overhead_script():
    rows = run_script(
        "layer_overhead.py",
        *("--n", "16", "--steps", "1", "--rounds", "1", "--interleaved", "2"),
        *("--compare-direct", "--threads", "1"),
    )
    (row,) = rows
    assert row[0] == "1"
    for cell in row[1:]:
        positive(cell)


def test_width_rule_script():
    rows = run_script("width_rule.py", "--n", "24", "--seeds", "0")
    (row,) = rows
    assert row[0] == "0"
    for r in (float(row[2]), float(row[4])):
        assert -1.0 <= r <= 1.0
    assert "spectral" in row[3]


@pytest.mark.parametrize("sequential", [False, True])
def test_gpu_pairs_script(tmp_path, sequential):
    # One pair on a 16² grid: the probes plan the pair's steps, both runs use exactly them.
    rows = run_script(
        "gpu_pairs.py",
        *(["--sequential"] if sequential else []),
        "--out",
        str(tmp_path),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--pairs",
        "mlp:16",
        "--max-steps",
        "100",
        "--min-steps",
        "100",
        "--train-budget",
        "400",
        "--deadline",
        "280",
    )
    assert [(r[0], r[1]) for r in rows] == [("mlp 16²", "autodiff"), ("mlp 16²", "mollifier")]
    for row in rows:
        assert row[2] == "100" and row[-1] == "ok"  # same planned steps for both backends
        positive(row[3]), positive(row[4]), positive(row[5])
        assert -1.0 <= float(row[6]) <= 1.0
    records = json.loads((tmp_path / "pairs.json").read_text())
    assert [r["concurrent_runs"] for r in records] == [1 if sequential else 2] * 2
    assert ("one run at a time" in (tmp_path / "pairs.md").read_text()) == sequential
