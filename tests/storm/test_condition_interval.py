"""The confidence interval of a difference of medians between conditions: coverage and content."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.storm.summaries import compare_conditions, median_difference_interval


def test_interval_covers_the_population_difference_at_its_nominal_rate():
    # Nuclei whose true values spread around each condition's median, each measured with its own
    # error: the interval targets the difference of the population medians (0.1).
    rng = np.random.default_rng(7)
    draws, hits, widths = 300, 0, []
    for k in range(draws):
        values = []
        for centre in (0.5, 0.6):
            true = centre + 0.05 * rng.standard_normal(20)
            values.append(true + 0.03 * rng.standard_normal(20))
        low, high = median_difference_interval(values[0], values[1], resamples=2000, seed=k)
        hits += low <= 0.1 <= high
        widths.append(high - low)
    coverage = hits / draws
    # nominal 95%; the percentile bootstrap of a median with 20 nuclei per group runs a little
    # under or over it, the binomial standard error of 300 draws is 1.3%
    assert 0.89 <= coverage <= 0.99, coverage
    # the half-width matches the spread of the difference of sample medians (about
    # 1.2533 * 0.0583 * sqrt(2 / 20) ≈ 0.023 for a normal population, so 1.96 × that ≈ 0.045)
    assert 0.035 < np.median(widths) / 2 < 0.06


def test_comparison_rows_carry_the_difference_and_the_measurement_share():
    rows = [
        {"condition": c, "status": "ok", "lambda_median": v, "lambda_median_sd": 0.02}
        for c, centre in (("ctrl", 0.5), ("drug", 0.7))
        for v in centre + np.linspace(-0.05, 0.05, 6)
    ]
    rows.append({"condition": "drug", "status": "failed", "lambda_median": 9.0})
    ctrl, drug = compare_conditions(rows)
    assert "median_difference" not in ctrl
    assert drug["median_difference"] == pytest.approx(0.2)
    assert drug["difference_low"] < 0.2 < drug["difference_high"]
    spread = np.var(np.linspace(-0.05, 0.05, 6), ddof=1)
    assert drug["measurement_share"] == pytest.approx(0.02**2 / spread)
    # no per-nucleus error recorded: no share, and one nucleus gives no interval
    lone = [{"condition": "a", "lambda_median": 1.0}, {"condition": "b", "lambda_median": 2.0}]
    assert np.isnan(compare_conditions(lone)[1]["difference_low"])
    assert np.isnan(compare_conditions(lone)[0]["measurement_share"])


def test_interval_level_is_checked():
    with pytest.raises(ValueError, match="level"):
        median_difference_interval(np.ones(3), np.ones(3), level=95)
