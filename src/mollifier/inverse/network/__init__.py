"""The network solver: :class:`Network` (the options), the architectures, the trainer and its
callbacks."""

from mollifier.inverse.network.arch import (
    ARCHITECTURES,
    MLP,
    AbstractArchitecture,
    PINNsFormer,
    PirateNet,
)
from mollifier.inverse.network.callbacks import Callback, ProgressBar, StepTimer
from mollifier.inverse.network.checkpoint import CheckpointMismatchError
from mollifier.inverse.network.loop import TrainingDivergedError
from mollifier.inverse.network.solver import Network
from mollifier.inverse.network.trainer import solve_network

__all__ = [
    "ARCHITECTURES",
    "MLP",
    "AbstractArchitecture",
    "Callback",
    "CheckpointMismatchError",
    "Network",
    "PINNsFormer",
    "PirateNet",
    "ProgressBar",
    "StepTimer",
    "TrainingDivergedError",
    "solve_network",
]
