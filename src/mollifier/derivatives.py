"""Derivative operators for residual functions: ``d(q, "xx")`` with a mollifier or autodiff backend.

A residual is written once, as ``residual(fields, d, params)``, and runs with either backend:

* :class:`MollifierDerivatives` — ``q`` lives on the grid; ``d(q, spec)`` is the mollified
  derivative ``∂^α(η ∗ q)`` computed by a :class:`~mollifier.MollifierLayer`, and ``d(q)`` is the
  mollified ``q`` itself;
* :class:`~mollifier.autodiff.AutodiffDerivatives` — ``q`` is computed pointwise from network
  inputs;
  ``d(q, spec)`` is the nested-autograd derivative with respect to those inputs, and ``d(q)`` is
  ``q`` (no smoothing).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import torch

from mollifier.layers import MollifierLayer, parse_spec

__all__ = ["AbstractDerivatives", "MollifierDerivatives"]


class AbstractDerivatives(abc.ABC):
    """``d(q, spec)``: the derivative of ``q`` named by ``spec`` (``""``, ``"t"``, ``"xxyy"``).

    Results are memoised per ``(q, spec)`` for the lifetime of the operator, so a residual that
    uses ``d(u, "xx")`` twice pays once. Create a fresh operator for every evaluation.
    """

    def __init__(self, axes: Sequence[str]) -> None:
        self.axes = tuple(axes)
        self._memo: dict[tuple[int, tuple[int, ...]], tuple[Any, torch.Tensor]] = {}

    def __call__(self, q: Any, spec: str | Sequence[str] = "") -> torch.Tensor:
        orders = parse_spec(spec, self.axes)
        key = (id(q), orders)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is q:
            return hit[1]
        out = self._compute(q, orders)
        self._memo[key] = (q, out)
        return out

    @abc.abstractmethod
    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        """Derivative of ``q`` of per-axis ``orders``."""


class MollifierDerivatives(AbstractDerivatives):
    """Mollified derivatives of grid-shaped expressions, by a :class:`~mollifier.MollifierLayer`.

    Parameters
    ----------
    layer : MollifierLayer
        Defines the axes, spacing, widths, kernel and boundary mode.
    grid_shape : sequence of int
        Shape of the grid; scalars and lower-dimensional ``q`` are broadcast to it.

    ``q`` may have shape ``grid_shape`` (the result has the same shape) or
    ``(batch, channel, *grid_shape)`` (likewise), or be a scalar or anything broadcastable to the
    grid (the result has shape ``grid_shape``).
    """

    def __init__(self, layer: MollifierLayer, grid_shape: Sequence[int]) -> None:
        super().__init__(layer.axes)
        self.layer = layer
        self.grid_shape = tuple(int(n) for n in grid_shape)
        if len(self.grid_shape) != len(layer.axes):
            raise ValueError(f"grid_shape {self.grid_shape} does not match the axes {layer.axes}")

    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        spec = "".join(a * k for a, k in zip(self.axes, orders, strict=True))
        ref = next((b for b in self.layer.buffers()), None)
        t = q if isinstance(q, torch.Tensor) else torch.as_tensor(q, dtype=torch.float64)
        if not t.is_floating_point():
            t = t.to(ref.dtype if ref is not None else torch.float64)
        nd = len(self.grid_shape)
        if t.ndim == nd + 2 and tuple(t.shape[2:]) == self.grid_shape:
            return self.layer(t, spec)
        try:
            t = torch.broadcast_to(t, self.grid_shape)
        except RuntimeError:
            raise ValueError(
                f"cannot differentiate an expression of shape {tuple(t.shape)} on a grid of shape "
                f"{self.grid_shape}"
            ) from None
        return self.layer(t[None, None], spec)[0, 0]
