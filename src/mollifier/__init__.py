"""mollifier: inverse PDE learning with Mollifier Layers.

Derivatives of gridded fields are computed as one convolution with an analytic derivative of a
smooth, compactly supported kernel, ``∂ᵏ(η ∗ u) = (∂ᵏη) ∗ u``: the cost does not depend on the
derivative order, and the kernel acts as a low-pass filter on noisy data.
"""

from importlib.metadata import PackageNotFoundError, version

from mollifier._conv import BOUNDARY_MODES, Extrapolate
from mollifier.autodiff import AutodiffDerivatives
from mollifier.derivatives import AbstractDerivatives, MollifierDerivatives
from mollifier.functional import derivative
from mollifier.grid import Grid, GridError
from mollifier.kernels import AbstractKernel, Bump, Gaussian, PolyBump, get_kernel, stencil
from mollifier.layers import DEFAULT_KERNEL, MollifierLayer
from mollifier.problems import InverseProblem
from mollifier.result import Result
from mollifier.unknowns import Constant, Field

try:
    __version__ = version("mollifier")
except PackageNotFoundError:  # pragma: no cover - source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "BOUNDARY_MODES",
    "DEFAULT_KERNEL",
    "AbstractDerivatives",
    "AbstractKernel",
    "AutodiffDerivatives",
    "Bump",
    "Constant",
    "Extrapolate",
    "Field",
    "Gaussian",
    "Grid",
    "GridError",
    "InverseProblem",
    "MollifierDerivatives",
    "MollifierLayer",
    "PolyBump",
    "Result",
    "__version__",
    "derivative",
    "get_kernel",
    "stencil",
]
