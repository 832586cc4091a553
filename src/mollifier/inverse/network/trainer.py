"""The network solver: a coordinate network fitted to the data with a weighted PDE residual.

A network maps coordinates to the observed fields (normalised by their mean and standard
deviation) plus, for field unknowns represented as channels, the unknown fields. It is evaluated on
every grid node. The loss is

    L = Σ_fields mean_observed((u_net − u_obs)² / σ²) + w_res · mean_interior((R / R₀)²)
        + w_reg · Σ_fields mean(|Δλ|²),

where ``R`` is the residual with mollifier derivatives (``derivatives="mollifier"``: the network's
gridded output goes through the problem's :class:`~mollifier.MollifierLayer`) or nested autograd
(``derivatives="autodiff"``: the same residual function, derivatives at the nodes), and
``R₀ = rms(R)`` of the data at zero unknowns fixes the residual's scale once, identically for both
backends. For a system of equations the residual term is ``Σ_e w_e · mean_interior((R_e / R₀_e)²)``,
each equation scaled by its own ``R₀_e`` and weighted by ``Network.equation_weights``. Adam with
a cosine schedule runs first, then optionally L-BFGS.

After training, ``result.diagnostics["data_misfit"]`` holds, per data field, the fraction of the
data's variance the network's field leaves unexplained (:meth:`~mollifier.inverse.result.Result.
data_misfit`). Check it: a network that has not fitted the measurements (values near 1) still
returns unknowns, but they describe the data's smoothed mean state, not the measured pattern.
``diagnostics["adam_time_s"]`` is the wall time of the Adam loop (checkpoint saves left out) and
``diagnostics["first_step_times_s"]`` the times of its first ``TIMED_FIRST_STEPS`` steps one by
one (fewer if fewer ran): the first step or two pay one-off costs (memory first touched, kernels
chosen), which a short probe must not count (:func:`mollifier_bench.run.probe_step_time`).
A solve resumed from a checkpoint (``diagnostics["resumed_at_step"]`` > 0) adds the loop and
wall time of the solves that made it, so ``adam_time_s`` and ``result.wall_time_s`` cover every
step of the run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from mollifier.autodiff import AutodiffDerivatives
from mollifier.derivatives import MollifierDerivatives
from mollifier.inverse.direct import NonAffineResidualError, solve_direct
from mollifier.inverse.network.checkpoint import (
    CheckpointMismatchError,
    check_resumable,
    problem_identity,
    remove_checkpoint,
    unfinished_save,
)
from mollifier.inverse.problem import InverseProblem
from mollifier.inverse.result import Result, peak_memory_mb
from mollifier.inverse.unknowns import Constant, Field

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = [
    "TIMED_FIRST_STEPS",
    "CheckpointMismatchError",
    "TrainingDivergedError",
    "remove_checkpoint",
    "solve_network",
]


TIMED_FIRST_STEPS = 16
"""How many of a solve's first steps are timed one by one (``first_step_times_s``)."""


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, message: str, *, step: int, history: dict[str, list[float]]) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y)) if y < 20 else y


class _Model(nn.Module):
    """Network plus unknown parameters; produces fields and unknowns in either layout."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, problem: InverseProblem, net: nn.Module, channels: list[str]) -> None:
        super().__init__()
        self.problem = problem
        self.net = net
        self.channels = channels
        self.data_names = list(problem.data)
        self.constants = nn.ParameterDict()
        self.grid_fields = nn.ParameterDict()
        for name, u in problem.unknowns.items():
            if isinstance(u, Constant):
                raw = math.log(u.init) if u.positive else float(u.init)
                self.constants[name] = nn.Parameter(torch.tensor(raw))
            elif name not in channels:
                raw = math.log(u.init) if u.positive else float(u.init)
                self.grid_fields[name] = nn.Parameter(torch.full(problem.unknown_shape(name), raw))
        stats = []
        for k in self.data_names:
            arr = problem.data[k]
            obs = arr[np.isfinite(arr)] if problem.mask is None else arr[problem.mask]
            stats.append((float(np.mean(obs)), float(np.std(obs)) or 1.0))
        self.register_buffer("mean", torch.tensor([m for m, _ in stats]))
        self.register_buffer("std", torch.tensor([s for _, s in stats]))

    def unknown_value(self, name: str, raw: torch.Tensor) -> torch.Tensor:
        return torch.exp(raw) if self.problem.unknowns[name].positive else raw

    def split(self, out: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Network output (N, C) → data fields and channel unknowns, each (N,)."""
        fields = {k: self.mean[i] + self.std[i] * out[:, i] for i, k in enumerate(self.data_names)}
        chans = {}
        for j, name in enumerate(self.channels):
            u = self.problem.unknowns[name]
            z = out[:, len(self.data_names) + j]
            if u.positive:
                chans[name] = nn.functional.softplus(z + _softplus_inverse(u.init))
            else:
                chans[name] = u.init + z
        return fields, chans

    def params_grid(self) -> dict[str, torch.Tensor]:
        out = {n: self.unknown_value(n, p) for n, p in self.constants.items()}
        for n, p in self.grid_fields.items():
            out[n] = self.problem.broadcast_unknown(n, self.unknown_value(n, p))
        return out


def _coordinates(
    problem: InverseProblem, dtype: torch.dtype, device: torch.device
) -> list[torch.Tensor]:
    mesh = problem.grid.mesh()
    return [torch.as_tensor(m.reshape(-1), dtype=dtype, device=device) for m in mesh]


def solve_network(
    problem: InverseProblem,
    solver: Network,
    *,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    progress: bool = False,
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
        ``solver`` and the same problem (grid shape, widths, kernel, boundary, ``crop``,
        unknowns, residual function and data; :class:`CheckpointMismatchError`, a
        ``ValueError``, names what differs). A checkpoint of a run that stopped early or ran its
        L-BFGS steps is finished: nothing more is trained.
    progress : bool
        Show a progress bar with the loss terms and current unknowns.

    Raises
    ------
    TrainingDivergedError
        If the loss becomes NaN or infinite.
    """
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    arch = solver.arch.name
    derivatives = solver.derivatives
    steps, lr, lbfgs_steps = solver.steps, solver.lr, solver.lbfgs_steps
    residual_weight, field_regularization = solver.residual_weight, solver.field_regularization
    seed, dtype, device, patience = solver.seed, solver.dtype, solver.device, solver.patience
    min_delta, log_every, data_loss = solver.min_delta, solver.log_every, solver.data_loss
    lr_final, read_off = solver.lr_final, solver.read_off
    n_eq = problem.n_equations
    weights = solver.equation_weights or (1.0,) * n_eq
    if len(weights) != n_eq:
        raise ValueError(
            f"equation_weights has {len(weights)} entries; the residual has {n_eq} equations "
            f"{list(problem.equations)}"
        )
    t0 = time.perf_counter()
    dev = torch.device(device)
    tdtype = getattr(torch, dtype)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    grid = problem.grid
    channels = [
        n
        for n, u in problem.unknowns.items()
        if isinstance(u, Field)
        and (
            u.representation == "channel"
            or (u.representation == "auto" and tuple(u.axes) == grid.axes)
        )
    ]
    for n in channels:
        if tuple(problem.unknowns[n].axes) != grid.axes:  # type: ignore[union-attr]
            raise ValueError(
                f"field {n!r} spans {problem.unknowns[n].axes}; only fields over "  # type: ignore[union-attr]
                f"every axis {grid.axes} can be network channels"
            )
    torch.manual_seed(seed)
    lower = [grid.extent[a][0] for a in grid.axes]
    upper = [grid.extent[a][1] for a in grid.axes]
    net = solver.arch.build(
        in_features=grid.ndim,
        out_features=len(problem.data) + len(channels),
        lower=lower,
        upper=upper,
    )
    model = _Model(problem, net, channels).to(device=dev, dtype=tdtype)
    coords = _coordinates(problem, tdtype, dev)
    n_nodes = int(np.prod(grid.shape))
    obs = {}
    for k, arr in problem.data.items():
        seen = np.isfinite(arr) if problem.mask is None else problem.mask
        obs[k] = (
            torch.as_tensor(np.nan_to_num(arr).reshape(-1), dtype=tdtype, device=dev),
            torch.as_tensor(seen.reshape(-1), device=dev),
        )
    known_grid = {
        k: v if isinstance(v, float) else torch.as_tensor(v, dtype=tdtype, device=dev)
        for k, v in problem.known.items()
    }
    known_flat = {k: v if isinstance(v, float) else v.reshape(-1) for k, v in known_grid.items()}
    interior = torch.as_tensor(problem.interior.reshape(-1), device=dev)
    layer = problem.layer.to(dev)
    with torch.no_grad():
        r0 = problem.mollifier_residual(
            {k: torch.as_tensor(np.nan_to_num(v)) for k, v in problem.data.items()},
            {
                n: problem.broadcast_unknown(
                    n, torch.zeros(problem.unknown_shape(n), dtype=torch.float64)
                )
                for n in problem.unknowns
            },
        )
        r0 = r0.reshape(n_eq, -1)[:, torch.as_tensor(problem.interior.reshape(-1))]
        scales = [float(torch.sqrt(torch.mean(r0[e] ** 2))) for e in range(n_eq)]
    scales = [s if s > 0 and math.isfinite(s) else 1.0 for s in scales]

    def residual_values() -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = model.params_grid()
        if derivatives == "mollifier":
            out = model.net(torch.stack(coords, dim=-1))
            flat_fields, chans = model.split(out)
            fields = {k: v.reshape(grid.shape) for k, v in flat_fields.items()}
            params.update({k: v.reshape(grid.shape) for k, v in chans.items()})
            d = MollifierDerivatives(layer, grid.shape)
            r = problem.evaluate(fields, params, d, known=known_grid)
            return problem._to_grid(r).reshape(n_eq, -1), flat_fields, chans
        inputs = {
            a: c.detach().clone().requires_grad_(True)
            for a, c in zip(grid.axes, coords, strict=True)
        }
        out = model.net(torch.stack(list(inputs.values()), dim=-1))
        flat_fields, chans = model.split(out)
        flat_params = {
            k: torch.broadcast_to(v, grid.shape).reshape(-1) if v.ndim else v
            for k, v in params.items()
        }
        flat_params.update(chans)
        r = problem.evaluate(
            flat_fields, flat_params, AutodiffDerivatives(inputs), known=known_flat
        )
        if n_eq == 1:
            r = torch.broadcast_to(r, (n_nodes,)) if r.ndim <= 1 else r.reshape(-1)
        return r.reshape(n_eq, -1), flat_fields, chans

    if data_loss == "mollified" and problem.mask is not None and not problem.mask.all():
        raise ValueError("data_loss='mollified' needs complete data (no mask)")
    smooth_obs = {}
    if data_loss == "mollified":
        for k, (y, _) in obs.items():
            smooth_obs[k] = layer(y.reshape(1, 1, *grid.shape), "")[0, 0].reshape(-1)

    def misfit(i: int, k: str, pred: torch.Tensor) -> torch.Tensor:
        y, seen = obs[k]
        if data_loss == "pointwise":
            return torch.mean(((pred - y)[seen] / model.std[i]) ** 2)
        smooth = layer(pred.reshape(1, 1, *grid.shape), "")[0, 0].reshape(-1)
        return torch.mean(((smooth - smooth_obs[k])[interior] / model.std[i]) ** 2)

    def loss_terms() -> tuple[torch.Tensor, dict[str, float]]:
        r, flat_fields, chans = residual_values()
        data_term = torch.stack([misfit(i, k, flat_fields[k]) for i, k in enumerate(obs)]).sum()
        res_loss = torch.stack(
            [w * torch.mean((r[e][interior] / scales[e]) ** 2) for e, w in enumerate(weights)]
        ).sum()
        loss = data_term + residual_weight * res_loss
        terms = {"data": float(data_term.detach()), "residual": float(res_loss.detach())}
        if field_regularization > 0:
            reg = torch.zeros((), dtype=tdtype, device=dev)
            for n, p in model.grid_fields.items():
                v = model.unknown_value(n, p)
                for ax in range(v.ndim):
                    reg = reg + torch.mean(torch.diff(v, dim=ax) ** 2)
            for v in chans.values():
                g = v.reshape(grid.shape)
                for ax in range(g.ndim):
                    reg = reg + torch.mean(torch.diff(g, dim=ax) ** 2)
            loss = loss + field_regularization * reg
            terms["regularization"] = float(reg.detach())
        terms["loss"] = float(loss.detach())
        return loss, terms

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    final_lr = lr / 100 if lr_final is None else lr_final
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=final_lr)
    history: dict[str, list[float]] = {"step": []}
    start = 0
    # loop and wall time spent before this call, when it resumes a checkpoint
    prior = {"adam_time_s": 0.0, "wall_time_s": 0.0}
    loaded = False
    ckpt = Path(checkpoint) if checkpoint is not None else None
    # what a checkpoint must agree on to be resumed (the optimiser and schedule states carry the
    # learning rate and step budget they were made with, and would silently override these)
    training = {
        "steps": steps,
        "lr": lr,
        "lr_final": final_lr,
        "lbfgs_steps": lbfgs_steps,
        "residual_weight": residual_weight,
        "field_regularization": field_regularization,
        "seed": seed,
        "dtype": dtype,
        "network": solver.options()["arch"],
        "equation_weights": list(weights),
        "data_loss": data_loss,
        "patience": patience,
        "min_delta": min_delta if patience is not None else None,
        "kernel": repr(problem.kernel),
        "boundary": repr(problem.boundary),
    }
    # with a checkpoint, the problem it was made for must agree too
    pinned = {**training, **problem_identity(problem, channels)} if ckpt is not None else training
    # early-stopping state; a checkpoint that stopped early, or ran L-BFGS, is a finished run
    stopping = {"best": math.inf, "since_best": 0, "stopped_early": False, "lbfgs_done": False}
    if resume:
        if ckpt is None:
            raise ValueError("resume=True needs a checkpoint path")
        if ckpt.is_file():
            state = torch.load(ckpt, map_location=dev, weights_only=False)
            check_resumable(ckpt, state, arch=arch, derivatives=derivatives, training=pinned)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            history = state["history"]
            start = int(state["step"])
            prior.update(state.get("times", {}))
            stopping.update(state.get("stopping", {}))
            loaded = True

    def save_checkpoint(step: int, loop_time: float) -> float:
        """Save the training state; return the seconds it took."""
        if ckpt is None:
            return 0.0
        t_save = time.perf_counter()
        times = {
            "adam_time_s": prior["adam_time_s"] + loop_time,
            "wall_time_s": prior["wall_time_s"] + time.perf_counter() - t0,
        }
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = unfinished_save(ckpt)
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "history": history,
                "step": step,
                "arch": arch,
                "derivatives": derivatives,
                "times": times,
                "training": pinned,
                "stopping": stopping,
            },
            tmp,
        )
        tmp.replace(ckpt)
        return time.perf_counter() - t_save

    def record(step: int, terms: dict[str, float]) -> None:
        history["step"].append(float(step))
        for k, v in terms.items():
            history.setdefault(k, []).append(v)
        for n, p in model.constants.items():
            history.setdefault(n, []).append(float(model.unknown_value(n, p).detach()))

    from mollifier._progress import progress_bar

    bar = progress_bar(
        total=steps,
        initial=start,
        disable=not progress,
        desc=f"{arch}/{derivatives}",
        dynamic_ncols=True,
    )
    finished = stopping["stopped_early"] or stopping["lbfgs_done"]
    end = start if finished else steps
    step = start
    first_step_times: list[float] = []  # wall time of each of this call's first steps
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t_loop = time.perf_counter()
    saving = 0.0  # seconds spent saving checkpoints inside the loop, not counted as training
    try:
        for step in range(start, end):
            t_step = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss, terms = loss_terms()
            if not math.isfinite(terms["loss"]):
                raise TrainingDivergedError(
                    f"training diverged at step {step}: loss is {terms['loss']} (terms {terms}); "
                    "lower the learning rate or the residual weight",
                    step=step,
                    history=history,
                )
            loss.backward()
            opt.step()
            sched.step()
            if len(first_step_times) < TIMED_FIRST_STEPS:
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                first_step_times.append(time.perf_counter() - t_step)
            if step % log_every == 0 or step == steps - 1:
                record(step, terms)
                if progress:
                    post = {k: f"{v:.3e}" for k, v in terms.items()}
                    post.update(
                        {
                            n: f"{float(model.unknown_value(n, p)):.4g}"
                            for n, p in model.constants.items()
                        }
                    )
                    bar.set_postfix(post, refresh=False)
            bar.update(1)
            if patience is not None:
                if terms["loss"] < stopping["best"] * (1 - min_delta):
                    stopping.update(best=terms["loss"], since_best=0)
                else:
                    stopping["since_best"] += 1
                    if stopping["since_best"] >= patience:
                        stopping["stopped_early"] = True
                        break
            if ckpt is not None and (step + 1) % checkpoint_every == 0:
                saving += save_checkpoint(step + 1, time.perf_counter() - t_loop - saving)
    finally:
        bar.close()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    trained = end > start
    loop_time = time.perf_counter() - t_loop - saving if trained else 0.0
    steps_done = step + 1 if trained else start
    if lbfgs_steps and not stopping["lbfgs_done"]:
        lbfgs = torch.optim.LBFGS(
            model.parameters(), max_iter=lbfgs_steps, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            lbfgs.zero_grad(set_to_none=True)
            loss, _ = loss_terms()
            loss.backward()
            return loss

        lbfgs.step(closure)
        _, terms = loss_terms()
        if not math.isfinite(terms["loss"]):
            raise TrainingDivergedError("L-BFGS diverged", step=steps_done, history=history)
        record(steps_done + lbfgs_steps, terms)
        stopping["lbfgs_done"] = trained = True
    if trained or not loaded:  # resuming a finished run saves nothing: its times do not grow
        save_checkpoint(steps_done, loop_time)
    result = _collect(problem, model, coords, channels)
    result.history = history
    result.config = {
        "method": "network",
        "arch": arch,
        "derivatives": derivatives,
        "device": str(dev),
        **training,
    }
    result.diagnostics.update(
        {
            "steps_done": steps_done,
            "stopped_early": stopping["stopped_early"],
            "residual_scale": scales[0] if n_eq == 1 else scales,
            "channels": channels,
            "adam_time_s": prior["adam_time_s"] + loop_time,
            "first_step_times_s": first_step_times,
            "resumed_at_step": start,
        }
    )
    result.compute_metrics()
    result.diagnostics["data_misfit"] = result.data_misfit(problem.mask)
    if read_off:
        _read_off(problem, result)
    result.wall_time_s = prior["wall_time_s"] + time.perf_counter() - t0
    result.peak_memory_mb = peak_memory_mb(str(dev))
    return result


def _collect(
    problem: InverseProblem, model: _Model, coords: list[torch.Tensor], channels: list[str]
) -> Result:
    grid = problem.grid
    with torch.no_grad():
        out = model.net(torch.stack(coords, dim=-1))
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
