"""Derivatives on an irregular 2-D domain, one box kernel per node (:mod:`mollifier.kernels.box`).

For a derivative of orders ``(k_x, k_y)``, node ``n`` with box shift ``(s_x, s_y)`` gets

    out[n] = Σ_b ψ_y[b] Σ_a ψ_x[a] u[i + s_x − r_x + a, j + s_y − r_y + b],

``ψ_a`` the shifted 1-D rows of order ``k_a`` (:func:`~mollifier.kernels.box.shifted_rows`). The
inner sum is one ``conv1d`` over the whole grid with one output channel per distinct ``s_x``; the
outer sum gathers, for each node, the ``2 r_y + 1`` values of its own channel along its box. Both
are differentiable torch operations, so the layer's outputs carry gradients as on a rectangle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mollifier.kernels._base import AbstractKernel
from mollifier.kernels.box import NO_BOX, box_shifts, shifted_rows

__all__ = ["BoxDomain"]


class BoxDomain:
    """Box kernels of a 2-D ``domain`` for given per-axis spacing, width and radius.

    ``valid`` marks the nodes that have a box inside the domain; outputs are 0 elsewhere.
    """

    def __init__(
        self,
        domain: np.ndarray,
        *,
        kernel: AbstractKernel,
        spacing: tuple[float, float],
        width: tuple[float, float],
        radius: tuple[int, int],
        moments: int | None,
    ) -> None:
        self.domain = np.asarray(domain, dtype=bool)
        self.kernel = kernel
        self.spacing = spacing
        self.width = width
        self.radius = radius
        self.moments = moments
        self._shifts = box_shifts(self.domain, radius)
        self.valid = self._shifts[..., 0] != NO_BOX
        nodes = np.flatnonzero(self.valid)
        self._nodes = nodes
        sx = self._shifts[..., 0].reshape(-1)[nodes]
        sy = self._shifts[..., 1].reshape(-1)[nodes]
        self._sx_values = np.unique(sx)
        channel = np.searchsorted(self._sx_values, sx)
        nx, ny = self.domain.shape
        i, j = np.divmod(nodes, ny)
        ry = radius[1]
        rows = j[:, None] + sy[:, None] - ry + np.arange(2 * ry + 1)[None, :]
        # Flat index into the x-pass output laid out (ny, channels, nx).
        self._gather = (rows * len(self._sx_values) + channel[:, None]) * nx + i[:, None]
        self._sy = sy + ry
        self._cache: dict[tuple[Any, ...], torch.Tensor] = {}
        self._device: dict[tuple[Any, ...], tuple[torch.Tensor, ...]] = {}

    def _rows(self, axis: int, order: int) -> np.ndarray:
        return shifted_rows(
            self.kernel,
            order,
            spacing=self.spacing[axis],
            width=self.width[axis],
            moments=self.moments,
        )

    def _x_bank(self, order: int, like: torch.Tensor) -> torch.Tensor:
        """conv1d weights ``(channels, 1, 4 r_x + 1)``: channel q holds the row of shift
        ``sx_values[q]`` at its offset."""
        key = ("x", order, like.dtype, like.device)
        if key not in self._cache:
            r = self.radius[0]
            rows = self._rows(0, order)
            bank = np.zeros((len(self._sx_values), 1, 4 * r + 1))
            for q, s in enumerate(self._sx_values):
                bank[q, 0, s + r : s + 3 * r + 1] = rows[s + r]
            self._cache[key] = torch.as_tensor(bank, dtype=like.dtype, device=like.device)
        return self._cache[key]

    def _y_weights(self, order: int, like: torch.Tensor) -> torch.Tensor:
        key = ("y", order, like.dtype, like.device)
        if key not in self._cache:
            rows = self._rows(1, order)[self._sy]
            self._cache[key] = torch.as_tensor(rows, dtype=like.dtype, device=like.device)
        return self._cache[key]

    def _on_device(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The domain mask, the gather index and the valid nodes on ``like``'s device."""
        key = ("arrays", like.device)
        if key not in self._device:
            self._device[key] = tuple(
                torch.as_tensor(a, device=like.device)
                for a in (self.domain, self._gather, self._nodes)
            )
        return self._device[key]

    def apply(self, g: torch.Tensor, orders: tuple[int, int]) -> torch.Tensor:
        """The ``orders`` derivative of ``g`` (``(batch, channel, nx, ny)``) at every valid node,
        0 elsewhere; samples outside the domain are never read."""
        batch, channel, nx, ny = g.shape
        mask, index, nodes = self._on_device(g)
        g = torch.where(mask, g, torch.zeros((), dtype=g.dtype, device=g.device))
        lines = g.permute(0, 1, 3, 2).reshape(-1, 1, nx)  # (B C ny, 1, nx)
        bank = self._x_bank(orders[0], g)
        xpass = torch.nn.functional.conv1d(lines, bank, padding=2 * self.radius[0])
        flat = xpass.reshape(batch * channel, -1)  # (B C, ny · channels · nx)
        picked = flat[:, index]  # (B C, nodes, 2 r_y + 1)
        values = (picked * self._y_weights(orders[1], g)).sum(-1)
        out = torch.zeros(batch * channel, nx * ny, dtype=g.dtype, device=g.device)
        out = out.index_copy(1, nodes, values)
        return out.reshape(batch, channel, nx, ny)

    def noise_gain(
        self, orders: tuple[int, int], taps: tuple[np.ndarray, np.ndarray]
    ) -> np.ndarray:
        """Per node, ``‖ψ_x‖ ‖ψ_y‖`` over the interior stencils' norms; NaN outside ``valid``."""
        gain = np.full(self.domain.shape, np.nan)
        gain[self.valid] = 1.0
        for axis in (0, 1):
            norms = np.linalg.norm(self._rows(axis, orders[axis]), axis=1)
            shift = self._shifts[..., axis][self.valid] + self.radius[axis]
            gain[self.valid] *= norms[shift] / np.linalg.norm(taps[axis])
        return gain
