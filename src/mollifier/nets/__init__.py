"""Coordinate networks: MLP (tanh PINN), PirateNet and PINNsFormer.

Each maps coordinates of shape ``(N, in_features)`` to outputs ``(N, out_features)`` pointwise,
so it
works with both derivative backends (mollifier on the grid, nested autograd at points).
"""

from mollifier.nets._common import (
    ARCHITECTURES,
    AbstractCoordinateNetwork,
    CoordinateBox,
)
from mollifier.nets.factory import build_network
from mollifier.nets.mlp import MLP
from mollifier.nets.pinnsformer import PINNsFormer, Wavelet
from mollifier.nets.pirate import PirateNet

__all__ = [
    "ARCHITECTURES",
    "MLP",
    "AbstractCoordinateNetwork",
    "CoordinateBox",
    "PINNsFormer",
    "PirateNet",
    "Wavelet",
    "build_network",
]
