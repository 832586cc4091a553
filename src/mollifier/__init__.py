"""mollifier: inverse PDE learning with Mollifier Layers.

Derivatives of gridded fields are computed as one convolution with an analytic derivative of a
smooth, compactly supported kernel, ``∂ᵏ(η ∗ u) = (∂ᵏη) ∗ u``: the cost does not depend on the
derivative order, and the kernel acts as a low-pass filter on noisy data.
"""

from importlib.metadata import PackageNotFoundError, version

from mollifier._conv import BOUNDARY_MODES, Extrapolate, Interior
from mollifier.autodiff import AutodiffDerivatives
from mollifier.derivatives import AbstractDerivatives, MollifierDerivatives
from mollifier.functional import derivative
from mollifier.grid import Grid, GridError
from mollifier.inverse import (
    MLP,
    AbstractSolver,
    CheckpointMismatchError,
    Constant,
    Direct,
    Field,
    InverseProblem,
    MissingDataError,
    Network,
    NonAffineResidualError,
    PINNsFormer,
    PirateNet,
    Result,
    Tikhonov,
    TotalVariation,
    TrainingDivergedError,
    refine_width,
)
from mollifier.kernels import AbstractKernel, Bump, Gaussian, PolyBump, get_kernel, stencil
from mollifier.layers import DEFAULT_KERNEL, MollifierLayer

try:
    __version__ = version("mollifier")
except PackageNotFoundError:  # pragma: no cover - source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "BOUNDARY_MODES",
    "DEFAULT_KERNEL",
    "MLP",
    "AbstractDerivatives",
    "AbstractKernel",
    "AbstractSolver",
    "AutodiffDerivatives",
    "Bump",
    "CheckpointMismatchError",
    "Constant",
    "Direct",
    "Extrapolate",
    "Field",
    "Gaussian",
    "Grid",
    "GridError",
    "Interior",
    "InverseProblem",
    "MissingDataError",
    "MollifierDerivatives",
    "MollifierLayer",
    "Network",
    "NonAffineResidualError",
    "PINNsFormer",
    "PirateNet",
    "PolyBump",
    "Result",
    "Tikhonov",
    "TotalVariation",
    "TrainingDivergedError",
    "__version__",
    "derivative",
    "get_kernel",
    "refine_width",
    "stencil",
]
