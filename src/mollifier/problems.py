"""InverseProblem: gridded observations + a residual with unknowns → estimates of the unknowns.

The residual is a plain function ``residual(f, d, p)``:

* ``f`` holds the fields (observed data and known inputs), ``f.u``;
* ``p`` holds the unknowns, ``p.nu`` (a scalar) or ``p.lam`` (a field, broadcastable to the grid);
* ``d(q, "xx")`` is the mollified derivative of any expression ``q``; ``d(q)`` is mollified ``q``.

**Weak-form principle.** Mollify every term of the residual with the same kernel, and write
nonlinear terms in conservative form so that the derivative falls on the kernel:
``d(f.u**2 / 2, "x")``, not ``f.u * d(f.u, "x")``. Linear terms are then exact,
``η ∗ u_xx = (∂²η) ∗ u``, and products of mollified factors (which bias coefficients by 20–50%,
see ``docs/numerics.md``) never appear. Prefer ``d(f.u, "xxxx")`` to ``d(d(f.u, "xx"), "xx")``:
the nested form smooths twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from mollifier._conv import Extrapolate
from mollifier.derivatives import AbstractDerivatives, MollifierDerivatives
from mollifier.grid import Grid
from mollifier.kernels import AbstractKernel, get_kernel
from mollifier.layers import DEFAULT_KERNEL, MollifierLayer
from mollifier.unknowns import Constant, Field, Namespace

__all__ = ["InverseProblem", "Residual"]

Residual = Callable[[Namespace, AbstractDerivatives, Namespace], Any]


class _RecordingDerivatives(AbstractDerivatives):
    """Identity 'derivatives' that record the per-axis orders a residual asks for."""

    def __init__(self, axes: tuple[str, ...]) -> None:
        super().__init__(axes)
        self.orders: list[tuple[int, ...]] = []

    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        self.orders.append(orders)
        return q if isinstance(q, torch.Tensor) else torch.as_tensor(q, dtype=torch.float64)


class InverseProblem:
    """Recover unknown constants and fields of a PDE from gridded, noisy observations.

    Parameters
    ----------
    grid : Grid
        The observation grid (uniform, named axes).
    data : mapping of str to array
        Observed fields, each shaped like ``grid``. NaN marks a missing value only where ``mask``
        says the node is unobserved.
    unknowns : mapping of str to Constant or Field
        The unknowns, by name.
    residual : callable
        ``residual(f, d, p)`` returning the PDE residual on the grid (see the module docstring).
    width : float, mapping of axis to float, or "auto"
        Mollifier support radius per axis, in the axes' units; ``"auto"`` chooses it from the
        data (:func:`mollifier.autowidth.choose_widths`). The chosen widths are ``width``,
        the rule ``width_rule``, the spectral first guess ``width_guess`` (``None`` unless
        ``"auto"``) and the stability ladder ``width_ladder``.
    known : mapping of str to array or float, optional
        Known inputs of the equation (e.g. a source ``m``), available as ``f.<name>``.
    truth : mapping of str to float or array, optional
        True values of the unknowns, used only for ``Result.metrics``.
    kernel : str or AbstractKernel
        Mollifier family (default ``"polybump"``).
    boundary : str or Extrapolate
        Boundary mode of the mollifier (default ``"reflect"``).
    crop : bool
        Exclude from the residual the nodes within a stencil radius of non-periodic edges, whose
        mollified values depend on the boundary extension (default True).
    mask : array of bool, optional
        Observed nodes (``True``); only used by the network solver's data misfit.

    Raises
    ------
    ValueError
        For data not shaped like the grid, NaN outside the mask, unknown or clashing names, field
        axes not on the grid, widths below the kernel's minimum, or a residual whose output does
        not broadcast to the grid.
    """

    def __init__(
        self,
        *,
        grid: Grid,
        data: Mapping[str, Any],
        unknowns: Mapping[str, Constant | Field],
        residual: Residual,
        width: float | Mapping[str, float] | str = "auto",
        known: Mapping[str, Any] | None = None,
        truth: Mapping[str, Any] | None = None,
        kernel: str | AbstractKernel = DEFAULT_KERNEL,
        boundary: str | Extrapolate = "reflect",
        crop: bool = True,
        mask: Any = None,
    ) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a mollifier.Grid, got {type(grid).__name__}")
        if not callable(residual):
            raise TypeError("residual must be a callable residual(f, d, p)")
        self.grid = grid
        self.residual = residual
        self.kernel = get_kernel(kernel)
        self.boundary = boundary
        self.crop = bool(crop)
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        if self.mask is not None:
            grid.check_array("mask", self.mask)
        if not data:
            raise ValueError("data must contain at least one observed field")
        self.data = {name: self._grid_array(f"data {name!r}", v) for name, v in data.items()}
        for name, arr in self.data.items():
            bad = ~np.isfinite(arr)
            if self.mask is not None:
                bad &= self.mask
            if bad.any():
                raise ValueError(
                    f"data {name!r} has {int(bad.sum())} NaN or inf values at observed nodes; "
                    "remove them or pass mask= marking those nodes unobserved"
                )
        self.known = {}
        for name, value in (known or {}).items():
            arr = np.asarray(value, dtype=np.float64)
            self.known[name] = (
                float(arr) if arr.ndim == 0 else self._grid_array(f"known {name!r}", arr)
            )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"known input {name!r} contains NaN or inf")
        if not unknowns:
            raise ValueError("unknowns must name at least one Constant or Field")
        clash = (set(unknowns) & set(self.data)) | (set(unknowns) & set(self.known))
        clash |= set(self.data) & set(self.known)
        if clash:
            raise ValueError(
                f"names must be unique across data, known and unknowns: {sorted(clash)}"
            )
        for name, u in unknowns.items():
            if not isinstance(u, (Constant, Field)):
                raise TypeError(f"unknown {name!r} must be a Constant or a Field, got {u!r}")
            if isinstance(u, Field):
                missing = [a for a in u.axes if a not in grid.axes]
                if missing:
                    raise ValueError(
                        f"field {name!r} varies along {missing}, which are not grid axes "
                        f"{grid.axes}"
                    )
                order = [grid.axes.index(a) for a in u.axes]
                if order != sorted(order):
                    raise ValueError(f"field {name!r}: axes {u.axes} must follow grid order")
        self.unknowns = dict(unknowns)
        self.truth = dict(truth or {})
        for name in self.truth:
            if name not in self.unknowns:
                raise ValueError(f"truth given for {name!r}, which is not an unknown")
        self.orders = self._dry_run()
        self.max_order = {a: max(o[i] for o in self.orders) for i, a in enumerate(grid.axes)}
        self._options = {
            "grid": grid,
            "data": data,
            "unknowns": unknowns,
            "residual": residual,
            "known": known,
            "truth": truth,
            "kernel": self.kernel,
            "boundary": boundary,
            "crop": crop,
            "mask": mask,
        }
        self.width_ladder: list[dict[str, Any]] = []
        self.width_guess: dict[str, float] | None = None
        if isinstance(width, str) and width == "auto":
            self.width, self.width_rule = self._auto_width()
        else:
            self.width_rule = "given"
            self.width = self._resolve_width(width)  # type: ignore[arg-type]  # str → error
        self.layer = self.make_layer()
        self.interior = self._interior_mask()
        if not self.interior.any():
            raise ValueError(
                f"no interior nodes remain after cropping the stencil radius {self.layer.radius} "
                f"from a grid of shape {grid.shape}; use smaller widths, boundary='periodic', or "
                "crop=False"
            )

    # -- construction helpers --------------------------------------------------------------
    def _grid_array(self, what: str, value: Any) -> np.ndarray:
        arr = np.asarray(value)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
        self.grid.check_array(what, arr)
        return arr.astype(np.float64)

    def _resolve_width(self, width: float | Mapping[str, float]) -> dict[str, float]:
        if isinstance(width, Mapping):
            missing = [a for a in self.grid.axes if a not in width]
            extra = [a for a in width if a not in self.grid.axes]
            if missing or extra:
                raise ValueError(
                    f"width must give every grid axis {self.grid.axes}: missing {missing}, "
                    f"unknown {extra}"
                )
            return {a: float(width[a]) for a in self.grid.axes}
        if isinstance(width, str):
            raise ValueError(
                f"width must be a number, a mapping of axis to number, or 'auto'; got {width!r}"
            )
        return {a: float(width) for a in self.grid.axes}

    def with_width(self, width: float | Mapping[str, float]) -> InverseProblem:
        """The same problem with other (explicit) widths."""
        return InverseProblem(width=width, **self._options)

    def _auto_width(self) -> tuple[dict[str, float], str]:
        from mollifier.autowidth import choose_widths, stability_scale, width_bounds
        from mollifier.direct import NonAffineResidualError

        lower, upper = width_bounds(
            self.grid,
            kernel=self.kernel,
            max_order=max(self.max_order.values()),
            periodic=self.boundary == "periodic" or not self.crop,
        )
        guess = choose_widths(
            self.grid,
            list(self.data.values()),
            orders=self.max_order,
            kernel=self.kernel,
            lower=lower,
            upper=upper,
            mask=self.mask,
        )
        self.width_guess = dict(guess)
        if self.mask is not None and not self.mask.all():
            return guess, "spectral"
        from mollifier.direct import has_closed_form

        try:
            if not has_closed_form(self.with_width(guess)):
                return guess, "spectral"  # each rung would need an iterative solve
            chosen, self.width_ladder = stability_scale(
                lambda w: self.with_width(w).solve("direct").unknowns,
                guess,
                lower=lower,
                upper=upper,
            )
        except NonAffineResidualError:
            return guess, "spectral"
        return chosen, "spectral+stability"

    def make_layer(self, *, max_order: Mapping[str, int] | None = None) -> MollifierLayer:
        """The :class:`MollifierLayer` for this problem's grid, widths, kernel and boundary."""
        orders = dict(self.max_order if max_order is None else max_order)
        return MollifierLayer(
            axes=self.grid.axes,
            spacing=tuple(self.grid.spacing[a] for a in self.grid.axes),
            width=tuple(self.width[a] for a in self.grid.axes),
            kernel=self.kernel,
            boundary=self.boundary,
            max_order=max(orders.values()),
        )

    def _interior_mask(self) -> np.ndarray:
        keep = np.ones(self.grid.shape, dtype=bool)
        if not self.crop or self.boundary == "periodic" or self.boundary == "valid":
            return keep
        for i, a in enumerate(self.grid.axes):
            r = self.layer.radius[a]
            idx = [slice(None)] * self.grid.ndim
            idx[i] = slice(0, r)
            keep[tuple(idx)] = False
            idx[i] = slice(self.grid.shape[i] - r, None)
            keep[tuple(idx)] = False
        return keep

    @property
    def unknown_axes(self) -> dict[str, tuple[str, ...]]:
        """Each unknown's axes: ``()`` for a constant, the field's axes otherwise."""
        return {
            n: () if isinstance(u, Constant) else tuple(u.axes) for n, u in self.unknowns.items()
        }

    def unknown_shape(self, name: str) -> tuple[int, ...]:
        """Shape of an unknown's values: ``()`` for a constant, its axes' sizes for a field."""
        u = self.unknowns[name]
        if isinstance(u, Constant):
            return ()
        return tuple(self.grid.shape[self.grid.index(a)] for a in u.axes)

    def broadcast_unknown(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """View an unknown's values so that they broadcast against grid-shaped tensors."""
        u = self.unknowns[name]
        if isinstance(u, Constant):
            return values
        shape = [self.grid.shape[i] if a in u.axes else 1 for i, a in enumerate(self.grid.axes)]
        return values.reshape(shape)

    # -- residual evaluation -----------------------------------------------------------------
    def fields_namespace(self, fields: Mapping[str, Any]) -> Namespace:
        """Namespace ``f`` of the residual: the given data fields plus the known inputs."""
        values = dict(fields)
        for k, v in self.known.items():
            values[k] = v if isinstance(v, float) else torch.as_tensor(v, dtype=torch.float64)
        return Namespace("field", values)

    def evaluate(
        self,
        fields: Mapping[str, torch.Tensor],
        params: Mapping[str, torch.Tensor],
        d: AbstractDerivatives,
        *,
        known: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """Call the residual and check that its result broadcasts to the grid.

        ``fields`` and ``params`` hold tensors laid out for ``d``'s backend; ``known`` overrides
        the known inputs (the autodiff backend passes them flattened).
        """
        values: dict[str, Any] = dict(fields)
        if known is None:
            for k, v in self.known.items():
                values[k] = v if isinstance(v, float) else torch.as_tensor(v)
        else:
            values.update(known)
        out = self.residual(Namespace("field", values), d, Namespace("unknown", params))
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the residual must return a tensor, got {type(out).__name__}")
        return out

    def mollifier_residual(
        self, fields: Mapping[str, torch.Tensor], params: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """The residual on the grid with mollifier derivatives; grid-shaped result."""
        d = MollifierDerivatives(self.layer, self.grid.shape)
        out = self.evaluate(fields, params, d)
        return self._to_grid(out)

    def _to_grid(self, out: torch.Tensor) -> torch.Tensor:
        try:
            return torch.broadcast_to(out, self.grid.shape)
        except RuntimeError:
            raise ValueError(
                f"the residual returned shape {tuple(out.shape)}, which does not broadcast to the "
                f"grid shape {self.grid.shape}"
            ) from None

    def _dry_run(self) -> list[tuple[int, ...]]:
        rec = _RecordingDerivatives(self.grid.axes)
        fields = {k: torch.as_tensor(v) for k, v in self.data.items()}
        params = {
            name: self.broadcast_unknown(
                name, torch.full(self.unknown_shape(name), float(u.init), dtype=torch.float64)
            )
            for name, u in self.unknowns.items()
        }
        try:
            out = self.evaluate(fields, params, rec)
        except AttributeError as exc:
            raise ValueError(f"residual: {exc}") from None
        self._to_grid(out)
        if not rec.orders:
            raise ValueError("the residual never calls d(...); it must mollify its terms")
        return rec.orders

    # -- solving -------------------------------------------------------------------------------
    def solve(self, method: str = "direct", **options: Any) -> Any:
        """Estimate the unknowns.

        Parameters
        ----------
        method : {"direct", "network"}
            ``"direct"``: network-free weak-form least squares on the mollified data
            (:func:`mollifier.direct.solve_direct`); ``"network"``: train a coordinate network
            with a data misfit plus the residual (:func:`mollifier.train.solve_network`).
        **options
            Passed to the solver; unknown options raise ``TypeError``.

        Returns
        -------
        Result
        """
        if method == "direct":
            from mollifier.direct import solve_direct

            return solve_direct(self, **options)
        if method == "network":
            from mollifier.train import solve_network

            return solve_network(self, **options)
        raise ValueError(f"unknown method {method!r}; use 'direct' or 'network'")

    def __repr__(self) -> str:
        return (
            f"InverseProblem(grid={self.grid!r}, data={sorted(self.data)}, "
            f"unknowns={self.unknowns}, width={self.width}, kernel={self.kernel!r})"
        )
