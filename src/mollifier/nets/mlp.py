"""The tanh PINN: a fully connected network with Glorot initialisation (Raissi et al.), on random
Fourier features of the coordinates (Tancik et al.) unless ``embedding=0``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from mollifier.nets._common import (
    AbstractCoordinateNetwork,
    check_coordinates,
    dense,
    fourier_features,
    fourier_frequencies,
)

__all__ = ["MLP"]


class MLP(AbstractCoordinateNetwork):
    """Fully connected tanh network, the physics-informed neural network of Raissi et al. (2019),
    by default on random Fourier features of its coordinates.

    With ``x̂`` the coordinates mapped to ``[-1, 1]`` by the box (identity without one),

    ``h_0 = Φ(x̂) = [cos(x̂ B), sin(x̂ B)]``,  ``h_l = tanh(W_l h_{l-1} + b_l)`` for
    ``l = 1..depth``,  ``u = W_out h_depth + b_out``,

    with ``B`` a fixed (not trained) ``(in_features, embedding / 2)`` matrix of ``N(0, s²)``
    entries, ``s = fourier_scale`` (Tancik et al., "Fourier features let networks learn high
    frequency functions in low dimensional domains", NeurIPS 2020). With ``embedding=0``,
    ``h_0 = x̂``: the classic PINN, which learns a field with several features per axis slowly
    (spectral bias; benchmarks/RESULTS.md § 19 measures both).

    Weights are Glorot (Xavier) normal, biases zero (Raissi, Perdikaris & Karniadakis, J. Comput.
    Phys. 378, 2019). Each output row depends only on the same input row, and ``tanh``, ``cos`` and
    ``sin`` are C-infinity, so nested autograd gives per-point derivatives of every order.

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
    embedding : int
        Number of Fourier features (even; ``embedding / 2`` frequencies), or 0 for the raw
        coordinates. Default 64.
    fourier_scale : float
        Standard deviation ``s`` of the frequencies, in radians per half box. Default 2; a
        field with many features per axis wants more (4 for the chromatin pattern), data whose
        edge rows are noisy (edge kernels) less.
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
    >>> sum(p.numel() for p in net.parameters())  # (64*64 + 64) + 3 * (64*64 + 64) + (64*3 + 3)
    16835
    >>> classic = MLP(in_features=2, out_features=3, embedding=0)
    >>> sum(p.numel() for p in classic.parameters())  # (2*64 + 64) + 3 * (64*64 + 64) + 195
    12867
    """

    frequencies: Tensor | None

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int = 64,
        depth: int = 4,
        embedding: int = 64,
        fourier_scale: float = 2.0,
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
        if isinstance(embedding, bool) or not isinstance(embedding, int) or embedding < 0:
            raise ValueError(f"embedding must be a non-negative integer, got {embedding!r}")
        self.embedding = embedding
        self.fourier_scale = float(fourier_scale)
        frequencies = (
            fourier_frequencies(in_features, embedding, fourier_scale) if embedding else None
        )
        self.register_buffer("frequencies", frequencies)
        sizes = [embedding or in_features] + [hidden] * depth
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
        if self.frequencies is not None:
            h = fourier_features(h, self.frequencies)
        for layer in self.layers:
            h = layer(h).tanh()
        out: Tensor = self.output(h)
        return out
