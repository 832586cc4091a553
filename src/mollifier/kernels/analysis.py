"""Frequency-domain analysis: how closely stencils follow the continuous mollified derivative."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mollifier.kernels._base import AbstractKernel
from mollifier.kernels.stencils import stencil

__all__ = ["consistency_error", "frequency_response", "half_power_frequency", "operator_error"]


def frequency_response(taps: np.ndarray, *, spacing: float, omega: np.ndarray) -> np.ndarray:
    """``K̂(ω) = Σ_m K[m] exp(−i ω m h)`` of a centred stencil at angular frequencies ``omega``.

    For ``u = exp(i ω x)``, ``(K ∗ u)(x) = K̂(ω) u(x)``; the continuous order-k mollified derivative
    has ``(i ω)^k η̂(ω w)``.
    """
    m = np.arange(taps.size) - taps.size // 2
    return np.exp(-1j * np.outer(np.asarray(omega, dtype=float), m) * spacing) @ taps


@lru_cache(maxsize=64)
def half_power_frequency(kernel: AbstractKernel) -> float:
    """``ξ_½`` with ``η̂(ξ_½) = 1/2`` on the unit support: the edge of the kernel's pass band."""
    lo, hi = 0.0, 1.0
    while kernel.fourier(hi)[0] > 0.5:
        hi *= 2.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if kernel.fourier(mid)[0] > 0.5 else (lo, mid)
    return 0.5 * (lo + hi)


def consistency_error(kernel: AbstractKernel, order: int, *, points: float) -> float:
    """Worst relative error of the order-k stencil against ``(iω)^k η̂(ω w)`` over the pass band.

    The pass band is ``ξ_½ / 8 <= ω w <= ξ_½`` (capped at the Nyquist frequency ``π / h``), where
    ``η̂(ξ_½) = 1/2``: the frequencies the mollifier is meant to keep. ``points`` is
    ``width / spacing``. This is the measurement behind each family's ``min_points``: at and above
    ``kernel.min_points(order)`` it is at most 1%.
    """
    h, w = 1.0, float(points)
    taps = stencil(kernel, order, spacing=h, width=w, check=False)
    xi_half = half_power_frequency(kernel)
    omega = np.linspace(xi_half / 8 / w, min(xi_half / w, np.pi / h), 200)
    resp = frequency_response(taps, spacing=h, omega=omega)
    target = (1j * omega) ** order * kernel.fourier(omega * w)
    return float(np.max(np.abs(resp - target) / np.abs(target)))


def operator_error(kernel: AbstractKernel, order: int, *, points: float) -> float:
    """Worst error of the order-k stencil over the whole Nyquist band ``0 < ω <= π / h``,
    relative to the largest target ``max_ω |(iω)^k η̂(ω w)|``: the relative operator-norm error
    for band-limited inputs, stop band included (where it measures how much the discrete stencil
    lets through that the continuous kernel would not)."""
    h, w = 1.0, float(points)
    taps = stencil(kernel, order, spacing=h, width=w, check=False)
    omega = np.linspace(np.pi / h / 400, np.pi / h, 400)
    resp = frequency_response(taps, spacing=h, omega=omega)
    target = (1j * omega) ** order * kernel.fourier(omega * w)
    return float(np.max(np.abs(resp - target)) / np.max(np.abs(target)))
