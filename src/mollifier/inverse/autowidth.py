"""Automatic mollifier widths from the data (``width="auto"``).

The spectral rule, per axis
---------------------------
Differentiation multiplies signal and noise by the same factor ``(iω)^k``, so the mean-squared
error of a mollified k-th derivative of noisy data ``u + n`` against the true ``u⁽ᵏ⁾`` is

    risk(w) = Σ_ω |K̂_k(ω) − (iω)^k|² S(ω) + |K̂_k(ω)|² N,

with ``S`` the signal power spectrum, ``N`` the (white) noise power and ``K̂_k`` the frequency
response of the order-k stencil of width ``w`` (≈ ``(iω)^k η̂(ω w)`` in the pass band; the actual
response matters in the stop band, where it sets how much noise leaks through). ``S`` and ``N``
are estimated along the axis from the periodogram ``P`` of the data tapered by ``(1 − z²)^8``
across the axis (so non-periodic edges do not leak power into the high frequencies that
``(iω)^(2k)`` weights most), averaged over the other axes: ``N`` is the mean power over the top
quarter of frequencies; ``S`` is the periodogram smoothed over five frequency bins minus ``N``,
over the band below the first frequency where the smoothed power no longer exceeds ``N`` by four
standard deviations of the smoothed noise power, and zero beyond (noise fluctuations weighted by
``ω^(2k)`` would otherwise decide). The width minimising the summed, normalised risk of all
observed fields is chosen among geometric candidates between the kernel's minimum and the upper
bound of :func:`width_bounds`; ``k`` is the highest derivative order the residual takes along
that axis. With noise-free data the rule returns the smallest admissible width.

Refinement for affine residuals
-------------------------------
When the residual is affine in the unknowns and the direct solver has a closed form,
:class:`~mollifier.InverseProblem` refines the spectral guess with :func:`stability_scale`: the
widths are scaled together over a geometric ladder, the direct solver runs at each rung, and the
rung where the recovered unknowns change least between neighbours is kept (noise makes narrow
estimates disagree, smoothing bias makes wide ones drift). This targets the unknowns themselves
rather than the derivatives, which matters when an unknown is a ratio of mollified terms
(``λ̂ = −η∗m / η∗∇²u``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import fft as sfft

from mollifier.grid import Grid
from mollifier.kernels import AbstractKernel, frequency_response, stencil

__all__ = ["choose_widths", "spectrum", "stability_scale", "width_bounds", "width_risk"]

_CANDIDATES = 48
_SMOOTH = 5  # frequency bins averaged when estimating the signal power


def spectrum(field: np.ndarray, axis: int, spacing: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Tapered periodogram of ``field`` along ``axis``, averaged over the other axes.

    Each line is multiplied by the window ``W(z) = (1 − z²)^8`` (``z`` from −1 to 1 across the
    axis), which vanishes with seven derivatives at both ends, so a non-periodic signal does not
    leak power to high frequencies; the power is normalised by ``Σ W²``, so white noise of
    variance σ² has flat power σ². Returns angular frequencies ``ω_j = 2π j / (n h)``,
    ``j = 0 .. n // 2``, the mean power at each, and the number of lines averaged. NaN entries are
    replaced by the field's mean.
    """
    f = np.array(field, dtype=np.float64)
    if not np.all(np.isfinite(f)):
        f[~np.isfinite(f)] = np.nanmean(f)
    f = np.moveaxis(f, axis, -1)
    n = f.shape[-1]
    lines = f.reshape(-1, n)
    window = (1.0 - np.linspace(-1.0, 1.0, n) ** 2) ** 8
    lines = (lines - lines.mean(axis=1, keepdims=True)) * window
    coef = sfft.rfft(lines, axis=-1)
    power = np.mean(np.abs(coef) ** 2, axis=0) / np.sum(window**2)
    omega = 2 * np.pi * np.arange(power.size) / (n * spacing)
    return omega, power, lines.shape[0]


def width_risk(
    omega: np.ndarray,
    power: np.ndarray,
    widths: np.ndarray,
    *,
    order: int,
    kernel: AbstractKernel,
    spacing: float,
    lines: int = 1,
) -> tuple[np.ndarray, float]:
    """Estimated risk of each candidate width (normalised) and the estimated noise power.

    Uses each candidate stencil's actual discrete frequency response ``K̂_k(ω)``:
    ``risk = Σ_ω |K̂_k(ω) − (iω)^k|² S(ω) + |K̂_k(ω)|² N``.
    """
    top = power[int(0.75 * power.size) :]
    noise = float(np.mean(top)) if top.size else 0.0
    # Signal power: the periodogram smoothed over a few neighbouring frequencies, minus the noise,
    # over the band below the first frequency where it no longer stands clearly above the noise
    # (four standard deviations of the smoothed noise power); zero beyond. Without the cut-off,
    # noise fluctuations weighted by ω^(2k) would decide the width.
    smooth = np.convolve(power, np.ones(_SMOOTH) / _SMOOTH, mode="same")
    threshold = noise * (1.0 + 4.0 * np.sqrt(2.0 / (2.0 * _SMOOTH * lines)))
    below = np.flatnonzero(smooth[1:] <= threshold)
    cutoff = int(below[0]) + 1 if below.size else smooth.size
    signal = np.zeros_like(power)
    signal[:cutoff] = np.maximum(smooth[:cutoff] - noise, 0.0)
    target = (1j * omega) ** order
    risks = np.empty(widths.size)
    for i, w in enumerate(widths):
        taps = stencil(kernel, order, spacing=spacing, width=float(w))
        resp = frequency_response(taps, spacing=spacing, omega=omega)
        risks[i] = np.sum(np.abs(resp - target) ** 2 * signal + np.abs(resp) ** 2 * noise)
    total = np.sum(np.abs(target) ** 2 * power)
    return risks / (total if total > 0 else 1.0), noise


def width_bounds(
    grid: Grid, *, kernel: AbstractKernel, max_order: int, periodic: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Smallest and largest widths worth trying per axis.

    Lower: the kernel's minimum for every order up to ``max_order`` (what a layer checks).
    Upper: a quarter of the axis length, and for non-periodic axes small enough that cropping
    the stencil radius keeps at least 30% of the axis.
    """
    lower, upper = {}, {}
    for i, a in enumerate(grid.axes):
        h, n = grid.spacing[a], grid.shape[i]
        lower[a] = max(kernel.min_points(k) for k in range(max_order + 1)) * h
        hi = (n - 1) * h / 4
        if not periodic:
            hi = min(hi, (0.35 * n - 4) * h)
        upper[a] = max(hi, lower[a])
    return lower, upper


def choose_widths(
    grid: Grid,
    fields: Sequence[np.ndarray],
    *,
    orders: Mapping[str, int],
    kernel: AbstractKernel,
    lower: Mapping[str, float],
    upper: Mapping[str, float],
    mask: np.ndarray | None = None,
) -> dict[str, float]:
    """Per-axis widths by the spectral risk rule (see the module docstring).

    Parameters
    ----------
    grid : Grid
    fields : sequence of ndarray
        Observed fields shaped like the grid.
    orders : mapping of axis to int
        Highest derivative order along each axis (0 if the axis is only mollified).
    kernel : AbstractKernel
    lower, upper : mapping of axis to float
        Range of candidate widths per axis (see :func:`width_bounds`).
    mask : ndarray of bool, optional
        Observed nodes; unobserved ones are filled with the field mean for the spectrum.

    Returns
    -------
    dict of axis to width, in the axis' units.
    """
    widths = {}
    for i, a in enumerate(grid.axes):
        h = grid.spacing[a]
        order = int(orders.get(a, 0))
        lo, hi = lower[a], upper[a]
        candidates = np.geomspace(lo, hi, _CANDIDATES) if hi > lo else np.array([lo])
        total = np.zeros(candidates.size)
        for f in fields:
            arr = np.where(mask, f, np.nan) if mask is not None else f
            omega, power, lines = spectrum(arr, i, h)
            risk, _ = width_risk(
                omega, power, candidates, order=order, kernel=kernel, spacing=h, lines=lines
            )
            total += risk
        widths[a] = float(candidates[int(np.argmin(total))])
    return widths


def stability_scale(
    solve: Callable[[dict[str, float]], dict[str, Any]],
    guess: Mapping[str, float],
    *,
    lower: Mapping[str, float],
    upper: Mapping[str, float],
    steps: int = 12,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Refine widths by the stability of the recovered unknowns (for affine residuals).

    The widths are scaled together, ``w_a = s · guess_a``, over a geometric ladder of ``steps``
    factors between the smallest admissible (every ``w_a >= lower_a``) and the largest allowed
    (every ``w_a <= upper_a``). ``solve(widths)`` returns the unknowns at those widths. Noise makes
    estimates at neighbouring narrow widths disagree; smoothing bias makes estimates at wide
    widths drift; the pair of neighbouring rungs whose estimates differ least (relative change,
    summed over unknowns, on nodes finite in both) marks the balance, and its wider rung is
    returned, with the ladder for the record.
    """
    s_lo = max(lower[a] / guess[a] for a in guess)
    s_hi = min(upper[a] / guess[a] for a in guess)
    if not s_hi > s_lo:
        return dict(guess), []
    scales = np.geomspace(s_lo, s_hi, steps)
    estimates = [solve({a: float(s * guess[a]) for a in guess}) for s in scales]

    def change(e0: dict[str, Any], e1: dict[str, Any]) -> float:
        total = 0.0
        for k in e0:
            a0, a1 = np.asarray(e0[k], dtype=float), np.asarray(e1[k], dtype=float)
            keep = np.isfinite(a0) & np.isfinite(a1)
            if not keep.any():
                return float("inf")
            total += float(np.linalg.norm((a1 - a0)[keep]) / (np.linalg.norm(a0[keep]) + 1e-300))
        return total

    changes = [change(estimates[i], estimates[i + 1]) for i in range(steps - 1)]
    best = int(np.argmin(changes))
    chosen = {a: float(scales[best + 1] * guess[a]) for a in guess}
    ladder = [
        {"scale": float(s), "change": float(c)} for s, c in zip(scales[1:], changes, strict=True)
    ]
    return chosen, ladder
