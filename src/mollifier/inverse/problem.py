"""InverseProblem: gridded observations + a residual with unknowns → estimates of the unknowns.

The residual is a plain function ``residual(f, d, p)``:

* ``f`` holds the fields (observed data and known inputs), ``f.u``;
* ``p`` holds the unknowns, ``p.nu`` (a scalar) or ``p.lam`` (a field, broadcastable to the grid);
* ``d(q, "xx")`` is the mollified derivative of any expression ``q``; ``d(q)`` is mollified ``q``.

**Weak-form principle.** Mollify every term of the residual with the same kernel, and write
nonlinear terms in conservative form so that the derivative falls on the kernel:
``d(f.u**2 / 2, "x")``, not ``f.u * d(f.u, "x")``. Linear terms are then exact,
``η ∗ u_xx = (∂²η) ∗ u``, and products of mollified factors (which bias coefficients, see
``docs/numerics.md``) never appear. Prefer ``d(f.u, "xxxx")`` to ``d(d(f.u, "xx"), "xx")``:
the nested form smooths twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier._conv import Extrapolate, Interior, resolve_boundary
from mollifier._options import show_value
from mollifier.derivatives import AbstractDerivatives, MollifierDerivatives
from mollifier.grid import Grid
from mollifier.inverse.autowidth import choose_widths, width_bounds
from mollifier.inverse.datachecks import (
    NOISE_DOMINATED,
    check_arguments,
    check_unknowns,
    constant_fields,
    noise_fraction,
)
from mollifier.inverse.residual import (
    Residual,
    ResidualError,
    ResidualTypeError,
    dry_run,
    equation_terms,
    residual_failure,
)
from mollifier.inverse.solver import AbstractSolver, refine_auto_width
from mollifier.inverse.unknowns import Constant, Field, Namespace
from mollifier.kernels import AbstractKernel, get_kernel, stencil_radius
from mollifier.kernels.edges import min_interval_points
from mollifier.layers import DEFAULT_KERNEL, MollifierLayer

if TYPE_CHECKING:
    from mollifier.inverse.result import Result

__all__ = [
    "NOISE_DOMINATED",
    "InverseProblem",
    "Residual",
    "ResidualError",
    "ResidualTypeError",
    "constant_fields",
    "noise_fraction",
]


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
        data (:func:`mollifier.inverse.autowidth.choose_widths`). The chosen widths are ``width``,
        the rule ``width_rule``, the spectral first guess ``width_guess`` (``None`` unless
        ``"auto"``) and the stability ladder ``width_ladder``.
    known : mapping of str to array or float, optional
        Known inputs of the equation (e.g. a source ``m``), available as ``f.<name>``.
    truth : mapping of str to float or array, optional
        True values of the unknowns, used only for ``Result.metrics``.
    kernel : str or AbstractKernel
        Mollifier family (default ``"polybump"``).
    boundary : str, Extrapolate or Interior
        Boundary mode of the mollifier (default ``"reflect"``; see
        :class:`~mollifier.MollifierLayer`). ``"interior"`` uses edge kernels that lie inside
        the data, so every node keeps a residual row and ``crop`` does not apply. ``"valid"``
        is refused (its outputs do not share the grid).
    crop : bool
        Exclude from the residual the nodes within a stencil radius of non-periodic edges, whose
        mollified values depend on the boundary extension (default True; ignored with
        ``"interior"`` and ``"periodic"``).
    mask : array of bool, optional
        Observed nodes (``True``); only used by the network solver's data misfit (with a
        ``domain``, only its nodes count as observed).
    domain : array of bool, optional
        The region where the equation holds and the data live (a nucleus, a cell), with
        ``boundary="interior"``: each run of the domain along each axis gets its own edge
        kernels (:class:`~mollifier.MollifierLayer`'s ``domain``), so nothing outside it reaches
        any estimate. Data and known inputs may be NaN outside it. Residual rows are the nodes of
        the layer's ``valid`` set; the domain's nodes outside it (runs too short for the kernel)
        are counted in :meth:`assess`'s ``diagnostics["domain"]``.

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
        boundary: str | Extrapolate | Interior = "reflect",
        crop: bool = True,
        mask: Any = None,
        domain: Any = None,
    ) -> None:
        check_arguments(grid, residual, data=data, unknowns=unknowns, known=known, truth=truth)
        self.grid = grid
        self.residual = residual
        self.kernel = get_kernel(kernel)
        if resolve_boundary(boundary) == "valid":
            raise ValueError(
                "boundary='valid' crops every derivative by its stencil radius, so the terms of "
                "a residual (and nested d(...)) no longer share the grid; use "
                "boundary='interior' (edge kernels: a value at every node) or the default "
                "'reflect' with crop=True"
            )
        self.boundary = boundary
        self.crop = bool(crop)
        self._set_region(mask, domain)
        if not data:
            raise ValueError("data must contain at least one observed field")
        self.data = {name: self._grid_array(f"data {name!r}", v) for name, v in data.items()}
        for name, arr in self.data.items():
            bad = ~np.isfinite(arr)
            if self.mask is not None:
                bad &= self.mask
            if self.domain is not None:
                bad &= self.domain
                self.data[name] = np.where(self.domain, arr, 0.0)
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
            seen = arr if self.domain is None or arr.ndim == 0 else arr[self.domain]
            if not np.all(np.isfinite(seen)):
                raise ValueError(f"known input {name!r} contains NaN or inf")
            if self.domain is not None and arr.ndim > 0:
                self.known[name] = np.where(self.domain, self.known[name], 0.0)
        if not unknowns:
            raise ValueError("unknowns must name at least one Constant or Field")
        clash = (set(unknowns) & set(self.data)) | (set(unknowns) & set(self.known))
        clash |= set(self.data) & set(self.known)
        if clash:
            raise ValueError(
                f"names must be unique across data, known and unknowns: {sorted(clash)}"
            )
        check_unknowns(unknowns, grid)
        self.unknowns = dict(unknowns)
        self.truth = dict(truth or {})
        #: the data as observed: NaN outside ``domain`` (``data`` holds zeros there)
        self.observed = (
            self.data
            if self.domain is None
            else {k: np.where(self.domain, v, np.nan) for k, v in self.data.items()}
        )
        self.noise_fraction = {name: noise_fraction(arr) for name, arr in self.observed.items()}
        for name in self.truth:
            if name not in self.unknowns:
                raise ValueError(f"truth given for {name!r}, which is not an unknown")
        self.equations: tuple[str, ...] = ()
        self.equation_scale: list[float] = []  # empty while the scales are being measured
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
            "domain": domain,
        }
        self.width_ladder: list[dict[str, Any]] = []
        self.width_guess: dict[str, float] | None = None
        if isinstance(width, str) and width == "auto":
            self.width, self.width_rule = self._auto_width()
        else:
            self.width_rule = "given"
            self.width = self._resolve_width(width)  # type: ignore[arg-type]  # str → error
        # Known before any stencil is built: the cropped band leaves no interior node.
        radius = {
            a: stencil_radius(spacing=grid.spacing[a], width=self.width[a]) for a in grid.axes
        }
        cropped = self.crop and self.boundary not in ("periodic", "valid")
        if cropped and any(2 * radius[a] >= n for a, n in zip(grid.axes, grid.shape, strict=True)):
            raise ValueError(self._no_interior(radius))
        self.layer = self.make_layer()
        self.interior = self._interior_mask()
        if not self.interior.any():
            raise ValueError(self._no_interior(self.layer.radius))
        self.equation_scale = self._equation_scales()
        if self.width_rule == "spectral":
            # the registered refinement (the direct solver's stability ladder, when it applies)
            refined = refine_auto_width(self)
            if refined is not self:
                self.__dict__.update(refined.__dict__)

    def _set_region(self, mask: Any, domain: Any) -> None:
        """Check and set ``mask`` (observed nodes) and ``domain`` (where the equation holds; with
        a domain, only its nodes count as observed)."""
        grid, boundary = self.grid, self.boundary
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        if self.mask is not None:
            grid.check_array("mask", self.mask)
        self.domain = None if domain is None else np.asarray(domain)
        if self.domain is not None:
            grid.check_array("domain", self.domain)
            if self.domain.dtype != bool:
                raise ValueError(f"domain must be a boolean array, got dtype {self.domain.dtype}")
            if not self.edge_kernels:
                raise ValueError(
                    "domain= needs boundary='interior' (edge kernels inside the domain); got "
                    f"boundary {boundary!r}"
                )
            # data outside the domain are not observations
            self.mask = self.domain if self.mask is None else self.mask & self.domain

    # -- construction helpers --------------------------------------------------------------
    def _no_interior(self, radius: Mapping[str, int]) -> str:
        widths = ", ".join(f"{a} = {w:g}" for a, w in self.width.items())
        return (
            f"no interior nodes remain after cropping the stencil radius {dict(radius)} from a "
            f"grid of shape {self.grid.shape} (widths {widths}); use smaller widths, "
            "boundary='periodic', or crop=False"
        )

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
            out = {a: width[a] for a in self.grid.axes}
        elif isinstance(width, (str, bool)) or not isinstance(width, (int, float, np.number)):
            raise ValueError(
                "width must be a number, a mapping of axis to number, or 'auto'; got "
                f"{show_value(width)}"
            )
        else:
            out = {a: width for a in self.grid.axes}
        for a, w in out.items():
            if isinstance(w, bool) or not isinstance(w, (int, float, np.number)):
                raise ValueError(f"width along axis {a!r} must be a number, got {show_value(w)}")
            if not (np.isfinite(w) and w > 0):
                raise ValueError(
                    f"width along axis {a!r} must be a positive number, got {show_value(w)}"
                )
        return {a: float(w) for a, w in out.items()}

    def with_width(self, width: float | Mapping[str, float]) -> InverseProblem:
        """The same problem with other (explicit) widths."""
        return InverseProblem(width=width, **self._options)

    def with_data(self, data: Mapping[str, Any]) -> InverseProblem:
        """The same problem on other observations of the same fields, at this problem's
        (resolved) widths, so that nothing about the problem but the data changes."""
        if set(data) != set(self.data):
            raise ValueError(f"with_data needs the fields {sorted(self.data)}, got {sorted(data)}")
        return InverseProblem(width=dict(self.width), **{**self._options, "data": dict(data)})

    def _auto_width(self) -> tuple[dict[str, float], str]:
        """The spectral width rule (:func:`~mollifier.inverse.autowidth.choose_widths`).

        The constructor then applies the registered refinement (:func:`mollifier.inverse.direct.
        refine_width`, the stability of the direct solution across scaled widths), which needs
        solves and so lives with the solver, not here.
        """
        lower, upper = self.width_bounds()
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
        return guess, "spectral"

    def width_bounds(self) -> tuple[dict[str, float], dict[str, float]]:
        """Smallest and largest admissible width per axis (:func:`~mollifier.inverse.autowidth.
        width_bounds` for this grid, kernel, derivative orders and boundary)."""
        return width_bounds(
            self.grid,
            kernel=self.kernel,
            max_order=max(self.max_order.values()),
            periodic=self.boundary == "periodic" or not self.crop or self.edge_kernels,
        )

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
            domain=self.domain,
        )

    @property
    def edge_kernels(self) -> bool:
        """Whether the mollifier uses edge kernels (``boundary="interior"``): every node's
        kernel lies inside the data, so no node is cropped."""
        return isinstance(resolve_boundary(self.boundary), Interior)

    def _interior_mask(self) -> np.ndarray:
        if self.layer.valid is not None:
            return self.layer.valid.copy()
        keep = np.ones(self.grid.shape, dtype=bool)
        if not self.crop or self.boundary in ("periodic", "valid") or self.edge_kernels:
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
        return Namespace("field", self._known_values(fields))

    def evaluate(
        self,
        fields: Mapping[str, torch.Tensor],
        params: Mapping[str, torch.Tensor],
        d: AbstractDerivatives,
        *,
        known: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """Call the residual and return its value as one tensor.

        ``fields`` and ``params`` hold tensors laid out for ``d``'s backend; ``known`` overrides
        the known inputs (the autodiff backend passes them flattened). A single equation comes
        back as the residual function returned it. A system (:attr:`equations` has more than one
        name) comes back stacked along a new leading axis, equation ``e`` multiplied by
        ``equation_scale[e]``, each equation broadcast to their common shape.
        """
        f = (
            self.fields_namespace(fields)
            if known is None
            else Namespace("field", {**fields, **known})
        )
        try:
            out = self.residual(f, d, Namespace("unknown", params))
        except Exception as exc:
            raise residual_failure(self.residual, exc) from exc
        return self._stack(out)

    def _stack(self, out: Any) -> torch.Tensor:
        """One equation as returned; a system stacked and scaled (see :meth:`evaluate`)."""
        if isinstance(out, torch.Tensor):
            return out
        terms = [torch.as_tensor(t) for t in equation_terms(out).values()]
        if len(terms) == 1:  # a one-equation tuple or dict is a single equation
            return terms[0]
        scales = self.equation_scale or [1.0] * len(terms)
        stacked = torch.broadcast_tensors(*terms)
        return torch.stack([s * t for s, t in zip(scales, stacked, strict=True)])

    @property
    def n_equations(self) -> int:
        """Number of equations the residual returns (1 for a single tensor)."""
        return len(self.equations)

    def mollifier_residual(
        self, fields: Mapping[str, torch.Tensor], params: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """The residual on the grid with mollifier derivatives.

        Grid-shaped for one equation; ``(n_equations, *grid.shape)`` for a system.
        """
        d = MollifierDerivatives(self.layer, self.grid.shape)
        out = self.evaluate(fields, params, d)
        return self._to_grid(out)

    def _to_grid(self, out: torch.Tensor) -> torch.Tensor:
        shape = self.grid.shape if self.n_equations == 1 else (self.n_equations, *self.grid.shape)
        try:
            return torch.broadcast_to(out, shape)
        except RuntimeError:
            raise ValueError(
                f"the residual returned shape {tuple(out.shape)}, which does not broadcast to the "
                f"grid shape {self.grid.shape}"
            ) from None

    def _dry_run(self) -> list[tuple[int, ...]]:
        """Call the residual once on the data (:func:`~mollifier.inverse.residual.dry_run`): set
        ``equations`` and return the derivative orders it asks for."""
        fields = {k: torch.as_tensor(v) for k, v in self.data.items()}

        def check_shape(out: Any, equations: tuple[str, ...]) -> None:
            self.equations = equations  # stacking a system needs its equation count
            self._to_grid(self._stack(out))

        self.equations, orders = dry_run(
            self.residual,
            axes=self.grid.axes,
            fields=self.fields_namespace(fields),
            params=self._initial_params(),
            shape=self.grid.shape,
            check_shape=check_shape,
        )
        return orders

    def _initial_params(self) -> dict[str, torch.Tensor]:
        """Every unknown at its ``init`` value, laid out to broadcast against the grid."""
        return {
            name: self.broadcast_unknown(
                name, torch.full(self.unknown_shape(name), float(u.init), dtype=torch.float64)
            )
            for name, u in self.unknowns.items()
        }

    def _known_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(fields)
        for k, v in self.known.items():
            values[k] = v if isinstance(v, float) else torch.as_tensor(v)
        return values

    def _equation_scales(self) -> list[float]:
        """Per equation of a system, ``1 / rms`` of its mollified residual over the interior at
        the unknowns' initial values, so that equations in different units weigh alike (1.0 for
        an equation that vanishes there). A single equation is not rescaled."""
        if self.n_equations == 1:
            return [1.0]
        with torch.no_grad():
            r = self.mollifier_residual(
                {k: torch.as_tensor(v) for k, v in self.data.items()}, self._initial_params()
            )
        scales = []
        for e in range(self.n_equations):
            rms = float(torch.sqrt(torch.mean(r[e][torch.as_tensor(self.interior)] ** 2)))
            scales.append(1.0 / rms if rms > 0 and math.isfinite(rms) else 1.0)
        return scales

    def residual_maps(self, r: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Split a :meth:`mollifier_residual` value into what a :class:`Result` reports.

        Returns the residual map (grid-shaped, NaN outside the interior) and, for a system, each
        equation's own residual in its own units (the stacked value divided by
        ``equation_scale``); the map of a system is the root-sum-square of the scaled equations,
        the quantity the solvers make small.
        """
        if self.n_equations == 1:
            return np.where(self.interior, r, np.nan), {}
        per = {
            name: np.where(self.interior, r[e] / self.equation_scale[e], np.nan)
            for e, name in enumerate(self.equations)
        }
        return np.where(self.interior, np.sqrt(np.sum(r**2, axis=0)), np.nan), per

    # -- solving -------------------------------------------------------------------------------
    def solve(self, solver: AbstractSolver, **run: Any) -> Result:
        """Estimate the unknowns with ``solver``: ``problem.solve(ml.Direct())`` or
        ``problem.solve(ml.Network(arch=ml.PirateNet(), steps=5000))``.

        ``run`` holds the solver's run-time options that do not change the answer (for the
        network: ``checkpoint``, ``checkpoint_every``, ``resume``, ``progress``); a solver
        refuses those it does not take (``TypeError``).
        """
        if not isinstance(solver, AbstractSolver):
            raise TypeError(
                f"solve() takes a solver object such as ml.Direct() or ml.Network(...), got "
                f"{solver!r}"
            )
        result = solver.solve(self, **run)
        self.assess(result)
        return result

    def assess(self, result: Result) -> Result:
        """Mark ``result`` unreliable (:meth:`Result.mark_unreliable`) where the data cannot
        support it: a data field that is mostly noise (:func:`noise_fraction` above
        :data:`NOISE_DOMINATED`) or constant (:func:`constant_fields`), an unknown with no
        estimate, or a positive unknown estimated
        non-positive (a constant, or more than a tenth of a field's estimated nodes)."""
        if self.domain is not None:
            points = " / ".join(
                str(min_interval_points(spacing=self.grid.spacing[a], width=self.width[a]))
                for a in self.grid.axes
            )
            axes = ", ".join(self.grid.axes)
            inside = int(self.domain.sum())
            rows = int(self.interior.sum())
            result.diagnostics["domain"] = {
                "nodes": inside,
                "with_kernel": rows,
                "too_narrow": inside - rows,
                # white-noise amplification of the highest derivative along each axis, at the
                # worst node (1 where the kernel is centred on the node)
                "noise_gain_max": float(
                    max(
                        np.nanmax(self.layer.noise_gain(self.grid.shape, a * self.max_order[a]))
                        for a in self.grid.axes
                    )
                ),
                "reason": "where the domain is narrower along an axis than the kernel's "
                f"support ({points} points along {axes}), a node has no kernel inside the domain "
                "and no estimate",
            }
        for name in constant_fields(self.data):
            result.mark_unreliable(
                f"data {name!r} is constant: its derivatives vanish, so it determines nothing"
            )
        for name, frac in self.noise_fraction.items():
            if frac > NOISE_DOMINATED:
                result.mark_unreliable(
                    f"data {name!r} is mostly noise: about {frac:.0%} of its variance is white "
                    "noise (estimated from high-order differences), so the unknowns fitted to it "
                    "are not meaningful"
                )
        for name, unknown in self.unknowns.items():
            value = np.asarray(result.unknowns.get(name, np.nan), dtype=float)
            finite = value[np.isfinite(value)]
            if finite.size == 0:
                result.mark_unreliable(
                    f"unknown {name!r} is not identifiable from these data (no estimate)"
                )
                continue
            nonpositive = int(np.sum(finite <= 0))
            if not unknown.positive or nonpositive == 0:
                continue
            if value.ndim == 0:
                result.mark_unreliable(
                    f"unknown {name!r} is declared positive but came out {float(value):.4g}"
                )
            elif nonpositive > 0.1 * finite.size:
                result.mark_unreliable(
                    f"field {name!r} is declared positive but {nonpositive} of its {finite.size} "
                    "estimated nodes are <= 0"
                )
        return result

    def __repr__(self) -> str:
        return (
            f"InverseProblem(grid={self.grid!r}, data={sorted(self.data)}, "
            f"unknowns={self.unknowns}, width={self.width}, kernel={self.kernel!r})"
        )
