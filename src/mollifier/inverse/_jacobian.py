"""The exact sparse Jacobian of a coupled field unknown, assembled by graph colouring."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch

from mollifier.inverse.unknowns import Field

if TYPE_CHECKING:
    from mollifier.inverse.direct import _Affine
    from mollifier.inverse.problem import InverseProblem

__all__ = ["sparse_jacobian"]


def _periodic_axes(problem: InverseProblem, axes: tuple[str, ...]) -> np.ndarray:
    """Per field axis, whether the mollifier wraps around it (``boundary="periodic"``)."""
    return np.array([problem.boundary == "periodic" for _ in axes], dtype=bool)


def _footprint(aff: _Affine, name: str) -> np.ndarray:
    """Per field axis, how far (in nodes) a residual row reaches into the field.

    Measured with unit impulses on the whole grid (not only the rows kept), at the central node
    and at nodes near every edge, where a boundary extension (``"extrapolate"``) can reach
    further than the stencil; on periodic axes distances wrap around.
    """
    problem = aff.problem
    shape = aff.shapes[name]
    field = problem.unknowns[name]
    assert isinstance(field, Field)
    radius = [problem.layer.radius[a] for a in field.axes]
    per_axis = []
    for n, r in zip(shape, radius, strict=True):
        near = [0, r // 2, r, 2 * r, 3 * r, n // 2]
        per_axis.append(sorted({min(max(k, 0), n - 1) for k in near + [n - 1 - k for k in near]}))
    count = max(len(p) for p in per_axis)
    positions = [tuple(p[min(i, len(p) - 1)] for p in per_axis) for i in range(count)]
    periodic = _periodic_axes(problem, field.axes)
    with torch.no_grad():
        zero = problem.mollifier_residual(
            aff.fields, aff.params(torch.zeros(aff.n, dtype=torch.float64))
        )
    reach = np.zeros(len(shape), dtype=int)
    for pos in positions:
        v = torch.zeros(aff.n, dtype=torch.float64)
        v[aff.slices[name].start + int(np.ravel_multi_index(pos, shape))] = 1.0
        with torch.no_grad():
            delta = problem.mollifier_residual(aff.fields, aff.params(v)) - zero
        hit = (delta.abs() > 0).numpy().reshape(-1, *problem.grid.shape).any(axis=0)
        for k, (a, c) in enumerate(zip(field.axes, pos, strict=True)):
            i = problem.grid.index(a)
            other = tuple(j for j in range(problem.grid.ndim) if j != i)
            along = np.flatnonzero(np.any(hit, axis=other)) if other else np.flatnonzero(hit)
            if along.size:
                dist = np.abs(along - c)
                if periodic[k]:
                    dist = np.minimum(dist, shape[k] - dist)
                reach[k] = max(reach[k], int(dist.max()))
    return reach


def sparse_jacobian(aff: _Affine, name: str) -> sp.csr_matrix:
    """The (interior rows × field nodes) Jacobian of a coupled field, by graph colouring.

    Field nodes whose indices agree modulo ``2 R + 1`` along every axis (``R`` the footprint)
    never touch the same residual row, so one probe per colour recovers all their columns
    (Curtis–Powell–Reid): ``Π (2 R_a + 1)`` residual evaluations instead of one per node.
    """
    problem = aff.problem
    shape = aff.shapes[name]
    reach = _footprint(aff, name)
    field = problem.unknowns[name]
    assert isinstance(field, Field)
    periodic = _periodic_axes(problem, field.axes)
    period = 2 * reach + 1
    for k, n in enumerate(shape):
        if periodic[k]:
            # a colour period that divides the axis keeps colours apart across the seam
            period[k] = next(p for p in range(min(period[k], n), n + 1) if n % p == 0)
    # Grid coordinates, along the field's axes, of each interior row.
    grid_idx = np.unravel_index(aff.row_nodes, problem.grid.shape)
    row_pos = np.stack([grid_idx[problem.grid.index(a)] for a in field.axes], axis=1)
    node_pos = np.stack(np.unravel_index(np.arange(int(np.prod(shape))), shape), axis=1)
    rows, cols, vals = [], [], []
    colours = [
        c for c in np.ndindex(*period) if np.any(np.all(node_pos % period == np.array(c), axis=1))
    ]
    probes = np.zeros((len(colours), aff.n))
    for k, colour in enumerate(colours):
        members = np.all(node_pos % period == np.array(colour), axis=1)
        probes[k, aff.slices[name].start + np.flatnonzero(members)] = 1.0
    responses = aff.apply_many(probes)
    for colour, jv in zip(colours, responses, strict=True):
        hit = np.flatnonzero(jv)
        if hit.size == 0:
            continue
        # The unique colour node within reach of each row: p + ((c − p + R) mod P) − R.
        p = row_pos[hit]
        q = p + (np.array(colour) - p + reach) % period - reach
        q = np.where(periodic, q % np.array(shape), q)
        ok = np.all((q >= 0) & (q < np.array(shape)), axis=1)
        rows.append(hit[ok])
        cols.append(np.ravel_multi_index(tuple(q[ok].T), shape))
        vals.append(jv[hit[ok]])
    m = aff.row_nodes.size
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(m, int(np.prod(shape))),
    )
