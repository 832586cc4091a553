"""Apply 1-D stencils along one axis of a tensor: boundary extension, then a direct, FFT or
dense-matrix convolution.

The three methods compute the same linear map. ``"matrix"`` folds the boundary extension and the
stencil into one dense ``(n_out, n)`` operator per stencil (:func:`dense_operator`) and applies
it with a matrix product; on CPU, with the operator cached, that is faster than ``conv1d`` and
the FFT on axes of up to a few hundred points, because it runs on the BLAS. ``method="auto"``
picks by the measured rule of :func:`resolve_method`.
"""

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
    "CONV_METHODS",
    "DIRECT_MAX_WORK",
    "FFT_MIN_TAPS",
    "MATRIX_MAX_POINTS",
    "Boundary",
    "Extrapolate",
    "Interior",
    "apply_operator",
    "convolve_axis",
    "dense_operator",
    "resolve_boundary",
    "resolve_method",
]

BoundaryName = Literal["periodic", "reflect", "odd", "valid", "extrapolate", "interior"]
BOUNDARY_MODES: tuple[str, ...] = ("periodic", "reflect", "odd", "valid", "extrapolate", "interior")

CONV_METHODS: tuple[str, ...] = ("auto", "direct", "fft", "matrix")

#: Stencils with at least this many taps use the FFT under ``method="auto"``, shorter ones
#: ``conv1d``: off the CPU, and on CPU for one-off calls in any type but float64 (in float32 the
#: FFT's round-off is relative to a whole row's largest value, ``conv1d``'s stays local).
#: Measurements: ``benchmarks/RESULTS.md`` § 2.1.
FFT_MIN_TAPS = 65

#: One-off calls on CPU in double precision (:func:`mollifier.derivative`, nothing cached) use
#: ``conv1d`` when the input's number of elements times the stencil's taps is at most this, and
#: the FFT above. Measurements: ``benchmarks/RESULTS.md`` § 2.1 ("One-off calls").
DIRECT_MAX_WORK = 2**20

#: In :class:`~mollifier.MollifierLayer` on CPU, which caches each axis operator, axes of at most
#: this many points use the dense-matrix path under ``method="auto"`` and longer ones the FFT.
#: Measurements: ``benchmarks/RESULTS.md`` § 2.1.
MATRIX_MAX_POINTS = 256


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


@dataclass(frozen=True)
class Interior:
    """Boundary mode with edge kernels: no extension, every node keeps a value.

    Nodes closer to an edge than the stencil reaches use their own stencils, whose kernels lie
    inside the data (shifted inward and moment-corrected about the node; see
    :mod:`mollifier.kernels.edges`): the weak-form identity ``(−1)ᵏ⟨∂ᵏψ_n, u⟩ = ⟨ψ_n, ∂ᵏu⟩``
    holds at every node with no boundary terms, and polynomials of degree ``order + 1`` are
    differentiated exactly up to the edge. Edge nodes are noisier (see
    :func:`mollifier.kernels.edges.noise_gain`). ``boundary="interior"`` means the defaults.

    Parameters
    ----------
    moments : int or None
        Moments about the node that edge kernels match (``None``: 1, or ``accuracy − 1`` for
        higher-order kernels; see :func:`mollifier.kernels.edges.edge_moments`).
    """

    moments: int | None = None

    def __post_init__(self) -> None:
        if self.moments is not None and (
            isinstance(self.moments, bool)
            or not isinstance(self.moments, int)
            or not 1 <= self.moments <= 6
        ):
            raise ValueError(f"Interior.moments must be an integer in 1..6, got {self.moments!r}")


Boundary = BoundaryName | Extrapolate | Interior


def resolve_boundary(boundary: str | Extrapolate | Interior) -> str | Extrapolate | Interior:
    """Validate a boundary mode; ``"extrapolate"`` becomes ``Extrapolate()`` and
    ``"interior"`` ``Interior()``."""
    if isinstance(boundary, (Extrapolate, Interior)):
        return boundary
    if isinstance(boundary, str) and boundary in BOUNDARY_MODES:
        if boundary == "extrapolate":
            return Extrapolate()
        return Interior() if boundary == "interior" else boundary
    raise ValueError(
        f"unknown boundary mode {boundary!r}; use one of {list(BOUNDARY_MODES)}, an "
        "Extrapolate(degree=..., points=...) or an Interior(moments=...) object"
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


def _pad_last(x: torch.Tensor, radius: int, boundary: str | Extrapolate | Interior) -> torch.Tensor:
    """Extend the last dimension of ``x`` by ``radius`` samples on each side."""
    if boundary == "valid" or isinstance(boundary, Interior) or radius == 0:
        return x
    if boundary == "periodic":
        return torch.cat([x[..., -radius:], x, x[..., :radius]], dim=-1)
    if boundary == "reflect":
        # Even extension about the edge samples: u[-j] = u[j] (numpy.pad mode="reflect").
        left = x[..., 1 : radius + 1].flip(-1)
        right = x[..., -radius - 1 : -1].flip(-1)
        return torch.cat([left, x, right], dim=-1)
    if boundary == "odd":
        # Odd extension about the edge samples: u[-j] = 2 u[0] - u[j] (zero Dirichlet data,
        # u[0] = 0, gives the antisymmetric extension u[-j] = -u[j]).
        left = 2 * x[..., :1] - x[..., 1 : radius + 1].flip(-1)
        right = 2 * x[..., -1:] - x[..., -radius - 1 : -1].flip(-1)
        return torch.cat([left, x, right], dim=-1)
    assert isinstance(boundary, Extrapolate)
    points = boundary.fit_points(radius)
    e = torch.as_tensor(
        _extrapolation_matrix(radius, points, boundary.degree), dtype=x.dtype, device=x.device
    )
    right = x[..., -points:] @ e.T
    left = (x[..., :points].flip(-1) @ e.T).flip(-1)
    return torch.cat([left, x, right], dim=-1)


def min_axis_length(radius: int, boundary: str | Extrapolate | Interior) -> int:
    """Fewest samples an axis needs for a stencil of half-length ``radius`` under ``boundary``
    (for :class:`Interior`, on the convolution path; shorter intervals take the dense
    :func:`mollifier.kernels.edges.interval_operator`)."""
    if isinstance(boundary, Extrapolate):
        return max(2 * radius + 1, boundary.fit_points(radius))
    if boundary in ("reflect", "odd"):
        return radius + 2
    return 2 * radius + 1


def _check_dim(dim: int, ndim: int) -> int:
    """``dim`` as a non-negative index; an axis outside ``-ndim..ndim-1`` is an error."""
    if not -ndim <= dim < ndim:
        raise ValueError(f"axis {dim} is out of range for an array with {ndim} dimensions")
    return dim % ndim


def resolve_method(
    method: str,
    *,
    n_taps: int,
    n: int,
    numel: int,
    dtype: torch.dtype,
    device: torch.device,
    cached: bool = False,
) -> str:
    """The convolution algorithm ``"direct"``, ``"fft"`` or ``"matrix"`` that ``method`` means.

    ``n`` is the length of the axis convolved along, ``numel`` the input's number of elements and
    ``dtype`` its type. On CPU, ``"auto"`` takes ``"matrix"`` when the caller caches the dense
    operator (``cached=True``, as :class:`~mollifier.MollifierLayer` does) and the axis has at
    most :data:`MATRIX_MAX_POINTS` points, and ``"fft"`` for the longer axes there; one-off calls
    (:func:`mollifier.derivative`) in float64 take ``"direct"`` while ``numel * n_taps`` is at
    most :data:`DIRECT_MAX_WORK` and ``"fft"`` above. Otherwise (one-off calls on CPU in other
    types, float32 for accuracy; other devices, where one GPU run found all
    three at about a millisecond, roughly flat in ``n``) it takes ``"fft"`` for stencils of at
    least :data:`FFT_MIN_TAPS` taps and ``"direct"`` below.
    """
    if method not in CONV_METHODS:
        raise ValueError(f"unknown convolution method {method!r}; use one of {list(CONV_METHODS)}")
    if method != "auto":
        return method
    if device.type == "cpu":
        if cached:
            return "matrix" if n <= MATRIX_MAX_POINTS else "fft"
        if dtype == torch.float64:
            return "direct" if numel * n_taps <= DIRECT_MAX_WORK else "fft"
    return "fft" if n_taps >= FFT_MIN_TAPS else "direct"


def dense_operator(
    taps: torch.Tensor,
    n: int,
    boundary: str | Extrapolate | Interior,
    *,
    edges: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Dense matrices of the stencils ``taps`` on an axis of ``n`` points, boundary included.

    Parameters
    ----------
    taps : Tensor, shape (S, 2 * radius + 1)
        Stencils in convolution order, as for :func:`convolve_axis`.
    n : int
        Number of samples along the axis.
    boundary : str, Extrapolate or Interior
        Already resolved by :func:`resolve_boundary`.
    edges : pair of Tensor, optional
        For :class:`Interior`: the edge rows, as for :func:`convolve_axis`.

    Returns
    -------
    Tensor, shape (S, n_out, n)
        ``D[s]`` with ``convolve_axis(x, taps, ...)[s] = D[s] @ x`` along the axis, in ``taps``'
        dtype and on its device (differentiable in ``taps``); ``n_out`` is ``n`` (``n − 2 *
        radius`` under ``"valid"``). Built by convolving the unit vectors with the direct method,
        so the two paths agree to round-off.
    """
    eye = torch.eye(n, dtype=taps.dtype, device=taps.device)
    # Row j of the output is the convolution of the unit vector e_j, i.e. column j of D.
    cols = convolve_axis(eye, taps, dim=-1, boundary=boundary, method="direct", edges=edges)
    return cols.transpose(1, 2)


def apply_operator(x: torch.Tensor, operator: torch.Tensor, *, dim: int) -> torch.Tensor:
    """Apply dense axis operators along ``dim``: ``y[s] = operator[s] @ x`` along that axis.

    Parameters
    ----------
    x : Tensor
        Any shape; ``x.shape[dim] = n``.
    operator : Tensor, shape (S, n_out, n)
        From :func:`dense_operator`, in ``x``'s dtype and on its device.
    dim : int
        Axis to apply along.

    Returns
    -------
    Tensor
        Shape ``(S, *x.shape)`` with ``dim`` of length ``n_out``.
    """
    dim = _check_dim(dim, x.ndim)
    n = x.shape[dim]
    if operator.ndim != 3 or operator.shape[-1] != n:
        raise ValueError(
            f"operator of shape {tuple(operator.shape)} does not apply to an axis of {n} points"
        )
    moved = x.movedim(dim, -1)
    rest = moved.shape[:-1]
    # (M, n) @ (S, n, n_out) → (S, M, n_out): one batched BLAS product.
    y = torch.matmul(moved.reshape(-1, n), operator.transpose(1, 2))
    return y.reshape(operator.shape[0], *rest, operator.shape[1]).movedim(-1, dim + 1)


def convolve_axis(
    x: torch.Tensor,
    taps: torch.Tensor,
    *,
    dim: int,
    boundary: str | Extrapolate | Interior,
    method: str = "auto",
    edges: tuple[torch.Tensor, torch.Tensor] | None = None,
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
    boundary : str, Extrapolate or Interior
        Already resolved by :func:`resolve_boundary`.
    method : {"auto", "direct", "fft", "matrix"}
        See :func:`resolve_method`. All three algorithms give the same result to round-off.
    edges : pair of Tensor, optional
        Required for :class:`Interior`: the rows of the first and of the last ``radius`` nodes,
        each of shape ``(S, radius, 2 * radius + 1)``, applied to the first and the last
        ``2 * radius + 1`` samples (:func:`mollifier.kernels.edges.edge_block`); the middle
        nodes get the convolution.

    Returns
    -------
    Tensor
        Shape ``(S, *x.shape)``, except that ``boundary="valid"`` shortens ``dim`` to
        ``n − 2 * radius``.
    """
    n_taps = taps.shape[-1]
    radius = (n_taps - 1) // 2
    dim = _check_dim(dim, x.ndim)
    n = x.shape[dim]
    need = min_axis_length(radius, boundary)
    if n < need:
        raise ValueError(
            f"axis {dim} has {n} points, but a stencil of radius {radius} with boundary "
            f"{boundary!r} needs at least {need}; use a smaller width or a larger grid"
        )
    interior = isinstance(boundary, Interior)
    if interior and (edges is None or tuple(edges[0].shape) != (taps.shape[0], radius, n_taps)):
        raise ValueError(
            "boundary Interior needs edges=(first, last), each of shape "
            f"({taps.shape[0]}, {radius}, {n_taps})"
        )
    method = resolve_method(
        method, n_taps=n_taps, n=n, numel=x.numel(), dtype=x.dtype, device=x.device
    )
    if method == "matrix":
        # Uncached here; callers that apply the same stencils repeatedly (MollifierLayer) cache
        # dense_operator's result and call apply_operator themselves.
        return apply_operator(x, dense_operator(taps, n, boundary, edges=edges), dim=dim)
    moved = x.movedim(dim, -1)
    rest = moved.shape[:-1]
    flat = _pad_last(moved.reshape(-1, n), radius, boundary)
    if method == "direct":
        # conv1d is a cross-correlation: flip the taps to convolve.
        y = F.conv1d(flat.unsqueeze(1), taps.flip(-1).unsqueeze(1))
    else:
        length = flat.shape[-1]
        nfft = length + n_taps - 1
        nfft = 1 << math.ceil(math.log2(nfft)) if nfft > 64 else nfft
        spec = torch.fft.rfft(flat, n=nfft).unsqueeze(1) * torch.fft.rfft(taps, n=nfft)
        y = torch.fft.irfft(spec, n=nfft)[..., n_taps - 1 : length]
    if interior:
        assert edges is not None
        # (M, 2r + 1) @ (S, 2r + 1, r) → (S, M, r), moved to (M, S, r) like y.
        first = torch.matmul(flat[:, :n_taps], edges[0].transpose(1, 2)).transpose(0, 1)
        last = torch.matmul(flat[:, -n_taps:], edges[1].transpose(1, 2)).transpose(0, 1)
        y = torch.cat([first, y, last], dim=-1)
    n_out = y.shape[-1]
    y = y.reshape(*rest, taps.shape[0], n_out).movedim(-2, 0)
    return y.movedim(-1, dim + 1)
