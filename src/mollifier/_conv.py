"""Apply 1-D stencils along one axis of a tensor: boundary extension, direct or FFT convolution."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "BOUNDARY_MODES",
    "FFT_MIN_TAPS",
    "Boundary",
    "Extrapolate",
    "convolve_axis",
    "resolve_boundary",
]

BoundaryName = Literal["periodic", "reflect", "valid", "extrapolate"]
BOUNDARY_MODES: tuple[str, ...] = ("periodic", "reflect", "valid", "extrapolate")

#: Stencils with at least this many taps use the FFT path under ``method="auto"``. Measured on a
#: 2-core CPU with torch 2.13 (benchmarks/conv_crossover.py): below it ``conv1d`` is faster.
FFT_MIN_TAPS = 65


@dataclass(frozen=True)
class Extrapolate:
    """Boundary mode that extends the data with a least-squares polynomial beyond each edge.

    The ``radius`` ghost values past an edge are the degree-``degree`` polynomial fitted by least
    squares to the ``points`` samples nearest that edge, evaluated at the ghost nodes. The
    mollified derivative is then exact near the edges for polynomials of degree ``<= degree``
    (unlike ``"reflect"``, which forces odd derivatives to vanish at the edge), at the price of
    more noise in the outermost ``radius`` outputs. ``boundary="extrapolate"`` means the defaults.

    Parameters
    ----------
    degree : int
        Degree of the extension polynomial (0–7).
    points : int or None
        Number of edge samples fitted; ``None`` means ``2 * radius + 1`` (at least ``2 * (degree
        + 1)``).
    """

    degree: int = 5
    points: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.degree, int) or not 0 <= self.degree <= 7:
            raise ValueError(f"Extrapolate.degree must be an integer in 0..7, got {self.degree!r}")
        if self.points is not None and (
            not isinstance(self.points, int) or self.points < self.degree + 1
        ):
            raise ValueError(
                f"Extrapolate.points must be an integer >= degree + 1 = {self.degree + 1}, "
                f"got {self.points!r}"
            )

    def fit_points(self, radius: int) -> int:
        return (
            self.points if self.points is not None else max(2 * radius + 1, 2 * (self.degree + 1))
        )


Boundary = BoundaryName | Extrapolate


def resolve_boundary(boundary: str | Extrapolate) -> str | Extrapolate:
    """Validate a boundary mode; ``"extrapolate"`` becomes ``Extrapolate()``."""
    if isinstance(boundary, Extrapolate):
        return boundary
    if isinstance(boundary, str) and boundary in BOUNDARY_MODES:
        return Extrapolate() if boundary == "extrapolate" else boundary
    raise ValueError(
        f"unknown boundary mode {boundary!r}; use one of {list(BOUNDARY_MODES)} or an "
        "Extrapolate(degree=..., points=...) object"
    )


@lru_cache(maxsize=128)
def _extrapolation_matrix(radius: int, points: int, degree: int) -> np.ndarray:
    """Map the last ``points`` samples to ``radius`` ghost values past the right edge.

    Returns ``E`` of shape (radius, points): ``ghost = E @ u[-points:]``.
    """
    # Local coordinate: fitted samples at -(points-1)..0, ghosts at 1..radius; scaled to O(1).
    scale = float(points)
    xf = np.arange(-(points - 1), 1) / scale
    xg = np.arange(1, radius + 1) / scale
    vf = np.vander(xf, degree + 1, increasing=True)
    vg = np.vander(xg, degree + 1, increasing=True)
    return vg @ np.linalg.pinv(vf)


def _pad_last(x: torch.Tensor, radius: int, boundary: str | Extrapolate) -> torch.Tensor:
    """Extend the last dimension of ``x`` by ``radius`` samples on each side."""
    if boundary == "valid" or radius == 0:
        return x
    if boundary == "periodic":
        return torch.cat([x[..., -radius:], x, x[..., :radius]], dim=-1)
    if boundary == "reflect":
        # Even extension about the edge samples: u[-j] = u[j] (numpy.pad mode="reflect").
        left = x[..., 1 : radius + 1].flip(-1)
        right = x[..., -radius - 1 : -1].flip(-1)
        return torch.cat([left, x, right], dim=-1)
    assert isinstance(boundary, Extrapolate)
    points = boundary.fit_points(radius)
    e = torch.as_tensor(
        _extrapolation_matrix(radius, points, boundary.degree), dtype=x.dtype, device=x.device
    )
    right = x[..., -points:] @ e.T
    left = (x[..., :points].flip(-1) @ e.T).flip(-1)
    return torch.cat([left, x, right], dim=-1)


def min_axis_length(radius: int, boundary: str | Extrapolate) -> int:
    """Fewest samples an axis needs for a stencil of half-length ``radius`` under ``boundary``."""
    if isinstance(boundary, Extrapolate):
        return max(2 * radius + 1, boundary.fit_points(radius))
    if boundary == "reflect":
        return radius + 2
    return 2 * radius + 1


def convolve_axis(
    x: torch.Tensor,
    taps: torch.Tensor,
    *,
    dim: int,
    boundary: str | Extrapolate,
    method: str = "auto",
) -> torch.Tensor:
    """Convolve ``x`` along ``dim`` with each row of ``taps``.

    Parameters
    ----------
    x : Tensor
        Any shape; ``x.shape[dim] = n``.
    taps : Tensor, shape (S, 2 * radius + 1)
        Stencils ``K`` in convolution order: ``y[i] = Σ_m K[m] x[i − m]``, ``m = −radius..radius``.
    dim : int
        Axis to convolve along.
    boundary : str or Extrapolate
        Already resolved by :func:`resolve_boundary`.
    method : {"auto", "direct", "fft"}
        ``"auto"`` uses the FFT when the stencil has at least :data:`FFT_MIN_TAPS` taps.

    Returns
    -------
    Tensor
        Shape ``(S, *x.shape)``, except that ``boundary="valid"`` shortens ``dim`` to
        ``n − 2 * radius``.
    """
    n_taps = taps.shape[-1]
    radius = (n_taps - 1) // 2
    dim = dim % x.ndim
    n = x.shape[dim]
    need = min_axis_length(radius, boundary)
    if n < need:
        raise ValueError(
            f"axis {dim} has {n} points, but a stencil of radius {radius} with boundary "
            f"{boundary!r} needs at least {need}; use a smaller width or a larger grid"
        )
    moved = x.movedim(dim, -1)
    rest = moved.shape[:-1]
    flat = _pad_last(moved.reshape(-1, n), radius, boundary)
    if method == "auto":
        method = "fft" if n_taps >= FFT_MIN_TAPS else "direct"
    if method == "direct":
        # conv1d is a cross-correlation: flip the taps to convolve.
        y = F.conv1d(flat.unsqueeze(1), taps.flip(-1).unsqueeze(1))
    elif method == "fft":
        length = flat.shape[-1]
        nfft = length + n_taps - 1
        nfft = 1 << math.ceil(math.log2(nfft)) if nfft > 64 else nfft
        spec = torch.fft.rfft(flat, n=nfft).unsqueeze(1) * torch.fft.rfft(taps, n=nfft)
        y = torch.fft.irfft(spec, n=nfft)[..., n_taps - 1 : length]
    else:
        raise ValueError(f"unknown convolution method {method!r}; use 'auto', 'direct' or 'fft'")
    n_out = y.shape[-1]
    y = y.reshape(*rest, taps.shape[0], n_out).movedim(-2, 0)
    return y.movedim(-1, dim + 1)
