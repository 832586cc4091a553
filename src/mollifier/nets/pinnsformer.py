"""PINNsFormer: a transformer over per-point pseudo-sequences (Zhao, Ding & Prakash, 2023)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mollifier.nets._common import (
    AbstractCoordinateNetwork,
    check_coordinates,
    check_positive_int,
    dense,
)

__all__ = ["PINNsFormer", "Wavelet"]


class Wavelet(nn.Module):
    """The Wavelet activation ``ω1 sin(x) + ω2 cos(x)`` with learnable scalars ``ω1, ω2``.

    Both start at 1. Applied elementwise; C-infinity, so every derivative exists.

    Examples
    --------
    >>> act = Wavelet()
    >>> x = torch.tensor([0.0, math.pi / 2])
    >>> torch.allclose(act(x), torch.tensor([1.0, 1.0]))
    True
    """

    def __init__(self) -> None:
        super().__init__()
        self.omega1 = nn.Parameter(torch.ones(()))
        self.omega2 = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.omega1 * torch.sin(x) + self.omega2 * torch.cos(x)
        return out


class _Attention(nn.Module):
    """Multi-head scaled dot-product attention within each point's own sequence.

    ``query`` has shape ``(N, Lq, d)`` and ``memory`` ``(N, Lk, d)``; row ``n`` of the output
    attends to row ``n`` of ``memory`` only (the batch dimension is never mixed). Written with
    plain ``matmul``/``softmax`` so that it is differentiable to any order on every device.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = dense(width, width)
        self.key = dense(width, width)
        self.value = dense(width, width)
        self.out = dense(width, width)

    def _split(self, t: Tensor) -> Tensor:
        n, length, width = t.shape
        return t.reshape(n, length, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, query: Tensor, memory: Tensor) -> Tensor:
        q = self._split(self.query(query))
        k = self._split(self.key(memory))
        v = self._split(self.value(memory))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        mixed = torch.softmax(scores, dim=-1) @ v
        n, _, length, _ = mixed.shape
        out: Tensor = self.out(mixed.transpose(1, 2).reshape(n, length, -1))
        return out


class _FeedForward(nn.Module):
    """Pointwise feed-forward net ``d → ff → ff → d`` with Wavelet activations."""

    def __init__(self, width: int, feedforward: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            dense(width, feedforward),
            Wavelet(),
            dense(feedforward, feedforward),
            Wavelet(),
            dense(feedforward, width),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class _Layer(nn.Module):
    """Pre-activation transformer layer: ``x += Attn(act(x), mem)``; ``x += FF(act(x))``.

    The Wavelet activation takes the place of layer normalisation. In the encoder ``mem`` is the
    (activated) sequence itself (self-attention); in the decoder it is the encoder output
    (encoder-decoder attention only, no decoder self-attention).
    """

    def __init__(self, width: int, heads: int, feedforward: int, *, cross: bool) -> None:
        super().__init__()
        self.cross = cross
        self.act_attention = Wavelet()
        self.attention = _Attention(width, heads)
        self.act_feedforward = Wavelet()
        self.feedforward = _FeedForward(width, feedforward)

    def forward(self, x: Tensor, memory: Tensor | None = None) -> Tensor:
        a = self.act_attention(x)
        x = x + self.attention(a, memory if self.cross and memory is not None else a)
        return x + self.feedforward(self.act_feedforward(x))


class PINNsFormer(AbstractCoordinateNetwork):
    """Transformer-based PINN acting on per-point pseudo-sequences.

    Zhao, Ding & Prakash, "PINNsFormer: A Transformer-Based Framework For Physics-Informed
    Neural Networks", ICLR 2024, arXiv:2307.11833. For each point ``x`` (a row of the input):

    1. Pseudo-sequence generator: ``s_j = x + j Δ e_a`` for ``j = 0..k-1``, where
       ``a = seq_axis`` (the time coordinate in the paper) and ``Δ = delta``, in the physical
       units of that coordinate (the shift is applied before the box normalisation).
    2. Spatio-temporal mixer: a linear embedding of each ``ŝ_j`` into ``hidden`` features.
    3. Encoder: ``depth`` layers of multi-head self-attention and a feed-forward net, each
       pre-activated by the Wavelet activation (which replaces layer normalisation), with
       residual connections, then a final Wavelet.
    4. Decoder: ``depth`` layers of encoder-decoder (cross) attention and a feed-forward net,
       fed the same mixer embeddings as the encoder, then a final Wavelet.
    5. Output layer: ``hidden → output_hidden → output_hidden → out_features`` with Wavelets.

    Attention runs over the ``k`` elements of each point's own pseudo-sequence, never across
    points, so output row ``i`` depends only on input row ``i``. :meth:`forward` returns the
    first element of the output sequence, the prediction at ``s_0 = x`` itself (the decoder and
    output layer are evaluated only there, which gives the same value at ``1/k`` of their
    cost); :meth:`forward_sequence` returns the whole sequence, for the paper's sequential loss.

    The Wavelet is ``ω1 sin + ω2 cos`` with learnable ``ω1 = ω2 = 1`` at start, one pair per
    use; linear layers are Glorot (Xavier) normal with zero biases.

    Parameters
    ----------
    in_features : int
        Number of input coordinates ``d``.
    out_features : int
        Number of output fields.
    hidden : int
        Embedding width ``d_model`` of the mixer, attention and residual stream; divisible by
        ``heads``. Default 32 (as in the paper).
    depth : int
        Number of encoder layers and of decoder layers. Default 1 (as in the paper).
    heads : int
        Attention heads. Default 2 (as in the paper).
    feedforward : int
        Width of the encoder/decoder feed-forward nets. Default 64 (the reference code uses
        256; smaller keeps 128×128 grids cheap on CPU).
    output_hidden : int
        Width of the output layer's hidden layers. Default 64 (the paper uses 512).
    k : int
        Pseudo-sequence length. Default 5 (as in the paper).
    delta : float
        Pseudo-sequence step ``Δ``, in physical units of coordinate ``seq_axis``. Default 1e-4
        (the paper's value, for domains of size about 1).
    seq_axis : int
        Index of the shifted coordinate (negative values count from the end). Default -1, the
        last coordinate (``t`` for inputs ordered ``(x, t)``).
    lower, upper : sequence of float or None
        Coordinate box, each of length ``in_features``, in physical units; inputs are mapped
        affinely to ``[-1, 1]`` inside the network. Default: no mapping.

    Raises
    ------
    ValueError
        For non-positive sizes, ``hidden`` not divisible by ``heads``, a ``seq_axis`` outside
        ``[-in_features, in_features)``, a non-finite or non-positive ``delta``, or an invalid
        box.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = PINNsFormer(in_features=2, out_features=1)
    >>> x = torch.rand(7, 2)
    >>> tuple(net.pseudo_sequence(x).shape), tuple(net(x).shape)
    ((7, 5, 2), (7, 1))
    >>> torch.allclose(net(x), net.forward_sequence(x)[:, 0], atol=1e-5)
    True
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int = 32,
        depth: int = 1,
        heads: int = 2,
        feedforward: int = 64,
        output_hidden: int = 64,
        k: int = 5,
        delta: float = 1e-4,
        seq_axis: int = -1,
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
        self.heads = check_positive_int("heads", heads)
        check_positive_int("feedforward", feedforward)
        check_positive_int("output_hidden", output_hidden)
        self.k = check_positive_int("k", k)
        if hidden % heads:
            raise ValueError(
                f"hidden ({hidden}) must be divisible by heads ({heads}) for multi-head attention"
            )
        if isinstance(seq_axis, bool) or not isinstance(seq_axis, int):
            raise ValueError(f"seq_axis must be an int, got {seq_axis!r}")
        if not -in_features <= seq_axis < in_features:
            raise ValueError(
                f"seq_axis={seq_axis} is out of range for in_features={in_features} "
                f"(valid: {-in_features}..{in_features - 1})"
            )
        if not (math.isfinite(delta) and delta > 0):
            raise ValueError(f"delta must be positive and finite, got {delta!r}")
        self.seq_axis = seq_axis % in_features
        self.delta = float(delta)
        self.mixer = dense(in_features, hidden)
        self.encoder = nn.ModuleList(
            _Layer(hidden, heads, feedforward, cross=False) for _ in range(depth)
        )
        self.encoder_act = Wavelet()
        self.decoder = nn.ModuleList(
            _Layer(hidden, heads, feedforward, cross=True) for _ in range(depth)
        )
        self.decoder_act = Wavelet()
        self.output = nn.Sequential(
            dense(hidden, output_hidden),
            Wavelet(),
            dense(output_hidden, output_hidden),
            Wavelet(),
            dense(output_hidden, out_features),
        )

    def pseudo_sequence(self, x: Tensor) -> Tensor:
        """The pseudo-sequence ``s_j = x + j Δ e_{seq_axis}``, shape ``(N, k, in_features)``.

        In physical units (before the box normalisation); ``s_0 = x``.
        """
        check_coordinates(x, self.in_features)
        steps = torch.zeros(self.k, self.in_features, dtype=x.dtype, device=x.device)
        steps[:, self.seq_axis] = self.delta * torch.arange(self.k, dtype=x.dtype, device=x.device)
        return x.unsqueeze(1) + steps

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        embedded = self.mixer(self.box(self.pseudo_sequence(x)))
        h = embedded
        for layer in self.encoder:
            h = layer(h)
        return embedded, self.encoder_act(h)

    def _decode(self, queries: Tensor, memory: Tensor) -> Tensor:
        h = queries
        for layer in self.decoder:
            h = layer(h, memory)
        out: Tensor = self.output(self.decoder_act(h))
        return out

    def forward_sequence(self, x: Tensor) -> Tensor:
        """Predictions on the whole pseudo-sequence, shape ``(N, k, out_features)``.

        Element ``j`` is the prediction at ``s_j = x + j Δ e_{seq_axis}``; element 0 equals
        :meth:`forward`.
        """
        embedded, memory = self._encode(x)
        return self._decode(embedded, memory)

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate the network at the points themselves (first pseudo-sequence element).

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
        embedded, memory = self._encode(x)
        return self._decode(embedded[:, :1], memory)[:, 0]
