"""Summaries: lognormal fits, domain statistics and condition comparisons on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mollifier.storm.summaries import compare_conditions, domain_statistics, fit_lognormal


def test_lognormal_fit_recovers_its_parameters():
    rng = np.random.default_rng(1)
    values = 0.42 * np.exp(0.27 * rng.normal(size=50_000))
    fit = fit_lognormal(np.r_[values, -1.0, np.nan])
    assert fit.median == pytest.approx(0.42, rel=0.01)
    assert fit.sigma == pytest.approx(0.27, rel=0.02)
    assert fit.excluded == 1 and fit.n == 50_000
    assert fit.ks < 0.01
    with pytest.raises(ValueError, match="at least 2 positive"):
        fit_lognormal(np.array([-1.0, 0.0]))


def test_domains_on_a_lattice_of_disks():
    h = 10.0
    x = np.arange(200) * h
    X, Y = np.meshgrid(x, x, indexing="ij")
    phi = np.zeros_like(X)
    centres = [(cx, cy) for cx in range(300, 1800, 300) for cy in range(300, 1800, 300)]
    for cx, cy in centres:
        phi[np.hypot(X - cx, Y - cy) <= 80.0] = 0.7
    lam = 0.5 + 0.1 * (phi > 0)
    region = np.ones_like(phi, bool)
    s = domain_statistics(phi, region, lam, x=x, y=x)
    assert s.count == len(centres)
    assert s.spacing_nm == pytest.approx(300.0)
    # Pixelated disks of radius 80 nm at 10 nm pixels: equivalent diameters within 3%.
    assert s.diameter_nm == pytest.approx(160.0, rel=0.03)
    assert s.lambda_in_domains == pytest.approx(0.6)
    assert s.lambda_outside == pytest.approx(0.5)
    assert s.density_per_um2 == pytest.approx(len(centres) / 4.0)
    # Domains are kept by centroid: a region covering the left half keeps 2 of 5 columns.
    half = X < 1000
    assert domain_statistics(phi, half, lam, x=x, y=x).count == 15


def test_compare_conditions_statistics():
    rows = [{"condition": "control", "lambda_median": v} for v in (0.50, 0.52, 0.55, 0.58)]
    rows += [{"condition": "HDACi", "lambda_median": v} for v in (0.30, 0.33, 0.36, 0.40)]
    rows += [{"condition": "HDACi", "status": "error", "lambda_median": 9.9}]
    out = compare_conditions(rows)
    control, treated = out
    assert control["n"] == 4 and treated["n"] == 4
    assert treated["ratio_to_first"] == pytest.approx(0.3475 / 0.5375)
    # Perfectly separated groups of 4: exact two-sided Mann-Whitney p = 2 / C(8, 4).
    assert treated["p_mann_whitney"] == pytest.approx(2 / math.comb(8, 4))
    assert control["sd"] == pytest.approx(np.std([0.50, 0.52, 0.55, 0.58], ddof=1))


def test_comparison_keeps_unreliable_items_out_unless_asked():
    from mollifier.storm.summaries import compare_conditions

    rows = [
        {"condition": "a", "status": "ok", "lambda_median": 0.5},
        {"condition": "a", "status": "unreliable", "lambda_median": 0.9},
        {"condition": "a", "status": "failed", "lambda_median": -3.0},
        {"condition": "b", "status": "ok", "lambda_median": 0.4},
    ]
    default = {r["condition"]: r for r in compare_conditions(rows)}
    assert default["a"]["n"] == 1 and default["a"]["mean"] == 0.5
    wide = {r["condition"]: r for r in compare_conditions(rows, include_unreliable=True)}
    assert wide["a"]["n"] == 2 and abs(wide["a"]["mean"] - 0.7) < 1e-12
