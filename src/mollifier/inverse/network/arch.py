"""Architecture descriptions for :class:`~mollifier.Network`: frozen, validated, buildable.

``ml.Network(arch=ml.PirateNet(hidden=128))`` describes the network; the trainer builds the
module (:mod:`mollifier.nets`) once it knows the number of coordinates and output channels and
the coordinate box. Each description's fields are the architecture's options, declared here once.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from mollifier._options import check_fields
from mollifier.nets import MLP as MLPModule
from mollifier.nets import PINNsFormer as PINNsFormerModule
from mollifier.nets import PirateNet as PirateNetModule

__all__ = ["ARCHITECTURES", "MLP", "AbstractArchitecture", "PINNsFormer", "PirateNet"]


class AbstractArchitecture(abc.ABC):
    """A coordinate network's description; :meth:`build` makes the module."""

    name: ClassVar[str]
    module: ClassVar[type[nn.Module]]

    def build(
        self,
        *,
        in_features: int,
        out_features: int,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
    ) -> nn.Module:
        """The network mapping ``(N, in_features)`` coordinates in the box ``[lower, upper]`` to
        ``(N, out_features)`` outputs: :attr:`module` built with this description's fields."""
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return self.module(
            in_features=in_features, out_features=out_features, lower=lower, upper=upper, **options
        )

    def _positive(self, *names: str) -> None:
        for n in names:
            if getattr(self, n) < 1:
                raise ValueError(f"{type(self).__name__}.{n} must be >= 1, got {getattr(self, n)}")


@dataclass(frozen=True)
class MLP(AbstractArchitecture):
    """A tanh multilayer perceptron (:class:`mollifier.nets.MLP`): ``depth`` hidden layers of
    ``hidden`` units on ``embedding`` random Fourier features of scale ``fourier_scale``
    (``embedding=0``: on the raw coordinates, the classic PINN).

    Examples
    --------
    >>> import torch
    >>> MLP(hidden=8, depth=2).build(in_features=2, out_features=1)(torch.zeros(3, 2)).shape
    torch.Size([3, 1])
    """

    name: ClassVar[str] = "mlp"
    module: ClassVar[type[nn.Module]] = MLPModule
    hidden: int = 64
    depth: int = 4
    embedding: int = 64
    fourier_scale: float = 2.0

    def __post_init__(self) -> None:
        check_fields(self)
        self._positive("hidden", "depth")
        if self.embedding < 0 or self.embedding % 2:
            raise ValueError(
                f"MLP.embedding must be 0 or a positive even number, got {self.embedding}"
            )
        if not self.fourier_scale > 0:
            raise ValueError(f"MLP.fourier_scale must be positive, got {self.fourier_scale}")


@dataclass(frozen=True)
class PirateNet(AbstractArchitecture):
    """PirateNet (:class:`mollifier.nets.PirateNet`): random Fourier features of scale
    ``fourier_scale`` into ``embedding`` channels, then ``depth`` adaptive residual blocks of
    ``hidden`` units."""

    name: ClassVar[str] = "pirate"
    module: ClassVar[type[nn.Module]] = PirateNetModule
    hidden: int = 64
    depth: int = 3
    embedding: int = 64
    fourier_scale: float = 2.0

    def __post_init__(self) -> None:
        check_fields(self)
        self._positive("hidden", "depth", "embedding")
        if not self.fourier_scale > 0:
            raise ValueError(f"PirateNet.fourier_scale must be positive, got {self.fourier_scale}")


@dataclass(frozen=True)
class PINNsFormer(AbstractArchitecture):
    """PINNsFormer (:class:`mollifier.nets.PINNsFormer`): a pseudo-sequence of ``k`` steps of
    size ``delta`` along coordinate ``seq_axis``, ``depth`` encoder–decoder layers of width
    ``hidden`` with ``heads`` attention heads and ``feedforward`` units, and an output MLP of
    ``output_hidden`` units."""

    name: ClassVar[str] = "pinnsformer"
    module: ClassVar[type[nn.Module]] = PINNsFormerModule
    hidden: int = 32
    depth: int = 1
    heads: int = 2
    feedforward: int = 64
    output_hidden: int = 64
    k: int = 5
    delta: float = 1e-4
    seq_axis: int = -1

    def __post_init__(self) -> None:
        check_fields(self)
        self._positive("hidden", "depth", "heads", "feedforward", "output_hidden", "k")
        if not self.delta > 0:
            raise ValueError(f"PINNsFormer.delta must be positive, got {self.delta}")


#: Each architecture description by its short name (TOML ``arch = "pirate"``, the CLI).
ARCHITECTURES: dict[str, type[AbstractArchitecture]] = {
    cls.name: cls for cls in (MLP, PirateNet, PINNsFormer)
}
