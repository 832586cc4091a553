"""Residuals of the built-in equations, in weak (mollified, conservative) form.

Each is ``residual(f, d, p)``; with the mollifier backend every returned term is a mollified
quantity, so linear terms are exact (``η ∗ u_xx = (∂²η) ∗ u``) and nonlinear terms put their
derivatives on the kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mollifier.derivatives import AbstractDerivatives
from mollifier.inverse.unknowns import Namespace
from mollifier.sim.chromatin import ChromatinModel

__all__ = [
    "burgers",
    "chromatin",
    "heat3d_divergence",
    "heat3d_steady",
    "heat_divergence",
    "heat_steady",
    "heat_transient",
    "langevin",
    "nonlinear_diffusion",
]

Residual = Callable[[Namespace, AbstractDerivatives, Namespace], Any]


def langevin(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Mean of overdamped Langevin dynamics, ``u_t = −k u + λ(t)`` (``k`` known, ``λ`` unknown).

    Mollified: ``η ∗ u_t + k η ∗ u − λ̂ = 0``, so ``λ̂`` estimates the mollified forcing ``η ∗ λ``.

    Names: grid axis ``t``; observed field ``u``; known constant ``k``; unknown field ``lam``
    over ``("t",)``. Built-in problem ``"langevin"``.
    """
    return d(f.u, "t") + f.k * d(f.u) - p.lam


def heat_steady(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """The paper's steady heat equation ``0 = λ(x, y) ∇²u + m``: ``λ̂ = −η∗m / η∗∇²u`` pointwise.

    Names: grid axes ``x, y``; observed field ``u``; known source ``m`` (grid-shaped); unknown
    field ``lam`` over ``("x", "y")``, positive. Built-in problem ``"heat"``.
    """
    return p.lam * (d(f.u, "xx") + d(f.u, "yy")) + d(f.m)


def heat_divergence(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Divergence form ``∇·(λ∇u) + m = 0``; every term mollified twice (same test function).

    ``λ`` sits inside a derivative, so it is not pointwise-identifiable: the direct solver uses
    regularised least squares.

    Names: grid axes ``x, y``; observed field ``u``; known source ``m`` (grid-shaped); unknown
    field ``lam`` over ``("x", "y")``, positive. Built-in problem ``"heat-divergence"``.
    """
    return d(p.lam * d(f.u, "x"), "x") + d(p.lam * d(f.u, "y"), "y") + d(d(f.m))


def heat_transient(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Transient heat conduction ``u_t = ∇·(λ(x, y)∇u) + m`` on a ``(t, x, y)`` grid.

    Every term is mollified twice (the same test function as :func:`heat_divergence`):
    ``η∗(η∗u)_t − ∂_x(λ η∗u_x) − ∂_y(λ η∗u_y) − η∗(η∗m)`` with the outer derivatives on the
    kernel. ``λ`` sits inside a derivative and does not depend on ``t``, so the direct solver
    uses regularised least squares over all time slices together.

    Names: grid axes ``t, x, y`` (in that order for :func:`mollifier.sim.simulate_heat`'s
    ``form="transient"`` data); observed field ``u``; known source ``m`` (grid-shaped; zero for
    the simulator's default); unknown field ``lam`` over ``("x", "y")``, positive. Built-in
    problem ``"heat-transient"``.
    """
    return d(d(f.u, "t")) - d(p.lam * d(f.u, "x"), "x") - d(p.lam * d(f.u, "y"), "y") - d(d(f.m))


def heat3d_steady(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Steady 3-D heat ``0 = λ(x, y, z) ∇²u + m``: ``λ̂ = −η∗m / η∗∇²u`` pointwise.

    Names: grid axes ``x, y, z``; observed field ``u``; known source ``m`` (grid-shaped);
    unknown field ``lam`` over ``("x", "y", "z")``, positive. Built-in problem ``"heat3d"``
    (:func:`mollifier.sim.simulate_heat3d`).
    """
    return p.lam * (d(f.u, "xx") + d(f.u, "yy") + d(f.u, "zz")) + d(f.m)


def heat3d_divergence(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Divergence form in 3-D, ``∇·(λ∇u) + m = 0``; every term mollified twice, as in
    :func:`heat_divergence` (regularised least squares in the direct solver).

    Names: grid axes ``x, y, z``; observed field ``u``; known source ``m`` (grid-shaped);
    unknown field ``lam`` over ``("x", "y", "z")``, positive. Built-in problem
    ``"heat3d-divergence"``.
    """
    return sum(d(p.lam * d(f.u, a), a) for a in "xyz") + d(d(f.m))


def burgers(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Viscous Burgers ``u_t + (u²/2)_x = ν u_xx`` in conservative form, unknown ``ν``.

    Names: grid axes ``t, x`` (any order); observed field ``u``; unknown constant ``nu``,
    positive. Built-in problem ``"burgers"``.
    """
    return d(f.u, "t") + d(f.u**2 / 2, "x") - p.nu * d(f.u, "xx")


def exprel(z: Any) -> torch.Tensor:
    """``(eᶻ − 1)/z`` elementwise, 1 at ``z = 0`` (a series there, so gradients stay finite)."""
    z = torch.as_tensor(z)
    small = z.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, 1 + z / 2 + z * z / 6, torch.expm1(safe) / safe)


def nonlinear_diffusion(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
    """Nonlinear diffusion ``u_t = ∂ₓ(D₀ e^{βu} ∂ₓu)`` with unknown constants ``D₀`` and ``β``.

    Conservative form through the Kirchhoff potential ``Φ(u) = ∫₀ᵘ D₀ e^{βs} ds
    = D₀ u · exprel(βu)``: ``η∗u_t − (∂ₓ²η)∗Φ(u)``, the derivative on the kernel. ``β`` sits in
    an exponent, so the residual is not affine in the unknowns: the direct solver refuses it
    (:class:`~mollifier.NonAffineResidualError`) and the network solver recovers both.

    Names: grid axes ``t, x``; observed field ``u``; unknown constants ``d0`` (positive) and
    ``beta``. Built-in problem ``"nonlinear-diffusion"`` (data from
    :func:`mollifier.sim.simulate_nonlinear_diffusion`).
    """
    return d(f.u, "t") - d(p.d0 * f.u * exprel(p.beta * f.u), "xx")


def chromatin(model: ChromatinModel | None = None) -> Residual:
    """Steady chromatin model ``∇²μ_d + 2(λ φ_e − φ_h) = 0`` (4th order) with unknown ``λ(x, y)``.

    ``φ_h = (1 − φ_w + φ_d)/2``, ``φ_e = 1 − φ_w − φ_h`` and
    ``μ_d = −φ_e + φ_h(φ_max − φ_h)(φ_max − 2φ_h) − l²∇²φ_d``. Mollified term by term:
    ``∇²(η ∗ g(φ)) − l² ∇⁴(η ∗ φ_d) + 2(λ η∗φ_e − η∗φ_h)``, so that
    ``λ̂ = (η∗φ_h − ½ η∗∇²μ_d) / η∗φ_e`` pointwise.

    Names: grid axes ``x, y``; observed fields ``phi_w`` and ``phi_d``; unknown field ``lam``
    over ``("x", "y")``, positive. ``model`` supplies ``phi_max``, ``l`` and ``l_w``. Built-in
    problem ``"chromatin"``.
    """
    m = model if model is not None else ChromatinModel()
    l2 = m.l**2
    phi_max = m.phi_max

    def residual(f: Namespace, d: AbstractDerivatives, p: Namespace) -> Any:
        phi_h = (1 - f.phi_w + f.phi_d) / 2
        phi_e = 1 - f.phi_w - phi_h
        g = -phi_e + phi_h * (phi_max - phi_h) * (phi_max - 2 * phi_h)
        bilap = d(f.phi_d, "xxxx") + 2 * d(f.phi_d, "xxyy") + d(f.phi_d, "yyyy")
        lap_mu = d(g, "xx") + d(g, "yy") - l2 * bilap
        return lap_mu + 2 * (p.lam * d(phi_e) - d(phi_h))

    residual.__doc__ = chromatin.__doc__
    return residual
