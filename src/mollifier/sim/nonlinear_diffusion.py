"""Nonlinear diffusion ``u_t = ∂ₓ(D(u) ∂ₓu) + s`` in one space dimension, ``D(u) = D₀ exp(β u)``.

The diffusivity depends on the solution, so ``β`` enters the equation non-affinely: the direct
(weak-form least-squares) solver cannot recover it and the network solver must
(``docs/inverse.md``). Written with the Kirchhoff potential ``Φ(u) = ∫₀ᵘ D(s) ds
= D₀ u · exprel(β u)`` (``exprel(z) = (eᶻ − 1)/z``), the equation is ``u_t = ∂ₓₓ Φ(u) + s``.

Discretisation: vertex-centred finite volumes on the uniform nodes ``x_i = i h`` (half cells at
the two ends) with zero-flux (homogeneous Neumann) boundaries and the conservative two-point flux
``F_{i+½} = −(Φ(u_{i+1}) − Φ(u_i)) / h``, which is exact for the potential and second-order
accurate (``tests/sim/test_nonlinear_diffusion.py`` fits the order on a manufactured solution).
Without a source, ``Σ_i V_i u_i`` (``V_i`` the cell lengths) is conserved to the integrator's
tolerance. The method of lines is integrated by :func:`scipy.integrate.solve_ivp` (BDF, with the
tridiagonal Jacobian given analytically). :func:`simulate_nonlinear_diffusion` solves on a grid
``refine`` times finer than the observation grid and samples every ``refine``-th node, so the
inverse methods do not share the forward solver's discretisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from mollifier._options import check_fields
from mollifier.io.dataset import Dataset
from mollifier.sim.noise import AbstractNoise, GaussianNoise

__all__ = [
    "ExponentialDiffusivity",
    "simulate_nonlinear_diffusion",
    "solve_nonlinear_diffusion",
]

#: A source term ``s(t, x)`` (``x`` a vector of nodes; returns values at those nodes).
Source = Callable[[float, np.ndarray], Any]


def _exprel(z: np.ndarray) -> np.ndarray:
    """``(eᶻ − 1)/z``, equal to 1 at ``z = 0`` and accurate near it."""
    small = np.abs(z) < 1e-5
    safe = np.where(small, 1.0, z)
    return np.where(small, 1.0 + z / 2 + z * z / 6, np.expm1(safe) / safe)


@dataclass(frozen=True)
class ExponentialDiffusivity:
    """``D(u) = d0 · exp(beta · u)`` and its Kirchhoff potential ``Φ(u) = ∫₀ᵘ D``.

    Parameters
    ----------
    d0 : float
        ``D(0)``, positive (units of length² / time).
    beta : float
        Rate of change of ``log D`` with ``u`` (units of 1 / u); any sign, 0 gives linear
        diffusion.

    Examples
    --------
    >>> D = ExponentialDiffusivity(d0=0.05, beta=1.5)
    >>> float(D.potential(np.array(0.0))), round(float(D.potential(np.array(1.0))), 6)
    (0.0, 0.116056)
    """

    d0: float = 0.05
    beta: float = 1.5

    def __post_init__(self) -> None:
        check_fields(self)
        if not (math.isfinite(self.d0) and self.d0 > 0):
            raise ValueError(f"ExponentialDiffusivity.d0 must be positive, got {self.d0}")
        if not math.isfinite(self.beta):
            raise ValueError(f"ExponentialDiffusivity.beta must be finite, got {self.beta}")

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """``D(u)``, elementwise."""
        return self.d0 * np.exp(self.beta * np.asarray(u, dtype=np.float64))

    def potential(self, u: np.ndarray) -> np.ndarray:
        """``Φ(u) = d0 · u · exprel(beta · u)``, elementwise (``Φ' = D``)."""
        u = np.asarray(u, dtype=np.float64)
        return self.d0 * u * _exprel(self.beta * u)


def _uniform(name: str, c: Any, *, minimum: int) -> tuple[np.ndarray, float]:
    arr = np.asarray(c, dtype=np.float64)
    if arr.ndim != 1 or arr.size < minimum:
        raise ValueError(f"{name} must be a 1-D vector of >= {minimum} values")
    step = float(np.diff(arr).min()) if arr.size > 1 else 1.0
    if not (np.all(np.isfinite(arr)) and step > 0):
        raise ValueError(f"{name} must be finite and strictly increasing")
    return arr, step


def solve_nonlinear_diffusion(
    *,
    x: np.ndarray,
    t: np.ndarray,
    initial: np.ndarray,
    diffusivity: ExponentialDiffusivity,
    source: Source | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> np.ndarray:
    """Solve ``u_t = ∂ₓ(D(u) ∂ₓu) + s`` with zero-flux ends by finite volumes (module docstring).

    Parameters
    ----------
    x : ndarray, shape (nx,)
        Uniform nodes, ``nx >= 3``; the domain is ``[x[0], x[-1]]``.
    t : ndarray, shape (nt,)
        Increasing output times; ``t[0]`` is the initial time.
    initial : ndarray, shape (nx,)
        ``u(t[0], x)``.
    diffusivity : ExponentialDiffusivity
    source : callable, optional
        ``s(t, x)`` at the nodes (a manufactured-solution forcing); default none.
    rtol, atol : float
        Tolerances of the BDF integrator.

    Returns
    -------
    ndarray, shape (nt, nx)
        ``u`` at the output times (row ``0`` is ``initial``).

    Raises
    ------
    ValueError
        For non-uniform nodes, unordered times, a mis-shaped or non-finite initial field, or an
        integration that fails.
    """
    x, _ = _uniform("x", x, minimum=3)
    h = (x[-1] - x[0]) / (x.size - 1)
    if not np.allclose(np.diff(x), h, rtol=1e-9, atol=0):
        raise ValueError("x must be uniformly spaced")
    t, _ = _uniform("t", t, minimum=1)
    u0 = np.asarray(initial, dtype=np.float64)
    if u0.shape != x.shape or not np.all(np.isfinite(u0)):
        raise ValueError(f"initial must be a finite array of shape {x.shape}, got {u0.shape}")
    n = x.size
    volume = np.full(n, h)
    volume[0] = volume[-1] = h / 2

    def rhs(time: float, u: np.ndarray) -> np.ndarray:
        flux = -np.diff(diffusivity.potential(u)) / h  # F_{i+½}, i = 0 .. n-2
        du = np.zeros(n)
        du[:-1] -= flux
        du[1:] += flux
        du /= volume
        if source is not None:
            du += np.broadcast_to(np.asarray(source(time, x), dtype=np.float64), (n,))
        return du

    def jac(time: float, u: np.ndarray) -> sp.csc_matrix:
        g = diffusivity(u) / h  # ∂F_{i+½}/∂u_i = g_i, ∂F_{i+½}/∂u_{i+1} = −g_{i+1}
        main = np.zeros(n)
        main[:-1] -= g[:-1]
        main[1:] -= g[1:]
        upper, lower = g[1:], g[:-1]
        mat = sp.diags([lower, main, upper], [-1, 0, 1], format="csc")
        return sp.diags(1.0 / volume) @ mat

    if t.size == 1:
        return u0[None, :].copy()
    sol = solve_ivp(rhs, (t[0], t[-1]), u0, method="BDF", t_eval=t, jac=jac, rtol=rtol, atol=atol)
    if not sol.success:
        raise ValueError(f"the nonlinear diffusion integration failed: {sol.message}")
    return np.ascontiguousarray(sol.y.T)


def default_initial(x: np.ndarray, length: float) -> np.ndarray:
    """``u₀ = 0.6 + 0.35 cos(πx/L) + 0.2 cos(3πx/L)``: zero flux at both ends, ``u₀`` in
    about ``[0.1, 1.1]``, so ``D`` varies by a factor ``exp(β)`` across the data."""
    xi = np.pi * np.asarray(x) / length
    return 0.6 + 0.35 * np.cos(xi) + 0.2 * np.cos(3 * xi)


def simulate_nonlinear_diffusion(
    *,
    n: int = 64,
    n_times: int = 50,
    t_end: float = 1.0,
    length: float = 1.0,
    refine: int = 4,
    diffusivity: ExponentialDiffusivity | None = None,
    initial: np.ndarray | Callable[[np.ndarray], Any] | None = None,
    noise: AbstractNoise | None = None,
    seed: int = 0,
) -> Dataset:
    """Simulate ``u_t = ∂ₓ(D₀ e^{βu} ∂ₓu)`` with zero-flux ends and observe ``u(t, x)``.

    Solved on ``(n − 1) · refine + 1`` nodes and sampled at every ``refine``-th, which are the
    observation nodes ``x = linspace(0, length, n)``, at the times ``linspace(0, t_end,
    n_times)``.

    Parameters
    ----------
    n : int
        Observation nodes in ``x`` (>= 3).
    n_times : int
        Observation times (>= 2).
    t_end, length : float
        Final time and domain length (positive).
    refine : int
        Fine-to-observation refinement factor (>= 1).
    diffusivity : ExponentialDiffusivity, optional
        The true ``D(u)`` (default ``D₀ = 0.05``, ``β = 1.5``).
    initial : array of shape (n,) or callable, optional
        ``u(0, x)`` on the observation nodes (interpolated linearly to the fine nodes) or
        ``u0(x)``; default :func:`default_initial`.
    noise : AbstractNoise, optional
        Measurement noise (default ``GaussianNoise(0.01)``: 1% of the field's standard
        deviation).
    seed : int
        Seeds the noise.

    Returns
    -------
    Dataset
        ``equation="nonlinear-diffusion"``; axes ``(t, x)``; field ``u`` with ``u_clean``; truth
        ``d0`` and ``beta`` (constants).

    Examples
    --------
    >>> ds = simulate_nonlinear_diffusion(n=17, n_times=5, refine=1)
    >>> ds.axes, ds.fields["u"].shape, ds.truth
    (('t', 'x'), (5, 17), {'d0': 0.05, 'beta': 1.5})
    """
    if int(n) != n or n < 3 or int(n_times) != n_times or n_times < 2:
        raise ValueError(f"need n >= 3 and n_times >= 2 (integers), got {n} and {n_times}")
    if int(refine) != refine or refine < 1:
        raise ValueError(f"refine must be a positive integer, got {refine}")
    if not (math.isfinite(t_end) and t_end > 0 and math.isfinite(length) and length > 0):
        raise ValueError(f"t_end and length must be positive, got {t_end} and {length}")
    diffusivity = ExponentialDiffusivity() if diffusivity is None else diffusivity
    if not isinstance(diffusivity, ExponentialDiffusivity):
        raise ValueError(
            f"diffusivity must be an ExponentialDiffusivity, got {type(diffusivity).__name__}"
        )
    noise = GaussianNoise(0.01) if noise is None else noise
    if not isinstance(noise, AbstractNoise):
        raise ValueError(f"noise must be an AbstractNoise, got {type(noise).__name__}")
    x = np.linspace(0.0, length, int(n))
    xf = np.linspace(0.0, length, (int(n) - 1) * int(refine) + 1)
    t = np.linspace(0.0, t_end, int(n_times))
    if initial is None:
        u0 = default_initial(xf, length)
        initial_model = "default"
    elif callable(initial):
        u0 = np.broadcast_to(np.asarray(initial(xf), dtype=np.float64), xf.shape)
        initial_model = "callable"
    else:
        arr = np.asarray(initial, dtype=np.float64)
        if arr.shape != x.shape:
            raise ValueError(f"initial array must have the observation shape {x.shape}")
        u0 = np.interp(xf, x, arr)
        initial_model = "array"
    u_fine = solve_nonlinear_diffusion(x=xf, t=t, initial=u0, diffusivity=diffusivity)
    u_clean = u_fine[:, :: int(refine)]
    u = noise.apply(u_clean, np.random.default_rng(seed))
    return Dataset(
        equation="nonlinear-diffusion",
        coords={"t": t, "x": x},
        fields={"u": u},
        clean={"u": u_clean},
        truth={"d0": diffusivity.d0, "beta": diffusivity.beta},
        noise=noise.describe(),
        seed=seed,
        params={
            "refine": int(refine),
            "fine_shape": [t.size, xf.size],
            "length": float(length),
            "t_end": float(t_end),
            "initial_model": initial_model,
            "boundary": "zero flux",
            "discretisation": "vertex-centred finite volume, Kirchhoff-potential flux, BDF",
        },
    )
