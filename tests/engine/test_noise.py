"""The white-noise estimator against the noise actually added to simulated data."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

import mollifier.sim as sim
from mollifier.inverse.noise import estimate_noise, noise_coefficients


def test_coefficients_have_unit_variance_on_white_noise() -> None:
    # C(2k, k)^d normalisation: 3-D white noise, sample variance over 40³ → 34³ coefficients.
    xi = np.random.default_rng(0).standard_normal((40, 40, 40))
    d = noise_coefficients(xi, order=3)
    assert d.size == 37**3
    assert abs(np.var(d) - 1.0) < 0.05
    assert comb(6, 3) == 20


def test_coefficients_annihilate_polynomials_along_one_axis() -> None:
    x, y = np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 1, 30), indexing="ij")
    u = np.exp(3 * y) * (1 + x + x**2 + x**5)  # degree 5 in x, anything in y
    assert np.max(np.abs(noise_coefficients(u))) < 1e-9


def _heat(level: float, seed: int) -> tuple[np.ndarray, float]:
    d = sim.simulate_heat(n=48, noise=sim.GaussianNoise(level), seed=seed)
    return d.fields["u"], float(np.std(d.fields["u"] - d.clean["u"]))


def _transient(level: float, seed: int) -> tuple[np.ndarray, float]:
    d = sim.simulate_heat(n=32, form="transient", noise=sim.GaussianNoise(level), seed=seed)
    return d.fields["u"], float(np.std(d.fields["u"] - d.clean["u"]))


@pytest.mark.parametrize("make", [_heat, _transient])
@pytest.mark.parametrize("level", [0.01, 0.05, 0.10])
def test_estimate_within_ten_percent_on_simulated_heat(make, level: float) -> None:
    u, truth = make(level, 3)
    assert abs(estimate_noise(u) / truth - 1) < 0.10


@pytest.mark.parametrize("level", [0.01, 0.05, 0.10])
def test_estimate_within_ten_percent_on_langevin_on_average(level: float) -> None:
    # The Langevin data carry the ensemble's Monte-Carlo error (correlated in time, not white)
    # under the white measurement noise of std level · std(ensemble mean); that white part is
    # the truth. One 201-sample series gives the estimate a spread of about 8%, so the mean
    # over ten series is compared (its own spread: about 2.5%).
    ratios = []
    for seed in range(10):
        u = sim.simulate_langevin(noise=sim.GaussianNoise(level), seed=seed).fields["u"]
        white = level * np.sqrt(np.var(u) / (1 + level**2))
        ratios.append(estimate_noise(u) / white)
    assert abs(np.mean(ratios) - 1) < 0.10
    assert np.std(ratios) < 0.15


def test_estimate_is_nan_without_a_long_axis() -> None:
    assert np.isnan(estimate_noise(np.arange(10.0)))
