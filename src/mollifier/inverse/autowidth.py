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
observed fields is chosen among 48 geometric candidates between the kernel's minimum and the
upper bound of :func:`width_bounds`; ``k`` is the highest derivative order the residual takes
along that axis. The risk is evaluated at every fourth candidate (and the widest), then at the
candidates beside the best of those: the same choice as scoring all 48 whenever the risk has a
single minimum at that resolution, for about 40% of the stencils (each wide stencil costs a
quadrature over its whole support). Stencil responses on the periodogram's frequencies come from
one real FFT of the wrapped taps. With noise-free data the rule returns the smallest admissible
width.

Refinement for affine residuals
-------------------------------
When the residual is affine in the unknowns and the direct solver has a closed form,
:class:`~mollifier.InverseProblem` refines the spectral guess with :func:`stability_scale`: the
widths are scaled together over a geometric ladder, the unknowns are recovered at each rung, and
the rung where they change least between neighbours is kept (noise makes narrow estimates
disagree, smoothing bias makes wide ones drift). This targets the unknowns themselves rather than
the derivatives, which matters when an unknown is a ratio of mollified terms
(``λ̂ = −η∗m / η∗∇²u``). The ladder is coarse (6 rungs), then its most stable step is halved twice
(2 more solves), so the choice stays inside that step. Each rung
is a cheap unconstrained closed-form solve (:mod:`mollifier.inverse._widthsearch`: one batched
residual evaluation, the fully interior rows when the problem has edge kernels, no positivity
clamp, which would make clamped nodes look stable).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import fft as sfft

from mollifier.grid import Grid
from mollifier.kernels import AbstractKernel, frequency_response, stencil

__all__ = ["choose_widths", "spectrum", "stability_scale", "width_bounds", "width_risk"]

_CANDIDATES = 48
_SMOOTH = 5  # frequency bins averaged when estimating the signal power
_STRIDE = 4  # coarse pass of choose_widths: every 4th candidate, then the best one's neighbours


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
        resp = _response(taps, spacing=spacing, omega=omega)
        risks[i] = np.sum(np.abs(resp - target) ** 2 * signal + np.abs(resp) ** 2 * noise)
    total = np.sum(np.abs(target) ** 2 * power)
    return risks / (total if total > 0 else 1.0), noise


def _response(taps: np.ndarray, *, spacing: float, omega: np.ndarray) -> np.ndarray:
    """:func:`~mollifier.kernels.frequency_response` of centred ``taps``; by one real FFT when
    ``omega`` is the DFT grid ``2π j / (n h)``, ``j = 0 .. n // 2`` of :func:`spectrum` (the taps
    wrapped modulo ``n``: ``e^{−iω m h}`` is ``n``-periodic in ``m`` there), else directly."""
    size = omega.size
    for n in (2 * size - 2, 2 * size - 1):
        if n > 0 and np.allclose(omega, 2 * np.pi * np.arange(size) / (n * spacing), rtol=1e-12):
            wrapped = np.zeros(n)
            m = np.arange(taps.size) - taps.size // 2
            np.add.at(wrapped, m % n, taps)
            resp: np.ndarray = sfft.rfft(wrapped)
            return resp
    return frequency_response(taps, spacing=spacing, omega=omega)


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
        spectra = []
        for f in fields:
            arr = np.where(mask, f, np.nan) if mask is not None else f
            spectra.append(spectrum(arr, i, h))
        total = np.full(candidates.size, np.nan)
        # every _STRIDE-th candidate (and the widest), then all those beside the best of them
        coarse = np.unique(np.append(np.arange(0, candidates.size, _STRIDE), candidates.size - 1))
        total[coarse] = _summed_risk(spectra, candidates[coarse], order, kernel, h)
        best = int(np.nanargmin(total))
        near = np.arange(max(best - _STRIDE + 1, 0), min(best + _STRIDE, candidates.size))
        near = near[np.isnan(total[near])]
        total[near] = _summed_risk(spectra, candidates[near], order, kernel, h)
        widths[a] = float(candidates[int(np.nanargmin(total))])
    return widths


def _summed_risk(
    spectra: list[tuple[np.ndarray, np.ndarray, int]],
    widths: np.ndarray,
    order: int,
    kernel: AbstractKernel,
    spacing: float,
) -> np.ndarray:
    """:func:`width_risk` of ``widths``, summed over the fields' ``spectra``."""
    total = np.zeros(widths.size)
    for omega, power, lines in spectra:
        risk, _ = width_risk(
            omega, power, widths, order=order, kernel=kernel, spacing=spacing, lines=lines
        )
        total += risk
    return total


def stability_scale(
    solve: Callable[[dict[str, float]], dict[str, Any]],
    guess: Mapping[str, float],
    *,
    lower: Mapping[str, float],
    upper: Mapping[str, float],
    steps: int = 6,
    refine: int = 2,
    tolerance: float = 1.0,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Refine widths by the stability of the recovered unknowns (for affine residuals).

    The widths are scaled together, ``w_a = s · guess_a``, over a geometric ladder of ``steps``
    factors between the smallest admissible (every ``w_a >= lower_a``) and the largest allowed
    (every ``w_a <= upper_a``). ``solve(widths)`` returns the unknowns at those widths. Noise makes
    estimates at neighbouring narrow widths disagree; smoothing bias makes estimates at wide
    widths drift; the pair of neighbouring rungs whose estimates differ least (relative change,
    summed over unknowns, on nodes finite in both) marks the balance, and its wider rung is
    chosen. Then, ``refine`` times, the chosen pair is halved at its geometric midpoint (one more
    solve) and the same choice is made between its two halves, so the choice stays inside the
    coarse ladder's most stable step and its resolution is that of a ``2^refine`` times finer
    ladder, for ``steps + refine`` solves. With ``tolerance > 1``, the narrowest pair whose
    change is within ``tolerance`` times the least is taken instead of the least (a preference
    for less smoothing bias among changes the data hardly tell apart); the default 1 takes the
    least.

    Returns the chosen widths and the record: one entry per compared pair, ``{"scale": wider
    rung's factor, "change": relative change, "level": 0 for the coarse ladder, 1.. for the
    refinements}``.
    """
    if steps < 2 or refine < 0 or not tolerance >= 1:
        raise ValueError(
            "stability_scale needs steps >= 2, refine >= 0 and tolerance >= 1, got "
            f"{steps}, {refine}, {tolerance}"
        )
    s_lo = max(lower[a] / guess[a] for a in guess)
    s_hi = min(upper[a] / guess[a] for a in guess)
    if not s_hi > s_lo:
        return dict(guess), []
    solved: dict[float, dict[str, Any]] = {}

    def at(s: float) -> dict[str, Any]:
        if s not in solved:
            solved[s] = solve({a: float(s * guess[a]) for a in guess})
        return solved[s]

    ladder: list[dict[str, Any]] = []
    rungs = [float(s) for s in np.geomspace(s_lo, s_hi, steps)]
    for level in range(refine + 1):
        changes = [_change(at(s0), at(s1)) for s0, s1 in itertools.pairwise(rungs)]
        ladder += [
            {"scale": s, "change": float(c), "level": level}
            for s, c in zip(rungs[1:], changes, strict=True)
        ]
        # the narrowest pair within ``tolerance`` of the least change (the least when 1)
        best = int(np.flatnonzero(np.asarray(changes) <= tolerance * min(changes))[0])
        lo, hi = rungs[best], rungs[best + 1]
        rungs = [lo, float(np.sqrt(lo * hi)), hi]  # the next level halves the chosen pair
    chosen = rungs[2]
    return {a: float(chosen * guess[a]) for a in guess}, ladder


def _change(e0: Mapping[str, Any], e1: Mapping[str, Any]) -> float:
    """Relative change between two sets of unknowns, summed over the unknowns, on the nodes
    finite in both (inf when an unknown has none)."""
    total = 0.0
    for k in e0:
        a0, a1 = np.asarray(e0[k], dtype=float), np.asarray(e1[k], dtype=float)
        keep = np.isfinite(a0) & np.isfinite(a1)
        if not keep.any():
            return float("inf")
        total += float(np.linalg.norm((a1 - a0)[keep]) / (np.linalg.norm(a0[keep]) + 1e-300))
    return total
