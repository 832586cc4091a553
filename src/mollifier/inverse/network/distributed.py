"""Distributed network fits: one grid split into slabs across processes (``torch.distributed``).

Every rank of an initialised process group (``torchrun``, or ``mollifier fit --nproc N``) runs
:func:`solve_distributed` with the same problem and options. Each builds the problem, keeps only
its slab (:class:`~mollifier.inverse.network.slab.SlabProblem`: the slab plus a halo of
``depth`` stencil radii along :attr:`Distributed.split_axis`, whole along the other axes), and
trains the same network (same seed) on its part of the loss
(:class:`~mollifier.inverse.network.slab.SlabLoss`). Every Adam step and every L-BFGS closure
sums the ranks' loss terms and gradients with one all-reduce each (:class:`GradientSync`), so
every rank takes the single-process step: the distributed fit is the single-process fit, to
round-off. Rank 0 writes checkpoints (the model, optimiser and schedule states, which do not
depend on the number of ranks: a run resumes on any number) and, after training, rebuilds the
whole problem to assemble the :class:`~mollifier.inverse.result.Result` (fields on the whole
grid, diagnostics, read-off); the other ranks return ``None``.

What is refused: a problem with ``domain=`` (per-run edge kernels are not split), the tiled
minibatch ``Network(batch=...)``, and ``start="direct"`` (a direct solve on the whole grid).
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from mollifier._options import check_fields
from mollifier.grid import Grid
from mollifier.inverse.network.callbacks import Callback, ProgressBar
from mollifier.inverse.network.loop import Optimisation
from mollifier.inverse.network.loss import PhysicsLoss
from mollifier.inverse.network.model import grid_coordinates, network_channels
from mollifier.inverse.network.slab import (
    SlabLoss,
    SlabProblem,
    slab_coordinates,
    use_global_statistics,
)
from mollifier.inverse.network.trainer import (
    build_model,
    finish_result,
    make_checkpointer,
    run_config,
)
from mollifier.inverse.problem import InverseProblem

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network
    from mollifier.inverse.result import Result

__all__ = ["Distributed", "GradientSync", "solve_distributed"]


@dataclass(frozen=True)
class Distributed:
    """How a distributed fit splits its grid (``[distributed]`` in a fit config).

    Parameters
    ----------
    split_axis : str or None
        The grid axis cut into slabs (``None``: the longest axis, the first of equals).
    timeout_s : float
        The process group's timeout in seconds: a collective that waits longer for a rank
        (one that died or hangs) raises instead of hanging.
    """

    split_axis: str | None = None
    timeout_s: float = 300.0

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.timeout_s > 0:
            raise ValueError(f"Distributed.timeout_s must be positive, got {self.timeout_s}")

    def axis(self, grid: Grid) -> str:
        """The split axis of ``grid``.

        Raises
        ------
        ValueError
            If :attr:`split_axis` is not an axis of ``grid``.
        """
        if self.split_axis is None:
            return grid.axes[max(range(grid.ndim), key=lambda i: (grid.shape[i], -i))]
        if self.split_axis not in grid.axes:
            raise ValueError(
                f"split_axis = {self.split_axis!r} is not an axis of the grid {grid.axes}"
            )
        return self.split_axis


class GradientSync:
    """Sums loss terms and gradients over the ranks of the default process group (the
    :class:`~mollifier.inverse.network.loop.Synchronisation` of a distributed fit), timing the
    collectives (:attr:`seconds`, :attr:`calls`, :attr:`floats` sent per rank)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds, self.calls, self.floats = 0.0, 0, 0

    def _all_reduce(self, buffer: torch.Tensor) -> None:
        t0 = time.perf_counter()
        dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.floats += buffer.numel()

    def terms(self, terms: dict[str, float]) -> dict[str, float]:
        """Each term summed over ranks (every rank passes the same keys)."""
        keys = list(terms)
        buffer = torch.tensor([terms[k] for k in keys], dtype=torch.float64, device=self.device)
        self._all_reduce(buffer)
        return dict(zip(keys, buffer.tolist(), strict=True))

    def grads(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace each parameter's gradient by the sum over ranks, in one all-reduce; a
        parameter no rank has a gradient for keeps none (as in one process)."""
        ps = [p for p in params if p.requires_grad]
        if not ps:
            return
        ref = ps[0]
        parts = [
            p.grad.reshape(-1)
            if p.grad is not None
            else torch.zeros(p.numel(), dtype=ref.dtype, device=ref.device)
            for p in ps
        ]
        flags = torch.tensor(
            [float(p.grad is not None) for p in ps], dtype=ref.dtype, device=ref.device
        )
        buffer = torch.cat([*parts, flags])
        self._all_reduce(buffer)
        offset = 0
        for p, seen in zip(ps, buffer[-len(ps) :].tolist(), strict=True):
            n = p.numel()
            p.grad = buffer[offset : offset + n].view_as(p).clone() if seen > 0 else None
            offset += n


def _peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (``getrusage``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def solve_distributed(
    build: Callable[[], InverseProblem],
    solver: Network,
    *,
    options: Distributed | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> Result | None:
    """Train ``solver``'s network on the problem ``build()`` returns, split across the ranks
    of the initialised default process group (module docstring).

    Parameters
    ----------
    build : callable
        Returns the :class:`InverseProblem` (the same on every rank). Called once on every rank
        at setup, whose slab is kept and the rest dropped, and once more on rank 0 after
        training for the result: pass a function that builds it, not a closure over a problem
        you keep, or the whole problem stays in memory during training.
    solver : Network
        The training options (``device="cuda"``: each rank uses its current CUDA device).
    options : Distributed
        The split axis (default: the longest).
    checkpoint, checkpoint_every, resume, progress, callbacks
        As in :func:`~mollifier.inverse.network.trainer.solve_network`; rank 0 saves, every
        rank resumes from the same file; rank 0 shows the progress and calls ``callbacks``.

    Returns
    -------
    Result on rank 0, ``None`` on the other ranks. ``result.diagnostics["distributed"]``
    holds the ranks, the split axis, each rank's slab (core and extended nodes along the split
    axis), its peak RSS before and after training (MB, ``getrusage``: the setup, which builds
    the whole problem, then training on the slab), and its time in all-reduces.

    Raises
    ------
    ValueError
        For a problem or options the decomposition cannot serve (module docstring), or more
        ranks than nodes along the split axis.
    RuntimeError
        If the process group is not initialised.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "solve_distributed runs inside an initialised process group (torchrun, or "
            "mollifier fit --nproc N); use solve_network in one process"
        )
    if solver.start == "direct":
        raise ValueError(
            "start='direct' warm-starts from a direct solve on the whole grid, which a "
            "distributed fit does not run; use start='cold'"
        )
    options = options or Distributed()
    rank, world = dist.get_rank(), dist.get_world_size()
    t0 = time.perf_counter()
    dtype = getattr(torch, solver.dtype)
    dev = torch.device(solver.device)
    if dev.type == "cuda":
        dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.reset_peak_memory_stats(dev)
    problem = build()
    config = run_config(problem, solver)
    channels = network_channels(problem)
    ckpt = make_checkpointer(
        problem, solver, config, channels, checkpoint, checkpoint_every, resume=resume
    )
    axis = options.axis(problem.grid)
    slab = SlabProblem(problem, axis=axis, rank=rank, world=world, solver=solver)
    del problem  # training holds the slab only
    model = build_model(slab, solver, channels, dtype=dtype, device=dev)
    use_global_statistics(model, slab)
    coords = slab_coordinates(slab, dtype, dev)
    sync = GradientSync(dev if dev.type == "cuda" else torch.device("cpu"))
    run = Optimisation(
        model, SlabLoss(slab, model, solver, coords=coords, rank=rank), solver, sync=sync
    )
    start: dict[str, Any] = {"used": False, "reason": "start='cold'"}
    if resume and ckpt is not None and (state := ckpt.load(dev)) is not None:
        run.load_state_dict(state)
        start = {"used": False, "reason": "continued a checkpoint"}
    watchers: list[Callback] = []
    if rank == 0:
        watchers = list(callbacks)
        if progress:
            label = f"{solver.arch.name}/{solver.derivatives} ×{world}"
            watchers.append(ProgressBar(desc=label, every=solver.log_every))
    setup_peak = _peak_rss_mb()
    loop_time = run.run(checkpointer=ckpt if rank == 0 else None, callbacks=watchers, started=t0)
    mine = {
        "rank": rank,
        "core": [slab.slab.lo, slab.slab.hi],
        "nodes": [int(slab.slab.index[0]), int(slab.slab.index[-1]) + 1, len(slab.slab.index)],
        "local_nodes": int(coords.shape[0]),
        "setup_peak_rss_mb": setup_peak,
        "train_peak_rss_mb": _peak_rss_mb(),
        "allreduce_s": sync.seconds,
        "allreduce_calls": sync.calls,
        "allreduce_floats": sync.floats,
        "loop_s": loop_time,
    }
    if dev.type == "cuda":
        mine["train_peak_cuda_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    ranks: list[Any] = [None] * world
    dist.all_gather_object(ranks, mine)
    if rank != 0:
        return None
    del slab, coords
    problem = build()
    model.problem = problem  # the slab served training; the result is on the whole grid
    full = grid_coordinates(problem, dtype, dev)
    loss = PhysicsLoss(problem, model, full, solver)
    result = finish_result(problem, solver, run, loss=loss, channels=channels, config=config, t0=t0)
    result.diagnostics["adam_time_s"] = run.prior_times["adam_time_s"] + loop_time
    result.diagnostics["start"] = start
    result.diagnostics["distributed"] = {
        "ranks": world,
        "split_axis": axis,
        "backend": dist.get_backend(),
        "per_rank": ranks,
    }
    return result
