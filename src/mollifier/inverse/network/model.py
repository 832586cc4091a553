"""The trained object: a coordinate network plus the unknowns that are not its outputs.

A network maps the grid's coordinates to the observed fields, normalised by their mean and
standard deviation, followed by one output channel per field unknown it represents
(:func:`network_channels`). Constants, and fields over fewer axes than the grid, are plain
parameters beside it. Positive unknowns are parametrised so they stay positive: a log for
parameters, a softplus shifted to start at the initial value for channels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mollifier.inverse.problem import InverseProblem
from mollifier.inverse.unknowns import Constant, Field

__all__ = ["FieldModel", "grid_coordinates", "network_channels"]


def network_channels(problem: InverseProblem) -> list[str]:
    """The field unknowns represented as network outputs, in output order: those declared
    ``representation="channel"``, and ``"auto"`` fields over every axis of the grid.

    Raises
    ------
    ValueError
        A ``"channel"`` field over fewer axes than the grid (a network output spans them all).
    """
    axes = problem.grid.axes
    channels = [
        n
        for n, u in problem.unknowns.items()
        if isinstance(u, Field)
        and (
            u.representation == "channel" or (u.representation == "auto" and tuple(u.axes) == axes)
        )
    ]
    for n in channels:
        spans = problem.unknowns[n].axes  # type: ignore[union-attr]
        if tuple(spans) != axes:
            raise ValueError(
                f"field {n!r} spans {spans}; only fields over every axis {axes} can be "
                "network channels"
            )
    return channels


def grid_coordinates(
    problem: InverseProblem, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Every grid node's coordinates, shape ``(n_nodes, ndim)``, in the grid's C order."""
    mesh = problem.grid.mesh()
    return torch.stack(
        [torch.as_tensor(m.reshape(-1), dtype=dtype, device=device) for m in mesh], dim=-1
    )


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y)) if y < 20 else y


class FieldModel(nn.Module):
    """Network plus unknown parameters; produces fields and unknowns in either layout.

    Parameters
    ----------
    problem : InverseProblem
    net : nn.Module
        Maps ``(N, ndim)`` coordinates to ``(N, len(problem.data) + len(channels))`` outputs.
    channels : list of str
        The field unknowns among the outputs, after the data fields (:func:`network_channels`).
    """

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
        """A parameter's value from its raw (possibly log) form."""
        return torch.exp(raw) if self.problem.unknowns[name].positive else raw

    def split(self, out: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Network output ``(N, C)`` → data fields and channel unknowns, each ``(N,)``."""
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
        """The parameter unknowns (not the channels), fields broadcast to the grid."""
        out = {n: self.unknown_value(n, p) for n, p in self.constants.items()}
        for n, p in self.grid_fields.items():
            out[n] = self.problem.broadcast_unknown(n, self.unknown_value(n, p))
        return out

    def constant_values(self) -> dict[str, float]:
        """The constants' current values."""
        return {n: float(self.unknown_value(n, p).detach()) for n, p in self.constants.items()}
