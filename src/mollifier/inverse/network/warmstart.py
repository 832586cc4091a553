"""Start a network where the direct solver ends (``Network(start="direct")``).

For a residual affine in its unknowns, the direct solver's answer costs a fraction of one
training run. The warm start

1. solves the problem with :func:`~mollifier.inverse.direct.solve_direct`;
2. sets the constants and the parameter fields to the direct estimates (nodes it cannot
   identify, and non-positive values of positive unknowns, keep their initial values);
3. fits the network to the data and the direct field unknowns for ``start_steps`` Adam steps at
   the solver's learning rate, on the loss

       Σ_fields mean_observed((u_net − u_obs)² / σ²)
           + Σ_channels mean_identified((λ_net − λ̂)² / var λ̂),

   so training proper begins with the fields fitted and the unknowns at the direct estimate.

Physics training then proceeds as from a cold start. The direct result is kept beside the
network's (``result.diagnostics["start"]``, ``result.extras["direct_unknowns"]``), so both can
be reported. A residual that is not affine has no direct answer: the start is cold and the
diagnostics say why; so is the start on data with gaps the direct solver's stencils reach.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier.inverse.direct import MissingDataError, NonAffineResidualError, solve_direct
from mollifier.inverse.network.model import FieldModel
from mollifier.inverse.problem import InverseProblem

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = ["warm_start"]


def _raw(value: np.ndarray, init: float, positive: bool) -> np.ndarray:
    """A parameter's raw value for ``value`` (log for positive unknowns); nodes with no usable
    estimate (NaN, or ≤ 0 where positive) keep ``init``."""
    usable = np.isfinite(value) & ((value > 0) if positive else True)
    out = np.where(usable, value, init)
    return np.log(out) if positive else out


def warm_start(
    problem: InverseProblem, model: FieldModel, coords: torch.Tensor, solver: Network
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set ``model`` to the direct solution and fit its outputs to it (module docstring).

    Returns ``(summary, direct_unknowns)``: the summary (``used``, the direct solve's metrics and
    time, the pre-fit's steps, final loss and time, or the reason the start stayed cold) and the
    direct estimates (empty when not used).
    """
    t0 = time.perf_counter()
    try:
        direct = solve_direct(problem)
    except NonAffineResidualError as exc:
        return {"used": False, "reason": f"residual not affine ({exc})"}, {}
    except MissingDataError as exc:
        return {
            "used": False,
            "reason": f"data missing where the direct solver needs them ({exc})",
        }, {}
    solved = time.perf_counter() - t0
    dtype, dev = coords.dtype, coords.device
    with torch.no_grad():
        for name, p in [*model.constants.items(), *model.grid_fields.items()]:
            u = problem.unknowns[name]
            value = np.asarray(direct.unknowns[name], dtype=float)
            p.copy_(torch.as_tensor(_raw(value, u.init, u.positive), dtype=p.dtype))
    targets = _targets(problem, model, direct.unknowns, dtype, dev)
    opt = torch.optim.Adam(model.net.parameters(), lr=solver.lr)
    loss = torch.tensor(math.nan)
    for _ in range(solver.start_steps):
        opt.zero_grad(set_to_none=True)
        fields, chans = model.split(model.net(coords))
        loss = torch.zeros((), dtype=dtype, device=dev)
        for name, (target, keep, scale) in targets.items():
            values = fields[name] if name in fields else chans[name]
            loss = loss + torch.mean(((values - target) / scale)[keep] ** 2)
        loss.backward()
        opt.step()
    summary = {
        "used": True,
        "method": "direct",
        "metrics": direct.metrics,
        "direct_time_s": solved,
        "steps": solver.start_steps,
        "fit_loss": float(loss.detach()),
        "time_s": time.perf_counter() - t0,
    }
    return summary, dict(direct.unknowns)


def _targets(
    problem: InverseProblem,
    model: FieldModel,
    unknowns: dict[str, Any],
    dtype: torch.dtype,
    device: torch.device,
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per network output: its target on the nodes (flattened), the nodes that count, and the
    scale the misfit is divided by (the data's σ; the direct field's standard deviation)."""
    out = {}
    for i, name in enumerate(model.data_names):
        arr = np.asarray(problem.data[name], dtype=float).reshape(-1)
        keep = np.isfinite(arr)
        if problem.mask is not None:
            keep &= np.asarray(problem.mask).reshape(-1)
        out[name] = (
            torch.as_tensor(np.nan_to_num(arr), dtype=dtype, device=device),
            torch.as_tensor(keep, device=device),
            model.std[i].to(device=device, dtype=dtype),
        )
    for name in model.channels:
        arr = np.asarray(unknowns[name], dtype=float).reshape(-1)
        keep = np.isfinite(arr)
        if problem.unknowns[name].positive:
            keep &= arr > 0
        spread = float(np.std(arr[keep])) if keep.any() else 0.0
        out[name] = (
            torch.as_tensor(np.nan_to_num(arr), dtype=dtype, device=device),
            torch.as_tensor(keep, device=device),
            torch.tensor(spread if spread > 0 else 1.0, dtype=dtype, device=device),
        )
    return out
