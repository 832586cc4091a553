"""Discrete stencils: moment identities, exactness, slow quadrature reference, convergence."""

from __future__ import annotations

from math import factorial

import numpy as np
import pytest
from scipy import integrate

import mollifier as ml
from mollifier.kernels import Bump, Gaussian, PolyBump, stencil, stencil_radius

FAMILIES = [Bump(), PolyBump(), Gaussian()]


def _continuous_moment(kernel, order: int, j: int, width: float) -> float:
    """∫ ∂ᵏη_w(s) s^j ds = (−1)^k j!/(j−k)! w^(j−k) M_(j−k), from integration by parts."""
    if j < order:
        return 0.0
    return (
        (-1) ** order
        * factorial(j)
        / factorial(j - order)
        * kernel.moment(j - order)
        * width ** (j - order)
    )


def _offsets(taps: np.ndarray, h: float) -> np.ndarray:
    return (np.arange(taps.size) - taps.size // 2) * h


def _rounding_bound(taps: np.ndarray, values: np.ndarray) -> float:
    """Rounding bound of Σ K[m] u[n-m]: 64 ε Σ|K| max|u| (the stencil's conditioning)."""
    return 64 * np.finfo(np.float64).eps * np.sum(np.abs(taps)) * np.max(np.abs(values))


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
@pytest.mark.parametrize("ratio", [4.0, 6.3, 11.0])
def test_discrete_moment_identities(kernel, ratio):
    """Σ_m K_k[m] (m h)^j equals the continuous moment for every j <= 7 (the interpolant's degree):
    0 for j < k and (−1)^k k! for j = k."""
    h = 0.05
    w = max(ratio, kernel.min_points(6)) * h
    for k in range(7):
        taps = stencil(kernel, k, spacing=h, width=w)
        s = _offsets(taps, h)
        scale = np.sum(np.abs(taps) * np.abs(s) ** k)  # size of the terms that cancel
        tol = 1e-11 if not (isinstance(kernel, Bump) and k == 6) else 1e-9
        for j in range(8):
            got = np.sum(taps * s**j)
            want = _continuous_moment(kernel, k, j, w)
            assert abs(got - want) <= tol * scale * max(1.0, w ** (j - k)), (k, j, got, want)
        assert np.sum(taps * s**k) == pytest.approx((-1) ** k * factorial(k), rel=1e2 * tol)


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
def test_parity_and_length(kernel):
    h, w = 0.1, 0.75
    r = stencil_radius(spacing=h, width=w)
    assert r == 8 + 3
    for k in range(5):
        taps = stencil(kernel, k, spacing=h, width=w, check=False)
        assert taps.size == 2 * r + 1
        np.testing.assert_array_equal(taps[::-1], (-1) ** k * taps)
        assert not taps.flags.writeable


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_slow_quadrature_reference_on_smooth_function(kernel, order):
    """Independent reference: the continuous convolution ∫ ∂ᵏη_w(s) u(x0 − s) ds by adaptive
    quadrature, against the stencil applied to samples of a smooth, non-polynomial u."""
    h = 0.02
    w = 12 * h
    x0 = 0.37

    def u(x):
        return np.sin(3.1 * x + 0.4) + 0.5 * np.exp(-((x - 0.2) ** 2))

    taps = stencil(kernel, order, spacing=h, width=w)
    s = _offsets(taps, h)
    got = np.sum(taps * u(x0 - s))

    def integrand(t):
        return kernel.profile(np.array([t / w]), order)[0] / w ** (order + 1) * u(x0 - t)

    scale = integrate.quad(lambda t: abs(integrand(t)), -w, w, limit=400)[0]
    ref, _ = integrate.quad(integrand, -w, w, limit=400, epsabs=1e-11 * scale, epsrel=0)
    assert abs(got - ref) <= 1e-7 * scale, (got, ref)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
def test_polynomial_reproduction_1d(order, kernel):
    """Polynomials of degree <= k+1 give exactly p^(k) (relative error <= 1e-8 in float64)."""
    rng = np.random.default_rng(order)
    x = np.linspace(-1.0, 1.5, 101)
    h = x[1] - x[0]
    w = kernel.min_points(order) * h * 2.5
    for degree in range(order, order + 2):
        coef = rng.normal(size=degree + 1)
        p = np.polynomial.Polynomial(coef)
        out = ml.derivative(p(x), order, spacing=h, width=w, kernel=kernel, boundary="valid")
        r = (x.size - out.size) // 2
        exact = p.deriv(order)(x[r : x.size - r])
        err = np.max(np.abs(out - exact)) / np.max(np.abs(exact))
        assert err <= 1e-8, (degree, err)


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
def test_mollified_polynomials_up_to_degree_7(kernel):
    """For degree <= 7, K_k ∗ p = η_w ∗ p⁽ᵏ⁾ exactly: compare with the order-0 stencil applied to
    the exact derivative (consistency across orders on polynomials)."""
    rng = np.random.default_rng(7)
    x = np.linspace(0.0, 1.0, 201)
    h = x[1] - x[0]
    w = 10 * h
    p = np.polynomial.Polynomial(rng.normal(size=8))
    for k in range(5):
        lhs = ml.derivative(p(x), k, spacing=h, width=w, kernel=kernel, boundary="valid")
        rhs = ml.derivative(p.deriv(k)(x), 0, spacing=h, width=w, kernel=kernel, boundary="valid")
        bound = _rounding_bound(stencil(kernel, k, spacing=h, width=w), p(x))
        assert np.max(np.abs(lhs - rhs)) <= max(bound, 1e-12 * np.max(np.abs(rhs))), k


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
def test_consistency_across_orders_band_limited(kernel):
    """Order-k output = mollified exact k-th derivative for smooth band-limited input."""
    x = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    h = x[1] - x[0]
    w = max(kernel.min_points(4), 6.0) * h
    u = np.sin(2 * x) + 0.4 * np.cos(5 * x + 0.3)

    def deriv(k):
        return 2.0**k * np.sin(2 * x + k * np.pi / 2) + 0.4 * 5.0**k * np.cos(
            5 * x + 0.3 + k * np.pi / 2
        )

    for k in range(5):
        lhs = ml.derivative(u, k, spacing=h, width=w, kernel=kernel, boundary="periodic")
        rhs = ml.derivative(deriv(k), 0, spacing=h, width=w, kernel=kernel, boundary="periodic")
        err = np.max(np.abs(lhs - rhs)) / np.max(np.abs(rhs))
        assert err < 1e-5, (k, err)


@pytest.mark.parametrize(
    ("kernel", "order"),
    [
        (PolyBump(), 1),
        (PolyBump(), 2),
        (PolyBump(), 4),
        (Bump(), 2),
        (Gaussian(), 4),
        (PolyBump(accuracy=4), 2),
        (PolyBump(accuracy=4), 4),
        (Bump(accuracy=4), 1),
    ],
    ids=repr,
)
def test_bias_converges_at_declared_order(kernel, order):
    """As width → 0, ‖η_w ∗ u⁽ᵏ⁾ − u⁽ᵏ⁾‖ ~ width^accuracy: fitted slope = declared order."""
    x = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    h = x[1] - x[0]
    u = np.sin(x) + 0.3 * np.cos(2 * x)
    truth = np.sin(x + order * np.pi / 2) + 0.3 * 2.0**order * np.cos(2 * x + order * np.pi / 2)
    widths = np.geomspace(0.08, 0.5, 6)
    errs = [
        np.max(
            np.abs(
                ml.derivative(u, order, spacing=h, width=w, kernel=kernel, boundary="periodic")
                - truth
            )
        )
        for w in widths
    ]
    slope = np.polyfit(np.log(widths), np.log(errs), 1)[0]
    assert slope == pytest.approx(kernel.accuracy, abs=0.15), (slope, errs)


@pytest.mark.parametrize("order", [0, 1, 2, 4])
def test_noise_variance_scales_with_width(order):
    """White noise of variance σ² gives output variance σ² Σ K² ≈ σ² h ‖∂ᵏη‖² / w^(2k+1):
    check the exact sum against many seeded draws and the fitted slope −(2k+1)."""
    kernel = PolyBump()
    rng = np.random.default_rng(42)
    h, sigma = 0.01, 0.3
    widths = np.array([0.06, 0.09, 0.135, 0.2])
    variances, predicted = [], []
    for w in widths:
        noise = sigma * rng.standard_normal((200, 400))
        out = ml.derivative(noise, order, spacing=h, width=w, kernel=kernel, boundary="periodic")
        variances.append(out.var())
        predicted.append(sigma**2 * np.sum(stencil(kernel, order, spacing=h, width=w) ** 2))
    np.testing.assert_allclose(variances, predicted, rtol=0.03)
    slope = np.polyfit(np.log(widths), np.log(variances), 1)[0]
    assert slope == pytest.approx(-(2 * order + 1), abs=0.15)


def test_width_below_minimum_is_a_clear_error():
    with pytest.raises(ValueError, match=r"spans only 2 grid points.*needs at least 3.5 points"):
        stencil(PolyBump(), 2, spacing=0.1, width=0.2)
    with pytest.raises(ValueError, match="width along axis '-' must be positive"):
        stencil(PolyBump(), 2, spacing=0.1, width=-0.2)
    with pytest.raises(ValueError, match="spacing along axis '-' must be a finite number"):
        stencil(PolyBump(), 2, spacing=float("nan"), width=0.2)
    # The check can be disabled explicitly for analysis; the stencil is still exact on
    # polynomials there.
    taps = stencil(PolyBump(), 2, spacing=0.1, width=0.2, check=False)
    s = _offsets(taps, 0.1)
    assert np.sum(taps * s**2) == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("spacing", [0.09999999999999999, 0.1, 0.10000000000000002])
def test_round_off_in_width_over_spacing_keeps_the_declared_length(spacing):
    """w / h = 8.000000000000002 (grid spacing from linspace round-off) must not add a cell."""
    taps = stencil(PolyBump(), 2, spacing=spacing, width=0.8)
    assert taps.size == 2 * stencil_radius(spacing=spacing, width=0.8) + 1 == 23
    s = _offsets(taps, spacing)
    assert np.sum(taps * s**2) == pytest.approx(2.0, rel=1e-12)
