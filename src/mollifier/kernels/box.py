"""Kernels on an irregular 2-D domain: one box per node, a tensor product of edge kernels.

A node ``n`` of a domain (a boolean mask on a tensor grid) gets a box of ``(2 r_x + 1) × (2 r_y +
1)`` nodes that lies inside the domain and contains ``n``, shifted by ``s = (s_x, s_y)`` from the
box centred on it (``|s_a| <= r_a``; the smallest shift that fits is taken). Its kernel is the
tensor product ``ψ_x ⊗ ψ_y`` of the 1-D kernels of a node at offset ``−s_a`` from the centre of an
interval of ``2 r_a + 1`` points: the interior kernel where ``s_a = 0``, an edge kernel
(:mod:`mollifier.kernels.edges`) otherwise. So every node has one test function whose support
lies inside the domain and which vanishes with its derivatives at the support's ends: the weak-form
identity ``(−1)^|α| ⟨∂^α ψ, u⟩ = ⟨ψ, ∂^α u⟩`` holds at every node with no boundary terms, every
term of a residual is mollified by the same ``ψ`` at that node, nothing outside the domain reaches
any output, and polynomials are reproduced as on an interval (degree ``order + 1`` per axis
exactly).

A node with no such box inside the domain (where the domain is narrower than the box, or at a
sharp corner) has no kernel and no estimate.
"""

from __future__ import annotations

import numpy as np

from mollifier.kernels._base import AbstractKernel
from mollifier.kernels.edges import edge_block
from mollifier.kernels.stencils import stencil, stencil_radius

__all__ = ["NO_BOX", "box_shifts", "shifted_rows"]

#: Shift marking a node with no box inside the domain.
NO_BOX = np.iinfo(np.int64).min


def box_shifts(domain: np.ndarray, radius: tuple[int, int]) -> np.ndarray:
    """Per node, the shift ``(s_x, s_y)`` of the smallest-shifted box inside ``domain``.

    Parameters
    ----------
    domain : ndarray of bool, shape (nx, ny)
    radius : (int, int)
        Half-sides ``(r_x, r_y)`` of the box, in nodes.

    Returns
    -------
    ndarray of int64, shape (nx, ny, 2)
        The box of node ``(i, j)`` spans ``[i + s_x − r_x, i + s_x + r_x] × [j + s_y − r_y,
        j + s_y + r_y]``. Shifts are chosen to minimise ``(s_x / r_x)² + (s_y / r_y)²`` (ties:
        the first in row-major shift order). :data:`NO_BOX` in both entries where no box fits,
        and outside the domain.

    Examples
    --------
    >>> dom = np.zeros((9, 9), dtype=bool)
    >>> dom[1:8, 2:9] = True
    >>> s = box_shifts(dom, (2, 2))
    >>> s[4, 5].tolist(), s[1, 2].tolist(), s[0, 0].tolist() == [NO_BOX, NO_BOX]
    ([0, 0], [2, 2], True)
    """
    dom = np.asarray(domain, dtype=bool)
    if dom.ndim != 2:
        raise ValueError(f"box kernels need a 2-D domain, got {dom.ndim} dimensions")
    rx, ry = (int(r) for r in radius)
    nx, ny = dom.shape
    # inside[a, b]: the box whose lower corner is (a, b) lies inside the domain
    table = np.zeros((nx + 1, ny + 1), dtype=np.int64)
    table[1:, 1:] = dom.cumsum(0).cumsum(1)
    sx_len, sy_len = 2 * rx + 1, 2 * ry + 1
    inside = np.zeros((nx, ny), dtype=bool)
    if nx >= sx_len and ny >= sy_len:
        full = (
            table[sx_len:, sy_len:]
            - table[:-sx_len, sy_len:]
            - table[sx_len:, :-sy_len]
            + table[:-sx_len, :-sy_len]
        )
        inside[: nx - sx_len + 1, : ny - sy_len + 1] = full == sx_len * sy_len
    best = np.full((nx, ny), np.inf)
    out = np.full((nx, ny, 2), NO_BOX, dtype=np.int64)
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    for sx in range(-rx, rx + 1):
        for sy in range(-ry, ry + 1):
            cost = (sx / max(rx, 1)) ** 2 + (sy / max(ry, 1)) ** 2
            a, b = ii + sx - rx, jj + sy - ry
            ok = (a >= 0) & (b >= 0) & (a < nx) & (b < ny)
            fits = np.zeros((nx, ny), dtype=bool)
            fits[ok] = inside[a[ok], b[ok]]
            take = fits & dom & (cost < best)
            best[take] = cost
            out[take] = (sx, sy)
    return out


def shifted_rows(
    kernel: AbstractKernel,
    order: int,
    *,
    spacing: float,
    width: float,
    moments: int | None = None,
) -> np.ndarray:
    """The 1-D rows of a node at every shift of its box.

    Returns
    -------
    ndarray, shape (2 r + 1, 2 r + 1)
        Row ``s + r`` (shift ``s`` in ``−r .. r``) holds the weights of the box's ``2 r + 1``
        nodes, in order, for a node at position ``r − s`` of the box: the interior stencil for
        ``s = 0``, the first edge's row ``r − s`` for ``s > 0``, the last edge's mirrored row
        (times ``(−1)^order``) for ``s < 0``.

    Examples
    --------
    >>> from mollifier.kernels import PolyBump
    >>> rows = shifted_rows(PolyBump(), 1, spacing=0.1, width=0.5)
    >>> r = rows.shape[0] // 2
    >>> x = 0.1 * np.arange(2 * r + 1)
    >>> bool(np.allclose(rows @ x**2, 2 * x[r - np.arange(-r, r + 1)], atol=1e-9))
    True
    """
    r = stencil_radius(spacing=spacing, width=width)
    block = edge_block(kernel, order, spacing=spacing, width=width, moments=moments)
    rows = np.empty((2 * r + 1, 2 * r + 1))
    rows[r] = stencil(kernel, order, spacing=spacing, width=width)[::-1]  # taps run backwards
    for s in range(1, r + 1):
        rows[r + s] = block[r - s]
        rows[r - s] = (-1) ** order * block[r - s][::-1]
    return rows
