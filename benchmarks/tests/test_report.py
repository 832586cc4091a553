"""Tables of bench.md: ratios from paired runs, overheads over the floor, the headline."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mollifier_bench.report import format_table, headline, matrix_pairs, overhead_rows, render


def run(
    der: str,
    *,
    seed: int = 0,
    step: float | None,
    memory: float,
    r: float,
    arch: str = "mlp",
    status: str = "ok",
    probe: float | None = None,
    noise: float = 0.01,
) -> dict[str, Any]:
    return {
        "study": "matrix",
        "task": "chromatin",
        "order": 4,
        "arch": arch,
        "noise": noise,
        "n": 64,
        "steps_budget": 100,
        "seed": seed,
        "derivatives": der,
        "status": status,
        "step_time_s": step,
        "probe_step_time_s": probe,
        "total_time_s": None if step is None else 100 * step,
        "peak_memory_mb": memory,
        "steps": 100,
        "metrics": {"lam": {"pearson": r, "rel_l2": 1 - r}},
    }


def test_ratios_are_per_seed_pairs_then_averaged() -> None:
    recs = [
        run("autodiff", seed=0, step=2.0, memory=800.0, r=0.5),
        run("mollifier", seed=0, step=0.1, memory=100.0, r=0.95),
        run("autodiff", seed=1, step=3.0, memory=900.0, r=0.4),
        run("mollifier", seed=1, step=0.2, memory=100.0, r=0.93),
    ]
    (row,) = matrix_pairs(recs)
    assert row["seeds"] == 2
    assert math.isclose(row["time_ratio"], (2.0 / 0.1 + 3.0 / 0.2) / 2)
    assert math.isclose(row["memory_ratio"], (8 + 9) / 2)
    assert math.isclose(row["mollifier_pearson"], 0.94)
    assert math.isclose(row["autodiff_total"], 250.0)
    assert not row["probe"]


def test_data_misfit_is_the_worst_field_averaged_over_seeds() -> None:
    recs = [
        run("autodiff", seed=0, step=2.0, memory=800.0, r=0.5),
        run("mollifier", seed=0, step=0.1, memory=100.0, r=0.95),
        run("mollifier", seed=1, step=0.1, memory=100.0, r=0.95),
    ]
    recs[1]["data_misfit"] = {"phi_w": 0.9, "phi_d": 0.95}
    recs[2]["data_misfit"] = {"phi_w": 0.05, "phi_d": 0.01}
    (row,) = matrix_pairs(recs)
    assert math.isclose(row["mollifier_misfit"], (0.95 + 0.05) / 2)
    assert row["autodiff_misfit"] is None  # not recorded (older records): shown as missing
    text = render(recs)
    assert "unexpl. moll" in text and "0.5" in text


def test_unfinished_runs_use_the_probe_and_are_flagged() -> None:
    recs = [
        run("autodiff", step=None, probe=4.0, memory=1000.0, r=float("nan"), status="over_budget"),
        run("mollifier", step=0.5, memory=100.0, r=0.9),
    ]
    (row,) = matrix_pairs(recs)
    assert row["probe"] and math.isclose(row["time_ratio"], 8.0)
    assert row["autodiff_status"] == "over_budget"
    text = render(recs)
    assert "8*" in text and "over_budget" in text


def measured(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline values keyed by "<quantity> <arch>" (the label without its task/grid prefix)."""
    return {row[0].split(": ", 1)[1] + " " + row[0].split()[1]: row[1] for row in headline(records)}


def test_headline_reports_the_chromatin_pairs_measurements() -> None:
    recs = [
        run("autodiff", step=2.0, memory=700.0, r=0.5),
        run("mollifier", step=0.1, memory=100.0, r=0.95),
        run("autodiff", step=1.0, memory=300.0, r=0.7, arch="pirate"),
        run("mollifier", step=0.5, memory=100.0, r=0.6, arch="pirate"),
    ]
    recs[1]["data_misfit"] = {"phi_w": 0.97, "phi_d": 0.96}
    table = measured(recs)
    assert math.isclose(table["step time autodiff/mollifier mlp"], 20.0)
    assert math.isclose(table["peak memory autodiff/mollifier mlp"], 7.0)
    assert math.isclose(table["mollifier Pearson r(λ) mlp"], 0.95)
    assert math.isclose(table["autodiff Pearson r(λ) pirate"], 0.7)
    assert math.isclose(table["mollifier unexplained data variance mlp"], 0.97)
    assert table["autodiff unexplained data variance mlp"] is None  # not recorded
    text = render(recs)
    assert "## Headline measurements" in text
    assert "| chromatin mlp n=64 noise=0.01: step time autodiff/mollifier | 20 |" in text


def test_report_quotes_no_targets_or_verdicts() -> None:
    """bench.md holds measurements; what they are compared with is in docs/bench.md."""
    recs = [
        run("autodiff", step=2.0, memory=700.0, r=0.5),
        run("mollifier", step=0.1, memory=100.0, r=0.95),
        scaling("scaling_order", "none", 1, 64, 0.01, 50.0),
        scaling("scaling_order", "mollifier", 1, 64, 0.012, 60.0),
        scaling("scaling_order", "mollifier", 3, 64, 0.012, 60.0),
    ]
    text = render(recs)
    for word in ("PASS", "FAIL", "target", "verdict", ">=", "<="):
        assert word not in text


def scaling(study: str, method: str, order: int, n: int, t: float, m: float) -> dict[str, Any]:
    return {
        "study": study,
        "method": method,
        "order": order,
        "n": n,
        "step_time_s": t,
        "peak_memory_mb": m,
        "status": "ok",
    }


def test_overhead_over_the_floor_and_the_order_ratios() -> None:
    recs = [scaling("scaling_order", "none", 1, 64, 0.01, 50.0)]
    for k in (1, 2, 3):
        recs.append(scaling("scaling_order", "mollifier", k, 64, 0.012, 60.0))
        recs.append(scaling("scaling_order", "autodiff", k, 64, 0.02 * 2**k, 100.0 * k))
    rows = overhead_rows(recs, "scaling_order")
    assert [r["key"] for r in rows] == [1, 2, 3]
    assert math.isclose(rows[2]["autodiff_time_overhead"], 16.0)
    assert math.isclose(rows[0]["mollifier_memory_overhead"], 1.2)
    assert math.isclose(rows[1]["time_ratio"], 0.08 / 0.012)
    table = {row[0]: row[1] for row in headline(recs)}
    assert math.isclose(table["mollifier step time order 3 / order 1 (median step)"], 1.0)
    assert table["mollifier step time order 3 / order 1 (fastest step)"] is None  # no step times
    assert math.isclose(table["autodiff step time order 3 / order 1 (median step)"], 4.0)


def test_fastest_step_beside_the_median() -> None:
    """Under load a few slow steps move the median; the fastest step shows the intrinsic cost."""
    recs = [scaling("scaling_order", "none", 1, 64, 0.010, 50.0)]
    for k, times in ((1, [0.015, 0.016, 0.015]), (6, [0.018, 0.033, 0.035])):
        r = scaling("scaling_order", "mollifier", k, 64, sorted(times)[1], 60.0)
        r["step_times_s"] = times
        recs.append(r)
    (lo, hi) = overhead_rows(recs, "scaling_order")
    assert (lo["mollifier_time_min"], hi["mollifier_time_min"]) == (0.015, 0.018)
    table = {row[0]: row[1] for row in headline(recs)}
    assert math.isclose(table["mollifier step time order 6 / order 1 (fastest step)"], 1.2)
    assert math.isclose(table["mollifier step time order 6 / order 1 (median step)"], 0.033 / 0.015)
    assert "0.033 (0.018)" in render(recs)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (0.5, "0.5"),
        (12345.0, "1.23e+04"),
        (3, "3"),
        (True, "yes"),
    ],
)
def test_format_table_cells(value: object, text: str) -> None:
    table = format_table(["a"], [[value]])
    assert table.splitlines()[2] == f"| {text} |"
