"""Minibatches of grid tiles with halos for the network solver (``Network(batch=...)``).

The grid is split into a tensor product of segments along each axis: along axis ``a`` of ``n``
nodes, consecutive segments of ``c_a`` nodes (the last one shorter), ``c_a = Network.tile`` or,
by default, twice the tile's halo (at least 4, at most ``n``). A *tile* is one segment per axis;
its *core* is the product of the segments, and every node is in exactly one core. There are
``T = Π_a ceil(n_a / c_a)`` tiles.

**The halo.** Along each axis the full-grid mollifier applies dense operators ``D_k`` of shape
``(n, n)``, one per derivative order ``k``, with the boundary mode folded in
(:meth:`~mollifier.MollifierLayer.operator`: reflected or wrapped neighbours, edge kernels under
``"interior"``). The nodes a row ``i`` reads are the nonzero columns of ``D_k[i]``; a tile's
extended node set along the axis is its segment grown ``depth`` times by those columns, where
``depth`` is how deeply the residual nests ``d(...)`` (:func:`derivative_depth`: 2 for
``d(p.lam * d(f.u, "x"), "x")``). The network is evaluated on the extended set (real grid nodes
only: a periodic tile's halo wraps around, a reflecting tile's folds back, an edge tile under
``"interior"`` reaches the ``2r + 1`` nodes of its edge stencils) and each derivative applies the
restriction ``D_k[E, E]``. Every row of a node within ``depth − 1`` growths of the core reads only
nodes of ``E``, so after ``depth`` nested derivatives the core's values equal the full grid's to
round-off, whatever the boundary mode; values outside the core are discarded.

**The estimate.** Each Adam step draws ``B = Network.batch`` distinct tiles uniformly (seeded by
``Network.seed`` and the step, so a run and its resumption draw the same tiles) and sums the loss
terms' per-node contributions over their cores, scaled by ``T / B``: for any node set ``A``
(observed nodes, residual rows),

    (T / B) Σ_{t drawn} Σ_{i ∈ core_t ∩ A} g_i / |A|,    E[·] = Σ_{i ∈ A} g_i / |A|,

because every core is drawn with probability ``B / T``. The data, residual (per equation, with
the same scales ``R₀_e`` and weights) and field-regularisation terms are unbiased estimates of the
full-batch loss of :mod:`~mollifier.inverse.network.loss`, and so is their gradient; with every
tile drawn they equal it to round-off. The squared differences of network channels are
attributed to the lower node of each pair; parameter fields are regularised exactly.

**Cost.** A step evaluates ``B Π_a L_a`` nodes, ``L_a`` the extended length (the core plus
about ``depth`` stencil radii on each side), whatever the grid's size. The halo is the price: a
core of ``c`` nodes per axis carries ``((c + 2 depth r) / c)^ndim`` times its nodes, 8 in 3-D at
the default core ``c = 2 depth r`` (27 at ``c = depth r``). Building the tiles takes each axis's
dense operators once, ``n_orders × n²`` numbers per axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier.autodiff import AutodiffDerivatives
from mollifier.derivatives import AbstractDerivatives
from mollifier.inverse.network.loss import PhysicsLoss
from mollifier.inverse.network.model import FieldModel
from mollifier.inverse.problem import InverseProblem

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = [
    "AxisTiles",
    "TiledLoss",
    "Tiling",
    "derivative_depth",
    "extended_nodes",
    "make_loss",
]

#: Default core length, in halo widths per side (see the module docstring).
CORE_PER_HALO = 2
#: Shortest default core, in nodes.
MIN_CORE = 4


class _DepthProbe(AbstractDerivatives):
    """Identity 'derivatives' that measure how deeply ``d(...)`` calls nest (autograd tracks
    which earlier outputs an argument depends on)."""

    def __init__(self, axes: Sequence[str]) -> None:
        super().__init__(axes)
        self.outputs: list[tuple[torch.Tensor, int]] = []
        self.depth = 0

    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        t = q if isinstance(q, torch.Tensor) else torch.as_tensor(q, dtype=torch.float64)
        depth = 1
        if t.requires_grad and self.outputs:
            grads = torch.autograd.grad(
                t.sum(), [o for o, _ in self.outputs], allow_unused=True, retain_graph=True
            )
            inner = [k for g, (_, k) in zip(grads, self.outputs, strict=True) if g is not None]
            depth += max(inner, default=0)
        out = t.detach().to(torch.float64).clone().requires_grad_(True)
        self.outputs.append((out, depth))
        self.depth = max(self.depth, depth)
        return out


def derivative_depth(problem: InverseProblem) -> int:
    """How deeply ``problem.residual`` nests ``d(...)``: 1 for ``d(f.u, "xx") + d(f.m)``, 2 for
    ``d(p.lam * d(f.u, "x"), "x")`` or ``d(d(f.m))``.

    Measured on the data with identity derivatives; an argument of ``d`` has depth one more than
    the deepest earlier ``d`` output it depends on (through autograd, so a residual must not
    detach values between nested derivatives, which would break its training gradient too).
    """
    probe = _DepthProbe(problem.grid.axes)
    fields = {k: torch.as_tensor(v) for k, v in problem.data.items()}
    params = {
        n: problem.broadcast_unknown(
            n, torch.full(problem.unknown_shape(n), float(u.init), dtype=torch.float64)
        )
        for n, u in problem.unknowns.items()
    }
    with torch.enable_grad():
        problem.evaluate(fields, params, probe)
    return probe.depth


def extended_nodes(dense: np.ndarray, *, lo: int, hi: int, depth: int) -> np.ndarray:
    """The grid nodes ``[lo, hi)`` of an axis grown ``depth`` times by the nonzero columns of
    its operators ``dense`` ``(n_orders, n, n)``, plus the node ``hi`` (for differences) when
    ``hi < n``: ascending indices."""
    n = dense.shape[-1]
    reads = (dense != 0).any(axis=0)
    nodes = np.arange(lo, hi)
    for _ in range(depth):
        nodes = np.union1d(nodes, np.flatnonzero(reads[nodes].any(axis=0)))
    if hi < n:
        nodes = np.union1d(nodes, [hi])
    return nodes


@dataclass(frozen=True)
class AxisTiles:
    """One axis's segments and their extended node sets.

    Attributes
    ----------
    index : Tensor, shape (n_segments, L)
        Grid indices of each segment's extended set, ascending, padded to the longest ``L`` by
        repeating the last index.
    core : Tensor of bool, shape (n_segments, L)
        Positions in the segment itself (each grid node is a core position of one segment).
    pair : Tensor of bool, shape (n_segments, L − 1)
        Core positions ``p`` whose node ``i < n − 1`` has its neighbour ``i + 1`` at ``p + 1``.
    ops : Tensor, shape (n_segments, n_orders, L, L)
        ``D_k[E, E]`` for orders ``k = 0..n_orders − 1``; padded rows and columns are zero.
    """

    index: torch.Tensor
    core: torch.Tensor
    pair: torch.Tensor
    ops: torch.Tensor

    @classmethod
    def build(
        cls, dense: np.ndarray, *, core: int, depth: int, dtype: torch.dtype, device: torch.device
    ) -> AxisTiles:
        """Segments of ``core`` nodes of an axis whose operators are ``dense``
        ``(n_orders, n, n)``, each grown ``depth`` times by the operators' nonzero columns (and
        by the node after the segment, for differences)."""
        n = dense.shape[-1]
        sets = []
        for lo in range(0, n, core):
            hi = min(lo + core, n)
            sets.append((lo, hi, extended_nodes(dense, lo=lo, hi=hi, depth=depth)))
        size = max(len(s) for *_, s in sets)
        index = np.zeros((len(sets), size), dtype=np.int64)
        in_core = np.zeros((len(sets), size), dtype=bool)
        pair = np.zeros((len(sets), size - 1), dtype=bool)
        ops = np.zeros((len(sets), dense.shape[0], size, size))
        for j, (lo, hi, nodes) in enumerate(sets):
            m = len(nodes)
            index[j, :m], index[j, m:] = nodes, nodes[-1]
            in_core[j, :m] = (nodes >= lo) & (nodes < hi)
            nxt = np.append(nodes[1:], -1)
            pair[j, : m - 1] = (in_core[j, :m] & (nxt == nodes + 1))[: m - 1]
            ops[j, :, :m, :m] = dense[:, nodes][:, :, nodes]
        return cls(
            index=torch.as_tensor(index, device=device),
            core=torch.as_tensor(in_core, device=device),
            pair=torch.as_tensor(pair, device=device),
            ops=torch.as_tensor(ops, dtype=dtype, device=device),
        )

    @property
    def count(self) -> int:
        """Number of segments."""
        return int(self.index.shape[0])


def _default_core(halo: int, n: int) -> int:
    return min(n, max(MIN_CORE, CORE_PER_HALO * halo))


@dataclass(frozen=True)
class Tiling:
    """The tiles of a problem's grid (module docstring): one :class:`AxisTiles` per axis.

    Tile ``t`` is segment ``unravel(t)[a]`` along axis ``a`` (C order over the segment counts).
    """

    axes: tuple[AxisTiles, ...]
    core: tuple[int, ...]
    depth: int

    @classmethod
    def build(
        cls,
        problem: InverseProblem,
        *,
        depth: int,
        tile: int | None,
        dtype: torch.dtype,
        device: torch.device,
    ) -> Tiling:
        """Tiles of ``tile`` nodes per axis (``None``: the default of the module docstring),
        with halos for ``depth`` nested derivatives."""
        grid, layer = problem.grid, problem.layer
        orders = tuple(range(layer.max_order + 1))
        like = torch.zeros((), dtype=torch.float64)
        axes, cores = [], []
        for a, n in zip(grid.axes, grid.shape, strict=True):
            dense = layer.operator(a, orders, n, like).numpy()
            core = tile if tile is not None else _default_core(depth * layer.radius[a], n)
            axes.append(AxisTiles.build(dense, core=core, depth=depth, dtype=dtype, device=device))
            cores.append(min(core, n))
        return cls(axes=tuple(axes), core=tuple(cores), depth=depth)

    @property
    def count(self) -> int:
        """Number of tiles."""
        return math.prod(ax.count for ax in self.axes)

    @property
    def extended_shape(self) -> tuple[int, ...]:
        """Shape of a tile with its halo (padded): ``L`` per axis."""
        return tuple(int(ax.index.shape[1]) for ax in self.axes)

    def draw(self, batch: int, *, seed: int, step: int) -> np.ndarray:
        """``batch`` distinct tiles, uniformly, determined by ``seed`` and ``step``."""
        rng = np.random.default_rng([seed % 2**63, step])
        return np.sort(rng.choice(self.count, size=batch, replace=False))

    def segments(self, tiles: Sequence[int] | np.ndarray) -> list[torch.Tensor]:
        """Per axis, each tile's segment, ``(B,)`` long tensors."""
        dev = self.axes[0].index.device
        seg = np.unravel_index(np.asarray(tiles, dtype=np.int64), [ax.count for ax in self.axes])
        return [torch.as_tensor(s, device=dev) for s in seg]


def _along(x: torch.Tensor, dim: int, ndim: int) -> torch.Tensor:
    """``x`` of shape ``(B, L)`` viewed to broadcast along ``dim`` of a ``(B, *L)`` tensor."""
    shape = [x.shape[0]] + [1] * ndim
    shape[dim] = x.shape[1]
    return x.reshape(shape)


class TileDerivatives(AbstractDerivatives):
    """Mollified derivatives on a batch of extended tiles: ``q`` broadcast to ``(B, *L)``, then
    along each axis the tiles' restricted operators (exact on the cores, see the module
    docstring)."""

    def __init__(self, axes: Sequence[str], ops: Sequence[torch.Tensor]) -> None:
        super().__init__(axes)
        self.ops = list(ops)  # per axis (B, n_orders, L, L)
        self.shape = (int(ops[0].shape[0]), *(int(o.shape[-1]) for o in ops))

    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        ref = self.ops[0]
        t = q if isinstance(q, torch.Tensor) else torch.as_tensor(q, dtype=ref.dtype)
        if not t.is_floating_point():
            t = t.to(ref.dtype)
        try:
            t = torch.broadcast_to(t, self.shape)
        except RuntimeError:
            raise ValueError(
                f"cannot differentiate an expression of shape {tuple(t.shape)} on tiles of shape "
                f"{self.shape}"
            ) from None
        for a, (op, k) in enumerate(zip(self.ops, orders, strict=True)):
            if k >= op.shape[1]:
                raise ValueError(f"order {k} along axis {self.axes[a]!r} exceeds the tiles' ops")
            moved = t.movedim(1 + a, -1)
            y = torch.bmm(moved.reshape(t.shape[0], -1, moved.shape[-1]), op[:, k].transpose(1, 2))
            t = y.reshape(moved.shape).movedim(-1, 1 + a)
        return t


def make_loss(
    problem: InverseProblem, model: FieldModel, coords: torch.Tensor, solver: Network
) -> PhysicsLoss:
    """The training loss: :class:`TiledLoss` when ``solver.batch`` is set, else the full-batch
    :class:`~mollifier.inverse.network.loss.PhysicsLoss`."""
    if solver.batch is None:
        return PhysicsLoss(problem, model, coords, solver)
    return TiledLoss(problem, model, coords, solver)


class TiledLoss(PhysicsLoss):
    """:class:`~mollifier.inverse.network.loss.PhysicsLoss` estimated on ``solver.batch``
    random tiles per step (module docstring).

    ``loss(step=s)`` draws the tiles of Adam step ``s`` and returns the estimate; ``loss()``
    (no step, as the L-BFGS polish calls it) is the exact full-batch loss.

    Raises
    ------
    ValueError
        If ``solver.batch`` exceeds the number of tiles, or the problem has a ``domain``.
    """

    def __init__(
        self,
        problem: InverseProblem,
        model: FieldModel,
        coords: torch.Tensor,
        solver: Network,
    ) -> None:
        if problem.domain is not None:
            raise ValueError(
                "Network.batch (tiles) needs a rectangular grid; this problem has a domain, whose "
                "box kernels are not tiled: use batch=None"
            )
        super().__init__(problem, model, coords, solver)
        assert solver.batch is not None
        dtype, dev = coords.dtype, coords.device
        if solver.derivatives == "mollifier":
            depth = derivative_depth(problem)
        else:  # autodiff derivatives are pointwise; only the mollified data needs a halo
            depth = int(solver.data_loss == "mollified")
        self.tiling = Tiling.build(problem, depth=depth, tile=solver.tile, dtype=dtype, device=dev)
        if solver.batch > self.tiling.count:
            raise ValueError(
                f"Network.batch = {solver.batch} exceeds the {self.tiling.count} tiles of "
                f"{self.tiling.core} nodes that the grid {problem.grid.shape} splits into; use "
                f"batch <= {self.tiling.count}, a smaller tile, or batch=None (the full grid)"
            )
        grid = problem.grid
        self.axis_coords = [torch.as_tensor(grid[a], dtype=dtype, device=dev) for a in grid.axes]
        self.strides = [math.prod(grid.shape[i + 1 :]) for i in range(grid.ndim)]
        self.n_seen = {k: int(seen.sum()) for k, (_, seen) in self.obs.items()}
        self.n_interior = int(self.interior.sum())

    def __call__(self, step: int | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        if step is None:
            return super().__call__()
        assert self.solver.batch is not None
        tiles = self.tiling.draw(self.solver.batch, seed=self.solver.seed, step=step)
        return self.estimate(tiles)

    def _gather(self, p: torch.Tensor, idx: list[torch.Tensor]) -> torch.Tensor:
        """A value broadcastable to the grid, at the tiles' nodes ``(B, *L)``."""
        if p.ndim == 0:
            return p
        nd = len(idx)
        p = p.reshape((1,) * (nd - p.ndim) + tuple(p.shape))
        flat = torch.zeros((), dtype=torch.long, device=p.device)
        stride = 1
        for a in reversed(range(nd)):
            if p.shape[a] > 1:
                flat = flat + _along(idx[a], 1 + a, nd) * stride
                stride *= p.shape[a]
        shape = (idx[0].shape[0], *(i.shape[1] for i in idx))
        return p.reshape(-1)[torch.broadcast_to(flat, shape)]

    def _tile_residual(
        self, idx: list[torch.Tensor], d: TileDerivatives, flat: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The residual ``(n_equations, B, *L)``, the fields and the channels ``(B, *L)``."""
        problem, model = self.problem, self.model
        shape, nd = d.shape, len(idx)
        x = [
            torch.broadcast_to(_along(c[i], 1 + a, nd), shape).reshape(-1)
            for a, (c, i) in enumerate(zip(self.axis_coords, idx, strict=True))
        ]
        params = {k: self._gather(v, idx) for k, v in model.params_grid().items()}
        known = {
            k: v if isinstance(v, float) else v.reshape(-1)[flat]
            for k, v in self.known_grid.items()
        }
        n_eq = problem.n_equations
        if self.solver.derivatives == "mollifier":
            flat_fields, chans = model.split(model.net(torch.stack(x, dim=-1)))
            fields = {k: v.reshape(shape) for k, v in flat_fields.items()}
            chans = {k: v.reshape(shape) for k, v in chans.items()}
            r = problem.evaluate(fields, {**params, **chans}, d, known=known)
            full = shape if n_eq == 1 else (n_eq, *shape)
            return torch.broadcast_to(r, full).reshape(n_eq, *shape), fields, chans
        inputs = {
            a: xa.detach().clone().requires_grad_(True)
            for a, xa in zip(problem.grid.axes, x, strict=True)
        }
        flat_fields, chans = model.split(model.net(torch.stack(list(inputs.values()), dim=-1)))
        flat_params = {
            k: torch.broadcast_to(v, shape).reshape(-1) if v.ndim else v for k, v in params.items()
        }
        flat_known = {k: v if isinstance(v, float) else v.reshape(-1) for k, v in known.items()}
        r = problem.evaluate(
            flat_fields, {**flat_params, **chans}, AutodiffDerivatives(inputs), known=flat_known
        )
        if n_eq == 1:
            r = torch.broadcast_to(r, (math.prod(shape),)) if r.ndim <= 1 else r.reshape(-1)
        fields = {k: v.reshape(shape) for k, v in flat_fields.items()}
        return r.reshape(n_eq, *shape), fields, {k: v.reshape(shape) for k, v in chans.items()}

    def _layout(
        self, tiles: Sequence[int] | np.ndarray
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], TileDerivatives, torch.Tensor, torch.Tensor]:
        """Per axis the tiles' segments and extended indices ``(B, L)``; the derivatives; the
        flat grid index and the core mask of every tile node ``(B, *L)``."""
        tiling = self.tiling
        seg = tiling.segments(tiles)
        nd = len(seg)
        idx = [ax.index[s] for ax, s in zip(tiling.axes, seg, strict=True)]
        d = TileDerivatives(
            self.problem.grid.axes, [ax.ops[s] for ax, s in zip(tiling.axes, seg, strict=True)]
        )
        flat = torch.zeros(d.shape, dtype=torch.long, device=idx[0].device)
        core = torch.ones(d.shape, dtype=torch.bool, device=idx[0].device)
        for a, (ax, s, st) in enumerate(zip(tiling.axes, seg, self.strides, strict=True)):
            flat = flat + _along(idx[a] * st, 1 + a, nd)
            core = core & _along(ax.core[s], 1 + a, nd)
        return seg, idx, d, flat, core

    def residual_map(self, tiles: Sequence[int] | np.ndarray) -> torch.Tensor:
        """The residual computed on ``tiles``, ``(n_equations, *grid.shape)``, NaN outside their
        cores (equal to :meth:`PhysicsLoss.residual` there, to round-off)."""
        _, idx, d, flat, core = self._layout(tiles)
        r, _, _ = self._tile_residual(idx, d, flat)
        n_eq = self.problem.n_equations
        out = torch.full((n_eq, math.prod(self.problem.grid.shape)), math.nan, dtype=r.dtype)
        out[:, flat[core]] = r[:, core]
        return out.reshape(n_eq, *self.problem.grid.shape)

    def estimate(self, tiles: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss estimated from ``tiles`` (distinct tile numbers; module docstring), with its
        terms as floats; all tiles give the full-batch loss."""
        solver = self.solver
        scale = self.tiling.count / len(tiles)
        seg, idx, d, flat, core = self._layout(tiles)
        r, fields, chans = self._tile_residual(idx, d, flat)
        rows = self.interior[flat] & core
        data = []
        for i, (name, (y, seen)) in enumerate(self.obs.items()):
            std = self.model.std[i]
            if solver.data_loss == "pointwise":
                m = seen[flat] & core
                err = (fields[name] - y[flat])[m] / std
                data.append(torch.sum(err**2) * scale / self.n_seen[name])
            else:
                err = (d(fields[name]) - self.smooth_obs[name][flat])[rows] / std
                data.append(torch.sum(err**2) * scale / self.n_interior)
        data_term = torch.stack(data).sum()
        res_loss = torch.stack(
            [
                w * torch.sum((r[e][rows] / self.scales[e]) ** 2) * scale / self.n_interior
                for e, w in enumerate(self.weights)
            ]
        ).sum()
        loss = data_term + solver.residual_weight * res_loss
        terms = {"data": float(data_term.detach()), "residual": float(res_loss.detach())}
        if solver.field_regularization > 0:
            reg = self._regularization({}) + self._channel_differences(chans, seg, core) * scale
            loss = loss + solver.field_regularization * reg
            terms["regularization"] = float(reg.detach())
        terms["loss"] = float(loss.detach())
        return loss, terms

    def _channel_differences(
        self, chans: dict[str, torch.Tensor], seg: list[torch.Tensor], core: torch.Tensor
    ) -> torch.Tensor:
        """Σ over channels and axes of the squared differences of pairs whose lower node is in a
        drawn core, each axis divided by the grid's number of pairs along it."""
        total = torch.zeros((), dtype=self.coords.dtype, device=self.coords.device)
        shape, nd = self.problem.grid.shape, len(seg)
        for a, (ax, s) in enumerate(zip(self.tiling.axes, seg, strict=True)):
            n_pairs = math.prod(shape) // shape[a] * (shape[a] - 1)
            size = ax.pair.shape[1]
            mask = core.narrow(1 + a, 0, size) & _along(ax.pair[s], 1 + a, nd)
            for v in chans.values():
                diff = v.narrow(1 + a, 1, size) - v.narrow(1 + a, 0, size)
                total = total + torch.sum(diff[mask] ** 2) / n_pairs
        return total
