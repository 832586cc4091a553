"""The direct (network-free) solver: weak-form least squares on the mollified data.

For a residual ``R(θ)`` affine in the unknowns ``θ`` (detected automatically), ``R(θ) = J θ + b``
with ``b = R(0)`` and ``J θ = R(θ) − b``. The solver

* builds ``J`` column by column for constants;
* recognises *pointwise* fields — the residual at a node depends only on the field's value at that
  node (e.g. ``p.lam * d(f.u, "xx")``) — from two probes, ``J v = (J 1) ⊙ v`` for a random ``v``,
  and solves them node by node, ``λ̂_j = −Σ_i a_i b_i / Σ_i a_i²`` over the residual nodes ``i``
  that share the field node ``j`` (the paper's ``λ̂ = û_t / D[û]`` when one node each);
* solves everything else (several fields; fields whose derivatives appear, as in ``∇·(λ∇u)``)
  as sparse regularised least squares on the exact Jacobian, assembled by graph colouring, with
  Tikhonov or total-variation regularisation of the fields, its strength chosen from the data by
  default (:mod:`mollifier.inverse.regularization`).

A field declared ``positive`` is bounded below by 0: per node on the closed-form path, by a
bound-constrained solve otherwise (``diagnostics["positivity"]`` counts the active bounds).

Only interior nodes (``problem.interior``) enter; each row is weighted by the inverse of its noise
gain (the ℓ2 norm of its stencils relative to the interior ones: 1 in the interior, above 1 near
the edges with edge kernels or extrapolation). Field nodes whose coefficient is too small to
determine them (``Σ a² < identifiability² · median Σ a²``) are returned as NaN and counted in the
diagnostics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from mollifier._options import check_fields
from mollifier.derivatives import MollifierDerivatives
from mollifier.inverse._closed import row_index, solve_closed
from mollifier.inverse._widthsearch import RungSolver
from mollifier.inverse.autowidth import stability_scale
from mollifier.inverse.bootstrap import bootstrap_std
from mollifier.inverse.noise import estimate_noise
from mollifier.inverse.regularization import Tikhonov, TotalVariation, solve_coupled
from mollifier.inverse.result import Result, peak_memory_mb
from mollifier.inverse.solver import AbstractSolver, register_width_refiner
from mollifier.inverse.uncertainty import PointwiseBlock, propagate_noise
from mollifier.inverse.unknowns import Constant, Field

if TYPE_CHECKING:
    from mollifier.inverse.problem import InverseProblem

__all__ = [
    "Direct",
    "MissingDataError",
    "NonAffineResidualError",
    "Tikhonov",
    "TotalVariation",
    "has_closed_form",
    "refine_width",
    "solve_direct",
]


class NonAffineResidualError(ValueError):
    """The residual is not affine in the unknowns, so the direct solver cannot be used; the
    network solver (:class:`~mollifier.Network`) can."""


class MissingDataError(ValueError):
    """Data are missing (NaN where ``mask`` is False): the direct solver needs complete data
    (or ``domain=mask`` with ``boundary="interior"``, which solves on the observed region)."""


@dataclass(frozen=True)
class Direct(AbstractSolver):
    """The direct (network-free) weak-form least-squares solver (see the module docstring).

    Parameters
    ----------
    regularization : Tikhonov, TotalVariation or None
        Penalty on field unknowns. ``None`` (default): pointwise fields are solved node by node
        in closed form, and fields whose derivatives appear (or several fields) get
        ``Tikhonov()`` (``alpha="auto"``: the strength chosen from the data). Given, it applies
        to pointwise fields too (sparse least squares): it pools neighbouring nodes, which calms
        the noisier rows near edges with edge kernels.
    identifiability : float
        Field nodes with ``Σ a² < identifiability² · median(Σ a²)`` are not identifiable and come
        back as NaN.
    seed : int
        Seed of the random probes that detect affinity and structure.
    uncertainty : {"analytic", "bootstrap"} or None
        ``"analytic"``: propagate white noise at the estimated level of each data field
        (:func:`~mollifier.inverse.noise.estimate_noise`) to first order through the estimator
        (:mod:`mollifier.inverse.uncertainty`); only on the closed-form path (no
        regularisation). ``"bootstrap"``: re-solve on ``replicates`` simulated observations
        (:mod:`mollifier.inverse.bootstrap`), seeded by ``seed``; any path. The result then
        carries standard deviations and ``level`` intervals.
    replicates : int
        Bootstrap replicates (its standard deviations have a relative sampling error of about
        ``1/√(2(replicates−1))``: 10% at 50).
    level : float
        Coverage of the intervals, ``θ̂ ± z σ`` with ``z`` the normal quantile of ``(1+level)/2``.

    Examples
    --------
    >>> Direct(regularization=Tikhonov(0.1)).regularization.alpha
    0.1
    """

    regularization: Tikhonov | TotalVariation | None = None
    identifiability: float = 1e-2
    seed: int = 0
    uncertainty: Literal["analytic", "bootstrap"] | None = None
    level: float = 0.95
    replicates: int = 50

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.identifiability > 0:
            raise ValueError(f"Direct.identifiability must be positive, got {self.identifiability}")
        if not 0 < self.level < 1:
            raise ValueError(f"Direct.level must lie in (0, 1), got {self.level}")
        if self.replicates < 2:
            raise ValueError(f"Direct.replicates must be at least 2, got {self.replicates}")

    def solve(self, problem: InverseProblem, **run: Any) -> Result:
        """Solve ``problem``; the direct solver has no run-time options."""
        if run:
            raise TypeError(f"the direct solver takes no run-time options, got {sorted(run)}")
        return solve_direct(
            problem,
            regularization=self.regularization,
            identifiability=self.identifiability,
            seed=self.seed,
            uncertainty=self.uncertainty,
            level=self.level,
            replicates=self.replicates,
        )


def refine_width(problem: InverseProblem, *, solver: Direct | None = None) -> InverseProblem:
    """``problem`` with its widths refined by the stability of the direct solution.

    The widths of a problem built with ``width="auto"`` come from the data's spectrum alone
    (``width_rule == "spectral"``). When the residual is affine and the direct solver has a
    closed form on it (and the data are complete), this scales the spectral widths together over
    a ladder, solves at each rung, and keeps the rung where the unknowns change least
    (:func:`~mollifier.inverse.autowidth.stability_scale`); the returned problem has
    ``width_rule == "spectral+stability"`` and the ladder in ``width_ladder``. Otherwise (a
    non-affine residual, coupled fields, missing data) or when the widths were given (or already
    refined), ``problem`` is returned unchanged.

    Each rung is the closed form without the positivity bound, from one batched residual
    evaluation, on the fully interior rows when the problem has edge kernels
    (:class:`~mollifier.inverse._widthsearch.RungSolver`); of ``solver`` only
    ``identifiability`` and ``seed`` are used.

    Examples
    --------
    >>> import numpy as np, mollifier as ml
    >>> t, x = np.linspace(0, 1, 41), np.linspace(0, 2, 51)
    >>> grid = ml.Grid(t=t, x=x)
    >>> T, X = grid.mesh()
    >>> u = np.exp(-0.3 * np.pi**2 * T) * np.sin(np.pi * X)
    >>> p = ml.InverseProblem(grid=grid, data={"u": u}, unknowns={"nu": ml.Constant()},
    ...     residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx"), width="auto")
    >>> refine_width(p).width_rule
    'spectral+stability'
    """
    solver = Direct() if solver is None else solver
    if problem.width_rule != "spectral" or problem.width_guess is None:
        return problem  # widths given, or already refined
    guess = problem.width_guess
    if problem.mask is not None and not problem.mask.all():
        return problem
    rungs = RungSolver(problem, identifiability=solver.identifiability, seed=solver.seed)
    if not rungs.closed_form(guess):
        return problem  # not affine, or each rung would need an iterative solve
    lower, upper = problem.width_bounds()
    chosen, ladder = stability_scale(rungs, guess, lower=lower, upper=upper)
    refined = problem.with_width(chosen)
    refined.width_rule = "spectral+stability"
    refined.width_guess = dict(guess)
    refined.width_ladder = ladder
    return refined


register_width_refiner(refine_width)


class _Affine:
    """``θ ↦ R(θ)`` restricted to interior rows, with the parameter layout."""

    def __init__(self, problem: InverseProblem, fields: dict[str, torch.Tensor]) -> None:
        self.problem = problem
        self.fields = fields
        self.names = list(problem.unknowns)
        self.shapes = {n: problem.unknown_shape(n) for n in self.names}
        self.sizes = {n: int(np.prod(s)) if s else 1 for n, s in self.shapes.items()}
        offsets = np.cumsum([0] + [self.sizes[n] for n in self.names])
        self.slices = {
            n: slice(int(offsets[i]), int(offsets[i + 1])) for i, n in enumerate(self.names)
        }
        self.n = int(offsets[-1])
        self.n_eq = problem.n_equations
        self.rows = torch.as_tensor(problem.interior.reshape(-1))
        # the grid node (flat index) behind each row; a system repeats the interior per equation
        self.row_nodes = np.tile(np.flatnonzero(problem.interior.reshape(-1)), self.n_eq)
        # Rows are weighted by the inverse of their noise gain (1 in the interior): weighted
        # least squares for rows whose stencils amplify noise more (edge kernels, extrapolation).
        self.gain = _noise_gain(problem)
        # (a row quieter than the interior is not up-weighted: an extension can null a row)
        self.weights = torch.as_tensor(1.0 / np.maximum(self.gain.reshape(-1)[self.row_nodes], 1.0))
        self.b = self.residual(torch.zeros(self.n, dtype=torch.float64))
        bad = int((~torch.isfinite(self.b)).sum())
        if bad and any(np.isnan(v).any() for v in problem.data.values()):
            raise MissingDataError(
                f"the residual is NaN or infinite at {bad} of its {self.b.numel()} rows because "
                "data are missing (NaN where mask= is False): the direct solver needs complete "
                "data, as its convolutions carry a missing value into rows. Solve on the observed "
                "region only with domain=mask and boundary='interior', or use the network "
                "solver, problem.solve(ml.Network(...)), which fits the data where they are "
                "observed and the equation everywhere."
            )

    def params(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for n in self.names:
            v = theta[self.slices[n]]
            v = v.reshape(self.shapes[n]) if self.shapes[n] else v[0]
            out[n] = self.problem.broadcast_unknown(n, v)
        return out

    def residual(self, theta: torch.Tensor) -> torch.Tensor:
        """The weighted residual rows at ``theta``."""
        r = self.problem.mollifier_residual(self.fields, self.params(theta))
        return r.reshape(self.n_eq, -1)[:, self.rows].reshape(-1) * self.weights

    def apply(self, theta: np.ndarray) -> np.ndarray:
        """``J θ`` (float64 numpy)."""
        with torch.no_grad():
            return (self.residual(torch.as_tensor(theta)) - self.b).numpy()

    def apply_many(self, thetas: np.ndarray, *, chunk: int = 64) -> np.ndarray:
        """``J θ`` for each row of ``thetas`` (shape (B, n)), in batches through the layer.

        The parameters get a leading ``(batch, channel)`` pair, which the mollifier layer and
        ordinary broadcasting carry through a residual written with elementwise operations; a
        residual whose output does not come back batched is evaluated probe by probe instead.
        """
        out = np.empty((thetas.shape[0], self.row_nodes.size))
        grid_shape = self.problem.grid.shape
        lead = () if self.n_eq == 1 else (self.n_eq,)
        for start in range(0, thetas.shape[0], chunk):
            block = torch.as_tensor(thetas[start : start + chunk])
            bsz = block.shape[0]
            params = {}
            for n in self.names:
                v = block[:, self.slices[n]]
                if self.shapes[n]:
                    one = self.problem.broadcast_unknown(n, v[0].reshape(self.shapes[n]))
                    params[n] = v.reshape(bsz, 1, *one.shape)
                else:
                    params[n] = v.reshape(bsz, 1, *([1] * len(grid_shape)))
            with torch.no_grad():
                d = MollifierDerivatives(self.problem.layer, grid_shape)
                r = self.problem.evaluate(self.fields, params, d)
            if tuple(r.shape) != (*lead, bsz, 1, *grid_shape):
                for i in range(bsz):
                    out[start + i] = self.apply(thetas[start + i])
                continue
            r = r.reshape(*lead, bsz, -1)
            if lead:  # (equation, batch, node) → (batch, equation, node)
                r = r.transpose(0, 1)
            flat = r.reshape(bsz, self.n_eq, -1)[:, :, self.rows].reshape(bsz, -1) * self.weights
            out[start : start + bsz] = (flat - self.b[None, :]).numpy()
        return out


def _probe(rng: np.random.Generator, aff: _Affine) -> np.ndarray:
    theta = np.empty(aff.n)
    for n in aff.names:
        init = float(aff.problem.unknowns[n].init)
        theta[aff.slices[n]] = rng.normal(size=aff.sizes[n]) * max(1.0, abs(init))
    return theta


def _check_affine(aff: _Affine, rng: np.random.Generator) -> None:
    """Randomised test of R(a + b) − R(a) − R(b) + R(0) = 0, per unknown on failure."""

    def defect(mask: np.ndarray | None) -> float:
        a, b = _probe(rng, aff), _probe(rng, aff)
        if mask is not None:
            a, b = a * mask, b * mask
        with torch.no_grad():
            ra = aff.residual(torch.as_tensor(a))
            rb = aff.residual(torch.as_tensor(b))
            rab = aff.residual(torch.as_tensor(a + b))
        num = float(torch.linalg.norm(rab - ra - rb + aff.b))
        den = (
            float(
                torch.linalg.norm(ra - aff.b)
                + torch.linalg.norm(rb - aff.b)
                + torch.linalg.norm(aff.b)
            )
            + 1e-300
        )
        return num / den

    if defect(None) <= 1e-9:
        return
    culprits = []
    for n in aff.names:
        mask = np.zeros(aff.n)
        mask[aff.slices[n]] = 1.0
        if defect(mask) > 1e-9:
            culprits.append(n)
    names = culprits or aff.names
    raise NonAffineResidualError(
        f"the residual is not affine in the unknowns {names} (e.g. it squares an unknown, "
        "multiplies two unknowns or puts one inside exp); the direct solver (ml.Direct) needs a "
        "residual affine in the unknowns. Use the network solver, problem.solve(ml.Network()), "
        "which trains on any residual (docs/inverse.md), or reparametrise so that each unknown "
        "enters linearly."
    )


def _field_columns(aff: _Affine, name: str, rng: np.random.Generator) -> np.ndarray | None:
    """Coefficients ``a_i`` if field ``name`` enters pointwise, else None."""
    sl = aff.slices[name]
    ones = np.zeros(aff.n)
    ones[sl] = 1.0
    a = aff.apply(ones)
    v = np.zeros(aff.n)
    v[sl] = rng.normal(size=aff.sizes[name])
    jv = aff.apply(v)
    expanded = _expand(aff, name, v[sl])
    scale = np.linalg.norm(a * expanded) + 1e-300
    if np.linalg.norm(jv - a * expanded) <= 1e-9 * scale:
        return a
    return None


def _expand(aff: _Affine, name: str, values: np.ndarray) -> np.ndarray:
    return values[row_index(aff, name)]


def has_closed_form(problem: InverseProblem, *, seed: int = 0) -> bool:
    """Whether the direct solver takes its closed-form path on ``problem``: the residual is affine,
    and at most one field unknown enters, pointwise (no LSQR iterations needed).

    Raises
    ------
    NonAffineResidualError
        If the residual is not affine in the unknowns.
    """
    rng = np.random.default_rng(seed)
    fields = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in problem.data.items()}
    aff = _Affine(problem, fields)
    _check_affine(aff, rng)
    field_names = [n for n in aff.names if isinstance(problem.unknowns[n], Field)]
    return len(field_names) <= 1 and all(
        _field_columns(aff, n, rng) is not None for n in field_names
    )


def solve_direct(
    problem: InverseProblem,
    *,
    regularization: Tikhonov | TotalVariation | None = None,
    identifiability: float = 1e-2,
    seed: int = 0,
    uncertainty: str | None = None,
    level: float = 0.95,
    replicates: int = 50,
) -> Result:
    """Solve an affine inverse problem by weak-form least squares (see the module docstring).

    Parameters
    ----------
    problem : InverseProblem
    regularization : Tikhonov, TotalVariation or None
        Penalty on field unknowns. ``None`` (default) for pointwise fields, which need none;
        fields whose derivatives appear get ``Tikhonov()`` (``alpha="auto"``) unless told
        otherwise.
    identifiability : float
        Field nodes with ``Σ a² < identifiability² · median(Σ a²)`` are not identifiable and come
        back as NaN.
    seed : int
        Seed of the random probes used to detect affinity and structure (and of the noise draws
        and trace probes of ``alpha="auto"``).
    uncertainty, level, replicates
        As for :class:`Direct`.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    fields = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in problem.data.items()}
    aff = _Affine(problem, fields)
    _check_affine(aff, rng)
    b = aff.b.numpy()
    diagnostics: dict[str, Any] = {"affine": True, "rows": int(b.size), "structure": {}}
    constants = [n for n in aff.names if isinstance(problem.unknowns[n], Constant)]
    field_names = [n for n in aff.names if isinstance(problem.unknowns[n], Field)]
    pointwise = {n: _field_columns(aff, n, rng) for n in field_names}
    for n in field_names:
        diagnostics["structure"][n] = "pointwise" if pointwise[n] is not None else "coupled"
    noise_std = {k: estimate_noise(v) for k, v in problem.observed.items()}
    unidentified: dict[str, np.ndarray] = {}
    block: PointwiseBlock | None = None
    closed = regularization is None or not field_names
    closed = closed and all(pointwise[n] is not None for n in field_names) and len(field_names) <= 1
    if closed:
        theta, block = solve_closed(
            aff, b, constants, field_names, pointwise, identifiability, diagnostics
        )
        if block is not None:
            unidentified[block.name] = ~block.good
    else:
        reg = regularization if regularization is not None else Tikhonov()
        theta = solve_coupled(aff, b, field_names, reg, noise_std, seed, diagnostics)
    unknowns: dict[str, Any] = {}
    for n in aff.names:
        v = theta[aff.slices[n]]
        unknowns[n] = float(v[0]) if not aff.shapes[n] else v.reshape(aff.shapes[n])
    spread = None
    if uncertainty == "analytic":
        if not closed:
            raise ValueError(
                "uncertainty='analytic' propagates noise through the closed-form (unregularised) "
                "solver only; drop the regularization or use uncertainty=None"
            )
        t1 = time.perf_counter()
        spread = propagate_noise(aff, theta, constants=constants, block=block, noise_std=noise_std)
        diagnostics["naive_ols_std"] = spread["naive_std"]
        if spread["at_bound"]:  # std NaN there: the bound, not the noise, fixes those nodes
            diagnostics["uncertainty_at_bound"] = spread["at_bound"]
        diagnostics["uncertainty_time_s"] = time.perf_counter() - t1
    result = _finish(problem, aff, theta, unknowns, unidentified, diagnostics, t0)
    result.noise_std = noise_std
    if spread is not None:
        result.set_uncertainty(spread["std"], method="analytic", level=level)
    elif uncertainty == "bootstrap":
        t1 = time.perf_counter()
        std = bootstrap_std(
            problem,
            result,
            solve=lambda p: solve_direct(
                p, regularization=regularization, identifiability=identifiability, seed=seed
            ),
            replicates=replicates,
            seed=seed,
        )
        result.diagnostics["uncertainty_time_s"] = time.perf_counter() - t1
        result.set_uncertainty(std, method="bootstrap", level=level)
    return result


def _noise_gain(problem: InverseProblem) -> np.ndarray:
    """Per grid node, the largest noise gain (:meth:`~mollifier.MollifierLayer.noise_gain`) of
    the derivatives the residual takes: how much noisier that node's row is than an interior
    one (1 in the interior; above 1 near edges with edge kernels or extrapolation)."""
    axes = problem.grid.axes
    gain = np.ones(problem.grid.shape)
    for orders in set(problem.orders):
        spec = "".join(a * k for a, k in zip(axes, orders, strict=True))
        gain = np.maximum(gain, problem.layer.noise_gain(problem.grid.shape, spec))
    return gain


def _finish(
    problem: InverseProblem,
    aff: _Affine,
    theta: np.ndarray,
    unknowns: dict[str, Any],
    unidentified: dict[str, np.ndarray],
    diagnostics: dict[str, Any],
    t0: float,
) -> Result:
    grid = problem.grid
    with torch.no_grad():
        fields_t = {k: torch.as_tensor(v) for k, v in problem.data.items()}
        filled = np.nan_to_num(theta, nan=0.0)
        r = problem.mollifier_residual(fields_t, aff.params(torch.as_tensor(filled))).numpy()
        moll = {k: problem.layer(v[None, None], "")[0, 0].numpy() for k, v in fields_t.items()}
    residual, equations = problem.residual_maps(r)
    unknown_axes = problem.unknown_axes
    result = Result(
        method="direct",
        grid=grid,
        unknowns=unknowns,
        unknown_axes=unknown_axes,
        fields=moll,
        residual=residual,
        equations=equations,
        interior=problem.interior,
        data=problem.data,
        truth=problem.truth,
        widths={**problem.width, "rule": problem.width_rule},
        config={
            "method": "direct",
            "kernel": repr(problem.kernel),
            "boundary": repr(problem.boundary),
            "crop": problem.crop,
        },
        diagnostics=diagnostics,
    )
    result.blank_unconstrained()
    for n in unknown_axes:
        if unknown_axes[n]:
            keep = result.unknown_mask(n)
            val = result.unknowns[n]
            bad = unidentified.get(n)
            if bad is not None:
                diagnostics.setdefault("unidentifiable_nodes", {})[n] = int(
                    np.sum(bad.reshape(val.shape) & keep)
                )
            u = problem.unknowns[n]
            if u.positive:
                diagnostics.setdefault("nonpositive_nodes", {})[n] = int(np.sum(val <= 0))
                negative = int(np.sum(val < 0))  # the bounded solves keep 0 <= λ̂
                if negative:
                    result.mark_unreliable(
                        f"field {n!r} is declared positive but {negative} of its nodes came out "
                        "negative: the direct solver could not keep the bound"
                    )
        elif problem.unknowns[n].positive and unknowns[n] <= 0:
            diagnostics.setdefault("nonpositive", []).append(n)
    gain = aff.gain
    result.extras["noise_gain"] = gain
    rows = gain[problem.interior]
    diagnostics["noise_gain"] = {
        "median": float(np.median(rows)),
        "max": float(np.max(rows)),
        "above_2": float(np.mean(rows > 2.0)),
    }
    result.compute_metrics()
    result.wall_time_s = time.perf_counter() - t0
    result.peak_memory_mb = peak_memory_mb("cpu")
    return result
