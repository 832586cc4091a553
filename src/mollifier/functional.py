"""The functional API: ``derivative(u, order, spacing=..., width=...)`` on arrays or tensors."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from mollifier._conv import (
    Extrapolate,
    Interior,
    apply_operator,
    convolve_axis,
    min_axis_length,
    resolve_boundary,
)
from mollifier._options import show_value
from mollifier.kernels import AbstractKernel, check_width, get_kernel, stencil
from mollifier.kernels.edges import edge_block, interval_operator
from mollifier.layers import DEFAULT_KERNEL, check_stencil_size

__all__ = ["derivative"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def derivative(
    u: ArrayT,
    order: int,
    *,
    spacing: float,
    width: float,
    axis: int = -1,
    kernel: str | AbstractKernel = DEFAULT_KERNEL,
    boundary: str | Extrapolate | Interior = "reflect",
    method: str = "auto",
) -> ArrayT:
    """Mollified ``order``-th derivative of ``u`` along one axis.

    Computes ``∂ᵏ(η_w ∗ I[u])`` at the grid nodes along ``axis`` — equivalently ``(∂ᵏη_w) ∗ I[u]``
    — where ``η_w`` is the kernel with support radius ``width`` and ``I[u]`` the local degree-7
    interpolant of the samples (see :func:`mollifier.kernels.stencil`). Polynomials of degree
    ``<= order + 1`` are differentiated exactly; other axes are left untouched (apply ``order=0``
    along them to mollify in every direction, or use :class:`~mollifier.MollifierLayer`).

    Parameters
    ----------
    u : ndarray or Tensor
        Samples on a uniform grid along ``axis``. Integer arrays are promoted to float64.
    order : int
        Derivative order, 0 (the mollified field) to 6.
    spacing : float
        Grid step along ``axis``, physical units.
    width : float
        Kernel support radius, physical units; at least ``kernel.min_points(order) * spacing``.
    axis : int
        Axis along which to differentiate.
    kernel : str or AbstractKernel
        ``"polybump"`` (default), ``"bump"``, ``"gaussian"`` or a kernel object.
    boundary : str, Extrapolate or Interior
        Edge handling: ``"reflect"``, ``"odd"``, ``"periodic"``, ``"valid"``,
        ``"extrapolate"`` or ``"interior"`` (edge kernels: a value at every node, exact for
        polynomials of degree ``order + 1`` up to the edges); see
        :class:`~mollifier.MollifierLayer`.
    method : {"auto", "direct", "fft", "matrix"}
        Convolution algorithm (see :class:`~mollifier.MollifierLayer`); all give the same result
        to round-off (in float32 the FFT's round-off is relative to a whole row's largest
        value). ``"auto"`` on CPU in float64 takes ``conv1d`` for small calls and the FFT for
        large ones (elements × taps above :data:`~mollifier._conv.DIRECT_MAX_WORK`); in float32
        and on other devices, the FFT for stencils of 65 taps or more
        (:func:`~mollifier._conv.resolve_method`).

    Returns
    -------
    ndarray or Tensor
        Same type, dtype (float) and shape as ``u``, except that ``boundary="valid"`` removes
        ``radius = ceil(width / spacing) + 3`` points from each end of ``axis``. Tensors stay on
        their device and remain differentiable.

    Raises
    ------
    ValueError
        For NaN or inf in ``u``, a width below the kernel's minimum points per width, an axis too
        short for the stencil, or an unknown kernel or boundary mode.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 2 * np.pi, 201)
    >>> d4 = derivative(np.sin(x), 4, spacing=x[1] - x[0], width=0.3, boundary="valid")
    >>> bool(np.max(np.abs(d4 - derivative(np.sin(x), 0, spacing=x[1] - x[0], width=0.3,
    ...                                    boundary="valid"))) < 1e-6)  # (sin)'''' = sin
    True
    """
    k = get_kernel(kernel)
    bnd = resolve_boundary(boundary)
    t: torch.Tensor
    is_numpy = not isinstance(u, torch.Tensor)
    if isinstance(u, torch.Tensor):
        t = u if u.is_floating_point() else u.to(torch.float64)
    else:
        arr = np.asarray(u)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise TypeError(f"u must be a real numeric array, got dtype {arr.dtype}")
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim == 0:
        raise ValueError("u must have at least one dimension")
    if not torch.isfinite(t).all():
        raise ValueError("u contains NaN or inf; mask or fill missing samples first")
    if not -t.ndim <= axis < t.ndim:
        raise ValueError(f"axis {axis} is out of range for an array with {t.ndim} dimensions")
    for name, value in (("spacing", spacing), ("width", width)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name} must be a number, got {show_value(value)}")
    spacing, width = float(spacing), float(width)
    check_width(k, k._check_order(order), spacing=spacing, width=width, axis=axis)
    radius = check_stencil_size(spacing=spacing, width=width, axis=axis)
    dim = axis % t.ndim
    need = min_axis_length(radius, bnd)
    if t.shape[dim] < need:  # refused before the stencil is built
        raise ValueError(
            f"derivative along axis {axis}: axis {dim} has {t.shape[dim]} points, but width "
            f"{width:g} (a stencil of radius {radius}) with boundary {bnd!r} needs at least "
            f"{need}; use a smaller width or a larger grid"
        )
    taps_np: np.ndarray = stencil(k, order, spacing=spacing, width=width)
    taps = torch.as_tensor(taps_np.copy(), dtype=t.dtype, device=t.device)[None]
    try:
        if isinstance(bnd, Interior):
            out = _interior(t, taps, k, order, spacing, width, axis, bnd, method)
        else:
            out = convolve_axis(t, taps, dim=axis, boundary=bnd, method=method)[0]
    except ValueError as exc:
        raise ValueError(f"derivative along axis {axis}: {exc}") from None
    if is_numpy:
        return out.numpy()  # type: ignore[return-value]
    return out  # type: ignore[return-value]


def _interior(
    t: torch.Tensor,
    taps: torch.Tensor,
    kernel: AbstractKernel,
    order: int,
    spacing: float,
    width: float,
    axis: int,
    boundary: Interior,
    method: str,
) -> torch.Tensor:
    """``derivative`` with edge kernels: the convolution in the middle and the edge rows at the
    ends, or the dense interval operator on an axis shorter than one stencil."""
    if not -t.ndim <= axis < t.ndim:
        raise ValueError(f"axis {axis} is out of range for an array with {t.ndim} dimensions")
    n = t.shape[axis]
    if n < taps.shape[-1]:
        dense = interval_operator(
            kernel, order, spacing=spacing, width=width, n=n, moments=boundary.moments
        )
        op = torch.as_tensor(dense.copy(), dtype=t.dtype, device=t.device)[None]
        return apply_operator(t, op, dim=axis)[0]
    block = edge_block(kernel, order, spacing=spacing, width=width, moments=boundary.moments)
    first = torch.as_tensor(block.copy(), dtype=t.dtype, device=t.device)[None]
    last = (-1) ** order * first.flip(-1, -2)
    return convolve_axis(t, taps, dim=axis, boundary=boundary, method=method, edges=(first, last))[
        0
    ]
