"""Nested-autograd derivatives with the same call shape as the mollifier backend (the baseline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from mollifier.derivatives import AbstractDerivatives

__all__ = ["AutodiffDerivatives"]


class AutodiffDerivatives(AbstractDerivatives):
    """``d(q, "xx")`` by nested :func:`torch.autograd.grad` with respect to coordinate inputs.

    ``q`` must be computed *pointwise* from the coordinate tensors (row ``i`` of ``q`` depends only
    on row ``i`` of the inputs), as a coordinate network's output is; then
    ``grad(q.sum(), x)`` is the per-point derivative. Derivatives are taken one axis at a time with
    ``create_graph=True``, so they can be differentiated again and back-propagated through;
    intermediate derivatives are shared between specs (``"xxxx"`` reuses ``"xx"``). ``d(q)`` and
    ``d(q, "")`` return ``q`` itself: this backend does not smooth.

    Parameters
    ----------
    inputs : mapping of str to Tensor
        Axis name to its coordinate tensor of shape ``(N,)``, each with ``requires_grad=True``
        and used (stacked) as the network input.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(0, 1, 5, dtype=torch.float64, requires_grad=True)
    >>> t = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    >>> d = AutodiffDerivatives({"t": t, "x": x})
    >>> q = torch.sin(x) * torch.exp(t)
    >>> bool(torch.allclose(d(q, "xxt"), -torch.sin(x)))
    True
    """

    def __init__(self, inputs: Mapping[str, torch.Tensor]) -> None:
        super().__init__(tuple(inputs))
        for a, x in inputs.items():
            if not isinstance(x, torch.Tensor) or not x.requires_grad:
                raise ValueError(f"input {a!r} must be a tensor with requires_grad=True")
        self.inputs = dict(inputs)

    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        if not isinstance(q, torch.Tensor):
            q = torch.as_tensor(q)
        if not any(orders):
            return q
        # Peel off the last derivative; the rest comes (memoised) from the parent spec.
        last = max(i for i, k in enumerate(orders) if k)
        parent_orders = tuple(k - (i == last) for i, k in enumerate(orders))
        parent_spec = "".join(a * k for a, k in zip(self.axes, parent_orders, strict=True))
        parent = self(q, parent_spec)
        x = self.inputs[self.axes[last]]
        if parent.numel() != x.numel():
            raise ValueError(
                f"autodiff derivatives need one value per point: q has shape {tuple(parent.shape)} "
                f"but there are {x.numel()} points; differentiate each channel separately"
            )
        if not parent.requires_grad:
            return torch.zeros_like(parent)
        (g,) = torch.autograd.grad(
            parent, x, grad_outputs=torch.ones_like(parent), create_graph=True, allow_unused=True
        )
        if g is None:
            return torch.zeros_like(parent)
        return g.reshape(parent.shape) if g.shape != parent.shape else g
