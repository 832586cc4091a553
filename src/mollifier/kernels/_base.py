"""The kernel interface: a unit-mass, even, compactly supported profile and its derivatives."""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from functools import cached_property, lru_cache
from math import comb
from typing import ClassVar

import numpy as np
from numpy.polynomial import polynomial as npoly

__all__ = ["AbstractKernel", "gauss_legendre_panels"]


@lru_cache(maxsize=8)
def _leggauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def gauss_legendre_panels(
    a: float, b: float, *, panels: int, nodes: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on ``[a, b]``: ``panels`` equal panels of ``nodes`` points.

    Returns the quadrature nodes and weights as flat arrays. Exact for polynomials of degree
    ``2 * nodes - 1`` on each panel.
    """
    x, w = _leggauss(nodes)
    edges = np.linspace(a, b, panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    return (mid[:, None] + half[:, None] * x[None, :]).ravel(), (half[:, None] * w[None, :]).ravel()


@dataclass(frozen=True)
class AbstractKernel(abc.ABC):
    """A mollifier: an even, unit-mass kernel η supported on ``[-1, 1]``, with analytic derivatives.

    Concrete families implement the unnormalised base profile φ and its derivatives
    (:meth:`_base`). The kernel is ``η(z) = Q(z) φ(z)`` with an even polynomial ``Q`` chosen so that

    * ``∫ η = 1`` (unit mass), and
    * ``∫ z^(2j) η = 0`` for ``j = 1 .. accuracy/2 - 1`` (vanishing moments).

    With ``accuracy=2`` (the default) ``Q`` is a constant and η is the positive, normalised φ.
    Higher
    accuracy gives *higher-order* (bias-reducing) kernels: for smooth ``u``,
    ``η_w ∗ u − u = O(width**accuracy)``, at the price of negative lobes and more noise.

    On a grid, a kernel of support radius ``width`` (physical units) acts as
    ``η_w(s) = η(s / width) / width`` and its k-th derivative as
    ``∂ᵏη_w(s) = η⁽ᵏ⁾(s / width) / width**(k + 1)``.

    Parameters
    ----------
    accuracy : int
        Order of the smoothing bias: 2 (positive kernel), 4 or 6 (higher-order kernels).
    """

    accuracy: int = 2

    #: Short name used by string lookup (``kernel="bump"``).
    name: ClassVar[str] = ""
    #: Derivative orders for which a stencil can be built (at most 6 for every family).
    max_order: ClassVar[int] = 6

    def __post_init__(self) -> None:
        if self.accuracy not in (2, 4, 6):
            raise ValueError(f"accuracy must be 2, 4 or 6, got {self.accuracy!r}")

    # -- to implement -------------------------------------------------------------------------
    @abc.abstractmethod
    def _base(self, z: np.ndarray, order: int) -> np.ndarray:
        """``order``-th derivative of the unnormalised base profile φ at ``|z| < 1``.

        ``z`` is guaranteed to lie strictly inside ``(-1, 1)``.
        """

    @abc.abstractmethod
    def min_points(self, order: int) -> float:
        """Smallest ``width / spacing`` at which a stencil of this ``order`` is accepted.

        Below it the discrete stencil no longer approximates the continuous mollified derivative
        to 1% over the kernel's pass band (measured; see ``docs/kernels.md``).
        """

    # -- derived ------------------------------------------------------------------------------
    def _check_order(self, order: int) -> int:
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
            raise TypeError(f"derivative order must be an integer, got {order!r}")
        order = int(order)
        if not 0 <= order <= self.max_order:
            raise ValueError(
                f"derivative order must be between 0 and {self.max_order} for the {self!r} "
                f"kernel, got {order}"
            )
        return order

    @cached_property
    def _base_moments(self) -> np.ndarray:
        """``∫ z^j φ(z) dz`` for ``j = 0 .. 2 * accuracy``, by composite Gauss–Legendre."""
        z, w = gauss_legendre_panels(-1.0, 1.0, panels=256, nodes=20)
        phi = self._base(z, 0)
        return np.array([np.sum(w * phi * z**j) for j in range(2 * self.accuracy + 1)])

    @cached_property
    def _q(self) -> np.ndarray:
        """Coefficients (in powers of z) of the even polynomial factor ``Q``."""
        n = self.accuracy // 2
        m = self._base_moments
        gram = np.array([[m[2 * (i + j)] for i in range(n)] for j in range(n)])
        rhs = np.zeros(n)
        rhs[0] = 1.0
        c = np.linalg.solve(gram, rhs)
        q = np.zeros(2 * n - 1)
        q[0::2] = c
        return q

    def profile(self, z: np.ndarray | float, order: int = 0) -> np.ndarray:
        """The ``order``-th derivative of the unit-mass kernel, ``η⁽ᵏ⁾(z)``, on the unit support.

        Computed analytically (Leibniz rule on ``Q φ``); exactly zero for ``|z| >= 1``.

        Parameters
        ----------
        z : array_like
            Points, in units of the support radius.
        order : int
            Derivative order ``k`` (0 to :attr:`max_order`).

        Returns
        -------
        ndarray
            Same shape as ``z``, float64.
        """
        order = self._check_order(order)
        z = np.asarray(z, dtype=np.float64)
        out = np.zeros_like(z)
        inside = np.abs(z) < 1.0
        zi = z[inside]
        q = self._q
        acc = np.zeros_like(zi)
        for i in range(min(order, len(q) - 1) + 1):
            dq = npoly.polyder(q, i) if i else q
            acc += comb(order, i) * npoly.polyval(zi, dq) * self._base(zi, order - i)
        out[inside] = acc
        return out

    def moment(self, j: int) -> float:
        """``∫ z^j η(z) dz`` on the unit support (0 for odd ``j``; 1 for ``j = 0``)."""
        if j < 0:
            raise ValueError("moment index must be non-negative")
        if j % 2:
            return 0.0
        z, w = gauss_legendre_panels(-1.0, 1.0, panels=256, nodes=20)
        return float(np.sum(w * self.profile(z, 0) * z**j))

    def fourier(self, xi: np.ndarray | float) -> np.ndarray:
        """Fourier transform ``η̂(ξ) = ∫ η(z) cos(ξ z) dz`` of the unit-support kernel (real, even).

        For a kernel of radius ``width``, the transfer function at angular frequency ``ω`` is
        ``η̂(ω * width)``. Computed by composite Gauss–Legendre quadrature; accurate for
        ``|ξ| <~ 2000``.
        """
        xi = np.atleast_1d(np.asarray(xi, dtype=np.float64))
        z, w = gauss_legendre_panels(-1.0, 1.0, panels=512, nodes=20)
        eta = w * self.profile(z, 0)
        return np.array([np.sum(eta * np.cos(x * z)) for x in xi.ravel()]).reshape(xi.shape)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{type(self).__name__}({fields})"
