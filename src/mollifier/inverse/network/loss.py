"""The network solver's loss: data misfit, scaled PDE residual and field regularisation.

    L = Σ_fields mean_observed((u_net − u_obs)² / σ²)
        + w_res · Σ_e w_e · mean_interior((R_e / R₀_e)²)
        + w_reg · Σ_fields mean(|Δλ|²),

where ``R_e`` is equation ``e`` of the residual with mollifier derivatives
(``derivatives="mollifier"``: the network's gridded output goes through the problem's
:class:`~mollifier.MollifierLayer`) or nested autograd (``derivatives="autodiff"``: the same
residual function, derivatives at the nodes), ``σ`` each field's standard deviation, ``w_e``
the solver's ``equation_weights`` and ``R₀_e = rms(R_e)`` of the data at zero unknowns, which
fixes each equation's scale once, identically for both backends. ``data_loss="mollified"``
compares mollified network fields with mollified data on the interior instead of the samples.
``Network(batch=...)`` estimates this loss on random tiles of the grid
(:mod:`~mollifier.inverse.network.tiles`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from mollifier.autodiff import AutodiffDerivatives
from mollifier.derivatives import MollifierDerivatives
from mollifier.inverse.network.model import FieldModel
from mollifier.inverse.problem import InverseProblem

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = ["PhysicsLoss", "residual_scales"]


def residual_scales(problem: InverseProblem) -> list[float]:
    """``R₀_e``: each equation's rms over the interior for the data at zero unknowns (1 where
    that is zero or not finite)."""
    zeros = {
        n: problem.broadcast_unknown(n, torch.zeros(problem.unknown_shape(n), dtype=torch.float64))
        for n in problem.unknowns
    }
    with torch.no_grad():
        data = {k: torch.as_tensor(np.nan_to_num(v)) for k, v in problem.data.items()}
        r0 = problem.mollifier_residual(data, zeros).reshape(problem.n_equations, -1)
        r0 = r0[:, torch.as_tensor(problem.interior.reshape(-1))]
        scales = [float(torch.sqrt(torch.mean(r0[e] ** 2))) for e in range(len(r0))]
    return [s if s > 0 and math.isfinite(s) else 1.0 for s in scales]


class PhysicsLoss:
    """The loss of ``model`` on ``problem`` with ``solver``'s weights (module docstring).

    Calling it evaluates the network on every node and returns the loss (a scalar tensor with
    its graph) and its terms as floats: ``data``, ``residual``, ``regularization`` (when the
    penalty is on) and ``loss``.
    """

    def __init__(
        self,
        problem: InverseProblem,
        model: FieldModel,
        coords: torch.Tensor,
        solver: Network,
    ) -> None:
        n_eq = problem.n_equations
        weights = solver.equation_weights or (1.0,) * n_eq
        if len(weights) != n_eq:
            raise ValueError(
                f"equation_weights has {len(weights)} entries; the residual has {n_eq} "
                f"equations {list(problem.equations)}"
            )
        if solver.data_loss == "mollified" and problem.mask is not None and not problem.mask.all():
            raise ValueError("data_loss='mollified' needs complete data (no mask)")
        self.problem, self.model, self.coords, self.solver = problem, model, coords, solver
        self.weights = tuple(weights)
        self.scales = residual_scales(problem)
        dtype, dev = coords.dtype, coords.device
        self.layer = problem.layer.to(dev)
        self.interior = torch.as_tensor(problem.interior.reshape(-1), device=dev)
        self.known_grid = {
            k: v if isinstance(v, float) else torch.as_tensor(v, dtype=dtype, device=dev)
            for k, v in problem.known.items()
        }
        self.obs = {}
        for k, arr in problem.data.items():
            seen = np.isfinite(arr) if problem.mask is None else problem.mask
            self.obs[k] = (
                torch.as_tensor(np.nan_to_num(arr).reshape(-1), dtype=dtype, device=dev),
                torch.as_tensor(seen.reshape(-1), device=dev),
            )
        self.smooth_obs = {}
        if solver.data_loss == "mollified":
            self.smooth_obs = {k: self._mollify(y) for k, (y, _) in self.obs.items()}

    def _mollify(self, flat: torch.Tensor) -> torch.Tensor:
        shape = self.problem.grid.shape
        return self.layer(flat.reshape(1, 1, *shape), "")[0, 0].reshape(-1)

    def residual(self) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The residual ``(n_equations, n_nodes)``, the network's fields and its channel
        unknowns (each ``(n_nodes,)``)."""
        problem, model, grid = self.problem, self.model, self.problem.grid
        params = model.params_grid()
        n_eq = problem.n_equations
        if self.solver.derivatives == "mollifier":
            flat_fields, chans = model.split(model.net(self.coords))
            fields = {k: v.reshape(grid.shape) for k, v in flat_fields.items()}
            params.update({k: v.reshape(grid.shape) for k, v in chans.items()})
            d = MollifierDerivatives(self.layer, grid.shape)
            r = problem.evaluate(fields, params, d, known=self.known_grid)
            return problem._to_grid(r).reshape(n_eq, -1), flat_fields, chans
        inputs = {
            a: self.coords[:, i].detach().clone().requires_grad_(True)
            for i, a in enumerate(grid.axes)
        }
        flat_fields, chans = model.split(model.net(torch.stack(list(inputs.values()), dim=-1)))
        flat_params = {
            k: torch.broadcast_to(v, grid.shape).reshape(-1) if v.ndim else v
            for k, v in params.items()
        }
        flat_params.update(chans)
        known = {
            k: v if isinstance(v, float) else v.reshape(-1) for k, v in self.known_grid.items()
        }
        r = problem.evaluate(flat_fields, flat_params, AutodiffDerivatives(inputs), known=known)
        if n_eq == 1:
            n_nodes = self.coords.shape[0]
            r = torch.broadcast_to(r, (n_nodes,)) if r.ndim <= 1 else r.reshape(-1)
        return r.reshape(n_eq, -1), flat_fields, chans

    def _misfit(self, i: int, name: str, pred: torch.Tensor) -> torch.Tensor:
        y, seen = self.obs[name]
        std = self.model.std[i]
        if self.solver.data_loss == "pointwise":
            return torch.mean(((pred - y)[seen] / std) ** 2)
        smooth = self._mollify(pred)
        return torch.mean(((smooth - self.smooth_obs[name])[self.interior] / std) ** 2)

    def _regularization(self, chans: dict[str, torch.Tensor]) -> torch.Tensor:
        model = self.model
        values = [model.unknown_value(n, p) for n, p in model.grid_fields.items()]
        values += [v.reshape(self.problem.grid.shape) for v in chans.values()]
        reg = torch.zeros((), dtype=self.coords.dtype, device=self.coords.device)
        for v in values:
            for ax in range(v.ndim):
                reg = reg + torch.mean(torch.diff(v, dim=ax) ** 2)
        return reg

    def __call__(self, step: int | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss and its terms; ``step`` (the Adam step) is for minibatch losses
        (:class:`~mollifier.inverse.network.tiles.TiledLoss`) and ignored here."""
        r, flat_fields, chans = self.residual()
        data = torch.stack([self._misfit(i, k, flat_fields[k]) for i, k in enumerate(self.obs)])
        data_term = data.sum()
        res_loss = torch.stack(
            [
                w * torch.mean((r[e][self.interior] / self.scales[e]) ** 2)
                for e, w in enumerate(self.weights)
            ]
        ).sum()
        loss = data_term + self.solver.residual_weight * res_loss
        terms = {"data": float(data_term.detach()), "residual": float(res_loss.detach())}
        if self.solver.field_regularization > 0:
            reg = self._regularization(chans)
            loss = loss + self.solver.field_regularization * reg
            terms["regularization"] = float(reg.detach())
        terms["loss"] = float(loss.detach())
        return loss, terms
