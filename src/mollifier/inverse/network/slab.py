"""One process's share of a distributed network fit: a slab of the grid and its loss.

The grid is split along one axis (``split``) into ``N`` slabs of consecutive nodes,
``[⌊r n / N⌋, ⌊(r + 1) n / N⌋)`` for rank ``r``, whole along every other axis. A slab is a tile
of :mod:`~mollifier.inverse.network.tiles` whose segments along the other axes are the whole
axis: its *core* is the slab, its extended node set along ``split`` the core grown ``depth``
times by the nonzero columns of the full-grid operators ``D_k`` (periodic halos wrap, reflecting
ones fold back, ``"interior"`` edge slabs reach their edge kernels' nodes) plus the node after
the core (for first differences), and the derivatives apply the restrictions ``D_k[E, E]``
along ``split`` and the full ``D_k`` along the other axes. After ``depth`` nested derivatives
the core's values equal the full grid's to round-off.

**The loss.** :class:`SlabLoss` returns this slab's part of every term of
:mod:`~mollifier.inverse.network.loss`: the sums over its core nodes (observed nodes, residual
rows) divided by the *global* counts, so that the sum over ranks is the single-process loss:

    L = Σ_r L_r,   L_r = Σ_{i ∈ core_r ∩ A} g_i / |A|,

for the data misfit (pointwise or mollified), every equation's scaled residual, and the first
differences of field channels (attributed to the pair's lower node). The exact penalty on
parameter fields (not network outputs, held whole by every rank) is added by rank 0 only. The
gradient is linear in the loss, so the all-reduced (summed) gradient is the single-process one.

**The data.** :class:`SlabProblem` holds the slab's extended part of every data field, mask,
known input and residual-row mask, plus the global numbers the loss needs (counts, the data's
mean and standard deviation, the residual scales ``R₀_e``, the nesting depth), all computed from
the full :class:`~mollifier.inverse.problem.InverseProblem` once at setup, which is then
dropped: training holds only the slab.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier.autodiff import AutodiffDerivatives
from mollifier.grid import Grid
from mollifier.inverse.network.loss import residual_scales
from mollifier.inverse.network.model import FieldModel
from mollifier.inverse.network.tiles import TileDerivatives, derivative_depth, extended_nodes
from mollifier.inverse.problem import InverseProblem
from mollifier.inverse.residual import equation_terms, residual_failure
from mollifier.inverse.unknowns import Constant, Namespace

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = [
    "Slab",
    "SlabLoss",
    "SlabProblem",
    "slab_bounds",
    "slab_coordinates",
    "use_global_statistics",
]


def slab_bounds(n: int, world: int) -> list[tuple[int, int]]:
    """The core ``[lo, hi)`` of each of ``world`` slabs of an axis of ``n`` nodes (sizes differ
    by at most one).

    Raises
    ------
    ValueError
        If there are more slabs than nodes.

    Examples
    --------
    >>> slab_bounds(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    if world > n:
        raise ValueError(f"cannot split an axis of {n} nodes into {world} slabs; use <= {n} ranks")
    return [(r * n // world, (r + 1) * n // world) for r in range(world)]


@dataclass(frozen=True)
class Slab:
    """Rank ``rank``'s slab along grid axis number ``axis``: core ``[lo, hi)``, extended nodes
    ``index`` (ascending grid indices along the axis)."""

    axis: int
    lo: int
    hi: int
    index: np.ndarray

    @property
    def core(self) -> np.ndarray:
        """Which positions of :attr:`index` are core nodes (bool, ``(L,)``)."""
        return (self.index >= self.lo) & (self.index < self.hi)

    def take(self, array: np.ndarray) -> np.ndarray:
        """The extended slab of a grid-shaped ``array`` (a copy: the full array can be freed)."""
        return np.ascontiguousarray(np.take(array, self.index, axis=self.axis))


class SlabProblem:
    """What one rank of a distributed fit keeps of an :class:`InverseProblem` (module
    docstring): the slab's data, the residual and the unknowns, and global scalars.

    Attributes
    ----------
    grid : Grid
        The full grid (its coordinate vectors only).
    slab : Slab
    shape : tuple of int
        The extended slab's shape: the grid's with ``len(slab.index)`` along the split axis.
    data, known, mask, interior : arrays of :attr:`shape` (known inputs may be floats)
    ops : list of ndarray
        Per axis, the operators ``(n_orders, L_a, L_a)``.
    n_seen : dict
        Observed nodes per data field on the whole grid; ``n_interior`` the residual rows.
    mean, std : list of float
        Each data field's mean and standard deviation over its observed nodes (whole grid).
    scales : list of float
        ``R₀_e`` (:func:`~mollifier.inverse.network.loss.residual_scales`).
    depth : int
        The residual's nesting depth (:func:`~mollifier.inverse.network.tiles.derivative_depth`).
    """

    def __init__(
        self, problem: InverseProblem, *, axis: str, rank: int, world: int, solver: Network
    ):
        if problem.domain is not None:
            raise ValueError(
                "a distributed fit splits a rectangular grid into slabs; this problem has a "
                "domain=, whose per-run edge kernels are not decomposed: fit it in one process"
            )
        grid = problem.grid
        if axis not in grid.axes:
            raise ValueError(f"split axis {axis!r} is not an axis of the grid {grid.axes}")
        a = grid.index(axis)
        lo, hi = slab_bounds(grid.shape[a], world)[rank]
        if solver.derivatives == "mollifier":
            depth = derivative_depth(problem)
        else:  # autodiff derivatives are pointwise; only the mollified data needs a halo
            depth = int(solver.data_loss == "mollified")
        like = torch.zeros((), dtype=torch.float64)
        orders = tuple(range(problem.layer.max_order + 1))
        dense = [
            problem.layer.operator(b, orders, n, like).numpy()
            for b, n in zip(grid.axes, grid.shape, strict=True)
        ]
        index = extended_nodes(dense[a], lo=lo, hi=hi, depth=depth)
        self.slab = slab = Slab(axis=a, lo=lo, hi=hi, index=index)
        self.ops = [d if b != a else d[:, index][:, :, index] for b, d in enumerate(dense)]
        self.grid: Grid = grid
        self.residual = problem.residual
        self.unknowns = dict(problem.unknowns)
        self.equations = problem.equations
        self.equation_scale = list(problem.equation_scale)
        self.depth = depth
        self.shape = tuple(len(index) if b == a else n for b, n in enumerate(grid.shape))
        self.data = {k: slab.take(v) for k, v in problem.data.items()}
        self.mask = None if problem.mask is None else slab.take(problem.mask)
        self.known: dict[str, Any] = {
            k: v if isinstance(v, float) else slab.take(v) for k, v in problem.known.items()
        }
        self.interior = slab.take(problem.interior)
        self.n_interior = int(problem.interior.sum())
        self.n_seen, self.mean, self.std = {}, [], []
        for k, arr in problem.data.items():
            seen = np.isfinite(arr) if problem.mask is None else problem.mask
            self.n_seen[k] = int(seen.sum())
            self.mean.append(float(np.mean(arr[seen])))
            self.std.append(float(np.std(arr[seen])) or 1.0)
        self.scales = residual_scales(problem)

    @property
    def n_equations(self) -> int:
        """Number of equations of the residual."""
        return len(self.equations)

    def unknown_shape(self, name: str) -> tuple[int, ...]:
        """Shape of an unknown's values (on the whole grid)."""
        u = self.unknowns[name]
        if isinstance(u, Constant):
            return ()
        return tuple(self.grid.shape[self.grid.index(b)] for b in u.axes)

    def broadcast_unknown(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """An unknown's values viewed to broadcast against whole-grid tensors."""
        u = self.unknowns[name]
        if isinstance(u, Constant):
            return values
        shape = [self.grid.shape[i] if b in u.axes else 1 for i, b in enumerate(self.grid.axes)]
        return values.reshape(shape)

    def restrict(self, value: torch.Tensor) -> torch.Tensor:
        """A whole-grid-broadcastable tensor restricted to the extended slab along the split
        axis (unchanged where it does not vary along it)."""
        a, nd = self.slab.axis, self.grid.ndim
        if value.ndim == 0:
            return value
        value = value.reshape((1,) * (nd - value.ndim) + tuple(value.shape))
        if value.shape[a] == 1:
            return value
        return value.index_select(a, torch.as_tensor(self.slab.index, device=value.device))

    def evaluate(
        self,
        fields: Mapping[str, torch.Tensor],
        params: Mapping[str, torch.Tensor],
        d: Any,
        *,
        known: Mapping[str, Any],
    ) -> torch.Tensor:
        """The residual as one tensor, a system stacked and scaled as
        :meth:`InverseProblem.evaluate` does."""
        try:
            out = self.residual(
                Namespace("field", {**fields, **known}), d, Namespace("unknown", params)
            )
        except Exception as exc:
            raise residual_failure(self.residual, exc) from exc
        if isinstance(out, torch.Tensor):
            return out
        terms = [torch.as_tensor(t) for t in equation_terms(out).values()]
        if len(terms) == 1:
            return terms[0]
        stacked = torch.broadcast_tensors(*terms)
        return torch.stack([s * t for s, t in zip(self.equation_scale, stacked, strict=True)])


class SlabLoss:
    """This rank's part of the network loss (module docstring); ``loss(step=...)`` returns the
    part (a scalar tensor with its graph) and its terms as floats, which sum over ranks to the
    single-process :class:`~mollifier.inverse.network.loss.PhysicsLoss` and its terms.

    ``coords`` are the extended slab's node coordinates ``(n_local, ndim)``; ``rank`` decides
    who adds the parameter fields' exact penalty (rank 0).
    """

    def __init__(
        self,
        slab: SlabProblem,
        model: FieldModel,
        solver: Network,
        *,
        coords: torch.Tensor,
        rank: int,
    ) -> None:
        if solver.batch is not None:
            raise ValueError(
                "Network.batch (random tiles) and a distributed fit are two ways to split the "
                "grid; a distributed fit uses the full batch: set batch = None"
            )
        n_eq = slab.n_equations
        weights = solver.equation_weights or (1.0,) * n_eq
        if len(weights) != n_eq:
            raise ValueError(
                f"equation_weights has {len(weights)} entries; the residual has {n_eq} equations"
            )
        self.problem, self.model, self.solver, self.coords = slab, model, solver, coords
        self.weights, self.scales, self.rank = tuple(weights), slab.scales, rank
        dtype, dev = coords.dtype, coords.device
        self.d = TileDerivatives(
            slab.grid.axes, [torch.as_tensor(o, dtype=dtype, device=dev)[None] for o in slab.ops]
        )
        shape = (1, *slab.shape)
        along = [1] * slab.grid.ndim
        along[slab.slab.axis] = len(slab.slab.index)
        core = np.broadcast_to(slab.slab.core.reshape(along), slab.shape).copy()
        self.core = torch.as_tensor(core.reshape(shape), device=dev)
        self.rows = self.core & torch.as_tensor(slab.interior.reshape(shape), device=dev)
        self.known = {
            k: v
            if isinstance(v, float)
            else torch.as_tensor(v, dtype=dtype, device=dev).reshape(shape)
            for k, v in slab.known.items()
        }
        self.obs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for k, arr in slab.data.items():
            seen = np.isfinite(arr) if slab.mask is None else slab.mask
            y = torch.as_tensor(np.nan_to_num(arr), dtype=dtype, device=dev).reshape(shape)
            self.obs[k] = (y, self.core & torch.as_tensor(seen.reshape(shape), device=dev))
        self.smooth_obs = {}
        if solver.data_loss == "mollified":
            if slab.mask is not None and not slab.mask.all():
                raise ValueError("data_loss='mollified' needs complete data (no mask)")
            self.smooth_obs = {k: self.d(y) for k, (y, _) in self.obs.items()}

    def residual(self) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The residual ``(n_equations, 1, *shape)``, the fields and channels ``(1, *shape)``."""
        slab, model = self.problem, self.model
        shape, n_eq = self.d.shape, slab.n_equations
        params = {
            k: slab.restrict(v)[None] if v.ndim else v for k, v in model.params_grid().items()
        }
        if self.solver.derivatives == "mollifier":
            flat_fields, flat_chans = model.split(model.net(self.coords))
            fields = {k: v.reshape(shape) for k, v in flat_fields.items()}
            chans = {k: v.reshape(shape) for k, v in flat_chans.items()}
            r = slab.evaluate(fields, {**params, **chans}, self.d, known=self.known)
            full = shape if n_eq == 1 else (n_eq, *shape)
            return torch.broadcast_to(r, full).reshape(n_eq, *shape), fields, chans
        inputs = {
            b: self.coords[:, i].detach().clone().requires_grad_(True)
            for i, b in enumerate(slab.grid.axes)
        }
        flat_fields, flat_chans = model.split(model.net(torch.stack(list(inputs.values()), dim=-1)))
        flat_params = {
            k: torch.broadcast_to(v, shape).reshape(-1) if v.ndim else v for k, v in params.items()
        }
        known = {k: v if isinstance(v, float) else v.reshape(-1) for k, v in self.known.items()}
        r = slab.evaluate(
            flat_fields, {**flat_params, **flat_chans}, AutodiffDerivatives(inputs), known=known
        )
        if n_eq == 1:
            r = torch.broadcast_to(r, (math.prod(shape),)) if r.ndim <= 1 else r.reshape(-1)
        fields = {k: v.reshape(shape) for k, v in flat_fields.items()}
        return r.reshape(n_eq, *shape), fields, {k: v.reshape(shape) for k, v in flat_chans.items()}

    def __call__(self, step: int | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """This rank's part of the loss and of its terms (``step`` is unused: full batch)."""
        slab, solver = self.problem, self.solver
        r, fields, chans = self.residual()
        data = []
        for i, (name, (y, seen)) in enumerate(self.obs.items()):
            std = self.model.std[i]
            if solver.data_loss == "pointwise":
                err = (fields[name] - y)[seen] / std
                data.append(torch.sum(err**2) / slab.n_seen[name])
            else:
                err = (self.d(fields[name]) - self.smooth_obs[name])[self.rows] / std
                data.append(torch.sum(err**2) / slab.n_interior)
        data_term = torch.stack(data).sum()
        res_loss = torch.stack(
            [
                w * torch.sum((r[e][self.rows] / self.scales[e]) ** 2) / slab.n_interior
                for e, w in enumerate(self.weights)
            ]
        ).sum()
        loss = data_term + solver.residual_weight * res_loss
        terms = {"data": float(data_term.detach()), "residual": float(res_loss.detach())}
        if solver.field_regularization > 0:
            reg = self._differences(chans)
            if self.rank == 0:
                reg = reg + self._parameter_penalty()
            loss = loss + solver.field_regularization * reg
            terms["regularization"] = float(reg.detach())
        terms["loss"] = float(loss.detach())
        return loss, terms

    def _parameter_penalty(self) -> torch.Tensor:
        """The exact first-difference penalty of the parameter fields (held whole)."""
        model = self.model
        reg = torch.zeros((), dtype=self.coords.dtype, device=self.coords.device)
        for n, p in model.grid_fields.items():
            v = model.unknown_value(n, p)
            for ax in range(v.ndim):
                reg = reg + torch.mean(torch.diff(v, dim=ax) ** 2)
        return reg

    def _differences(self, chans: dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ over channels and axes of the squared differences of pairs whose lower node is in
        the core, each axis divided by the grid's number of pairs along it."""
        slab = self.problem
        total = torch.zeros((), dtype=self.coords.dtype, device=self.coords.device)
        shape, index = slab.grid.shape, slab.slab.index
        for a in range(slab.grid.ndim):
            n_pairs = math.prod(shape) // shape[a] * (shape[a] - 1)
            size = slab.shape[a] - 1
            mask = self.core.narrow(1 + a, 0, size)
            if a == slab.slab.axis:  # the pair's upper node must be the next grid node
                nxt = torch.as_tensor(np.diff(index) == 1, device=mask.device)
                view = [1] * mask.ndim
                view[1 + a] = size
                mask = mask & nxt.reshape(view)
            for v in chans.values():
                diff = v.narrow(1 + a, 1, size) - v.narrow(1 + a, 0, size)
                total = total + torch.sum(diff[mask] ** 2) / n_pairs
        return total


def slab_coordinates(slab: SlabProblem, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The extended slab's node coordinates ``(n_local, ndim)``, in the C order of
    :attr:`SlabProblem.shape`."""
    grid = slab.grid
    vectors = [np.asarray(grid[b]) for b in grid.axes]
    vectors[slab.slab.axis] = vectors[slab.slab.axis][slab.slab.index]
    mesh = np.meshgrid(*vectors, indexing="ij")
    return torch.stack(
        [torch.as_tensor(m.reshape(-1), dtype=dtype, device=device) for m in mesh], dim=-1
    )


def use_global_statistics(model: FieldModel, slab: SlabProblem) -> None:
    """Set the model's data normalisation to the whole grid's (the slab's own would differ
    between ranks)."""
    with torch.no_grad():  # built as FieldModel builds them (default dtype), then converted
        model.mean.copy_(torch.tensor(list(slab.mean)))
        model.std.copy_(torch.tensor(list(slab.std)))
