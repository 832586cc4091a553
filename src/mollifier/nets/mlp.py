"""The classic tanh PINN: a fully connected network with Glorot initialisation (Raissi et al.)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from mollifier.nets._common import (
    AbstractCoordinateNetwork,
    check_coordinates,
    dense,
)

__all__ = ["MLP"]


class MLP(AbstractCoordinateNetwork):
    """Fully connected tanh network, the physics-informed neural network of Raissi et al. (2019).

    With ``x̂`` the coordinates mapped to ``[-1, 1]`` by the box (identity without one),

    ``h_0 = x̂``,  ``h_l = tanh(W_l h_{l-1} + b_l)`` for ``l = 1..depth``,
    ``u = W_out h_depth + b_out``.

    Weights are Glorot (Xavier) normal, biases zero (Raissi, Perdikaris & Karniadakis, J. Comput.
    Phys. 378, 2019). Each output row depends only on the same input row, and ``tanh`` is
    C-infinity, so nested autograd gives per-point derivatives of every order.

    Parameters
    ----------
    in_features : int
        Number of input coordinates ``d``.
    out_features : int
        Number of output fields.
    hidden : int
        Neurons per hidden layer. Default 64.
    depth : int
        Number of hidden (tanh) layers. Default 4.
    lower, upper : sequence of float or None
        Coordinate box, each of length ``in_features``, in physical units; inputs are mapped
        affinely to ``[-1, 1]`` inside the network. Default: no mapping.

    Raises
    ------
    ValueError
        For non-positive sizes or an invalid box.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = MLP(in_features=2, out_features=3, lower=[0, 0], upper=[1, 2])
    >>> tuple(net(torch.rand(10, 2)).shape)
    (10, 3)
    >>> sum(p.numel() for p in net.parameters())  # (2*64 + 64) + 3 * (64*64 + 64) + (64*3 + 3)
    12867
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int = 64,
        depth: int = 4,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
    ) -> None:
        super().__init__(
            in_features=in_features,
            out_features=out_features,
            hidden=hidden,
            depth=depth,
            lower=lower,
            upper=upper,
        )
        sizes = [in_features] + [hidden] * depth
        self.layers = nn.ModuleList(dense(a, b) for a, b in itertools.pairwise(sizes))
        self.output = dense(hidden, out_features)

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate the network.

        Parameters
        ----------
        x : Tensor
            Coordinates, shape ``(N, in_features)``, in physical units; same dtype and device as
            the parameters.

        Returns
        -------
        Tensor
            Outputs, shape ``(N, out_features)``.
        """
        check_coordinates(x, self.in_features)
        h = self.box(x)
        for layer in self.layers:
            h = layer(h).tanh()
        out: Tensor = self.output(h)
        return out
