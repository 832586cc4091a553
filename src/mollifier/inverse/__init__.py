"""The inverse engine: an :class:`InverseProblem` and the solver objects that estimate its unknowns.

Layering: ``problem`` (with ``unknowns``, ``result``, ``autowidth``) knows no solver;
``direct`` and ``network`` import the problem, never the reverse.
"""

from mollifier.inverse.direct import (
    Direct,
    MissingDataError,
    NonAffineResidualError,
    Tikhonov,
    TotalVariation,
    refine_width,
)
from mollifier.inverse.network import (
    MLP,
    CheckpointMismatchError,
    Network,
    PINNsFormer,
    PirateNet,
    TrainingDivergedError,
)
from mollifier.inverse.problem import InverseProblem, ResidualError
from mollifier.inverse.result import Result
from mollifier.inverse.solver import AbstractSolver
from mollifier.inverse.unknowns import Constant, Field

__all__ = [
    "MLP",
    "AbstractSolver",
    "CheckpointMismatchError",
    "Constant",
    "Direct",
    "Field",
    "InverseProblem",
    "MissingDataError",
    "Network",
    "NonAffineResidualError",
    "PINNsFormer",
    "PirateNet",
    "ResidualError",
    "Result",
    "Tikhonov",
    "TotalVariation",
    "TrainingDivergedError",
    "refine_width",
]
