"""Mollifier kernels: families with analytic derivatives, and exact discrete stencils."""

from __future__ import annotations

from mollifier.kernels._base import AbstractKernel
from mollifier.kernels.analysis import consistency_error, frequency_response, half_power_frequency
from mollifier.kernels.families import Bump, Gaussian, PolyBump
from mollifier.kernels.stencils import INTERPOLATION_POINTS, check_width, stencil, stencil_radius

__all__ = [
    "INTERPOLATION_POINTS",
    "AbstractKernel",
    "Bump",
    "Gaussian",
    "PolyBump",
    "check_width",
    "consistency_error",
    "frequency_response",
    "get_kernel",
    "half_power_frequency",
    "stencil",
    "stencil_radius",
]

_BY_NAME: dict[str, type[AbstractKernel]] = {
    "bump": Bump,
    "polybump": PolyBump,
    "gaussian": Gaussian,
}


def get_kernel(kernel: str | AbstractKernel) -> AbstractKernel:
    """Resolve a kernel name (``"bump"``, ``"polybump"``, ``"gaussian"``); pass kernels through."""
    if isinstance(kernel, AbstractKernel):
        return kernel
    if isinstance(kernel, str):
        try:
            return _BY_NAME[kernel.lower()]()
        except KeyError:
            pass
    raise ValueError(
        f"unknown kernel {kernel!r}; use one of {sorted(_BY_NAME)} or a kernel object such as "
        "mollifier.kernels.PolyBump(power=8)"
    )
