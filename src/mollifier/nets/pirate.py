"""PirateNet: physics-informed residual adaptive network (Wang, Li, Chen & Perdikaris, 2024)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mollifier.nets._common import (
    AbstractCoordinateNetwork,
    check_coordinates,
    dense,
    fourier_features,
    fourier_frequencies,
)

__all__ = ["PirateNet"]


class _AdaptiveBlock(nn.Module):
    """One residual block: three gated dense layers and an adaptive skip with trainable ``alpha``.

    For block input ``x`` (``embedding`` features) and the shared gates ``U``, ``V`` (``hidden``
    features)::

        f  = tanh(W1 x  + b1);   z1 = f ⊙ U + (1 - f) ⊙ V
        g  = tanh(W2 z1 + b2);   z2 = g ⊙ U + (1 - g) ⊙ V
        h  = tanh(W3 z2 + b3)
        out = alpha h + (1 - alpha) x

    ``alpha`` starts at 0, so the block starts as the identity.
    """

    def __init__(self, embedding: int, hidden: int) -> None:
        super().__init__()
        self.dense1 = dense(embedding, hidden)
        self.dense2 = dense(hidden, hidden)
        self.dense3 = dense(hidden, embedding)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, u: Tensor, v: Tensor) -> Tensor:
        f = self.dense1(x).tanh()
        z = f * u + (1 - f) * v
        g = self.dense2(z).tanh()
        z = g * u + (1 - g) * v
        h = self.dense3(z).tanh()
        out: Tensor = self.alpha * h + (1 - self.alpha) * x
        return out


class PirateNet(AbstractCoordinateNetwork):
    """Physics-informed residual adaptive network (PirateNet).

    Wang, Li, Chen & Perdikaris, "PirateNets: Physics-informed Deep Learning with Residual
    Adaptive Networks", arXiv:2402.00326 (2024). With ``x̂`` the coordinates mapped to
    ``[-1, 1]`` by the box (identity without one):

    1. Random Fourier feature embedding ``Φ(x̂) = [cos(x̂ B), sin(x̂ B)]`` with a fixed (not
       trained) matrix ``B`` of shape ``(in_features, embedding / 2)``, entries ``N(0, s²)``
       where ``s = fourier_scale``; ``Φ`` has ``embedding`` features.
    2. Gating encoders ``U = tanh(Φ W_U + b_U)``, ``V = tanh(Φ W_V + b_V)`` (``hidden``
       features each), shared by all blocks.
    3. ``depth`` residual adaptive blocks (see ``_AdaptiveBlock``): three dense tanh layers
       gated by ``U`` and ``V`` and a skip ``x ← α h + (1 − α) x`` with one trainable scalar
       ``α`` per block, initialised to 0.
    4. A linear output layer ``u = x_{depth} W_out + b_out``.

    Because every ``α`` starts at 0, at initialisation ``u(x) = Φ(x̂) W_out + b_out`` exactly:
    a linear model of the embedding features, which deepens as the ``α`` are trained. The
    physics-informed initialisation of the paper (:meth:`initialize_output`) sets ``W_out`` and
    ``b_out`` by least squares so that the network starts as the best fit of given data.

    Dense layers use Glorot (Xavier) normal weights and zero biases. The paper's random weight
    factorisation, an optimiser-side reparametrisation that does not change the function, is
    not included.

    Parameters
    ----------
    in_features : int
        Number of input coordinates ``d``.
    out_features : int
        Number of output fields.
    hidden : int
        Width of the gates ``U``, ``V`` and of the first two dense layers of each block.
        Default 64 (the paper uses 256; smaller keeps 128×128 grids cheap on CPU).
    depth : int
        Number of residual adaptive blocks (three dense layers each). Default 3 (as in the
        paper's main experiments).
    embedding : int
        Number of Fourier features (even; ``embedding / 2`` frequencies). Default 64.
    fourier_scale : float
        Standard deviation ``s`` of the frequencies ``B``, in units of the normalised
        coordinates (per unit of ``x̂ ∈ [-1, 1]``). Default 2.0 (one of the paper's settings;
        larger ``s`` biases the network towards higher frequencies).
    lower, upper : sequence of float or None
        Coordinate box, each of length ``in_features``, in physical units; inputs are mapped
        affinely to ``[-1, 1]`` inside the network. Default: no mapping.

    Raises
    ------
    ValueError
        For non-positive sizes, an odd ``embedding``, a non-positive ``fourier_scale``, or an
        invalid box.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = PirateNet(in_features=2, out_features=1).double()
    >>> x = torch.rand(50, 2, dtype=torch.float64)
    >>> bool(torch.equal(net.features(x), net.embed(x)))  # alpha = 0: blocks are identities
    True
    >>> y = torch.sin(3 * x[:, :1])
    >>> net.initialize_output(x, y)
    >>> bool((net(x) - y).abs().max() < 1e-6)
    True
    """

    frequencies: Tensor

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int = 64,
        depth: int = 3,
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
        self.register_buffer(
            "frequencies", fourier_frequencies(in_features, embedding, fourier_scale)
        )
        self.embedding = embedding
        self.fourier_scale = float(fourier_scale)
        self.gate_u = dense(embedding, hidden)
        self.gate_v = dense(embedding, hidden)
        self.blocks = nn.ModuleList(_AdaptiveBlock(embedding, hidden) for _ in range(depth))
        self.output = dense(embedding, out_features)

    def embed(self, x: Tensor) -> Tensor:
        """Random Fourier features ``Φ(x̂) = [cos(x̂ B), sin(x̂ B)]``, shape ``(N, embedding)``."""
        check_coordinates(x, self.in_features)
        return fourier_features(self.box(x), self.frequencies)

    def features(self, x: Tensor) -> Tensor:
        """Input of the output layer (after the last block), shape ``(N, embedding)``.

        Equal to :meth:`embed` while every ``α`` is 0.
        """
        phi = self.embed(x)
        u = self.gate_u(phi).tanh()
        v = self.gate_v(phi).tanh()
        h = phi
        for block in self.blocks:
            h = block(h, u, v)
        return h

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
        out: Tensor = self.output(self.features(x))
        return out

    @torch.no_grad()
    def initialize_output(self, x: Tensor, y: Tensor) -> None:
        """Physics-informed initialisation: fit the output layer to data by least squares.

        Sets ``(W_out, b_out) = argmin Σ_i ‖H(x_i) W + b − y_i‖²`` where ``H`` are the current
        :meth:`features` (the Fourier embedding ``Φ`` at initialisation, when every ``α`` is 0),
        so that afterwards ``net(x)`` is the least-squares projection of ``y`` onto
        ``span{H_1, ..., H_embedding, 1}``. The minimum-norm solution is taken when the system
        is underdetermined or rank deficient. The solve runs in float64 on the CPU and the
        result is cast to the layer's dtype and device. Only ``W_out``, ``b_out`` change.

        Parameters
        ----------
        x : Tensor
            Coordinates, shape ``(N, in_features)``, e.g. data or initial-condition points.
        y : Tensor
            Targets, shape ``(N, out_features)``.

        Raises
        ------
        ValueError
            If the shapes do not match or ``y`` is not finite.
        """
        check_coordinates(x, self.in_features)
        if y.ndim != 2 or y.shape != (x.shape[0], self.out_features):
            raise ValueError(
                f"targets must have shape (N, out_features) = ({x.shape[0]}, "
                f"{self.out_features}), got {tuple(y.shape)}"
            )
        if not bool(torch.isfinite(y).all()):
            raise ValueError("targets must be finite (found NaN or inf)")
        h = self.features(x).to(device="cpu", dtype=torch.float64)
        design = torch.cat([h, torch.ones_like(h[:, :1])], dim=1)
        target = y.to(device="cpu", dtype=torch.float64)
        coef = torch.linalg.lstsq(design, target, driver="gelsd").solution
        weight = self.output.weight
        self.output.weight.copy_(coef[:-1].T.to(dtype=weight.dtype, device=weight.device))
        self.output.bias.copy_(coef[-1].to(dtype=weight.dtype, device=weight.device))
