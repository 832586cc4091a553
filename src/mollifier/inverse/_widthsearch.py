"""Cheap solves for the stability ladder of ``width="auto"`` (:func:`~mollifier.inverse.direct.
refine_width`).

The ladder only compares the unknowns recovered at scaled widths, so each rung here does the
least the comparison needs, instead of building a problem and running the full direct solver:

* one :class:`~mollifier.MollifierLayer` at the rung's widths. With edge kernels
  (``boundary="interior"``, no ``domain``) the rung uses the reflecting layer and keeps only the
  rows at least one stencil radius from every edge, where both layers agree exactly: the edge
  kernels are not needed to judge stability, and building their blocks for every rung's widths
  was most of the ladder's cost. Other boundaries keep the problem's own rows and noise-gain
  weights (:func:`row_weights`);
* one batched evaluation of the residual at ``θ = 0``, at each constant's unit vector and at the
  field equal to 1, giving ``b``, the constants' columns ``C`` and the pointwise field's
  coefficients ``a`` (``R(θ) = C θ_c + a ⊙ λ[idx] + b``);
* the direct solver's closed form on those rows (constants by least squares with the field
  eliminated node by node, the field ``λ̂_j = −Σ a_i (b_i + C_i θ_c) / Σ a_i²``) **without** the
  positivity bound of ``Field(positive=True)``: a clamp at 0 makes the clamped nodes identical
  across rungs and so looks like stability.

The structure (affine, at most one field, entering pointwise) is checked once, with random probes,
at the first widths asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier._conv import resolve_boundary
from mollifier.derivatives import MollifierDerivatives
from mollifier.inverse.unknowns import Constant, Field
from mollifier.layers import MollifierLayer

if TYPE_CHECKING:
    from mollifier.inverse.problem import InverseProblem

__all__ = ["RungSolver", "row_weights"]

_TOL = 1e-9  # relative defect below which a probe counts as affine / pointwise


def row_weights(problem: InverseProblem, layer: MollifierLayer) -> np.ndarray:
    """Per grid node, ``1 / max(gain, 1)`` with ``gain`` the largest noise gain
    (:meth:`~mollifier.MollifierLayer.noise_gain`) of the derivatives the residual takes under
    ``layer``: the direct solver's row weights."""
    axes = problem.grid.axes
    gain = np.ones(problem.grid.shape)
    for orders in set(problem.orders):
        spec = "".join(a * k for a, k in zip(axes, orders, strict=True))
        gain = np.maximum(gain, layer.noise_gain(problem.grid.shape, spec))
    return 1.0 / np.maximum(gain, 1.0)


class RungSolver:
    """``widths ↦`` the unconstrained closed-form unknowns of ``problem`` at those widths.

    Parameters
    ----------
    problem : InverseProblem
        Its residual must be affine with at most one field unknown, entering pointwise;
        :meth:`closed_form` says whether it is (call it first).
    identifiability : float
        As for :class:`~mollifier.Direct`: field nodes with ``Σ a² < identifiability² ·
        median Σ a²`` (unweighted) come back NaN.
    seed : int
        Seed of the structure probes.
    """

    def __init__(self, problem: InverseProblem, *, identifiability: float, seed: int) -> None:
        self.problem = problem
        self.identifiability = identifiability
        self.seed = seed
        self.fields = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in problem.data.items()}
        self.names = list(problem.unknowns)
        self.constants = [n for n in self.names if isinstance(problem.unknowns[n], Constant)]
        self.field_names = [n for n in self.names if isinstance(problem.unknowns[n], Field)]
        self.shapes = {n: problem.unknown_shape(n) for n in self.names}
        # edge kernels on a rectangle: search on the reflecting layer's fully interior rows
        self.cropped = problem.edge_kernels and problem.domain is None
        self.boundary = "reflect" if self.cropped else problem.boundary
        self.solves = 0

    # -- layers and rows -----------------------------------------------------------------------
    def layer(self, widths: Mapping[str, float]) -> MollifierLayer:
        """The rung's layer (see the module docstring)."""
        p = self.problem
        return MollifierLayer(
            axes=p.grid.axes,
            spacing=tuple(p.grid.spacing[a] for a in p.grid.axes),
            width=tuple(float(widths[a]) for a in p.grid.axes),
            kernel=p.kernel,
            boundary=self.boundary,
            max_order=max(p.max_order.values()),
            domain=None if self.cropped else p.domain,
        )

    def rows(self, layer: MollifierLayer) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices of the rung's residual nodes and their weights."""
        p = self.problem
        shape = p.grid.shape
        if layer.valid is not None:
            keep = layer.valid.copy()
        else:
            keep = np.ones(shape, dtype=bool)
            crop = self.cropped or (
                p.crop and resolve_boundary(p.boundary) not in ("periodic", "valid")
            )
            if crop:
                for i, a in enumerate(p.grid.axes):
                    r = layer.radius[a]
                    idx: list[Any] = [slice(None)] * len(shape)
                    idx[i] = slice(0, r)
                    keep[tuple(idx)] = False
                    idx[i] = slice(shape[i] - r, None)
                    keep[tuple(idx)] = False
        nodes = np.flatnonzero(keep.reshape(-1))
        if self.cropped or self.boundary == "periodic":
            weights = np.ones(nodes.size)  # every kept stencil is the interior one
        else:
            weights = row_weights(p, layer).reshape(-1)[nodes]
        return nodes, weights

    # -- residual probes -----------------------------------------------------------------------
    def _unit(self) -> np.ndarray:
        size = sum(int(np.prod(self.shapes[n])) if self.shapes[n] else 1 for n in self.names)
        return np.zeros(size)

    def _split(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for n in self.names:
            size = int(np.prod(self.shapes[n])) if self.shapes[n] else 1
            out[n] = theta[start : start + size]
            start += size
        return out

    def probe(self, layer: MollifierLayer, thetas: list[np.ndarray]) -> np.ndarray:
        """The residual (whole grid, flat, equations stacked) at each ``θ`` in ``thetas``,
        shape ``(len(thetas), n_equations · grid size)``: one batched evaluation when the
        residual carries a leading batch axis through, else one evaluation per ``θ`` (sharing
        the data's derivatives)."""
        p = self.problem
        shape = p.grid.shape
        bsz = len(thetas)
        block = np.stack(thetas)
        d = MollifierDerivatives(layer, shape)
        params: dict[str, torch.Tensor] = {}
        start = 0
        for n in self.names:
            size = int(np.prod(self.shapes[n])) if self.shapes[n] else 1
            v = torch.as_tensor(block[:, start : start + size])
            start += size
            if self.shapes[n]:
                one = p.broadcast_unknown(n, v[0].reshape(self.shapes[n]))
                params[n] = v.reshape(bsz, 1, *one.shape)
            else:
                params[n] = v.reshape(bsz, 1, *([1] * len(shape)))
        lead = () if p.n_equations == 1 else (p.n_equations,)
        with torch.no_grad():
            r = p.evaluate(self.fields, params, d)
            if tuple(r.shape) == (*lead, bsz, 1, *shape):
                r = r.reshape(*lead, bsz, -1)
                if lead:  # (equation, batch, node) → (batch, equation, node)
                    r = r.transpose(0, 1)
                return r.reshape(bsz, -1).numpy()
            out = []
            for theta in thetas:
                one_params = {
                    n: p.broadcast_unknown(
                        n, torch.as_tensor(v.reshape(self.shapes[n]) if self.shapes[n] else v[0])
                    )
                    for n, v in self._split(theta).items()
                }
                full = (*lead, *shape)
                out.append(torch.broadcast_to(p.evaluate(self.fields, one_params, d), full))
            return torch.stack(out).reshape(bsz, -1).numpy()

    def closed_form(self, widths: Mapping[str, float]) -> bool:
        """Whether the residual is affine in the unknowns, with at most one field, entering
        pointwise (``R(θ)`` at a node depends on the field's value at that node only): checked
        at ``widths`` with random probes, ``R(a+b) − R(a) − R(b) + R(0) = 0`` and
        ``R(v) − R(0) = (R(1) − R(0)) ⊙ v`` to a relative ``1e-9``."""
        if len(self.field_names) > 1:
            return False
        rng = np.random.default_rng(self.seed)
        layer = self.layer(widths)
        probe_a, probe_b = rng.normal(size=(2, self._unit().size))
        thetas = [self._unit(), probe_a, probe_b, probe_a + probe_b]
        if self.field_names:
            ones, v = self._unit(), self._unit()
            self._field_slice(ones)[:] = 1.0
            self._field_slice(v)[:] = rng.normal(size=self._field_slice(v).size)
            thetas += [ones, v]
        r = self.probe(layer, thetas)
        defect = np.linalg.norm(r[3] - r[1] - r[2] + r[0])
        scale = np.linalg.norm(r[1] - r[0]) + np.linalg.norm(r[2] - r[0]) + np.linalg.norm(r[0])
        if not defect <= _TOL * (scale + 1e-300):
            return False
        if self.field_names:
            a, jv = r[4] - r[0], r[5] - r[0]
            expanded = self._field_slice(thetas[5])[self._field_index()]
            expanded = np.tile(expanded, self.problem.n_equations)
            if not np.linalg.norm(jv - a * expanded) <= _TOL * (
                np.linalg.norm(a * expanded) + 1e-300
            ):
                return False
        return True

    def _field_slice(self, theta: np.ndarray) -> np.ndarray:
        return self._split(theta)[self.field_names[0]]

    def _field_index(self) -> np.ndarray:
        """Per grid node (flat), the flat index of the field node behind it."""
        p = self.problem
        name = self.field_names[0]
        idx = np.arange(int(np.prod(self.shapes[name]))).reshape(self.shapes[name])
        full = np.broadcast_to(
            p.broadcast_unknown(name, torch.as_tensor(idx)).numpy(), p.grid.shape
        )
        return full.reshape(-1)

    # -- one rung ----------------------------------------------------------------------------
    def __call__(self, widths: Mapping[str, float]) -> dict[str, Any]:
        """The unknowns at ``widths``: constants as floats, the field as an array of its shape
        (NaN where not identifiable); unclamped (see the module docstring)."""
        p = self.problem
        layer = self.layer(widths)
        nodes, w = self.rows(layer)
        if nodes.size == 0:  # the rung's radius leaves no row: nothing to compare (change inf)
            return {
                n: np.full(self.shapes[n], np.nan) if self.shapes[n] else np.nan for n in self.names
            }
        size = int(np.prod(p.grid.shape))
        sel = (np.arange(p.n_equations)[:, None] * size + nodes[None, :]).reshape(-1)
        weights = np.tile(w, p.n_equations)
        thetas = [self._unit()]
        for n in self.constants:
            e = self._unit()
            self._split(e)[n][:] = 1.0
            thetas.append(e)
        if self.field_names:
            ones = self._unit()
            self._field_slice(ones)[:] = 1.0
            thetas.append(ones)
        r = self.probe(layer, thetas)[:, sel] * weights
        self.solves += 1
        b = r[0]
        c = (r[1 : 1 + len(self.constants)] - b).T
        out: dict[str, Any] = {}
        if not self.field_names:
            sol = np.linalg.lstsq(c, -b, rcond=None)[0] if self.constants else np.zeros(0)
            return self._constants(out, c, sol)
        name = self.field_names[0]
        a = r[-1] - b
        idx = np.tile(self._field_index()[nodes], p.n_equations)
        m = int(np.prod(self.shapes[name]))
        aa = np.bincount(idx, weights=a * a, minlength=m)
        b_eff = b
        sol = np.zeros(0)
        if self.constants:
            # eliminate the field node by node (Schur complement), then the constants
            ac = np.stack([np.bincount(idx, weights=a * col, minlength=m) for col in c.T], axis=1)
            ab = np.bincount(idx, weights=a * b, minlength=m)
            safe = np.where(aa > 0, aa, np.inf)
            c_red = c - a[:, None] * (ac / safe[:, None])[idx]
            b_red = b - a * (ab / safe)[idx]
            sol = np.linalg.lstsq(c_red, -b_red, rcond=None)[0]
            b_eff = b + c @ sol
            c = c_red
        ab = np.bincount(idx, weights=a * b_eff, minlength=m)
        raw = np.bincount(idx, weights=(a / weights) ** 2, minlength=m)
        seen = raw > 0
        good = raw >= self.identifiability**2 * np.median(raw[seen]) if seen.any() else seen
        lam = np.full(m, np.nan)
        lam[good] = -ab[good] / aa[good]
        out[name] = lam.reshape(self.shapes[name])
        return self._constants(out, c, sol)

    def _constants(self, out: dict[str, Any], c: np.ndarray, sol: np.ndarray) -> dict[str, Any]:
        """Add the constants to ``out``; one whose column vanishes is not identifiable (NaN)."""
        norms = np.linalg.norm(c, axis=0)
        top = float(norms.max()) if norms.size else 0.0
        for j, n in enumerate(self.constants):
            out[n] = float(sol[j]) if norms[j] > 1e-12 * max(top, 1e-300) else float("nan")
        return out
