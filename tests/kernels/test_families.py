"""Kernel algebra: unit mass, parity, support, vanishing moments, derivatives vs autograd."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import integrate

import mollifier as ml
from mollifier.kernels import Bump, Gaussian, PolyBump, consistency_error, get_kernel

FAMILIES = [Bump(), PolyBump(), Gaussian()]
ALL = [cls(accuracy=a) for cls in (Bump, PolyBump, Gaussian) for a in (2, 4, 6)]


def _torch_base(kernel, z: torch.Tensor) -> torch.Tensor:
    """Independent torch implementation of each family's unnormalised base profile."""
    if isinstance(kernel, Bump):
        return torch.exp(-1.0 / (1.0 - z**2))
    if isinstance(kernel, PolyBump):
        return (1.0 - z**2) ** kernel.power
    a = float(kernel.truncate)
    return torch.exp(-0.5 * (a * z) ** 2)


@pytest.mark.parametrize("kernel", ALL, ids=repr)
def test_unit_mass_by_independent_quadrature(kernel):
    mass, _ = integrate.quad(lambda z: kernel.profile(np.array([z]))[0], -1, 1, limit=200)
    assert mass == pytest.approx(1.0, abs=1e-10)
    assert kernel.moment(0) == pytest.approx(1.0, abs=1e-13)


@pytest.mark.parametrize("kernel", ALL, ids=repr)
def test_vanishing_moments_of_higher_order_kernels(kernel):
    for j in range(2, kernel.accuracy, 2):
        assert abs(kernel.moment(j)) < 1e-12, f"moment {j} should vanish"
    # ... and the first non-vanishing even moment is really nonzero (compared with the positive
    # kernel's moment of the same degree, which sets the scale).
    positive = dataclasses.replace(kernel, accuracy=2)
    assert abs(kernel.moment(kernel.accuracy)) > 0.1 * positive.moment(kernel.accuracy)


@pytest.mark.parametrize("kernel", ALL, ids=repr)
def test_parity_and_compact_support(kernel):
    z = np.linspace(-0.999, 0.999, 301)
    for k in range(kernel.max_order + 1):
        assert np.allclose(
            kernel.profile(-z, k),
            (-1) ** k * kernel.profile(z, k),
            rtol=1e-12,
            atol=1e-12 * np.abs(kernel.profile(z, k)).max(),
        )
        outside = np.array([-3.0, -1.0, 1.0, 1.5])
        assert np.all(kernel.profile(outside, k) == 0.0)


@pytest.mark.parametrize("kernel", ALL, ids=repr)
def test_analytic_derivatives_match_autograd_of_profile(kernel):
    z = torch.linspace(-0.9, 0.9, 37, dtype=torch.float64, requires_grad=True)
    q = torch.zeros_like(z)
    for i, c in enumerate(kernel._q):
        q = q + float(c) * z**i
    f = q * _torch_base(kernel, z)
    for k in range(kernel.max_order + 1):
        analytic = kernel.profile(z.detach().numpy(), k)
        scale = np.abs(analytic).max()
        np.testing.assert_allclose(f.detach().numpy(), analytic, rtol=0, atol=1e-11 * scale)
        (f,) = torch.autograd.grad(f.sum(), z, create_graph=True)


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
def test_fourier_transform_matches_quadrature(kernel):
    for xi in (0.0, 1.0, 7.5, 30.0):
        ref, _ = integrate.quad(
            lambda z: kernel.profile(np.array([z]))[0], -1, 1, weight="cos", wvar=xi, limit=400
        )
        assert kernel.fourier(xi)[0] == pytest.approx(ref, abs=1e-10)


def test_gaussian_max_order_follows_truncation():
    assert Gaussian().max_order == 6
    assert Gaussian(truncate=6).max_order == 1
    with pytest.raises(ValueError, match="between 0 and 1"):
        Gaussian(truncate=6).profile(np.zeros(3), 2)
    with pytest.raises(ValueError, match="at least 3"):
        Gaussian(truncate=2)


def test_polybump_power_limits_order():
    assert PolyBump(power=4).max_order == 2
    assert PolyBump.for_order(4).power == 6
    with pytest.raises(ValueError, match="between 0 and 2"):
        PolyBump(power=4).profile(np.zeros(2), 3)
    with pytest.raises(ValueError, match="at least 2"):
        PolyBump(power=1)
    with pytest.raises(TypeError):
        PolyBump(power=2.5)  # type: ignore[arg-type]


def test_accuracy_validation_and_order_type():
    with pytest.raises(ValueError, match="accuracy must be 2, 4 or 6"):
        Bump(accuracy=3)
    with pytest.raises(TypeError, match="integer"):
        Bump().profile(np.zeros(2), 1.5)  # type: ignore[arg-type]


def test_get_kernel_names_and_errors():
    assert get_kernel("bump") == Bump()
    assert get_kernel("PolyBump") == PolyBump()
    k = Gaussian(truncate=9)
    assert get_kernel(k) is k
    with pytest.raises(ValueError, match=r"unknown kernel 'hat'.*bump.*gaussian.*polybump"):
        get_kernel("hat")
    assert ml.DEFAULT_KERNEL == "polybump"


@pytest.mark.parametrize("kernel", ALL, ids=repr)
def test_min_points_table_matches_measured_consistency(kernel):
    """At its declared minimum points per width, every stencil follows the continuous
    mollified derivative to 1% over the kernel's pass band; at 60% of it, some order does not."""
    for k in range(kernel.max_order + 1):
        assert consistency_error(kernel, k, points=kernel.min_points(k)) <= 1e-2
    worst = max(
        consistency_error(kernel, k, points=0.6 * kernel.min_points(k))
        for k in range(kernel.max_order + 1)
    )
    assert worst > 1e-2


@pytest.mark.parametrize("power", [3, 5, 12, 16])
def test_polybump_min_points_scale_with_power(power):
    kernel = PolyBump(power=power)
    for k in range(kernel.max_order + 1):
        assert consistency_error(kernel, k, points=kernel.min_points(k)) <= 1e-2
