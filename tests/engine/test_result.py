"""The data-misfit diagnostic of results: unexplained variance, and the summary's warning."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.inverse.result import unexplained_variance
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, simulate_heat


def test_unexplained_variance_is_one_minus_r_squared():
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 20, 200_000))
    noise = 0.1 * clean.std() * rng.standard_normal(clean.size)
    assert unexplained_variance(clean, clean) == 0.0
    assert unexplained_variance(np.full_like(clean, clean.mean()), clean) == pytest.approx(1.0)
    # a perfect fit of the clean field scores the noise's share of the data variance
    assert unexplained_variance(clean, clean + noise) == pytest.approx(0.01 / 1.01, rel=0.02)
    # a fit with half the amplitude leaves a quarter of the variance
    centred = clean - clean.mean()
    assert unexplained_variance(clean.mean() + 0.5 * centred, clean) == pytest.approx(0.25)


def test_unexplained_variance_ignores_missing_data_and_checks_shapes():
    y = np.array([0.0, 1.0, np.nan, 3.0])
    f = np.array([0.0, 1.0, 100.0, 3.0])
    assert unexplained_variance(f, y) == 0.0
    assert np.isnan(unexplained_variance(np.zeros(3), np.ones(3)))
    with pytest.raises(ValueError, match="shape"):
        unexplained_variance(np.zeros(3), np.zeros(4))


@pytest.fixture(scope="module")
def heat_problem():
    return problem_from_dataset(
        simulate_heat(n=32, noise=GaussianNoise(0.01), seed=0), width="auto"
    )


def test_untrained_network_is_flagged_and_the_direct_solution_is_not(heat_problem):
    untrained = heat_problem.solve(ml.Network(steps=0, seed=0, read_off=False))
    misfit = untrained.diagnostics["data_misfit"]
    assert set(misfit) == {"u"}
    assert misfit["u"] > 0.5  # an initialised network is close to the data's mean
    assert "data field 'u' not fitted" in untrained.summary()

    direct = heat_problem.solve(ml.Direct())
    # the mollified data: the kernel smooths away the noise and a little of the field
    assert direct.data_misfit()["u"] < 0.05
    assert "did not fit" not in direct.summary()


def test_trained_network_fits_and_is_not_flagged(heat_problem):
    """1 000 steps bring the misfit within 20x the noise variance (measured 12x): status ok;
    400 steps leave 1 - R² below 0.01 but 35x the noise variance: not fitted."""
    res = heat_problem.solve(ml.Network(steps=1000, lr=0.003, seed=0, read_off=False))
    assert res.diagnostics["data_misfit"]["u"] < 0.01
    assert res.diagnostics["fit"]["data"]["u"]["ratio"] < 20
    assert res.status == "ok" and res.reasons == []
    assert "not fitted" not in res.summary()


def test_misfit_counts_only_the_observed_nodes(heat_problem):
    """With a mask, unobserved nodes may hold any finite value; they must not count."""
    from mollifier.inverse.problem import InverseProblem

    mask = np.ones(heat_problem.grid.shape, dtype=bool)
    mask[:, :8] = False
    options = dict(heat_problem._options)
    u = np.array(options["data"]["u"], dtype=float)
    u[~mask] = 1e3  # garbage where nothing was observed
    options.update(data={"u": u}, mask=mask)
    masked = InverseProblem(width=heat_problem.width, **options)
    res = masked.solve(ml.Network(steps=400, lr=0.003, seed=0, read_off=False))
    assert res.diagnostics["data_misfit"]["u"] < 0.01
    assert res.data_misfit()["u"] > 1  # unmasked, the garbage dominates
    # the diagnosis too counts the observed nodes only, against the noise of the observed data
    data = res.diagnostics["fit"]["data"]["u"]
    assert data["nodes"] == int(mask.sum())
    assert data["unexplained"] == pytest.approx(res.diagnostics["data_misfit"]["u"], rel=1e-9)
    assert data["ratio"] < 100


def test_summary_reports_the_data_misfit_for_network_results_only(heat_problem):
    """The direct solver fits nothing to the data, so its summary has no misfit line; a network's
    names what the number is and gives the stored value."""
    direct = heat_problem.solve(ml.Direct())
    assert "unexplained" not in direct.summary()
    untrained = heat_problem.solve(ml.Network(steps=0, seed=0, read_off=False))
    lines = [ln for ln in untrained.summary().splitlines() if "R²" in ln]
    assert len(lines) == 2
    fit = untrained.diagnostics["fit"]["data"]["u"]
    # 1 - R² ≈ 1 against a noise share below 1e-4: judged against 1% noise, about 1e4
    assert fit["judged_ratio"] == pytest.approx(fit["unexplained"] / 1e-4)
    assert fit["judged_ratio"] < fit["ratio"]
    assert lines[1] == (
        f"fit of data u: misfit {fit['ratio']:.3g}x the estimated noise variance, "
        f"{fit['judged_ratio']:.3g}x that of 1% noise (1 - R² {fit['unexplained']:.2g}): not fitted"
    )
    value = untrained.diagnostics["data_misfit"]["u"]
    assert lines[0] == (
        "fraction of the data variance the network's fitted fields leave unexplained "
        f"(1 - R²): u {value:.3g}"
    )
    assert value > 0.5
