"""The network solver's driver: build the model and its loss, optimise, collect the result.

:func:`solve_network` puts the parts together: the model (:mod:`.model`: a coordinate network
whose outputs are the normalised data fields and the field unknowns it represents), the loss
(:mod:`.loss`, which states it), the optimisation loop (:mod:`.loop`: Adam with a cosine
schedule, early stopping, an L-BFGS polish), checkpoints (:mod:`.checkpoint`) and callbacks
(:mod:`.callbacks`).

After training, ``result.diagnostics["data_misfit"]`` holds, per data field, the fraction of the
data's variance the network's field leaves unexplained (:meth:`~mollifier.inverse.result.Result.
data_misfit`), and ``result.diagnostics["fit"]`` judges the fit
(:mod:`~mollifier.inverse.network.diagnosis`): each data field's misfit against the data's
estimated noise, each equation's final residual against its initial scale, and the loss term
that dominates. A data field or an equation that is not fitted makes the result
``"unreliable"``, with the reason: such a network still returns unknowns, but they describe the
data's smoothed state, not the measured pattern. ``result.noise_std`` holds the noise estimates.
``diagnostics["adam_time_s"]`` is the wall time of the Adam loop (checkpoint saves left out). A
solve that continues a checkpoint (``diagnostics["resumed_at_step"]`` > 0) adds the loop and wall
time of the solves that made it, so ``adam_time_s`` and ``result.wall_time_s`` cover every step
of the run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier.inverse.diagnosis import fit_reasons
from mollifier.inverse.direct import NonAffineResidualError, solve_direct
from mollifier.inverse.network.callbacks import Callback, ProgressBar
from mollifier.inverse.network.checkpoint import Checkpointer, problem_identity
from mollifier.inverse.network.diagnosis import diagnose_network
from mollifier.inverse.network.loop import Optimisation, TrainingDivergedError
from mollifier.inverse.network.loss import PhysicsLoss
from mollifier.inverse.network.model import FieldModel, grid_coordinates, network_channels
from mollifier.inverse.network.tiles import make_loss
from mollifier.inverse.network.warmstart import warm_start
from mollifier.inverse.problem import InverseProblem
from mollifier.inverse.result import Result, peak_memory_mb

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = [
    "TrainingDivergedError",
    "build_model",
    "finish_result",
    "make_checkpointer",
    "run_config",
    "solve_network",
]

#: Network options that do not change the trained state: a checkpoint does not pin them.
_UNPINNED = ("device", "read_off", "log_every", "level")


def run_config(problem: InverseProblem, solver: Network) -> dict[str, Any]:
    """``result.config`` of a network solve: the solver's options with ``lr_final`` and
    ``equation_weights`` resolved to the values used, and the problem's kernel and boundary."""
    options = solver.options()
    if options["lr_final"] is None:
        options["lr_final"] = solver.lr / 100
    if options["equation_weights"] is None:
        options["equation_weights"] = (1.0,) * problem.n_equations
    options["equation_weights"] = list(options["equation_weights"])
    return {
        "method": "network",
        **options,
        "kernel": repr(problem.kernel),
        "boundary": repr(problem.boundary),
    }


def solve_network(
    problem: InverseProblem,
    solver: Network,
    *,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> Result:
    """Train a coordinate network on ``problem`` as ``solver`` describes (module docstring).

    Parameters
    ----------
    problem : InverseProblem
    solver : Network
        The training options (architecture, derivatives, steps, learning rates, weights, ...).
    checkpoint : path, optional
        File to save training state to every ``checkpoint_every`` steps and at the end (one
        solve per file at a time; the time spent saving is not counted in ``adam_time_s``).
    resume : bool
        Continue from ``checkpoint`` if it exists. It must have been made with the same
        training options and the same problem (:mod:`~mollifier.inverse.network.checkpoint`;
        :class:`~mollifier.inverse.network.CheckpointMismatchError`, a ``ValueError``, names
        what differs). A run that stopped early or ran its L-BFGS steps is finished: nothing
        more is trained.
    progress : bool
        Show a progress bar with the loss terms and current constants.
    callbacks : sequence of Callback
        Called from the Adam loop (:mod:`~mollifier.inverse.network.callbacks`).

    Raises
    ------
    TrainingDivergedError
        If the loss becomes NaN or infinite.
    """
    t0 = time.perf_counter()
    dev, dtype = torch.device(solver.device), getattr(torch, solver.dtype)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    config = run_config(problem, solver)
    channels = network_channels(problem)
    ckpt = make_checkpointer(
        problem, solver, config, channels, checkpoint, checkpoint_every, resume=resume
    )
    model = build_model(problem, solver, channels, dtype=dtype, device=dev)
    coords = grid_coordinates(problem, dtype, dev)
    loss = make_loss(problem, model, coords, solver)
    run = Optimisation(model, loss, solver)
    start: dict[str, Any] = {"used": False, "reason": "start='cold'"}
    direct_unknowns: dict[str, Any] = {}
    if resume and ckpt is not None and (state := ckpt.load(dev)) is not None:
        run.load_state_dict(state)
        start = {"used": False, "reason": "continued a checkpoint"}
    elif solver.start == "direct":
        start, direct_unknowns = warm_start(problem, model, coords, solver)
    watchers = list(callbacks)
    if progress:
        watchers.append(
            ProgressBar(desc=f"{solver.arch.name}/{solver.derivatives}", every=solver.log_every)
        )
    loop_time = run.run(checkpointer=ckpt, callbacks=watchers, started=t0)
    result = finish_result(problem, solver, run, loss=loss, channels=channels, config=config, t0=t0)
    result.diagnostics["adam_time_s"] = run.prior_times["adam_time_s"] + loop_time
    result.diagnostics["start"] = start
    if direct_unknowns:
        result.extras["direct_unknowns"] = direct_unknowns
    return result


def make_checkpointer(
    problem: InverseProblem,
    solver: Network,
    config: dict[str, Any],
    channels: list[str],
    checkpoint: str | Path | None,
    every: int,
    *,
    resume: bool = False,
) -> Checkpointer | None:
    """The :class:`Checkpointer` of a run (``None`` without a ``checkpoint`` path): what it pins
    is the options that change the trained state and the problem's identity.

    Raises
    ------
    ValueError
        If ``resume`` is asked for without a ``checkpoint`` path.
    """
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs a checkpoint path")
        return None
    pinned = {k: v for k, v in config.items() if k not in _UNPINNED}
    pinned.update(problem_identity(problem, channels))
    return Checkpointer(Path(checkpoint), every, pinned)


def build_model(
    problem: Any, solver: Network, channels: list[str], *, dtype: torch.dtype, device: torch.device
) -> FieldModel:
    """The network (seeded by ``solver.seed``) and its unknowns, on ``device`` in ``dtype``;
    ``problem`` is an :class:`InverseProblem` or a slab of one."""
    torch.manual_seed(solver.seed)
    grid = problem.grid
    net = solver.arch.build(
        in_features=grid.ndim,
        out_features=len(problem.data) + len(channels),
        lower=[grid.extent[a][0] for a in grid.axes],
        upper=[grid.extent[a][1] for a in grid.axes],
    )
    return FieldModel(problem, net, channels).to(device=device, dtype=dtype)


def finish_result(
    problem: InverseProblem,
    solver: Network,
    run: Optimisation,
    *,
    loss: PhysicsLoss,
    channels: list[str],
    config: dict[str, Any],
    t0: float,
) -> Result:
    """The :class:`Result` of a trained ``run``: the network's fields and unknowns on the grid,
    the history, the diagnostics (the fit judged on ``loss``, a full-grid loss of the trained
    model) and the read-off."""
    model, dev = run.model, loss.coords.device
    result = _collect(problem, model, loss.coords, channels)
    result.history = run.history
    result.config = config
    scales = loss.scales
    result.diagnostics.update(
        {
            "steps_done": run.step,
            "stopped_early": run.stopped_early,
            "residual_scale": scales[0] if len(scales) == 1 else scales,
            "channels": channels,
            "adam_time_s": run.prior_times["adam_time_s"],
            "resumed_at_step": run.resumed_at,
        }
    )
    result.compute_metrics()
    result.diagnostics["data_misfit"] = result.data_misfit(problem.mask)
    result.diagnostics["fit"], result.noise_std = diagnose_network(problem, result, loss, solver)
    for reason in fit_reasons(result.diagnostics["fit"]):
        result.mark_unreliable(reason)
    if solver.read_off:
        _read_off(problem, result)
    result.wall_time_s = run.prior_times["wall_time_s"] + time.perf_counter() - t0
    result.peak_memory_mb = peak_memory_mb(str(dev))
    return result


def _collect(
    problem: InverseProblem, model: FieldModel, coords: torch.Tensor, channels: list[str]
) -> Result:
    grid = problem.grid
    with torch.no_grad():
        out = model.net(coords)
        flat_fields, chans = model.split(out)
        fields = {k: v.reshape(grid.shape).double().cpu().numpy() for k, v in flat_fields.items()}
        unknowns: dict[str, Any] = {}
        for n, p in model.constants.items():
            unknowns[n] = float(model.unknown_value(n, p))
        for n, p in model.grid_fields.items():
            unknowns[n] = model.unknown_value(n, p).double().cpu().numpy()
        for n, v in chans.items():
            unknowns[n] = v.reshape(grid.shape).double().cpu().numpy()
        params = {
            n: problem.broadcast_unknown(n, torch.as_tensor(np.asarray(v, dtype=float)))
            for n, v in unknowns.items()
        }
        r = problem.mollifier_residual({k: torch.as_tensor(v) for k, v in fields.items()}, params)
    unknowns = {n: unknowns[n] for n in problem.unknowns}
    residual, equations = problem.residual_maps(r.numpy())
    result = Result(
        method="network",
        grid=grid,
        unknowns=unknowns,
        unknown_axes=problem.unknown_axes,
        fields=fields,
        residual=residual,
        equations=equations,
        interior=problem.interior,
        data=problem.data,
        truth=problem.truth,
        widths={**problem.width, "rule": problem.width_rule},
    )
    # A field is constrained only where residual rows exist: elsewhere it is network
    # extrapolation, reported as NaN like the direct solver does.
    result.blank_unconstrained()
    return result


def _read_off(problem: InverseProblem, result: Result) -> None:
    """Unknowns read off the network's fields by the direct solver (affine residuals only)."""
    options = dict(problem._options)
    options["data"] = result.fields
    options["mask"] = None
    try:
        sub = InverseProblem(width=problem.width, **options)
        direct = solve_direct(sub)
    except NonAffineResidualError:
        result.diagnostics["algebraic"] = "residual not affine; no read-off"
        return
    result.diagnostics["algebraic"] = {
        "unknowns": {
            k: (v if isinstance(v, float) else {"median": float(np.nanmedian(v))})
            for k, v in direct.unknowns.items()
        },
        "metrics": direct.metrics,
    }
    result.extras["algebraic_unknowns"] = direct.unknowns
