"""Automatic widths: the spectral risk rule against an oracle, and the stability refinement."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.inverse.autowidth import choose_widths, spectrum, width_bounds


def _signal(x):
    u = np.sin(x) + 0.3 * np.sin(2.3 * x + 1) + 0.1 * np.cos(5 * x)

    def deriv(k):
        return (
            np.sin(x + k * np.pi / 2)
            + 0.3 * 2.3**k * np.sin(2.3 * x + 1 + k * np.pi / 2)
            + 0.1 * 5.0**k * np.cos(5 * x + k * np.pi / 2)
        )

    return u, deriv


def _error(noisy, truth, k, h, w):
    est = ml.derivative(noisy, k, spacing=h, width=w, boundary="valid")
    r = (truth.size - est.size) // 2
    t = truth[r : truth.size - r]
    return np.linalg.norm(est - t) / np.linalg.norm(t)


@pytest.mark.parametrize("noise", [1e-3, 1e-2, 5e-2])
@pytest.mark.parametrize("order", [1, 2, 4])
def test_spectral_rule_is_close_to_the_oracle_width(noise, order):
    """The chosen width's error against the true derivative is within 1.6× of the best width's
    error found by scanning against the truth (which the rule never sees)."""
    x = np.linspace(0, 10, 401)
    h = x[1] - x[0]
    u, deriv = _signal(x)
    rng = np.random.default_rng(int(noise * 1e4) + order)
    noisy = u + noise * u.std() * rng.standard_normal(x.size)
    grid = ml.Grid(x=x)
    kernel = ml.PolyBump()
    lower, upper = width_bounds(grid, kernel=kernel, max_order=order, periodic=False)
    w = choose_widths(grid, [noisy], orders={"x": order}, kernel=kernel, lower=lower, upper=upper)
    oracle = min(
        _error(noisy, deriv(order), order, h, v) for v in np.geomspace(lower["x"], 2.4, 60)
    )
    assert _error(noisy, deriv(order), order, h, w["x"]) <= 1.6 * oracle


def test_noise_power_estimate_and_clean_data():
    x = np.linspace(0, 10, 801)
    u, _ = _signal(x)
    sigma = 0.01
    rng = np.random.default_rng(0)
    lines = sigma * rng.standard_normal((40, x.size)) + u  # 40 noisy copies, averaged over
    omega, power, count = spectrum(lines, 1, x[1] - x[0])
    assert count == 40 and omega[0] == 0
    assert np.mean(power[300:]) == pytest.approx(sigma**2, rel=0.1)
    noisy = lines[0]
    grid = ml.Grid(x=x)
    lower, upper = width_bounds(grid, kernel=ml.PolyBump(), max_order=2, periodic=False)
    clean = choose_widths(
        grid, [u], orders={"x": 2}, kernel=ml.PolyBump(), lower=lower, upper=upper
    )
    noisy_w = choose_widths(
        grid, [noisy], orders={"x": 2}, kernel=ml.PolyBump(), lower=lower, upper=upper
    )
    assert clean["x"] < 1.5 * lower["x"] < noisy_w["x"]


def test_width_grows_with_noise_in_an_inverse_problem():
    from mollifier.pdes import problem_from_dataset
    from mollifier.sim import GaussianNoise, simulate_heat

    widths = []
    for level in (0.0, 0.01, 0.05):
        ds = simulate_heat(n=48, noise=GaussianNoise(level), seed=1)
        pb = problem_from_dataset(ds, width="auto")
        assert pb.width_rule == "spectral+stability" and pb.width_ladder
        assert pb.width_guess is not None and pb.width_guess.keys() == pb.width.keys()
        assert pb.with_width(0.3).width_guess is None  # explicit widths: no guess
        widths.append(pb.width["x"])
    assert widths[0] < widths[1] < widths[2]
