"""The fit diagnosis of a trained network (``result.diagnostics["fit"]``).

:func:`diagnose_network` judges the final state (:mod:`mollifier.inverse.diagnosis` states the
tests and thresholds):

* ``data``: per data field, the network's field against the data and the data's estimated noise
  (pointwise on the observed nodes; with ``data_loss="mollified"``, the mollified field against
  the mollified data on the interior, against the mollified noise variance ``σ² Σ w²``, ``w`` the
  smoothing stencil, and the noise floor scaled by ``Σ w²`` too);
* ``residual``: per equation, the final RMS of the residual the loss trains (same derivative
  backend) over its scale ``R₀``;
* ``loss``: the weighted loss terms at the final state (the loss's own terms, times the solver's
  weights), their shares, the dominant term and each term's gradient-norm share over the trained
  parameters (the residual term's gradient, and the rest of the loss's: data, plus the field
  regularisation when it is on). Costs two loss evaluations with their backward passes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier.inverse.diagnosis import (
    NOISE_FLOOR,
    data_diagnosis,
    field_noise_std,
    loss_balance,
    residual_diagnosis,
    thresholds,
)
from mollifier.inverse.network.loss import PhysicsLoss
from mollifier.inverse.problem import InverseProblem
from mollifier.inverse.result import Result

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = ["diagnose_network", "smoothing_norm"]


def smoothing_norm(problem: InverseProblem) -> float:
    """``Σ w²`` of the problem's smoothing stencil at an interior node (the grid's centre): the
    factor mollifying multiplies white noise's variance by, ``var(η∗ε) = σ² Σ w²``."""
    shape = problem.grid.shape
    delta = torch.zeros(shape, dtype=torch.float64)
    delta[tuple(n // 2 for n in shape)] = 1.0
    with torch.no_grad():
        response = problem.layer(delta[None, None], "")[0, 0]
    return float(torch.sum(response**2))


def _data_part(
    problem: InverseProblem, result: Result, solver: Network
) -> tuple[dict[str, Any], dict[str, float]]:
    """Per data field, :func:`~mollifier.inverse.diagnosis.data_diagnosis`; and the noise σ."""
    noise: dict[str, float] = {}
    out: dict[str, Any] = {}
    gain = smoothing_norm(problem) if solver.data_loss == "mollified" else 1.0
    for name, values in problem.data.items():
        y = np.asarray(values, dtype=float)
        seen = np.isfinite(y) if problem.mask is None else np.asarray(problem.mask, dtype=bool)
        noise[name] = field_noise_std(np.where(seen, y, np.nan))
        f = result.fields[name]
        if solver.data_loss == "mollified":
            with torch.no_grad():
                f, y = (
                    problem.layer(torch.as_tensor(a)[None, None], "")[0, 0].numpy()
                    for a in (f, np.nan_to_num(y))
                )
            seen = problem.interior
        out[name] = data_diagnosis(
            f, y, noise_std=noise[name] * math.sqrt(gain), seen=seen, floor=NOISE_FLOOR * gain
        )
    return out, noise


def _flat_grad(value: torch.Tensor, params: Sequence[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(value, params, retain_graph=False, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def _loss_part(loss: PhysicsLoss, solver: Network) -> tuple[dict[str, Any], list[float]]:
    """The weighted loss terms, their gradient norms, and each equation's final RMS over R₀."""
    params = [p for p in loss.model.parameters() if p.requires_grad]
    total, terms = loss()
    g_total = _flat_grad(total, params)
    r, _, _ = loss.residual()
    per_eq = [torch.mean((r[e][loss.interior] / loss.scales[e]) ** 2) for e in range(len(r))]
    weights = torch.as_tensor(loss.weights, dtype=r.dtype, device=r.device)
    res = solver.residual_weight * torch.sum(weights * torch.stack(per_eq))
    g_res = _flat_grad(res, params)
    rest = "data" if solver.field_regularization == 0 else "data and regularization"
    weighted = {"data": terms["data"], "residual": solver.residual_weight * terms["residual"]}
    if "regularization" in terms:
        weighted["regularization"] = solver.field_regularization * terms["regularization"]
    norms = {
        rest: float(torch.linalg.vector_norm(g_total - g_res)),
        "residual": float(torch.linalg.vector_norm(g_res)),
    }
    ratios = [math.sqrt(float(t.detach())) for t in per_eq]
    return loss_balance(weighted, norms), ratios


def diagnose_network(
    problem: InverseProblem, result: Result, loss: PhysicsLoss, solver: Network
) -> tuple[dict[str, Any], dict[str, float]]:
    """The fit diagnosis of a trained network (module docstring) and the data's estimated noise
    standard deviations.

    ``result`` holds the network's final fields (:class:`~mollifier.inverse.result.Result`);
    ``loss`` is the training loss at the final state. Returns ``(fit, noise_std)``: ``fit`` has
    ``data`` (per field), ``residual`` (per equation, named as in the residual, or
    ``"residual"`` for a single one), ``loss``, the ``thresholds`` applied and ``time_s``.
    """
    t0 = time.perf_counter()
    data, noise = _data_part(problem, result, solver)
    balance, ratios = _loss_part(loss, solver)
    names = list(problem.equations) if problem.n_equations > 1 else ["residual"]
    residual = {
        name: residual_diagnosis(ratio * scale, scale)
        for name, ratio, scale in zip(names, ratios, loss.scales, strict=True)
    }
    fit = {
        "data": data,
        "residual": residual,
        "loss": balance,
        "thresholds": thresholds(),
        "time_s": time.perf_counter() - t0,
    }
    return fit, noise
