"""Problems only the network solver serves: unknowns that enter non-affinely (nonlinear diffusion
``D(u) = D₀ e^{βu}``) and data with gaps (an observation mask)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares

import mollifier as ml
from mollifier.inverse.direct import MissingDataError
from mollifier.pdes import problem_from_dataset
from mollifier.pdes.residuals import exprel
from mollifier.sim import (
    GaussianNoise,
    NoNoise,
    gap_mask,
    simulate_heat,
    simulate_nonlinear_diffusion,
)


@pytest.fixture(scope="module")
def diffusion() -> ml.InverseProblem:
    ds = simulate_nonlinear_diffusion(n=32, n_times=25, noise=GaussianNoise(0.01), seed=0)
    return problem_from_dataset(ds, width="auto")


def test_direct_solver_refuses_the_nonaffine_residual_and_names_the_network(diffusion) -> None:
    with pytest.raises(ml.NonAffineResidualError) as info:
        diffusion.solve(ml.Direct())
    message = str(info.value)
    assert "['d0', 'beta']" in message and "ml.Network" in message


def test_weak_form_residual_identifies_both_constants_on_clean_data() -> None:
    """Least squares of the mollified residual over (log D₀, β) on noise-free data, started at
    the problem's initial values, lands on the simulator's D₀ = 0.05 and β = 1.5: the
    conservative form has no bias of its own (it is exact for the true field)."""
    ds = simulate_nonlinear_diffusion(n=48, n_times=30, noise=NoNoise())
    problem = problem_from_dataset(ds, width="auto")
    u = torch.as_tensor(ds.clean["u"])
    rows = torch.as_tensor(problem.interior)

    def rows_at(theta: np.ndarray) -> np.ndarray:
        params = {"d0": torch.tensor(np.exp(theta[0])), "beta": torch.tensor(theta[1])}
        with torch.no_grad():
            return problem.mollifier_residual({"u": u}, params)[rows].numpy()

    fit = least_squares(rows_at, [np.log(0.1), 0.5])
    assert np.exp(fit.x[0]) == pytest.approx(0.05, rel=2e-3)
    assert fit.x[1] == pytest.approx(1.5, rel=2e-3)


def test_exprel_is_smooth_through_zero() -> None:
    """(eᶻ − 1)/z against float64 expm1 away from 0, its series at 0, and gradcheck across 0."""
    z = torch.tensor([-3.0, -1e-3, 2e-4, 0.7, 5.0], dtype=torch.float64)
    assert torch.allclose(exprel(z), torch.expm1(z) / z, rtol=1e-12)
    assert float(exprel(torch.tensor(0.0, dtype=torch.float64))) == 1.0
    probe = torch.tensor([-2e-4, -5e-5, 0.0, 5e-5, 2e-4, 0.3], dtype=torch.float64)
    assert torch.autograd.gradcheck(exprel, (probe.requires_grad_(True),))


@pytest.mark.slow
def test_short_network_run_moves_both_constants_toward_the_truth(diffusion) -> None:
    """1 500 Adam steps and 200 L-BFGS steps on 25 × 32 nodes (about 40 s on one core): both
    D₀ (from 0.1) and β (from 0.5) end closer to the truth (0.05, 1.5), D₀ by at least half in
    log scale and β by at least a quarter (measured: D₀ 0.064, β 0.84)."""
    torch.set_num_threads(1)
    # The tanh MLP on raw coordinates, whose result the docstring gives.
    arch = ml.MLP(embedding=0)
    result = diffusion.solve(ml.Network(arch=arch, steps=1500, lr=3e-3, lbfgs_steps=200, seed=0))
    d0, beta = result.unknowns["d0"], result.unknowns["beta"]
    assert abs(np.log(d0 / 0.05)) < 0.5 * abs(np.log(0.1 / 0.05)), d0
    assert abs(beta - 1.5) < 0.75 * abs(0.5 - 1.5), beta
    assert result.diagnostics["start"]["used"] is False


@pytest.fixture(scope="module")
def gaps() -> tuple[ml.InverseProblem, np.ndarray]:
    mask = gap_mask((24, 24), missing=0.5, size=6, rng=np.random.default_rng(0))
    ds = simulate_heat(n=24, refine=2, noise=GaussianNoise(0.01), seed=0, mask=mask)
    return problem_from_dataset(ds, width="auto", boundary="interior"), mask


def test_direct_solver_says_data_are_missing(gaps) -> None:
    problem, _ = gaps
    with pytest.raises(MissingDataError, match=r"data are missing .*domain=mask"):
        problem.solve(ml.Direct())


def test_network_ignores_values_at_unobserved_nodes(gaps) -> None:
    """The data misfit runs over observed nodes only: the same run on data whose gaps hold
    NaN or 10³ gives the same λ, finite at every node."""
    problem, mask = gaps
    filled = problem.with_data({"u": np.where(mask, problem.data["u"], 1e3)})
    solver = ml.Network(steps=30, seed=0, read_off=False)
    lam = [p.solve(solver).unknowns["lam"] for p in (problem, filled)]
    assert np.all(np.isfinite(lam[0])) and np.allclose(lam[0], lam[1], rtol=1e-5)


def test_warm_start_on_data_with_gaps_starts_cold_and_says_why(gaps) -> None:
    problem, _ = gaps
    solver = ml.Network(steps=0, read_off=False, start="direct", start_steps=0)
    start = problem.solve(solver).diagnostics["start"]
    assert start["used"] is False and "data missing" in start["reason"]
