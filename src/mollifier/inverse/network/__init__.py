"""The network solver: :class:`Network` (the options), the architectures, and the trainer."""

from mollifier.inverse.network.arch import (
    ARCHITECTURES,
    MLP,
    AbstractArchitecture,
    PINNsFormer,
    PirateNet,
)
from mollifier.inverse.network.checkpoint import CheckpointMismatchError
from mollifier.inverse.network.solver import Network
from mollifier.inverse.network.trainer import TrainingDivergedError, solve_network

__all__ = [
    "ARCHITECTURES",
    "MLP",
    "AbstractArchitecture",
    "CheckpointMismatchError",
    "Network",
    "PINNsFormer",
    "PirateNet",
    "TrainingDivergedError",
    "solve_network",
]
