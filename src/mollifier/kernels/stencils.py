"""Discrete derivative stencils: the analytic kernel integrated exactly against a local interpolant.

Construction
------------
Sampling ``∂ᵏη`` at grid points is not a usable stencil for ``k >= 2`` (it violates the discrete
moment identities by orders of magnitude; see ``docs/kernels.md``). Instead, the samples ``u_j`` are
read as the piecewise polynomial ``I[u]`` that, on each cell ``[x_i, x_{i+1}]``, interpolates the
:data:`INTERPOLATION_POINTS` nearest samples (degree 7, centred). The stencil is the *exact*
convolution of the analytic kernel derivative with that interpolant,

    (K_k ∗ u)(x_n) = ∫ ∂ᵏη_w(s) I[u](x_n − s) ds = ∂ᵏ (η_w ∗ I[u])(x_n),

evaluated with composite Gauss–Legendre quadrature fine enough to be exact to round-off. Hence:

* **one smooth function for every order**: the order-k output is the k-th derivative of the same
  mollified interpolant ``η_w ∗ I[u]``, so derivatives of all orders are mutually consistent;
* **discrete moment identities**: ``Σ_m K_k[m] (m h)^j`` equals the continuous moment
  ``∫ ∂ᵏη_w(s) s^j ds`` (``0`` for ``j < k``, ``(−1)^k k!`` for ``j = k``) for every ``j <= 7``;
* **polynomial exactness**: polynomials of degree ``<= 7`` give exactly ``η_w ∗ p⁽ᵏ⁾``, and
  polynomials of degree ``<= k + 1`` give exactly ``p⁽ᵏ⁾``.

The stencil extends :data:`INTERPOLATION_POINTS` ``// 2 − 1`` points beyond the kernel's support,
so its half-length is ``radius = ceil(width / spacing) + 3`` points.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mollifier.kernels._base import AbstractKernel, _leggauss

__all__ = ["INTERPOLATION_POINTS", "check_width", "stencil", "stencil_radius"]

#: Number of samples in the local interpolant (degree ``INTERPOLATION_POINTS − 1``).
INTERPOLATION_POINTS = 8
_HALF = INTERPOLATION_POINTS // 2
_REL = np.arange(-_HALF + 1, _HALF + 1)  # interpolation nodes relative to the cell's left node
# Quadrature: at least this many panels per kernel radius, each with _NODES Gauss points.
_PANELS_PER_RADIUS = 256
_NODES = 20


def stencil_radius(*, spacing: float, width: float) -> int:
    """Half-length, in grid points, of every stencil with this ``width`` and ``spacing``.

    ``radius = ceil(width / spacing) + 3``; the stencil has ``2 * radius + 1`` taps, and
    ``boundary="valid"`` crops ``radius`` points from each end of the axis.
    """
    ratio = float(width) / float(spacing)
    return math.ceil(ratio - 1e-9) + _HALF - 1


def check_width(
    kernel: AbstractKernel, order: int, *, spacing: float, width: float, axis: str | int = "-"
) -> None:
    """Raise ``ValueError`` unless ``width`` is a valid support radius for ``kernel`` at ``order``.

    ``width`` and ``spacing`` must be positive and finite, and ``width / spacing`` must be at least
    ``kernel.min_points(order)``.
    """
    for name, value in (("spacing", spacing), ("width", width)):
        if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value)):
            raise ValueError(f"{name} along axis {axis!r} must be a finite number, got {value!r}")
        if value <= 0:
            raise ValueError(f"{name} along axis {axis!r} must be positive, got {value!r}")
    need = kernel.min_points(order)
    have = float(width) / float(spacing)
    if have < need - 1e-9:
        raise ValueError(
            f"width {width:g} along axis {axis!r} spans only {have:.3g} grid points (spacing "
            f"{spacing:g}); the {kernel.name!r} kernel needs at least {need:g} points per width "
            "for "
            f"order-{order} derivatives (width >= {need * spacing:.6g}). Below that the stencil no "
            "longer approximates the mollified derivative; see docs/kernels.md."
        )


def _lagrange_basis(u: np.ndarray) -> np.ndarray:
    """Centred degree-7 Lagrange basis ``ℓ_a(u)`` at ``u`` in ``[0, 1]``; shape (8, N)."""
    out = np.empty((_REL.size, u.size))
    for a, ra in enumerate(_REL):
        others = _REL[_REL != ra]
        out[a] = np.prod((u[None, :] - others[:, None]) / (ra - others[:, None]), axis=0)
    return out


@lru_cache(maxsize=512)
def _stencil_cached(kernel: AbstractKernel, order: int, spacing: float, width: float) -> np.ndarray:
    h, w = spacing, width
    radius = stencil_radius(spacing=h, width=w)
    ratio = w / h
    # Cells [i h, (i+1) h] touching the support, i = -cells .. cells - 1. Slivers of a cell thinner
    # than 1e-9 h at the support's edge (round-off in w / h) carry no weight and are dropped, so
    # that the stencil's length is exactly 2 * radius + 1.
    cells = radius - (_HALF - 1)
    c = np.zeros(2 * radius + 1)
    panels_per_cell = max(1, math.ceil(_PANELS_PER_RADIUS / ratio))
    index = np.arange(-cells, cells)
    lo = np.maximum(index * h, -w)
    hi = np.minimum((index + 1) * h, w)
    keep = hi > lo
    index, lo, hi = index[keep], lo[keep], hi[keep]
    panels = np.maximum(1, np.ceil(panels_per_cell * (hi - lo) / h)).astype(int)
    # Cells with the same number of panels are integrated together (all but the edge cells).
    for count in np.unique(panels):
        group = panels == count
        i = index[group]
        y, wq = _panels(lo[group], hi[group], panels=int(count))  # (cells, points)
        f = wq * kernel.profile(y / w, order) / w ** (order + 1)
        basis = _lagrange_basis((y / h - i[:, None]).ravel()).reshape(_REL.size, *y.shape)
        # c_j = (−1)^k ∫ ∂ᵏη_w(y) ℓ_j(y) dy, for samples j = i + _REL, cell by cell.
        part = (-1) ** order * np.einsum("acn,cn->ca", basis, f)
        np.add.at(c, i[:, None] + _REL[None, :] + radius, part)
    k = c[::-1].copy()  # K[m] = c[−m]: (K ∗ u)_n = Σ_m K[m] u_{n−m}
    # Exact parity: the continuous kernel derivative has parity (−1)^k.
    k = 0.5 * (k + (-1) ** order * k[::-1])
    k.setflags(write=False)
    return k


def _panels(lo: np.ndarray, hi: np.ndarray, *, panels: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~mollifier.kernels._base.gauss_legendre_panels` on each ``[lo_c, hi_c]`` at once:
    nodes and weights, shape ``(cells, panels * _NODES)``."""
    x, wq = _leggauss(_NODES)
    edges = np.linspace(lo, hi, panels + 1, axis=-1)
    half = 0.5 * np.diff(edges, axis=-1)
    mid = 0.5 * (edges[:, :-1] + edges[:, 1:])
    nodes = (mid[:, :, None] + half[:, :, None] * x).reshape(lo.size, -1)
    return nodes, (half[:, :, None] * wq).reshape(lo.size, -1)


def stencil(
    kernel: AbstractKernel, order: int, *, spacing: float, width: float, check: bool = True
) -> np.ndarray:
    """The discrete stencil of the ``order``-th mollified derivative.

    Parameters
    ----------
    kernel : AbstractKernel
        The mollifier family.
    order : int
        Derivative order, 0 (the mollified field) to ``kernel.max_order``.
    spacing : float
        Grid step ``h``, physical units.
    width : float
        Kernel support radius ``w``, physical units.
    check : bool
        Enforce ``width / spacing >= kernel.min_points(order)`` (see :func:`check_width`).

    Returns
    -------
    ndarray, shape (2 * radius + 1,)
        Read-only float64 taps ``K[m]``, ``m = −radius .. radius``, such that
        ``Σ_m K[m] u[n − m]`` is ``∂ᵏ(η_w ∗ I[u])`` at node ``n`` (a true convolution:
        ``np.convolve(u, K, mode="valid")``). Even orders give symmetric stencils, odd orders
        antisymmetric ones.

    Examples
    --------
    >>> import numpy as np
    >>> from mollifier.kernels import PolyBump
    >>> K = stencil(PolyBump(), 2, spacing=0.1, width=0.5)
    >>> x = 0.1 * np.arange(-K.size // 2 + 1, K.size // 2 + 1)
    >>> abs(float(np.convolve(x**3, K, mode="valid")[0])) < 1e-10  # (x³)'' = 6x = 0 at x = 0
    True
    >>> round(float(np.convolve(x**2, K, mode="valid")[0]), 10)  # (x²)'' = 2
    2.0
    """
    order = kernel._check_order(order)
    if check:
        check_width(kernel, order, spacing=spacing, width=width)
    elif not (spacing > 0 and width > 0):
        raise ValueError("spacing and width must be positive")
    return _stencil_cached(kernel, order, float(spacing), float(width))
