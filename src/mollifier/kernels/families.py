"""Mollifier families: the Friedrichs bump, the polynomial bump and the truncated Gaussian."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
from numpy.polynomial import hermite_e
from numpy.polynomial import polynomial as npoly

from mollifier.kernels._base import AbstractKernel

__all__ = ["TRUNCATION_TOLERANCE", "Bump", "Gaussian", "PolyBump"]

# Smallest accepted width / spacing, per kernel accuracy, indexed by derivative order 0..6: the
# smallest R (0.25 steps) whose pass-band consistency error is <= 1% at R and beyond, measured by
# benchmarks/kernel_families.py with mollifier.kernels.consistency_error (see docs/kernels.md).
_MIN_POINTS_BUMP = {
    2: (2.0, 2.0, 2.0, 2.25, 2.5, 3.5, 6.0),
    4: (3.75, 3.75, 3.75, 3.75, 4.0, 6.0, 6.75),
    6: (5.25, 5.25, 5.25, 5.5, 5.75, 7.0, 10.0),
}
_MIN_POINTS_POLYBUMP = {2: (3.5,) * 7, 4: (5.75,) * 7, 6: (7.5,) * 7}
# The Gaussian's requirement is on σ / spacing, so its minimum width scales with ``truncate``.
_MIN_SIGMA_POINTS_GAUSSIAN = {
    2: (0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 0.85),
    4: (1.225,) * 7,
    6: (1.55,) * 7,
}
#: Largest tolerated value of a truncated profile derivative at the support edge (unit support).
TRUNCATION_TOLERANCE = 1e-7


@cache
def _bump_numerators(order: int) -> tuple[np.ndarray, ...]:
    """Polynomials ``P_k`` with ``d^k/dz^k exp(-1/(1-z²)) = P_k(z) (1-z²)^(-2k) exp(-1/(1-z²))``.

    Recursion (from differentiating the right-hand side once):
    ``P_{k+1} = P_k' g² + 4 k z g P_k − 2 z P_k`` with ``g = 1 − z²``.
    """
    g = np.array([1.0, 0.0, -1.0])
    g2 = npoly.polymul(g, g)
    polys = [np.array([1.0])]
    for k in range(order):
        p = polys[-1]
        dp = npoly.polyder(p) if p.size > 1 else np.zeros(1)
        nxt: np.ndarray = npoly.polyadd(
            npoly.polymul(dp, g2), npoly.polymul([0.0, 4.0 * k], npoly.polymul(g, p))
        )
        nxt = npoly.polyadd(nxt, npoly.polymul([0.0, -2.0], p))
        polys.append(npoly.polytrim(nxt))
    return tuple(polys)


@dataclass(frozen=True, repr=False)
class Bump(AbstractKernel):
    """The Friedrichs mollifier ``φ(z) = exp(−1 / (1 − z²))`` on ``|z| < 1``: the paper's kernel.

    C^∞ with every derivative vanishing at the support edge, but its higher derivatives are steep
    near ``|z| → 1`` (the order-6 derivative peaks near 6e7 on the unit support), which makes its
    high-order stencils noisier and needs more grid points per width than :class:`PolyBump`.

    Parameters
    ----------
    accuracy : int
        2 (positive kernel, default), 4 or 6 (higher-order kernel; see :class:`AbstractKernel`).

    Examples
    --------
    >>> import numpy as np
    >>> k = Bump()
    >>> bool(abs(k.moment(0) - 1.0) < 1e-13), float(k.profile(np.array([1.0]))[0])
    (True, 0.0)
    """

    name: ClassVar[str] = "bump"

    def _base(self, z: np.ndarray, order: int) -> np.ndarray:
        g = 1.0 - z * z
        p = _bump_numerators(order)[order]
        return npoly.polyval(z, p) * g ** (-2.0 * order) * np.exp(-1.0 / g)

    def min_points(self, order: int) -> float:
        return _MIN_POINTS_BUMP[self.accuracy][self._check_order(order)]


@dataclass(frozen=True, repr=False)
class PolyBump(AbstractKernel):
    """The polynomial bump ``φ(z) = (1 − z²)^power`` on ``|z| ≤ 1``.

    Its k-th derivative is ``C^(power−k−1)`` and vanishes at the support edge to order
    ``power − k``. A derivative of order ``k`` needs ``power >= k + 2`` (so the k-th derivative of
    the kernel is continuously differentiable); the default ``power=8`` serves every order up to 6.
    :meth:`for_order` returns the smallest admissible power for a given order.

    Parameters
    ----------
    power : int
        Exponent ``p >= 2``.
    accuracy : int
        2 (positive kernel, default), 4 or 6 (higher-order kernel).
    """

    power: int = 8
    name: ClassVar[str] = "polybump"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.power, bool) or not isinstance(self.power, (int, np.integer)):
            raise TypeError(f"power must be an integer, got {self.power!r}")
        if self.power < 2:
            raise ValueError(f"power must be at least 2, got {self.power}")

    @classmethod
    def for_order(cls, order: int, *, accuracy: int = 2) -> PolyBump:
        """The least smooth admissible bump for derivatives up to ``order``: power ``order + 2``."""
        return cls(power=max(2, int(order) + 2), accuracy=accuracy)

    @property
    def max_order(self) -> int:  # type: ignore[override]
        return min(6, self.power - 2)

    def _base(self, z: np.ndarray, order: int) -> np.ndarray:
        coef = _polybump_coefficients(self.power)
        return npoly.polyval(z, npoly.polyder(coef, order) if order else coef)

    def min_points(self, order: int) -> float:
        # Measured at power 8; the pass band scales like 1/σ ∝ sqrt(2 power + 3).
        base = _MIN_POINTS_POLYBUMP[self.accuracy][self._check_order(order)]
        return base * float(np.sqrt((2 * self.power + 3) / 19.0))


@cache
def _polybump_coefficients(power: int) -> np.ndarray:
    return npoly.polypow([1.0, 0.0, -1.0], power)


@dataclass(frozen=True, repr=False)
class Gaussian(AbstractKernel):
    """A Gaussian truncated at ``truncate`` standard deviations: ``φ(z) = exp(−(truncate z)² / 2)``.

    The support radius ``width`` is ``truncate`` standard deviations, so ``σ = width / truncate``.
    Truncation leaves the profile and its derivatives with nonzero values at the support edge; the
    stencils integrate the smooth part only, so those edge values become errors in the moment
    identities. :attr:`max_order` is therefore the highest order ``k`` for which every derivative
    up to ``k`` is below :data:`TRUNCATION_TOLERANCE` at the edge (all of 0–6 for the default
    ``truncate=10``; only 0–1 for ``truncate=6``). Derivatives use probabilists' Hermite
    polynomials:
    ``d^k/dz^k exp(−a² z² / 2) = (−a)^k He_k(a z) exp(−a² z² / 2)``.

    Parameters
    ----------
    truncate : float
        Support radius in standard deviations (at least 3).
    accuracy : int
        2 (positive kernel, default), 4 or 6 (higher-order kernel).
    """

    truncate: float = 10.0
    name: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not float(self.truncate) >= 3.0:
            raise ValueError(
                f"truncate must be at least 3 standard deviations, got {self.truncate}"
            )

    @property
    def max_order(self) -> int:  # type: ignore[override]
        # The order-k stencil misses the edge values of derivatives 0 .. k-1.
        edge = np.array([1.0 - 1e-15])
        for k in range(6):
            if abs(self._base(edge, k)[0]) > TRUNCATION_TOLERANCE:
                return k
        return 6

    def _base(self, z: np.ndarray, order: int) -> np.ndarray:
        a = float(self.truncate)
        coef = np.zeros(order + 1)
        coef[order] = 1.0
        return (-a) ** order * hermite_e.hermeval(a * z, coef) * np.exp(-0.5 * (a * z) ** 2)

    def min_points(self, order: int) -> float:
        sigma_points = _MIN_SIGMA_POINTS_GAUSSIAN[self.accuracy][self._check_order(order)]
        return sigma_points * float(self.truncate)
