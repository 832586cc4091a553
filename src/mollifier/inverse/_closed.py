"""The direct solver's closed-form path: constants by dense least squares, at most one pointwise
field node by node (with its lower bound when it is declared ``positive``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

from mollifier.inverse.regularization import solve_bounded
from mollifier.inverse.uncertainty import PointwiseBlock
from mollifier.inverse.unknowns import Field

if TYPE_CHECKING:
    from mollifier.inverse.direct import _Affine

__all__ = ["blank_unused_constants", "row_index", "solve_closed"]


def row_index(aff: _Affine, name: str) -> np.ndarray:
    """Flat index, within the field's own grid, of the field node behind each interior row."""
    problem = aff.problem
    u = problem.unknowns[name]
    assert isinstance(u, Field)
    idx = np.arange(int(np.prod(aff.shapes[name]))).reshape(aff.shapes[name])
    full = np.broadcast_to(
        problem.broadcast_unknown(name, torch.as_tensor(idx)).numpy(), problem.grid.shape
    )
    return full.reshape(-1)[aff.row_nodes]


def solve_closed(
    aff: _Affine,
    b: np.ndarray,
    constants: list[str],
    field_names: list[str],
    pointwise: dict[str, np.ndarray | None],
    identifiability: float,
    diagnostics: dict[str, Any],
) -> tuple[np.ndarray, PointwiseBlock | None]:
    """Constants by dense least squares once the (at most one) pointwise field is eliminated;
    the field node by node. A ``positive`` field gets its lower bound: per node (no constants)
    the bounded one-dimensional least squares ``max(λ̂_j, 0)``, with constants a joint
    bound-constrained solve (:func:`~mollifier.inverse.regularization.solve_bounded`)."""
    theta = np.full(aff.n, np.nan)
    cols = []
    for n in constants:
        e = np.zeros(aff.n)
        e[aff.slices[n]] = 1.0
        cols.append(aff.apply(e))
    if not field_names:
        c = np.stack(cols, axis=1)
        sol, _, _, sv = np.linalg.lstsq(c, -b, rcond=None)
        for j, n in enumerate(constants):
            theta[aff.slices[n]] = sol[j]
        diagnostics["solver"] = "dense least squares"
        diagnostics["condition_number"] = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
        blank_unused_constants(c, constants, aff, theta, diagnostics)
        return theta, None
    name = field_names[0]
    a = pointwise[name]
    assert a is not None
    idx = row_index(aff, name)
    m = aff.sizes[name]
    aa = np.bincount(idx, weights=a * a, minlength=m)
    b_eff = b
    if cols:
        # Eliminate the field: per field node, project out its column (Schur complement).
        c = np.stack(cols, axis=1)
        ac = np.stack(
            [np.bincount(idx, weights=a * c[:, j], minlength=m) for j in range(c.shape[1])],
            axis=1,
        )
        ab = np.bincount(idx, weights=a * b, minlength=m)
        safe = np.where(aa > 0, aa, np.inf)
        c_red = c - a[:, None] * (ac / safe[:, None])[idx]
        b_red = b - a * (ab / safe)[idx]
        sol, *_ = np.linalg.lstsq(c_red, -b_red, rcond=None)
        for j, n in enumerate(constants):
            theta[aff.slices[n]] = sol[j]
        b_eff = b + c @ sol
        blank_unused_constants(c_red, constants, aff, theta, diagnostics)
    ab = np.bincount(idx, weights=a * b_eff, minlength=m)
    # identifiability from the unweighted coefficients: a noisier row is not a weaker one
    raw = np.bincount(idx, weights=(a / aff.weights.numpy()) ** 2, minlength=m)
    good = raw >= identifiability**2 * np.median(raw[raw > 0]) if np.any(raw > 0) else raw > 0
    lam = np.full(m, np.nan)
    lam[good] = -ab[good] / aa[good]
    if aff.problem.unknowns[name].positive and np.any(lam[good] < 0):
        if cols:
            lam = _bounded_pointwise(aff, theta, constants, c, a, idx, good, b, diagnostics)
        else:
            negative = int(np.sum(lam[good] < 0))
            lam[good] = np.maximum(lam[good], 0.0)
            diagnostics["positivity"] = {name: {"active": negative, "method": "per node"}}
    theta[aff.slices[name]] = lam
    diagnostics["solver"] = "pointwise" + (" + dense constants" if cols else "")
    return theta, PointwiseBlock(name, a, idx, good)


def _bounded_pointwise(
    aff: _Affine,
    theta: np.ndarray,
    constants: list[str],
    c: np.ndarray,
    a: np.ndarray,
    idx: np.ndarray,
    good: np.ndarray,
    b: np.ndarray,
    diagnostics: dict[str, Any],
) -> np.ndarray:
    """Constants and a positive pointwise field jointly, with ``λ ≥ 0`` on its identifiable
    nodes (the rows of the others stay in, their nodes free as in the unconstrained solve);
    writes the constants into ``theta`` and returns the field (NaN where not identifiable)."""
    m = good.size
    field = sp.csr_matrix((a, (np.arange(a.size), idx)), shape=(a.size, m))
    jac = sp.hstack([sp.csr_matrix(c), field]).tocsr()
    used = np.concatenate([np.ones(c.shape[1], bool), np.asarray(field.getnnz(axis=0) > 0)])
    jac = jac[:, used]
    lower = np.concatenate([np.full(c.shape[1], -np.inf), np.where(good, 0.0, -np.inf)])[used]
    sol, record = solve_bounded(jac.T @ jac, -(jac.T @ b), lower, stacked=(jac, b))
    full = np.full(used.size, np.nan)
    full[used] = sol
    for j, n in enumerate(constants):
        if np.isfinite(theta[aff.slices[n]][0]):  # unused constants stay blank
            theta[aff.slices[n]] = full[j]
    name = next(n for n in aff.names if n not in constants)
    diagnostics["positivity"] = {name: record}
    lam = full[c.shape[1] :]
    return np.where(good, lam, np.nan)


def blank_unused_constants(
    c: np.ndarray,
    constants: list[str],
    aff: _Affine,
    theta: np.ndarray,
    diagnostics: dict[str, Any],
) -> None:
    """Constants whose least-squares column vanishes (the residual does not change with them)
    are not identifiable: NaN, listed in ``diagnostics["unidentifiable_constants"]``."""
    norms = np.linalg.norm(c, axis=0)
    dead = [n for j, n in enumerate(constants) if not norms[j] > 1e-12 * max(norms.max(), 1e-300)]
    for n in dead:
        theta[aff.slices[n]] = np.nan
    if dead:
        diagnostics["unidentifiable_constants"] = dead
