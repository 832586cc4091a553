"""The standalone scripts in benchmarks/ run and print sane tables (tiny settings).

They are what `benchmarks/gpu_check.sh` runs on a lent GPU, where a crash costs device time;
the numbers themselves are recorded in benchmarks/RESULTS.md, not asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import platform
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str, returncode: int = 0) -> list[list[str]]:
    """Run ``benchmarks/<name>`` and return the cells of its markdown table's data rows.

    The script must exit with ``returncode``.
    """
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == returncode, proc.stderr[-2000:]
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


@pytest.mark.parametrize("mode", [[], ["--one-off"]])
def test_conv_crossover_script(mode: list[str]) -> None:
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
        *mode,
    )
    assert [r[0] for r in rows] == ["32", "48"]
    for row in rows:
        times = dict(zip(("direct", "fft", "matrix"), map(positive, row[2:5]), strict=True))
        assert times[row[5]] == min(times.values())  # the named method is the fastest


def test_auto_alpha_script():
    rows = run_script(
        "auto_alpha.py", "--n", "24", "--levels", "0.05", "--width", "0.16", "--criteria", "lcurve"
    )
    assert [r[0] for r in rows[:2]] == ["scan best (truth)", "lcurve"]
    assert rows[2][0].startswith("`Direct()` end to end")
    for row in rows:
        assert -1 <= float(row[2]) <= 1 and positive(row[3]) and positive(row[4])


def test_network_cost_script():
    malloc = "retain" if platform.libc_ver()[0] == "glibc" else "default"
    rows = run_script(
        "network_cost.py", "--n", "32", "--cycles", "2", "--threads", "1", "--malloc", malloc
    )
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
        *("--malloc", "retain" if platform.libc_ver()[0] == "glibc" else "default"),
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


def test_autowidth_cost_script():
    rows = run_script("autowidth_cost.py", "--nx", "96", "--nt", "31", "--noise", "0.01")
    (row,) = rows
    assert row[0] == "0.01"
    auto, given, ratio = (float(c) for c in row[1:4])
    assert auto > 0 and given > 0 and ratio == pytest.approx(auto / given, rel=0.01)
    assert row[5].startswith("spectral")
    assert all(math.isfinite(float(c)) for c in row[7:9])  # relative errors of a and b


def test_tiled_minibatch_script():
    rows = run_script("tiled_minibatch.py", "--smoke", "--threads", "1")
    steps = [r for r in rows if len(r) == 6 and r[0] != "problem"]
    assert [(r[0], r[3]) for r in steps] == [
        ("chromatin", "full batch"),
        ("chromatin", "batch=4, tile=auto"),
        ("heat3d", "full batch"),
        ("heat3d", "batch=4, tile=auto"),
    ]
    for r in steps:
        positive(r[5])
    full, tiled = steps[0], steps[1]
    assert int(full[4]) == int(full[2]) == 32 * 32  # the full batch evaluates every node
    assert int(tiled[4]) == 4 * 28 * 28  # 4 tiles of 14 + 2 * 7 nodes per axis
    traces = [r for r in rows if len(r) == 5 and r[0] != "problem"]
    assert len(traces) == 4
    for r in traces:
        assert all(-1.0 <= float(c.split(": ")[1]) <= 1.0 for c in r[4].split(", ")), r


def load_script(name: str):
    """Import ``benchmarks/<name>`` as a module (for its pure functions)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), BENCHMARKS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_pairs_plan():
    pairs = load_script("gpu_pairs.py")
    probes = {
        "mlp:128:mollifier": 0.02,
        "mlp:128:autodiff": 0.2,
        "pirate:64:mollifier": 0.03,
        "pirate:64:autodiff": 0.5,
    }
    # at once: each pair's autodiff run fits the budget: 300 / (1.1 * 0.2) = 1363 -> 1300
    assert pairs.plan(probes, budget_s=300, max_steps=2000, sequential=False) == {
        "mlp:128": 1300,
        "pirate:64": 500,  # 300 / 0.55 = 545
    }
    # one after another: all four runs share it: 300 / (1.1 * 0.75) = 363 -> 300
    assert pairs.plan(probes, budget_s=300, max_steps=2000, sequential=True) == {
        "mlp:128": 300,
        "pirate:64": 300,
    }
    assert pairs.plan(probes, budget_s=1e6, max_steps=2000, sequential=False)["mlp:128"] == 2000
    # a failed probe (no step time) plans nothing; so does a spent budget
    broken = {**probes, "pirate:64:autodiff": None}
    assert pairs.plan(broken, budget_s=300, max_steps=2000, sequential=False)["pirate:64"] == 0
    assert set(pairs.plan(broken, budget_s=300, max_steps=2000, sequential=True).values()) == {0}
    assert pairs.planned_steps(0.1, budget_s=-5.0, max_steps=2000) == 0
    with pytest.raises(ValueError, match="ARCH:N"):
        pairs.parse_pair("mlp128")


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
        "200",
        "--min-steps",
        "100",
        "--train-budget",
        "80",  # 100+ steps as long as the autodiff probe reads under 0.36 s/step (busy machine)
        "--deadline",
        "280",
    )
    assert [(r[0], r[1]) for r in rows] == [("mlp 16²", "mollifier"), ("mlp 16²", "autodiff")]
    records = json.loads((tmp_path / "pairs.json").read_text())
    probes = {f"mlp:16:{r['derivatives']}": r["probe_step_time_s"] for r in records}
    planned = load_script("gpu_pairs.py").plan(
        probes, budget_s=80, max_steps=200, sequential=sequential
    )["mlp:16"]
    assert planned >= 100
    for row, rec in zip(rows, records, strict=True):
        assert row[-1] == "ok" and rec["steps"] == rec["steps_budget"] == planned
        positive(row[3]), positive(row[4])
        assert -1.0 <= float(row[6]) <= 1.0
    # the two runs differ in the backend alone
    configs = [dict(r["config"], derivatives=None) for r in records]
    assert configs[0] == configs[1] and configs[0]["steps"] == planned
    assert [r["concurrent_runs"] for r in records] == [1 if sequential else 2] * 2
    assert ("one run at a time" in (tmp_path / "pairs.md").read_text()) == sequential


def test_gpu_pairs_script_too_few_steps(tmp_path):
    # A pair whose plan is below --min-steps is recorded as not run, and the script says so.
    rows = run_script(
        "gpu_pairs.py",
        *("--out", str(tmp_path), "--device", "cpu", "--threads", "1"),
        *("--pairs", "mlp:16", "--max-steps", "100", "--min-steps", "200"),
        returncode=1,
    )
    assert [r[-1] for r in rows] == ["not run", "not run"]
    records = json.loads((tmp_path / "pairs.json").read_text())
    assert [r["status"] for r in records] == ["not run", "not run"]
    assert all("fewer than --min-steps 200" in r["error"] for r in records)
    assert all(r["probe_step_time_s"] > 0 for r in records)


def test_domain_kernels_script():
    rows = run_script("domain_kernels.py", "--grid", "40", "--widths", "0.15", "--seeds", "1")
    cover = {(r[1], r[2]): float(r[3].rstrip("%")) for r in rows}
    # the box kernels report more of the disk than the kernels centred on their node
    assert cover[("clean s1", "all")] > cover[("clean s1", "centred")] > 0


def test_fit_diagnosis_script() -> None:
    rows = run_script("fit_diagnosis.py", "--cases", "heat32", "warm", "--quick")
    assert len(rows) == 5
    for row in rows:
        assert row[-2] in ("ok", "unreliable")
        assert math.isfinite(float(row[-1])) and float(row[-1]) >= 0  # wall seconds
