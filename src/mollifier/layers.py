"""MollifierLayer: mollified fields and their derivatives on a grid, as separable convolutions.

Tensor layout is ``(batch, channel, *grid)`` throughout; ``grid`` has one dimension per named axis,
in the order the axes are given.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mollifier._conv import (
    CONV_METHODS,
    Extrapolate,
    Interior,
    apply_operator,
    convolve_axis,
    dense_operator,
    min_axis_length,
    resolve_boundary,
    resolve_method,
)
from mollifier._domain import BoxDomain
from mollifier._options import show_value
from mollifier.grid import Grid
from mollifier.kernels import AbstractKernel, check_width, get_kernel, stencil, stencil_radius
from mollifier.kernels.edges import edge_block, interval_operator, min_interval_points

__all__ = [
    "DEFAULT_KERNEL",
    "MAX_POINTS_PER_WIDTH",
    "OPERATOR_CACHE_SIZE",
    "MollifierLayer",
    "check_stencil_size",
    "parse_spec",
]

#: Kernel used when none is given: chosen by measured order-4 accuracy per width
#: (benchmarks/kernel_families.py, docs/kernels.md).
DEFAULT_KERNEL = "polybump"

#: Dense axis operators a layer keeps (least recently used dropped first); each holds
#: ``len(orders) × n²`` numbers.
OPERATOR_CACHE_SIZE = 16


#: Widest kernel, in grid points per width (``width / spacing``), a layer or
#: :func:`~mollifier.derivative` builds. Stencils cost about 0.25 ms per tap to build on one CPU
#: core (exact quadrature per cell), so this bounds a stencil's build at about two seconds; a
#: wider request is refused before anything is built. Subsample the data instead: a kernel
#: spanning thousands of points averages far more samples than it needs.
MAX_POINTS_PER_WIDTH = 4096


def check_stencil_size(
    *,
    spacing: float,
    width: float,
    axis: str | int,
    n: int | None = None,
    boundary: str | Extrapolate = "reflect",
) -> int:
    """Refuse a stencil too long to build, or too long for an axis of ``n`` points, before it is
    built; return its radius.

    Raises
    ------
    ValueError
        If ``width / spacing`` exceeds :data:`MAX_POINTS_PER_WIDTH`, or the stencil of
        ``2 * radius + 1`` taps needs more points than the axis has under ``boundary``.

    Examples
    --------
    >>> check_stencil_size(spacing=0.1, width=0.5, axis="x", n=100)
    8
    >>> try:
    ...     check_stencil_size(spacing=0.1, width=50.0, axis="x", n=100)
    ... except ValueError as exc:
    ...     print(str(exc)[:60])
    width 50 along axis 'x' needs a stencil of 1007 points (radi
    """
    h, w = float(spacing), float(width)
    if not (np.isfinite(h) and np.isfinite(w) and h > 0 and w > 0):
        return 0  # check_width names the bad value
    radius = stencil_radius(spacing=h, width=w) if w / h < 1e12 else -1
    if n is not None and radius >= 0:
        need = min_axis_length(radius, resolve_boundary(boundary))
        if n < need:
            raise ValueError(
                f"width {w:g} along axis {axis!r} needs a stencil of {2 * radius + 1} points "
                f"(radius {radius}); with boundary {boundary!r} the axis needs at least {need} "
                f"points, but it has {n} (spacing {h:g}). Use a smaller width"
            )
    if w / h > MAX_POINTS_PER_WIDTH:
        raise ValueError(
            f"width {w:g} along axis {axis!r} spans {w / h:.3g} grid points (spacing {h:g}); "
            f"at most {MAX_POINTS_PER_WIDTH} are supported (building such a stencil would take "
            "minutes). Use a smaller width, or subsample the data to a coarser spacing"
        )
    return radius


def parse_spec(spec: str | Sequence[str], axes: Sequence[str]) -> tuple[int, ...]:
    """Per-axis derivative orders of a derivative string such as ``"xxy"``.

    ``""`` is the mollified field itself. Each character must be an axis name; a tuple of axis
    names is accepted as well. Returns one order per axis, in ``axes`` order.
    """
    names = tuple(spec)
    orders = [0] * len(axes)
    for a in names:
        if a not in axes:
            raise ValueError(
                f"derivative {''.join(names)!r} names axis {a!r}, but the axes are {tuple(axes)}"
            )
        orders[list(axes).index(a)] += 1
    return tuple(orders)


def _number(name: str, axis: str, value: Any) -> float:
    """``float(value)`` for a real number (not a bool); ``TypeError`` naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} along axis {axis!r} must be a number, got {show_value(value)}")
    return float(value)


def _per_axis(name: str, value: Any, axes: tuple[str, ...]) -> tuple[Any, ...]:
    if isinstance(value, dict):
        missing = [a for a in axes if a not in value]
        extra = [a for a in value if a not in axes]
        if missing or extra:
            raise ValueError(
                f"{name} must give every axis {axes}; missing {missing}, unknown {extra}"
            )
        return tuple(value[a] for a in axes)
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != len(axes):
            raise ValueError(
                f"{name} has {len(value)} entries but there are {len(axes)} axes {axes}"
            )
        return tuple(value)
    return (value,) * len(axes)


class MollifierLayer(nn.Module):
    """Mollified field and derivatives of gridded data via exact kernel-derivative stencils.

    For a field ``g`` sampled on a uniform grid, ``layer(g, spec)`` returns
    ``∂^α (η ∗ I[g])`` at the grid nodes, where ``η = η_x ⊗ η_y ⊗ …`` is the tensor-product
    mollifier (support radius ``width[a]`` along axis ``a``), ``I[g]`` the local degree-7
    interpolant of the samples, and ``α`` the multi-index of ``spec``. By
    ``∂^α(η ∗ g) = (∂^α η) ∗ g``
    this is one separable convolution per axis with an analytic kernel-derivative stencil
    (see :func:`mollifier.kernels.stencil`); its cost does not depend on the derivative order.

    Parameters
    ----------
    axes : sequence of str
        Single-letter axis names, one per grid dimension, e.g. ``("x", "y")`` or ``("t", "x")``.
    spacing : float or sequence of float
        Grid step per axis (physical units).
    width : float or sequence of float
        Kernel support radius per axis (physical units). Must span at least
        ``kernel.min_points(order)`` grid points for every order up to ``max_order``.
    kernel : str or AbstractKernel
        ``"polybump"`` (default), ``"bump"`` (the paper's), ``"gaussian"`` or a kernel object.
    boundary : str, Extrapolate or Interior
        How stencils see past the ends of each axis. ``"reflect"``: even extension about the edge
        sample (exact for zero-flux data); ``"odd"``: point-symmetric extension about the edge
        sample (exact for zero Dirichlet data); ``"periodic"``: wrap around (the grid must not
        repeat its first point at the end); ``"valid"``: no extension, outputs cropped by
        ``radius[a]`` points at both ends of each axis; ``"extrapolate"``: least-squares
        polynomial extension (see :class:`~mollifier._conv.Extrapolate`), exact for polynomials
        near the edges; ``"interior"``: edge kernels that lie inside the data at every node
        (:class:`~mollifier._conv.Interior`, :mod:`mollifier.kernels.edges`), exact for
        polynomials of degree ``order + 1`` and free of boundary terms.
    max_order : int
        Highest per-axis derivative order that will be requested (0–6, default 4); stencils up
        to it are built and validated at construction (higher orders need wider kernels for some
        families, see ``kernel.min_points``).
    domain : array of bool, optional
        An irregular 2-D domain on a grid of exactly this shape (a nucleus, a cell), with
        ``boundary="interior"``. Each node gets one tensor-product kernel whose box lies inside
        the domain (:mod:`mollifier.kernels.box`), so every output depends only on samples
        inside it and the weak-form identity holds at every node. Outputs are defined on
        ``valid`` (the nodes that have such a box) and are 0 elsewhere.
    method : {"auto", "direct", "fft", "matrix"}
        Convolution algorithm: ``conv1d``, FFT, or a product with the dense ``(n, n)`` matrix of
        each stencil on each axis (boundary included; built once per axis length and cached).
        ``"auto"`` on CPU takes the matrix for axes of up to
        :data:`~mollifier._conv.MATRIX_MAX_POINTS` points and the FFT above; elsewhere the FFT
        for long stencils and ``conv1d`` otherwise (:func:`~mollifier._conv.resolve_method`,
        measured on CPU with ``benchmarks/conv_crossover.py``). All give the same result to
        round-off; in float32 the FFT's round-off is relative to a whole row's largest value
        (use float64 for fields that change by orders of magnitude along an axis).

    Notes
    -----
    Stencils are float64 non-trainable buffers (``stencil_<axis><order>``); they are cast to the
    input's dtype and device on use, from the float64 originals, so a float64 input never sees
    float32-rounded taps. The layer has no trainable parameters.

    Examples
    --------
    >>> import torch
    >>> h = 0.05
    >>> x = torch.arange(64, dtype=torch.float64) * h
    >>> g = (x[:, None] ** 2 * x[None, :] ** 3)[None, None]  # x² y³ on a 64 × 64 grid
    >>> layer = MollifierLayer(axes=("x", "y"), spacing=h, width=0.3, boundary="valid")
    >>> gxxyy = layer(g, "xxyy")  # ∂⁴/∂x²∂y² (x² y³) = 12 y
    >>> r = layer.radius["y"]
    >>> bool(torch.allclose(gxxyy[0, 0, 0], 12 * x[r:-r], atol=1e-8))
    True
    """

    def __init__(
        self,
        axes: Sequence[str] = ("x", "y"),
        spacing: float | Sequence[float] | dict[str, float] = 1.0,
        width: float | Sequence[float] | dict[str, float] = 4.0,
        *,
        kernel: str | AbstractKernel = DEFAULT_KERNEL,
        boundary: str | Extrapolate | Interior = "reflect",
        max_order: int = 4,
        method: str = "auto",
        domain: Any = None,
    ) -> None:
        super().__init__()
        axes = tuple(axes)
        if not axes:
            raise ValueError("axes must name at least one axis")
        for a in axes:
            if not isinstance(a, str) or len(a) != 1 or not a.isalpha():
                raise ValueError(f"axis names must be single letters, got {a!r}")
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis names must be distinct, got {axes}")
        if method not in CONV_METHODS:
            raise ValueError(f"method must be one of {list(CONV_METHODS)}, got {method!r}")
        self.axes = axes
        self.kernel = get_kernel(kernel)
        self.boundary = resolve_boundary(boundary)
        self.method = method
        if not isinstance(max_order, int) or not 0 <= max_order <= self.kernel.max_order:
            raise ValueError(
                f"max_order must be an integer in 0..{self.kernel.max_order} for {self.kernel!r}, "
                f"got {max_order!r}"
            )
        self.max_order = max_order
        spacings = tuple(
            _number("spacing", a, s)
            for a, s in zip(axes, _per_axis("spacing", spacing, axes), strict=True)
        )
        widths = tuple(
            _number("width", a, w)
            for a, w in zip(axes, _per_axis("width", width, axes), strict=True)
        )
        for a, h, w in zip(axes, spacings, widths, strict=True):
            for order in range(max_order + 1):
                check_width(self.kernel, order, spacing=h, width=w, axis=a)
            check_stencil_size(spacing=h, width=w, axis=a)
        self.spacing = dict(zip(axes, spacings, strict=True))
        self.width = dict(zip(axes, widths, strict=True))
        self.radius = {
            a: stencil_radius(spacing=self.spacing[a], width=self.width[a]) for a in axes
        }
        self._cast: dict[tuple[Any, ...], torch.Tensor] = {}
        self._operators: OrderedDict[tuple[Any, ...], torch.Tensor] = OrderedDict()
        for a in axes:
            for order in range(max_order + 1):
                taps = self._master(a, order)
                self.register_buffer(f"stencil_{a}{order}", torch.from_numpy(taps.copy()), False)
        self._box = None if domain is None else self._box_domain(domain)
        #: Nodes with a kernel inside ``domain`` (``None`` without a domain).
        self.valid = None if self._box is None else self._box.valid

    @classmethod
    def from_grid(
        cls, grid: Grid, width: float | Sequence[float] | dict[str, float], **options: Any
    ) -> MollifierLayer:
        """A layer over all axes of ``grid``, taking the spacing from the grid itself."""
        return cls(
            axes=grid.axes,
            spacing=tuple(grid.spacing[a] for a in grid.axes),
            width=width,
            **options,
        )

    def _box_domain(self, domain: Any) -> BoxDomain:
        if not isinstance(self.boundary, Interior):
            raise ValueError(
                "domain= needs boundary='interior' (edge kernels inside the domain); got "
                f"boundary {self.boundary!r}"
            )
        arr = np.asarray(domain)
        if arr.dtype != bool or arr.ndim != 2 or len(self.axes) != 2:
            raise ValueError(
                "domain must be a boolean array over a 2-D grid (two axes); got dtype "
                f"{arr.dtype} and shape {arr.shape} for axes {self.axes}"
            )
        if not arr.any():
            raise ValueError("domain has no node inside it")
        x, y = self.axes
        return BoxDomain(
            arr,
            kernel=self.kernel,
            spacing=(self.spacing[x], self.spacing[y]),
            width=(self.width[x], self.width[y]),
            radius=(self.radius[x], self.radius[y]),
            moments=self.boundary.moments,
        )

    @property
    def domain(self) -> np.ndarray | None:
        """The layer's 2-D domain (``None``: the whole grid)."""
        return None if self._box is None else self._box.domain

    def extra_repr(self) -> str:
        return (
            f"axes={self.axes}, spacing={self.spacing}, width={self.width}, "
            f"kernel={self.kernel!r}, "
            f"boundary={self.boundary!r}, max_order={self.max_order}"
        )

    def _master(self, axis: str, order: int) -> np.ndarray:
        """The float64 stencil for ``axis``/``order`` on the host, wherever the buffers live."""
        return stencil(self.kernel, order, spacing=self.spacing[axis], width=self.width[axis])

    def taps(self, axis: str, order: int, like: torch.Tensor) -> torch.Tensor:
        """The float64 stencil for ``axis``/``order``, cast to ``like``'s dtype and device."""
        buf: torch.Tensor = getattr(self, f"stencil_{axis}{order}")
        if buf.dtype == like.dtype and buf.device == like.device:
            return buf
        key = (axis, order, like.dtype, like.device)
        cached = self._cast.get(key)
        if cached is None:
            master = self._master(axis, order)
            # A cache built under torch.inference_mode must still serve later training calls.
            with torch.inference_mode(False):
                cached = torch.as_tensor(master.copy(), dtype=like.dtype, device=like.device)
            self._cast[key] = cached
        return cached

    def _edge_master(self, axis: str, order: int) -> np.ndarray:
        """The float64 edge rows of the first ``radius`` nodes (``boundary="interior"``)."""
        assert isinstance(self.boundary, Interior)
        return edge_block(
            self.kernel,
            order,
            spacing=self.spacing[axis],
            width=self.width[axis],
            moments=self.boundary.moments,
        )

    def edges(
        self, axis: str, orders: Sequence[int], like: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge rows of the ``orders`` stencils on ``axis`` (``boundary="interior"``): the first
        and the last ``radius`` nodes', each ``(len(orders), radius, 2 radius + 1)``, in
        ``like``'s dtype and device (see :func:`~mollifier._conv.convolve_axis`)."""
        key = ("edges", axis, tuple(orders), like.dtype, like.device, self.boundary)
        cached = self._cast.get(key)
        if cached is None:
            first = np.stack([self._edge_master(axis, k) for k in orders])
            sign = np.array([(-1.0) ** k for k in orders])[:, None, None]
            last = sign * first[:, ::-1, ::-1]
            with torch.inference_mode(False):
                cached = torch.stack(
                    [
                        torch.as_tensor(np.ascontiguousarray(b), dtype=like.dtype)
                        for b in (first, last)
                    ]
                ).to(like.device)
            self._cast[key] = cached
        return cached[0], cached[1]

    def operator(
        self, axis: str, orders: Sequence[int], n: int, like: torch.Tensor
    ) -> torch.Tensor:
        """Dense matrices of the ``orders`` stencils on ``axis`` for ``n`` points, shape
        ``(len(orders), n_out, n)``, in ``like``'s dtype and device.

        Built in float64 from the stencils (see :func:`~mollifier._conv.dense_operator`), then
        cast; the last :data:`OPERATOR_CACHE_SIZE` operators are kept.
        """
        key = (axis, tuple(orders), n, like.dtype, like.device, self.boundary)
        cached = self._operators.get(key)
        if cached is not None:
            self._operators.move_to_end(key)
            return cached
        with torch.inference_mode(False), torch.no_grad():
            if isinstance(self.boundary, Interior):
                dense = torch.from_numpy(
                    np.stack([self._interval_master(axis, k, n) for k in orders])
                )
            else:
                masters = np.stack([self._master(axis, k) for k in orders])
                dense = dense_operator(torch.from_numpy(masters), n, self.boundary)
            cached = dense.to(dtype=like.dtype, device=like.device).contiguous()
        self._operators[key] = cached
        while len(self._operators) > OPERATOR_CACHE_SIZE:
            self._operators.popitem(last=False)
        return cached

    def _interval_master(self, axis: str, order: int, n: int) -> np.ndarray:
        """The float64 dense operator of an interval of ``n`` points (``boundary="interior"``)."""
        assert isinstance(self.boundary, Interior)
        return interval_operator(
            self.kernel,
            order,
            spacing=self.spacing[axis],
            width=self.width[axis],
            n=n,
            moments=self.boundary.moments,
        )

    def _convolve(
        self, src: torch.Tensor, axis: str, orders: tuple[int, ...], *, dim: int
    ) -> torch.Tensor:
        n = src.shape[dim]
        n_taps = 2 * self.radius[axis] + 1
        method = resolve_method(
            self.method,
            n_taps=n_taps,
            n=n,
            numel=src.numel(),
            dtype=src.dtype,
            device=src.device,
            cached=True,
        )
        interior = isinstance(self.boundary, Interior)
        if method == "matrix" or (interior and n < n_taps):
            return apply_operator(src, self.operator(axis, orders, n, src), dim=dim)
        taps = torch.stack([self.taps(axis, k, src) for k in orders])
        edges = self.edges(axis, orders, src) if interior else None
        return convolve_axis(src, taps, dim=dim, boundary=self.boundary, method=method, edges=edges)

    def noise_gain(self, grid_shape: Sequence[int], spec: str | Sequence[str]) -> np.ndarray:
        """Per output node, how much more white noise the derivative ``spec`` carries there than
        in the interior: the ℓ2 norm of that node's tensor-product stencil over the interior
        stencil's (1 away from the edges; above 1 where edge kernels or extrapolation reach
        inward; see :func:`mollifier.kernels.edges.noise_gain`).

        Examples
        --------
        >>> layer = MollifierLayer(axes=("x",), spacing=0.1, width=0.5, boundary="interior")
        >>> gain = layer.noise_gain((40,), "xx")
        >>> float(gain[20]), bool(gain[0] > 2)
        (1.0, True)
        """
        orders = parse_spec(spec, self.axes)
        if self._box is not None:
            x, y = self.axes
            interior = (self._master(x, orders[0]), self._master(y, orders[1]))
            return self._box.noise_gain((orders[0], orders[1]), interior)
        out = np.ones(())
        like = torch.zeros((), dtype=torch.float64)
        for a, n, k in zip(self.axes, grid_shape, orders, strict=True):
            taps = self._master(a, k)
            r = self.radius[a]
            n = int(n)
            # Only the first and last radius rows differ from the interior stencil, and they
            # depend on the samples near their own edge: take them from a short axis.
            short = min(n, 2 * (min_axis_length(r, self.boundary) + 2 * r) + 1)
            if self.boundary == "periodic":
                gain = np.ones(n)
            elif isinstance(self.boundary, Interior) and n >= 2 * r + 1:
                gain = np.ones(n)
                gain[:r] = np.linalg.norm(self._edge_master(a, k), axis=1) / np.linalg.norm(taps)
                gain[n - r :] = gain[:r][::-1]
            elif self.boundary == "valid" or short == n:
                dense = self.operator(a, (k,), n, like)[0].numpy()
                gain = np.linalg.norm(dense, axis=1) / np.linalg.norm(taps)
            else:
                dense = self.operator(a, (k,), short, like)[0].numpy()
                ends = np.linalg.norm(dense, axis=1) / np.linalg.norm(taps)
                gain = np.ones(n)
                gain[:r] = ends[:r]
                gain[n - r :] = ends[short - r :]
            out = np.multiply.outer(out, gain)
        return out

    def output_shape(self, grid_shape: Sequence[int]) -> tuple[int, ...]:
        """Grid shape of the outputs for an input grid of shape ``grid_shape``."""
        if self.boundary == "valid":
            return tuple(n - 2 * self.radius[a] for a, n in zip(self.axes, grid_shape, strict=True))
        return tuple(grid_shape)

    def _check_input(self, g: torch.Tensor) -> None:
        if not isinstance(g, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(g).__name__}")
        if g.ndim != 2 + len(self.axes):
            raise ValueError(
                f"expected a tensor of shape (batch, channel, {', '.join(self.axes)}) with "
                f"{2 + len(self.axes)} dimensions, got shape {tuple(g.shape)}"
            )
        if not g.is_floating_point():
            raise TypeError(f"expected a floating-point tensor, got {g.dtype}")
        if self._box is not None:
            if tuple(g.shape[2:]) != self._box.domain.shape:
                raise ValueError(
                    f"this layer's domain is a grid of shape {self._box.domain.shape}, got "
                    f"samples of shape {tuple(g.shape[2:])}"
                )
            return  # nodes whose box does not fit are outside ``valid``
        for a, n in zip(self.axes, g.shape[2:], strict=True):
            need = (
                min_interval_points(spacing=self.spacing[a], width=self.width[a])
                if isinstance(self.boundary, Interior)
                else min_axis_length(self.radius[a], self.boundary)
            )
            if n < need:
                raise ValueError(
                    f"axis {a!r} has {n} points, but width {self.width[a]:g} (stencil radius "
                    f"{self.radius[a]}) with boundary {self.boundary!r} needs at least {need}"
                )

    def forward(self, g: torch.Tensor, *specs: str | Sequence[str]) -> Any:
        """Mollified derivatives of ``g``.

        Parameters
        ----------
        g : Tensor, shape (batch, channel, *grid)
            Samples on the grid, float32 or float64.
        *specs : str
            Derivative strings such as ``""`` (the mollified field), ``"x"``, ``"xx"``, ``"xxyy"``.
            With no specs, ``""`` is assumed.

        Returns
        -------
        Tensor or tuple of Tensor
            One tensor per spec, in order (a single tensor when one spec is given). Each has shape
            ``(batch, channel, *grid)`` (cropped by ``radius`` per axis under ``"valid"``).
        """
        self._check_input(g)
        if not specs:
            specs = ("",)
        wanted = [parse_spec(s, self.axes) for s in specs]
        for s, orders in zip(specs, wanted, strict=True):
            if max(orders) > self.max_order:
                raise ValueError(
                    f"derivative {s!r} needs order {max(orders)} along one axis, above this "
                    "layer's "
                    f"max_order={self.max_order}"
                )
        if self._box is not None:
            box = self._box
            results = tuple(box.apply(g, (orders[0], orders[1])) for orders in wanted)
            return results[0] if len(results) == 1 else results
        # Evaluate the tensor-product stencils axis by axis, sharing common prefixes.
        level: dict[tuple[int, ...], torch.Tensor] = {(): g}
        for i, a in enumerate(self.axes):
            needed: dict[tuple[int, ...], list[int]] = {}
            for orders in wanted:
                kids = needed.setdefault(orders[:i], [])
                if orders[i] not in kids:
                    kids.append(orders[i])
            nxt: dict[tuple[int, ...], torch.Tensor] = {}
            for prefix, kids in needed.items():
                kids.sort()  # one cache entry per set of orders, whatever the request order
                src = level[prefix]
                out = self._convolve(src, a, tuple(kids), dim=2 + i)
                for k, y in zip(kids, out, strict=True):
                    nxt[(*prefix, k)] = y
            level = nxt
        results = tuple(level[orders] for orders in wanted)
        return results[0] if len(results) == 1 else results
