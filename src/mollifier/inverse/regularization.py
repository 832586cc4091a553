"""Regularised, bound-constrained least squares for the direct solver's coupled fields, with the
regularisation strength chosen from the data.

The problem, for the weighted residual rows ``R(θ) = J θ + b`` (``m`` rows, ``n`` unknowns), is

    min_θ  ‖J θ + b‖² + α² s² ‖W^{1/2} D θ‖²      subject to  θ_i ≥ ℓ_i,

with ``D`` the first differences of every field (constants are not penalised), ``s²`` the mean
squared column norm of ``J`` (so that ``α`` is relative: ``α = 0.01`` is 1% of the data term's
weight, whatever the units), ``W`` the reweighting of total variation (``W = I`` for Tikhonov) and
``ℓ_i = 0`` on the nodes of a field declared ``positive`` (``−∞`` elsewhere).

**Choosing α** (``alpha="auto"``). Each α of a log-spaced grid over ``search`` is solved with one
sparse LU factorisation of ``A_α = JᵀJ + α² s² DᵀWD``, which also serves the criterion's extra
solves; the best grid point is then refined on a finer log grid between its neighbours. With
``r_α = J θ_α + b``, ``H_α = J A_α⁻¹ Jᵀ`` the influence matrix and ``δR`` the residual rows' noise
(white noise at the estimated level of every data field, :func:`~mollifier.inverse.noise.
estimate_noise`, pushed through the residual at ``θ_α``: a few seeded draws), the criteria are

* ``"discrepancy"``: the largest α with ``‖r_α‖² ≤ E‖(I − H_α) δR‖²``, the residual that noise
  alone would leave after the fit (the generalised discrepancy principle; the mollified rows are
  strongly correlated, so the plain ``m σ²`` target does not apply);
* ``"risk"``: the minimum of the predictive-risk estimate ``‖r_α‖² + 2 E[δRᵀ H_α δR]`` (the
  unbiased predictive risk estimator for correlated row noise);
* ``"gcv"``: the minimum of ``‖r_α‖² / (m − tr H_α)²`` (generalised cross-validation, the trace
  by Hutchinson's estimator with Rademacher probes); needs no noise level;
* ``"lcurve"``: the point of largest curvature of ``(log ‖r_α‖, log ‖D θ_α‖)``; needs no noise
  level.

The default, ``"lcurve"`` (:data:`DEFAULT_CRITERION`), was chosen by measurement
(``benchmarks/auto_alpha.py``, RESULTS § 13; transient heat with ``D(x, y)`` inside the divergence):
its error stayed within 1.15× of the best α of a scan in every case, and it needs no noise level.
GCV, which assumes independent rows, picks α near the bottom of the range on the mollified rows
(errors ~6× the best). The discrepancy and risk criteria hit the best α at 5% noise but chose
α ~30× too small at 1% on one draw (errors 3–4×): the residual also holds the mollified
discretisation's model error, which they count as signal, and at low noise it is comparable to
the noise. α is chosen without the bounds; the bounded solve then runs at the
chosen α.

**Bounds** are enforced by a primal–dual active-set method on the normal equations (each step one
sparse solve on the free unknowns; it stops when the active set repeats), with
:func:`scipy.optimize.lsq_linear` on the stacked system as the fallback when it does not settle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import lsq_linear
from scipy.sparse.linalg import splu

from mollifier._options import check_fields
from mollifier.inverse._jacobian import sparse_jacobian
from mollifier.inverse.noise import NOISE_ORDER

if TYPE_CHECKING:
    from mollifier.inverse.direct import _Affine

__all__ = [
    "DEFAULT_CRITERION",
    "Criterion",
    "RowNoise",
    "Tikhonov",
    "TotalVariation",
    "assemble_coupled",
    "difference_operator",
    "row_noise",
    "solve_bounded",
    "solve_coupled",
    "solve_regularized",
]

Criterion = Literal["discrepancy", "risk", "gcv", "lcurve"]
#: Criteria that need the noise level of the data.
NEEDS_NOISE = ("discrepancy", "risk")
#: The criterion of ``alpha="auto"`` unless told otherwise (chosen by RESULTS § 13).
DEFAULT_CRITERION: Criterion = "lcurve"
#: ``θ ↦`` samples of the residual rows' noise at ``θ``, shape ``(draws, m)``.
RowNoise = Callable[[np.ndarray], np.ndarray]

_COARSE = 11  # log-grid points over ``search``
_REFINE = 4  # points between the best coarse point's neighbours (even: none repeats it)
_PROBES = 8  # Hutchinson probes for tr H


def _check_alpha(owner: str, alpha: float | str, search: tuple[float, float]) -> None:
    if isinstance(alpha, str):
        if alpha != "auto":
            raise ValueError(f"{owner}.alpha must be a number >= 0 or 'auto', got {alpha!r}")
    elif not alpha >= 0:
        raise ValueError(f"{owner}.alpha must be non-negative (or 'auto'), got {alpha}")
    if not (len(search) == 2 and 0 < search[0] < search[1]):
        raise ValueError(f"{owner}.search must be (low, high) with 0 < low < high, got {search}")


@dataclass(frozen=True)
class Tikhonov:
    """Penalty ``α² s² Σ ‖∇λ‖²`` (first differences over the field's axes) on field unknowns.

    Parameters
    ----------
    alpha : float or "auto"
        Relative strength: the penalty operator is scaled to the column norm of the data term, so
        ``alpha=1e-2`` means "1% of the data term's weight" whatever the units. ``"auto"``
        chooses it from the data by ``criterion`` (see the module docstring).
    criterion : {"discrepancy", "risk", "gcv", "lcurve"}
        How ``"auto"`` chooses α; ``"discrepancy"`` and ``"risk"`` need a noise estimate of every
        data field.
    search : (float, float)
        The range of relative α that ``"auto"`` searches (log-spaced).

    Examples
    --------
    >>> Tikhonov(0.1).alpha, Tikhonov().alpha
    (0.1, 'auto')
    """

    alpha: float | Literal["auto"] = "auto"
    criterion: Criterion = DEFAULT_CRITERION
    search: tuple[float, float] = (1e-4, 10.0)

    def __post_init__(self) -> None:
        if isinstance(self.search, list):
            object.__setattr__(self, "search", tuple(self.search))
        check_fields(self)
        _check_alpha("Tikhonov", self.alpha, self.search)


@dataclass(frozen=True)
class TotalVariation:
    """Penalty ``α s Σ |∇λ|`` (isotropic TV, smoothed by ``epsilon``) by iteratively reweighted
    least squares; ``alpha``, ``criterion`` and ``search`` as for :class:`Tikhonov` (with
    ``"auto"``, every candidate α runs its own reweighting)."""

    alpha: float | Literal["auto"] = "auto"
    iterations: int = 10
    epsilon: float = 1e-3
    criterion: Criterion = DEFAULT_CRITERION
    search: tuple[float, float] = (1e-4, 10.0)

    def __post_init__(self) -> None:
        if isinstance(self.search, list):
            object.__setattr__(self, "search", tuple(self.search))
        check_fields(self)
        _check_alpha("TotalVariation", self.alpha, self.search)
        if self.iterations < 1 or not self.epsilon > 0:
            raise ValueError("TotalVariation needs iterations >= 1 and epsilon > 0")


def difference_operator(shape: tuple[int, ...]) -> sp.csr_matrix:
    """First differences along every axis of a field of ``shape`` (stacked), C order."""
    n = int(np.prod(shape))
    blocks = []
    for axis, m in enumerate(shape):
        if m < 2:
            continue
        d1 = sp.diags([-np.ones(m - 1), np.ones(m - 1)], [0, 1], shape=(m - 1, m))
        ops = [sp.identity(s) for s in shape]
        ops[axis] = d1
        block = ops[0]
        for op in ops[1:]:
            block = sp.kron(block, op)
        blocks.append(block)
    return sp.vstack(blocks).tocsr() if blocks else sp.csr_matrix((0, n))


class _System:
    """``J``, ``b``, ``D`` and ``JᵀJ``, shared by every α tried."""

    def __init__(self, jac: sp.csr_matrix, b: np.ndarray, penalty: sp.csr_matrix) -> None:
        self.jac, self.b, self.penalty = jac, b, penalty
        self.normal = (jac.T @ jac).tocsc()
        self.rhs = -(jac.T @ b)
        self.scale = float(np.sqrt(jac.multiply(jac).sum() / max(jac.shape[1], 1)))

    def lhs(self, alpha: float, weights: np.ndarray) -> sp.csc_matrix:
        pen = self.penalty.T @ sp.diags(weights) @ self.penalty
        return (self.normal + (alpha * self.scale) ** 2 * pen).tocsc()

    def solve(self, alpha: float, reg: Tikhonov | TotalVariation) -> tuple[np.ndarray, Any, Any]:
        """``θ_α``, the LU factors of ``A_α`` and the final reweighting."""
        weights = np.ones(self.penalty.shape[0])
        iterations = reg.iterations if isinstance(reg, TotalVariation) else 1
        for it in range(iterations):
            lu = splu(self.lhs(alpha, weights))
            theta = lu.solve(self.rhs)
            if isinstance(reg, TotalVariation) and it < iterations - 1:
                weights = _tv_weights(self.penalty @ theta, reg.epsilon)
        return theta, lu, weights


def _tv_weights(grad: np.ndarray, epsilon: float) -> np.ndarray:
    scale = float(np.sqrt(np.mean(grad**2))) or 1.0
    return scale / np.sqrt(grad**2 + (epsilon * scale) ** 2)


def _measure(
    system: _System,
    alpha: float,
    reg: Tikhonov | TotalVariation,
    noise: RowNoise | None,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Every criterion's ingredients at ``alpha`` (one factorisation, a few extra solves)."""
    theta, lu, weights = system.solve(alpha, reg)
    jac = system.jac
    r = jac @ theta + system.b
    out = {
        "alpha": alpha,
        "residual": float(r @ r),
        "penalty": float(np.sum(weights * (system.penalty @ theta) ** 2)),
    }
    z = rng.choice([-1.0, 1.0], size=(_PROBES, jac.shape[1]))
    out["trace"] = float(np.mean([zk @ lu.solve(system.normal @ zk) for zk in z]))
    if noise is not None:
        dr = noise(theta)
        left, absorbed = [], []
        for d in dr:
            fitted = jac @ lu.solve(jac.T @ d)  # H δR
            left.append(float(np.sum((d - fitted) ** 2)))
            absorbed.append(float(d @ fitted))
        out["target"] = float(np.mean(left))
        out["absorbed"] = float(np.mean(absorbed))
    return out


def _scores(points: list[dict[str, float]], criterion: Criterion, m: int) -> np.ndarray:
    """The criterion at each point (sorted by α); the chosen α has the smallest score."""
    res = np.array([p["residual"] for p in points])
    if criterion == "gcv":
        trace = np.array([p["trace"] for p in points])
        return res / np.maximum(m - trace, 1.0) ** 2
    if criterion == "risk":
        return res + 2 * np.array([p["absorbed"] for p in points])
    if criterion == "discrepancy":
        # The largest α whose residual stays below the noise's; if none does, the closest.
        ratio = np.log(res / np.maximum([p["target"] for p in points], 1e-300))
        below = np.flatnonzero(ratio <= 0)
        if below.size == 0:
            return ratio
        return np.where(np.arange(len(points)) == below.max(), -1.0, 1.0 + np.abs(ratio))
    # L-curve: negative curvature of (log ρ, log η) against log α
    la = np.log([p["alpha"] for p in points])
    rho = 0.5 * np.log(res)
    eta = 0.5 * np.log(np.maximum([p["penalty"] for p in points], 1e-300))
    if len(points) < 3:
        return np.zeros(len(points))
    d_rho, d_eta = np.gradient(rho, la), np.gradient(eta, la)
    dd_rho, dd_eta = np.gradient(d_rho, la), np.gradient(d_eta, la)
    kappa = (d_rho * dd_eta - dd_rho * d_eta) / np.maximum(d_rho**2 + d_eta**2, 1e-300) ** 1.5
    return -kappa


def choose_alpha(
    system: _System, reg: Tikhonov | TotalVariation, *, noise: RowNoise | None, seed: int
) -> tuple[float, dict[str, Any]]:
    """The α that ``reg.criterion`` picks, and the record of the search (see the module
    docstring): a coarse log grid over ``reg.search``, then a finer one around the best point."""
    if reg.criterion in NEEDS_NOISE and noise is None:
        raise ValueError(f"criterion {reg.criterion!r} needs the data's noise level")
    rng = np.random.default_rng(seed)
    m = system.jac.shape[0]
    lo, hi = np.log10(reg.search[0]), np.log10(reg.search[1])
    points = [_measure(system, float(a), reg, noise, rng) for a in np.logspace(lo, hi, _COARSE)]
    best = int(np.argmin(_scores(points, reg.criterion, m)))
    left = points[max(best - 1, 0)]["alpha"]
    right = points[min(best + 1, len(points) - 1)]["alpha"]
    fine = np.logspace(np.log10(left), np.log10(right), _REFINE + 2)[1:-1]
    points += [_measure(system, float(a), reg, noise, rng) for a in fine]
    points.sort(key=lambda p: p["alpha"])
    scores = _scores(points, reg.criterion, m)
    chosen = float(points[int(np.argmin(scores))]["alpha"])
    record: dict[str, Any] = {
        "criterion": reg.criterion,
        "alpha": chosen,
        "alphas": [p["alpha"] for p in points],
        "values": [float(s) for s in scores],
        "residual": [p["residual"] for p in points],
        "penalty": [p["penalty"] for p in points],
        "trace": [p["trace"] for p in points],
    }
    if noise is not None:
        record["noise_residual"] = [p["target"] for p in points]
        record["noise_absorbed"] = [p["absorbed"] for p in points]
    at_edge = chosen in (points[0]["alpha"], points[-1]["alpha"])
    record["at_search_edge"] = bool(at_edge)
    return chosen, record


def solve_bounded(
    lhs: sp.spmatrix,
    rhs: np.ndarray,
    lower: np.ndarray,
    *,
    stacked: tuple[sp.spmatrix, np.ndarray] | None = None,
    max_iter: int = 50,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``argmin ½ θᵀ A θ − rhsᵀ θ`` subject to ``θ ≥ lower`` (``−inf`` where unbounded), ``A``
    symmetric positive definite, by a primal–dual active-set method.

    ``stacked = (M, c)`` with ``MᵀM = A`` and ``−Mᵀc = rhs`` (the least-squares form) enables the
    fallback to :func:`scipy.optimize.lsq_linear` if the active set does not settle within
    ``max_iter`` steps. Returns ``θ`` and a record: ``active`` (how many bounds hold with
    equality), ``iterations`` and ``method``.
    """
    a = sp.csc_matrix(lhs)
    bounded = np.isfinite(lower)
    theta = splu(a).solve(rhs)
    if not np.any(theta[bounded] < lower[bounded]):
        return theta, {"active": 0, "iterations": 0, "method": "unconstrained"}
    diag = np.abs(a.diagonal()) + 1e-300
    active = bounded & (theta < lower)
    for it in range(1, max_iter + 1):
        free = ~active
        theta = np.where(active, lower, 0.0)
        sub = a[free][:, free].tocsc()
        theta[free] = splu(sub).solve(rhs[free] - a[free][:, active] @ theta[active])
        grad = a @ theta - rhs  # KKT: grad = 0 on free, grad >= 0 on active
        mult = np.where(active, grad, 0.0)
        new = bounded & (mult + diag * (lower - theta) > 0)
        if np.array_equal(new, active):
            return theta, {"active": int(active.sum()), "iterations": it, "method": "active set"}
        active = new
    if stacked is None:
        raise RuntimeError("the bound-constrained solve did not settle")
    mat, c = stacked
    upper = np.full(lower.shape, np.inf)
    sol = lsq_linear(mat, -c, bounds=(lower, upper), method="trf", tol=1e-12, lsmr_tol="auto")
    theta = np.maximum(sol.x, lower)
    return theta, {
        "active": int(np.sum(bounded & (theta <= lower))),
        "iterations": int(sol.nit),
        "method": "lsq_linear",
    }


def solve_regularized(
    jac: sp.csr_matrix,
    b: np.ndarray,
    penalty: sp.csr_matrix,
    reg: Tikhonov | TotalVariation,
    *,
    lower: np.ndarray | None = None,
    noise: RowNoise | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``θ`` minimising ``‖Jθ + b‖² + α² s² ‖W^{1/2} D θ‖²`` with ``θ ≥ lower`` (module docstring).

    Parameters
    ----------
    jac : sparse (m, n)
        The weighted residual rows' Jacobian ``J``.
    b : ndarray (m,)
        The rows at ``θ = 0``.
    penalty : sparse (p, n)
        ``D``: first differences of the fields (zero columns for constants).
    reg : Tikhonov or TotalVariation
        With ``alpha="auto"``, α is chosen by ``reg.criterion``.
    lower : ndarray (n,), optional
        Lower bounds (``−inf`` where unbounded); None for none.
    noise : callable, optional
        ``θ ↦`` draws of the rows' noise at ``θ``, shape ``(draws, m)``; the noise-based criteria
        need it.
    seed : int
        Seed of the Hutchinson probes.

    Returns
    -------
    theta, record
        ``record`` holds ``alpha`` (the relative α used), for ``"auto"`` the ``search``
        (criterion, α grid and criterion values), and for bounds the ``positivity`` record of
        :func:`solve_bounded`.
    """
    system = _System(jac, b, penalty)
    record: dict[str, Any] = {"kind": type(reg).__name__}
    if reg.alpha == "auto":
        alpha, record["search"] = choose_alpha(system, reg, noise=noise, seed=seed)
    else:
        alpha = float(reg.alpha)
    record["alpha"] = alpha
    theta, _, weights = system.solve(alpha, reg)
    if lower is not None and np.any(np.isfinite(lower)):
        pen = sp.diags(np.sqrt(weights)) @ penalty * (alpha * system.scale)
        stacked = (sp.vstack([jac, pen]).tocsr(), np.concatenate([b, np.zeros(pen.shape[0])]))
        theta, record["positivity"] = solve_bounded(
            system.lhs(alpha, weights), system.rhs, lower, stacked=stacked
        )
    return np.asarray(theta, dtype=float), record


def assemble_coupled(
    aff: _Affine, field_names: list[str]
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """``J`` (dense columns for constants, coloured sparse blocks for fields, checked against the
    residual), the penalty ``D`` and the lower bounds (0 on ``positive`` fields, else ``−inf``)."""
    blocks = []
    for n in aff.names:
        if n in field_names:
            blocks.append(sparse_jacobian(aff, n))
        else:
            e = np.zeros(aff.n)
            e[aff.slices[n]] = 1.0
            blocks.append(sp.csr_matrix(aff.apply(e)[:, None]))
    jac = sp.hstack(blocks).tocsr()
    check = np.random.default_rng(2).normal(size=aff.n)
    mismatch = np.linalg.norm(jac @ check - aff.apply(check)) / np.linalg.norm(aff.apply(check))
    if mismatch > 1e-8:
        raise RuntimeError(f"sparse Jacobian does not reproduce the residual (rel. {mismatch:.1e})")
    diffs = [
        difference_operator(aff.shapes[n]) if n in field_names else sp.csr_matrix((0, 1))
        for n in aff.names
    ]
    lower = np.full(aff.n, -np.inf)
    for n in field_names:
        if aff.problem.unknowns[n].positive:
            lower[aff.slices[n]] = 0.0
    return jac, sp.block_diag(diffs).tocsr(), lower


def solve_coupled(
    aff: _Affine,
    b: np.ndarray,
    field_names: list[str],
    reg: Tikhonov | TotalVariation,
    noise_std: dict[str, float],
    seed: int,
    diagnostics: dict[str, Any],
) -> np.ndarray:
    """Sparse regularised least squares on the exact Jacobian, with ``positive`` fields bounded
    below by 0 (:func:`assemble_coupled`, :func:`solve_regularized`); fills ``diagnostics``."""
    jac, penalty, lower = assemble_coupled(aff, field_names)
    noise = None
    if reg.alpha == "auto" and reg.criterion in NEEDS_NOISE:
        missing = sorted(k for k, s in noise_std.items() if not np.isfinite(s))
        if missing:
            raise ValueError(
                f"alpha='auto' with criterion={reg.criterion!r} needs the noise level of every "
                f"data field, but none can be estimated for {missing} (an axis needs at least "
                f"{2 * NOISE_ORDER + 2} points); give a number for alpha, or use "
                "criterion='gcv' or 'lcurve'"
            )
        noise = row_noise(aff, noise_std, seed)
    theta, record = solve_regularized(
        jac,
        b,
        penalty,
        reg,
        lower=lower if np.isfinite(lower).any() else None,
        noise=noise,
        seed=seed,
    )
    if "positivity" in record:
        diagnostics["positivity"] = {
            n: record.pop("positivity") for n in field_names if aff.problem.unknowns[n].positive
        }
    diagnostics["solver"] = f"sparse normal equations ({type(reg).__name__})"
    diagnostics["jacobian_nnz"] = int(jac.nnz)
    diagnostics["regularization"] = {"repr": repr(reg), **record}
    return theta


def row_noise(aff: _Affine, noise_std: dict[str, float], seed: int, *, draws: int = 2) -> RowNoise:
    """``θ ↦`` ``draws`` samples of the weighted residual rows' noise at ``θ``: the change of the
    rows when white noise at each data field's estimated level is added to the data (seeded by
    ``seed``; exact for residuals linear in the data, first order otherwise)."""
    rng = np.random.default_rng(seed + 1)
    deltas = []
    for _ in range(draws):
        deltas.append(
            {
                k: aff.fields[k]
                + torch.as_tensor(
                    np.where(np.isfinite(v), rng.standard_normal(v.shape) * noise_std[k], 0.0)
                )
                for k, v in aff.problem.data.items()
            }
        )

    def rows(fields: dict[str, torch.Tensor], params: dict[str, torch.Tensor]) -> torch.Tensor:
        r = aff.problem.mollifier_residual(fields, params)
        return r.reshape(aff.n_eq, -1)[:, aff.rows].reshape(-1) * aff.weights

    def sample(theta: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            params = aff.params(torch.as_tensor(theta))
            base = rows(aff.fields, params)
            return np.stack([(rows(d, params) - base).numpy() for d in deltas])

    return sample
