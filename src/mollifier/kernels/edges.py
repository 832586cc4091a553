"""Edge stencils: per-node kernels whose support lies inside a bounded interval.

Near an edge the interior kernel ``η_w(s − x_n)`` would reach past the data. The edge kernel of
node ``n`` is instead

    ψ_n(s) = Q_n(z) η(z) / w,   z = (s − c_n) / w,   c_n = clip(x_n, x_first + w, x_last − w),

the same analytic profile shifted just far enough to lie inside the interval, times a polynomial
``Q_n`` of degree ``moments`` chosen so that ψ_n has the interior kernel's moments *about the
node itself*:

    ∫ ψ_n(s) (s − x_n)^j ds = ∫ η_w(s) s^j ds   for j = 0 .. moments.

Where the kernel fits (``c_n = x_n``), ``Q_n = 1`` and ψ_n is the interior kernel. Because ψ_n
vanishes with its derivatives at both ends of its support (``Q_n`` is a polynomial, η vanishes
there to the family's order), integration by parts leaves no boundary terms: for every order k,

    (−1)ᵏ ⟨∂ᵏψ_n, u⟩ = ⟨ψ_n, ∂ᵏu⟩,

so the order-k edge stencil gives the same test function's view of ``∂ᵏu`` at every node, and
every term of a residual is still mollified by one kernel per node. The discrete rows are built as
the interior stencils are (:mod:`mollifier.kernels.stencils`): the samples are read as the
piecewise degree-7 interpolant, whose 8-point windows are shifted inward at the edges, and
``∂ᵏψ_n`` is integrated exactly against it. Consequences, at every node, edges included:

* polynomials of degree ``<= order + 1`` give ``p⁽ᵏ⁾(x_n)`` exactly (``moments >= 1``), and
  those of degree ``<= order + moments`` give exactly the interior's ``(η_w ∗ p⁽ᵏ⁾)(x_n)``;
* the smoothing bias is of the same order in ``w`` as in the interior.

The price is noise: a shifted, moment-corrected kernel has a larger ℓ2 norm than the interior
one (:func:`noise_gain`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.polynomial import polynomial as npoly

from mollifier.kernels._base import AbstractKernel, gauss_legendre_panels
from mollifier.kernels.stencils import (
    INTERPOLATION_POINTS,
    _lagrange_basis,
    check_width,
    stencil,
    stencil_radius,
)

__all__ = [
    "DEFAULT_EDGE_MOMENTS",
    "edge_block",
    "edge_moments",
    "interval_operator",
    "min_interval_points",
    "noise_gain",
]

#: Moments about the node that edge kernels match by default (0 and 1: unit mass, and centred
#: on the node), which makes polynomials of degree ``order + 1`` exact at every node.
DEFAULT_EDGE_MOMENTS = 1

_HALF = INTERPOLATION_POINTS // 2
_PANELS_PER_RADIUS = 256
_NODES = 20


def min_interval_points(*, spacing: float, width: float) -> int:
    """Fewest samples an interval needs for edge kernels of this ``width``: the support
    ``2 width`` must fit (``(n − 1) spacing >= 2 width``), and the interpolant needs
    :data:`~mollifier.kernels.INTERPOLATION_POINTS` samples."""
    ratio = float(width) / float(spacing)
    return max(INTERPOLATION_POINTS, math.ceil(2 * ratio - 1e-9) + 1)


@lru_cache(maxsize=64)
def _moments(kernel: AbstractKernel, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Moments ``∫ z^j φ`` of the base profile and ``∫ z^j η`` of the kernel, ``j < count``."""
    z, wq = gauss_legendre_panels(-1.0, 1.0, panels=256, nodes=_NODES)
    inside = np.abs(z) < 1.0
    phi = np.zeros_like(z)
    phi[inside] = kernel._base(z[inside], 0)
    eta = kernel.profile(z, 0)
    powers = z[None, :] ** np.arange(count)[:, None]
    return powers @ (wq * phi), powers @ (wq * eta)


def edge_moments(kernel: AbstractKernel, moments: int | None = None) -> int:
    """Moments the edge kernels of ``kernel`` match: ``moments``, or by default
    :data:`DEFAULT_EDGE_MOMENTS` and at least ``accuracy − 1`` (a higher-order kernel keeps its
    vanishing moments at the edge)."""
    if moments is None:
        return max(DEFAULT_EDGE_MOMENTS, kernel.accuracy - 1)
    if isinstance(moments, bool) or not isinstance(moments, (int, np.integer)):
        raise TypeError(f"moments must be an integer, got {moments!r}")
    if not max(1, kernel.accuracy - 2) <= int(moments) <= 6:
        raise ValueError(
            f"moments must be between {max(1, kernel.accuracy - 2)} and 6 for {kernel!r}, got "
            f"{moments}"
        )
    return int(moments)


def _factor(kernel: AbstractKernel, shift: float, moments: int) -> np.ndarray:
    """Coefficients (increasing powers of z) of ``Q`` with ``∫ Q φ (z + shift)^j = ∫ η z^j``
    for ``j = 0 .. moments`` (φ the family's base profile)."""
    m_phi, m_eta = _moments(kernel, 2 * moments + 1)
    size = moments + 1
    a = np.zeros((size, size))
    for j in range(size):
        for i in range(size):
            a[j, i] = sum(math.comb(j, p) * shift ** (j - p) * m_phi[i + p] for p in range(j + 1))
    return np.linalg.solve(a, m_eta[:size])


def _psi_derivative(kernel: AbstractKernel, q: np.ndarray, z: np.ndarray, order: int) -> np.ndarray:
    """``(Q φ)⁽ᵏ⁾(z)`` on the unit support (Leibniz rule); 0 outside."""
    out = np.zeros_like(z)
    inside = np.abs(z) < 1.0
    zi = z[inside]
    acc = np.zeros_like(zi)
    for i in range(min(order, q.size - 1) + 1):
        dq = npoly.polyder(q, i) if i else q
        acc += math.comb(order, i) * npoly.polyval(zi, dq) * kernel._base(zi, order - i)
    out[inside] = acc
    return out


def _row(
    kernel: AbstractKernel, order: int, h: float, w: float, n: int, node: int, moments: int
) -> np.ndarray:
    """Taps (over the interval's ``n`` samples) of the order-``order`` edge kernel at ``node``."""
    length = (n - 1) * h
    x = node * h
    c = min(max(x, w), length - w)
    shift = (c - x) / w
    # η = Q φ in the interior (kernel._q), a moment-matched Q where the kernel is shifted.
    q = kernel._q if abs(shift) < 1e-12 else _factor(kernel, shift, moments)
    ratio = w / h
    panels_per_cell = max(1, math.ceil(_PANELS_PER_RADIUS / ratio))
    first = max(0, math.floor((c - w) / h + 1e-9))
    last = min(n - 2, math.ceil((c + w) / h - 1e-9) - 1)
    cells = np.arange(first, last + 1)
    lo = np.maximum(cells * h, c - w)
    hi = np.minimum((cells + 1) * h, c + w)
    keep = hi - lo > 1e-9 * h
    cells, lo, hi = cells[keep], lo[keep], hi[keep]
    # The same composite rule on every cell (at least as fine as the interior stencils').
    ref, wref = gauss_legendre_panels(0.0, 1.0, panels=panels_per_cell, nodes=_NODES)
    y = lo[:, None] + (hi - lo)[:, None] * ref[None, :]
    f = (hi - lo)[:, None] * wref[None, :]
    f = f * _psi_derivative(kernel, q, (y - c) / w, order) / w ** (order + 1)
    start = np.clip(cells - (_HALF - 1), 0, n - INTERPOLATION_POINTS)
    # Lagrange basis on each window's nodes start .. start + 7, relative to its cell.
    basis = _lagrange_basis((y / h - start[:, None] - (_HALF - 1)).ravel())
    basis = basis.reshape(INTERPOLATION_POINTS, *y.shape)
    contrib = (-1) ** order * np.einsum("acp,cp->ca", basis, f)
    row = np.zeros(n)
    np.add.at(row, start[:, None] + np.arange(INTERPOLATION_POINTS)[None, :], contrib)
    return row


def _check(
    kernel: AbstractKernel, order: int, spacing: float, width: float, moments: int | None
) -> tuple[int, int]:
    order = kernel._check_order(order)
    check_width(kernel, order, spacing=spacing, width=width)
    return order, edge_moments(kernel, moments)


@lru_cache(maxsize=256)
def _block_cached(
    kernel: AbstractKernel, order: int, spacing: float, width: float, moments: int
) -> np.ndarray:
    r = stencil_radius(spacing=spacing, width=width)
    n = 2 * r + 1
    block = np.stack([_row(kernel, order, spacing, width, n, node, moments) for node in range(r)])
    block.setflags(write=False)
    return block


def edge_block(
    kernel: AbstractKernel,
    order: int,
    *,
    spacing: float,
    width: float,
    moments: int | None = None,
) -> np.ndarray:
    """Rows of the edge stencils of the first ``radius`` nodes of a long interval.

    Parameters
    ----------
    kernel, order, spacing, width
        As for :func:`~mollifier.kernels.stencil`.
    moments : int or None
        Moments about the node the edge kernels match (1–6, default
        :data:`DEFAULT_EDGE_MOMENTS`).

    Returns
    -------
    ndarray, shape (radius, 2 * radius + 1)
        Read-only float64: ``out[n] @ u[: 2 * radius + 1]`` is the order-``order`` derivative at
        node ``n`` (``radius = stencil_radius(spacing, width)``). The last edge's rows are these
        reversed in both axes, times ``(−1)^order``. Valid for intervals of at least
        ``2 * radius + 1`` points; shorter ones: :func:`interval_operator`.

    Examples
    --------
    >>> import numpy as np
    >>> from mollifier.kernels import PolyBump
    >>> h, w = 0.1, 0.5
    >>> b = edge_block(PolyBump(), 2, spacing=h, width=w)
    >>> x = h * np.arange(b.shape[1])
    >>> bool(np.allclose(b @ x**3, 6 * x[: b.shape[0]], atol=1e-9))  # (x³)'' = 6x at every node
    True
    """
    order, moments = _check(kernel, order, spacing, width, moments)
    return _block_cached(kernel, order, float(spacing), float(width), moments)


@lru_cache(maxsize=128)
def _interval_cached(
    kernel: AbstractKernel, order: int, spacing: float, width: float, n: int, moments: int
) -> np.ndarray:
    r = stencil_radius(spacing=spacing, width=width)
    if n >= 2 * r + 1:
        taps = stencil(kernel, order, spacing=spacing, width=width)
        out = np.zeros((n, n))
        # Row i, column j: K[i − j] for |i − j| <= r (a true convolution).
        idx = np.arange(r, n - r)
        for m in range(-r, r + 1):
            out[idx, idx - m] = taps[m + r]
        block = _block_cached(kernel, order, spacing, width, moments)
        out[:r, : 2 * r + 1] = block
        out[n - r :, n - 2 * r - 1 :] = (-1) ** order * block[::-1, ::-1]
    else:
        out = np.stack([_row(kernel, order, spacing, width, n, i, moments) for i in range(n)])
    out.setflags(write=False)
    return out


def interval_operator(
    kernel: AbstractKernel,
    order: int,
    *,
    spacing: float,
    width: float,
    n: int,
    moments: int | None = None,
) -> np.ndarray:
    """Dense ``(n, n)`` matrix of the order-``order`` derivative on an interval of ``n`` points,
    interior stencils in the middle and edge stencils (:func:`edge_block`) at both ends.

    ``n`` must be at least :func:`min_interval_points` (else ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> from mollifier.kernels import PolyBump
    >>> d = interval_operator(PolyBump(), 1, spacing=0.1, width=0.4, n=12)
    >>> x = 0.1 * np.arange(12)
    >>> bool(np.allclose(d @ x**2, 2 * x, atol=1e-9))
    True
    """
    order, moments = _check(kernel, order, spacing, width, moments)
    need = min_interval_points(spacing=spacing, width=width)
    if int(n) < need:
        raise ValueError(
            f"an interval of {n} points is too short for edge kernels of width {width:g} "
            f"(spacing {spacing:g}): the support needs at least {need} points"
        )
    return _interval_cached(kernel, order, float(spacing), float(width), int(n), moments)


def noise_gain(operator: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Per row of ``operator``, its ℓ2 norm relative to the interior stencil ``taps``: the factor
    by which white noise in the samples is amplified at that node, relative to the interior."""
    return np.linalg.norm(operator, axis=-1) / np.linalg.norm(taps)
