"""Warm start of the network solver from the direct solution (``Network(start="direct")``)."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, simulate_heat


@pytest.fixture(scope="module")
def heat32():
    ds = simulate_heat(n=32, noise=GaussianNoise(0.01), seed=0)
    return problem_from_dataset(ds, width=0.25)


def test_the_warm_start_alone_carries_the_direct_answer_into_the_network(heat32):
    """With no physics steps, the network's λ channel reproduces the direct estimate: Pearson
    against the truth within 0.01 of the direct solver's and against the direct field ≥ 0.99;
    the same budget from a cold start stays well short of it."""
    direct = heat32.solve(ml.Direct())
    warm = heat32.solve(ml.Network(steps=0, start="direct", start_steps=300, read_off=False))
    start = warm.diagnostics["start"]
    assert start["used"] and start["steps"] == 300
    assert start["metrics"]["lam"]["pearson"] == pytest.approx(direct.metrics["lam"]["pearson"])
    np.testing.assert_array_equal(warm.extras["direct_unknowns"]["lam"], direct.unknowns["lam"])
    r_direct = direct.metrics["lam"]["pearson"]
    assert warm.metrics["lam"]["pearson"] > r_direct - 0.01, (warm.metrics, direct.metrics)
    ok = np.isfinite(warm.unknowns["lam"]) & np.isfinite(direct.unknowns["lam"])
    assert np.corrcoef(warm.unknowns["lam"][ok], direct.unknowns["lam"][ok])[0, 1] > 0.99
    assert warm.diagnostics["data_misfit"]["u"] < 0.02  # the field channel fits the data too
    cold = heat32.solve(ml.Network(steps=300, read_off=False))
    assert cold.metrics["lam"]["pearson"] < r_direct - 0.05, (cold.metrics, direct.metrics)
    assert cold.diagnostics["start"]["used"] is False


def test_constants_start_at_the_direct_estimate():
    """``u_t = −k u`` with ``k`` unknown: after the warm start alone the network's ``k`` is the
    direct estimate (to float32 precision)."""
    t = np.linspace(0.0, 2.0, 201)
    problem = ml.InverseProblem(
        grid=ml.Grid(t=t),
        data={"u": np.exp(-1.5 * t)},
        unknowns={"k": ml.Constant(init=0.3, positive=True)},
        residual=lambda f, d, p: d(f.u, "t") + p.k * d(f.u),
        width=0.2,
    )
    direct = problem.solve(ml.Direct())
    assert direct.unknowns["k"] == pytest.approx(1.5, rel=1e-3)
    warm = problem.solve(ml.Network(steps=0, start="direct", start_steps=5, read_off=False))
    assert warm.unknowns["k"] == pytest.approx(direct.unknowns["k"], rel=1e-6)


def test_a_non_affine_residual_starts_cold_and_says_why():
    t = np.linspace(0.0, 2.0, 101)
    problem = ml.InverseProblem(
        grid=ml.Grid(t=t),
        data={"u": np.exp(-1.5 * t)},
        unknowns={"a": ml.Constant(init=0.0)},
        residual=lambda f, d, p: d(f.u, "t") + p.a.exp() * d(f.u),
        width=0.2,
    )
    result = problem.solve(ml.Network(steps=2, start="direct", read_off=False))
    start = result.diagnostics["start"]
    assert start["used"] is False and "not affine" in start["reason"]
    assert "direct_unknowns" not in result.extras


def test_start_options_are_checked():
    with pytest.raises(ValueError, match="start_steps must be non-negative"):
        ml.Network(start_steps=-1)
    with pytest.raises(TypeError, match=r"Network\.start must be one of"):
        ml.Network(start="hot")  # type: ignore[arg-type]
