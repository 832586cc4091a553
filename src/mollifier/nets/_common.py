"""Pieces shared by the coordinate networks: the coordinate box, checks, dense layers, a factory.

Every network in :mod:`mollifier.nets` maps a batch of coordinates of shape ``(N, in_features)``
to outputs of shape ``(N, out_features)``, row by row (output row ``i`` depends on input row ``i``
only), with C-infinity activations, so that nested ``torch.autograd.grad`` calls give per-point
derivatives of any order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "ARCHITECTURES",
    "AbstractCoordinateNetwork",
    "CoordinateBox",
    "dense",
    "fourier_features",
    "fourier_frequencies",
]

#: Names accepted by :func:`build_network`, in documentation order.
ARCHITECTURES: tuple[str, ...] = ("mlp", "pirate", "pinnsformer")


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is a positive ``int`` (not a ``bool``), else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def dense(in_features: int, out_features: int) -> nn.Linear:
    """A linear layer with Glorot (Xavier) normal weights and zero bias.

    Weights are drawn from ``N(0, 2 / (in_features + out_features))`` with torch's global RNG,
    so ``torch.manual_seed`` fixes them.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes of the affine map ``y = x W^T + b``.

    Returns
    -------
    torch.nn.Linear
        The initialised layer (float32, CPU; move it with ``.to``/``.double()``).
    """
    layer = nn.Linear(in_features, out_features)
    nn.init.xavier_normal_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def fourier_frequencies(in_features: int, embedding: int, fourier_scale: float) -> Tensor:
    """The fixed matrix ``B`` of a random Fourier feature embedding (Tancik et al., NeurIPS 2020).

    Entries ``N(0, s²)``, ``s = fourier_scale``, drawn with torch's global RNG; shape
    ``(in_features, embedding / 2)``.

    Raises
    ------
    ValueError
        For a non-positive or odd ``embedding`` or a non-positive ``fourier_scale``.
    """
    check_positive_int("embedding", embedding)
    if embedding % 2:
        raise ValueError(
            f"embedding must be even (cos and sin of embedding / 2 frequencies), got {embedding}"
        )
    if not fourier_scale > 0:
        raise ValueError(f"fourier_scale must be positive, got {fourier_scale!r}")
    return float(fourier_scale) * torch.randn(in_features, embedding // 2)


def fourier_features(x: Tensor, frequencies: Tensor) -> Tensor:
    """``Φ(x) = [cos(x B), sin(x B)]`` for ``x`` of shape ``(N, d)`` and ``B`` of shape
    ``(d, m)``; shape ``(N, 2m)``."""
    proj = x @ frequencies
    return torch.cat([proj.cos(), proj.sin()], dim=-1)


class CoordinateBox(nn.Module):
    """Affine map of a coordinate box ``[lower, upper]`` onto ``[-1, 1]^d``.

    ``forward(x) = 2 (x - lower) / (upper - lower) - 1``, column by column. Without a box
    (``lower`` and ``upper`` both ``None``) it is the identity. The box is stored in the buffers
    ``center = (lower + upper) / 2`` and ``half_range = (upper - lower) / 2`` so that it follows
    the network's dtype and device and is saved in its ``state_dict``.

    Parameters
    ----------
    in_features : int
        Number of coordinates ``d``.
    lower, upper : sequence of float or None
        Box corners, each of length ``d``, in the coordinates' physical units, with
        ``upper[i] > lower[i]``. Give both or neither.

    Raises
    ------
    ValueError
        If only one of ``lower``/``upper`` is given, if a length differs from ``in_features``, or
        if an entry is not finite or ``upper[i] <= lower[i]``.

    Examples
    --------
    >>> box = CoordinateBox(in_features=2, lower=[0.0, -2.0], upper=[1.0, 2.0])
    >>> box(torch.tensor([[0.0, -2.0], [0.5, 0.0], [1.0, 2.0]])).tolist()
    [[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]]
    """

    center: Tensor
    half_range: Tensor

    def __init__(
        self,
        *,
        in_features: int,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("in_features", in_features)
        if (lower is None) != (upper is None):
            raise ValueError(
                "give both lower and upper (the coordinate box) or neither; got "
                f"lower={lower!r}, upper={upper!r}"
            )
        self.in_features = in_features
        self.bounded = lower is not None
        if lower is None or upper is None:
            center = torch.zeros(in_features)
            half = torch.ones(in_features)
        else:
            lo = _box_corner("lower", lower, in_features)
            hi = _box_corner("upper", upper, in_features)
            for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
                if not b > a:
                    raise ValueError(
                        f"the coordinate box must have upper > lower in every coordinate, but "
                        f"coordinate {i} has lower={a} and upper={b}"
                    )
            center = torch.tensor([(a + b) / 2 for a, b in zip(lo, hi, strict=True)])
            half = torch.tensor([(b - a) / 2 for a, b in zip(lo, hi, strict=True)])
        self.register_buffer("center", center)
        self.register_buffer("half_range", half)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``x`` of shape ``(..., in_features)`` to the normalised box coordinates."""
        if not self.bounded:
            return x
        return (x - self.center) / self.half_range

    def extra_repr(self) -> str:
        if not self.bounded:
            return f"in_features={self.in_features}, identity"
        lo = (self.center - self.half_range).tolist()
        hi = (self.center + self.half_range).tolist()
        return f"in_features={self.in_features}, lower={lo}, upper={hi}"


def _box_corner(name: str, values: Sequence[float], in_features: int) -> list[float]:
    try:
        out = [float(v) for v in values]
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of {in_features} numbers, got {values!r}"
        ) from None
    if len(out) != in_features:
        raise ValueError(
            f"{name} must have one entry per input coordinate (in_features={in_features}), "
            f"got {len(out)}"
        )
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


class AbstractCoordinateNetwork(nn.Module):
    """Base of the coordinate networks: validated sizes and the coordinate box.

    Sets ``in_features``, ``out_features``, ``hidden`` and ``depth`` (each a positive integer) and
    ``box`` (:class:`CoordinateBox` mapping ``[lower, upper]`` onto ``[-1, 1]^d``).
    Subclasses implement ``forward(x: (N, in_features)) -> (N, out_features)``, pointwise in N.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int,
        depth: int,
        lower: Sequence[float] | None,
        upper: Sequence[float] | None,
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.hidden = check_positive_int("hidden", hidden)
        self.depth = check_positive_int("depth", depth)
        self.box = CoordinateBox(in_features=in_features, lower=lower, upper=upper)


def check_coordinates(x: Tensor, in_features: int) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating tensor of shape ``(N, in_features)``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"coordinates must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != in_features:
        raise ValueError(
            f"coordinates must have shape (N, {in_features}) (one row per point), got "
            f"{tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"coordinates must be a floating-point tensor, got dtype {x.dtype}")
