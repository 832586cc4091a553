"""Derivative-accuracy methods against analytic derivatives, and the table's records."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mollifier as ml
from mollifier_bench.accuracy import (
    METHODS,
    accuracy_records,
    central_stencil,
    finite_difference,
    sample_signal,
    savitzky_golay,
    spectral_derivative,
)
from mollifier_bench.config import AccuracySpec


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 6])
def test_finite_difference_exact_on_polynomials(order: int) -> None:
    """The central stencil with 2p+1 nodes differentiates degree <= 2p polynomials exactly."""
    p = (order + 1) // 2
    h = 0.1
    x = np.arange(40) * h
    rng = np.random.default_rng(order)
    coef = rng.standard_normal(2 * p + 1)
    u = np.polynomial.polynomial.polyval(x, coef)
    exact = np.polynomial.polynomial.polyval(x, np.polynomial.polynomial.polyder(coef, order))
    est = finite_difference(u, order, spacing=h, periodic=False)
    inner = slice(p, x.size - p)
    assert np.all(np.isnan(est[:p])) and np.all(np.isnan(est[-p:]))
    assert np.max(np.abs(est[inner] - exact[inner])) < 1e-6 * np.max(np.abs(exact) + 1)


def test_finite_difference_is_second_order() -> None:
    """Error on a periodic sine falls as h²: fitted slope of log error vs log h is 2."""
    errs, hs = [], []
    for n in (32, 64, 128, 256):
        x = 2 * np.pi * np.arange(n) / n
        est = finite_difference(np.sin(x), 4, spacing=x[1])
        errs.append(np.max(np.abs(est - np.sin(x))))
        hs.append(x[1])
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - 2) < 0.1
    assert central_stencil(4).round(10).tolist() == [1, -4, 6, -4, 1]


@pytest.mark.parametrize("order", [1, 2, 4])
def test_savitzky_golay_exact_on_polynomials(order: int) -> None:
    h = 0.05
    x = np.arange(60) * h
    coef = np.random.default_rng(7).standard_normal(order + 3)  # degree order + 2 = polyorder
    u = np.polynomial.polynomial.polyval(x, coef)
    exact = np.polynomial.polynomial.polyval(x, np.polynomial.polynomial.polyder(coef, order))
    est = savitzky_golay(u, order, spacing=h, window=15, polyorder=order + 2, periodic=False)
    assert np.max(np.abs(est - exact)) < 1e-6 * np.max(np.abs(exact))
    with pytest.raises(ValueError, match="odd window"):
        savitzky_golay(u, order, spacing=h, window=14, polyorder=order + 2)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 6])
def test_spectral_exact_on_trigonometric_polynomials(order: int) -> None:
    n = 64
    x, u, d = sample_signal(n, order)
    est = spectral_derivative(u, order, spacing=x[1] - x[0])
    assert np.max(np.abs(est - d)) < 1e-8 * np.max(np.abs(d))
    # a cut-off between the modes (3 and 5) removes exactly the top mode
    cut = spectral_derivative(u, order, spacing=x[1] - x[0], cutoff=4.0)
    top = 0.25 * 5.0**order * np.sin(5 * x + order * np.pi / 2)
    assert np.max(np.abs(cut - (d - top))) < 1e-8 * np.max(np.abs(d))


@pytest.mark.parametrize("order", [1, 2, 4])
def test_weak_form_target_matches_the_mollifier_on_clean_data(order: int) -> None:
    """∂ᵏ(η_w ∗ u) from the kernel's Fourier transform equals the mollifier's convolution."""
    n, width = 256, 0.5
    kernel = ml.PolyBump()
    x, u, target = sample_signal(n, order, kernel=kernel, width=width)
    est = ml.derivative(
        u, order, spacing=x[1] - x[0], width=width, kernel=kernel, boundary="periodic"
    )
    assert np.max(np.abs(est - target)) < 1e-6 * np.max(np.abs(target))
    _, _, truth = sample_signal(n, order)
    gain = float(kernel.fourier(5.0 * width)[0])
    assert 0 < gain < 1 and not np.allclose(target, truth)  # smoothing bias is real


def test_accuracy_records_noise_free_and_noisy() -> None:
    spec = AccuracySpec(orders=(1, 4), noises=(0.0, 0.02), n=128, network_steps=0)
    clean = accuracy_records(spec, 0.0)
    noisy = accuracy_records(spec, 0.02)
    assert {r["method"] for r in clean} == set(METHODS) - {"network-autodiff"}
    by = {(r["method"], r["order"]): r for r in clean}
    assert by[("spectral", 4)]["error"] < 1e-9
    # mollifier rows are consistent with their weak-form target to rounding on clean data
    assert by[("mollifier-polybump", 4)]["consistency_error"] < 1e-6
    # its error against the pointwise truth is the smoothing bias 1 − η̂(ωw), mode by mode
    w = by[("mollifier-polybump", 1)]["width"]
    _, _, truth = sample_signal(128, 1)
    _, _, smooth = sample_signal(128, 1, kernel=ml.PolyBump(), width=w)
    keep = slice(12, 116)
    bias = np.linalg.norm((truth - smooth)[keep]) / np.linalg.norm(truth[keep])
    assert math.isclose(by[("mollifier-polybump", 1)]["error"], bias, rel_tol=1e-4)
    nby = {(r["method"], r["order"]): r for r in noisy}
    # noise: raw spectral and finite differences of order 4 blow up; the mollifier does not
    assert nby[("spectral", 4)]["error"] > 50 * nby[("mollifier-polybump", 4)]["error"]
    assert nby[("finite-difference", 4)]["error"] > 50 * nby[("mollifier-polybump", 4)]["error"]
    assert all(np.isfinite(r["error"]) and r["error"] >= 0 for r in clean + noisy)


def test_network_autodiff_method_fits_a_smooth_signal(one_thread: None) -> None:
    spec = AccuracySpec(
        orders=(1,),
        noises=(0.0,),
        n=64,
        network_steps=300,
        network_lbfgs_steps=100,
        network_hidden=16,
        network_depth=2,
    )
    recs = {r["method"]: r for r in accuracy_records(spec, 0.0)}
    # a fitted network's first derivative is a rough but real estimate (measured 0.25)
    assert recs["network-autodiff"]["error"] < 0.4
