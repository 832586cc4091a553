"""Heat conduction with a spatially varying conductivity λ(x, y) on a rectangle, three forms.

* ``"steady"`` — the non-divergence form of the paper, ``0 = λ ∇²u + m``;
* ``"divergence"`` — the conservative steady form, ``0 = ∇·(λ ∇u) + m``;
* ``"transient"`` — ``u_t = ∇·(λ ∇u) + m`` (``m = 0`` unless a source is given).

Boundaries are all Dirichlet (``u = g``) or all Neumann (``∂u/∂n = g``, outward normal).

Discretisation: :mod:`mollifier.sim.heat_fv` (vertex-centred finite volumes, face-midpoint
conductivity, Crank–Nicolson in time). :func:`simulate_heat` solves on a grid ``refine`` times
finer than the observation grid and samples every ``refine``-th node, so inverse methods tested on
the data do not share the forward solver's discretisation (no "inverse crime").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.interpolate import RectBivariateSpline

from mollifier._limits import check_memory
from mollifier.io.dataset import Dataset
from mollifier.sim.heat_fv import (
    Boundary,
    Field2D,
    Form,
    SteadySolution,
    check_choice,
    evaluate_field,
    solve_steady,
    solve_transient,
)
from mollifier.sim.noise import AbstractNoise, GaussianNoise
from mollifier.sim.random_fields import LognormalLambda

__all__ = ["HEAT_LAMBDA", "SteadySolution", "simulate_heat", "solve_steady", "solve_transient"]


#: The default true conductivity of :func:`simulate_heat`, drawn on the observation grid.
HEAT_LAMBDA = LognormalLambda(median=1.0, sigma=0.3, correlation_length=0.2)


def _default_source(length: tuple[float, float]) -> Callable[[np.ndarray, np.ndarray], Any]:
    """``m = 1 + Σ a exp(-|ξ - c|² / (2 s²))`` in relative coordinates ``ξ = (x/Lx, y/Ly)``."""
    bumps = ((2.0, 0.30, 0.35, 0.12), (1.5, 0.70, 0.60, 0.10), (1.0, 0.45, 0.80, 0.08))

    def m(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xi, eta = x / length[0], y / length[1]
        out = np.ones(np.broadcast_shapes(np.shape(x), np.shape(y)))
        for a, cx, cy, s in bumps:
            out += a * np.exp(-((xi - cx) ** 2 + (eta - cy) ** 2) / (2 * s**2))
        return out

    return m


def _default_initial(
    boundary: str, length: tuple[float, float], level: float
) -> Callable[[np.ndarray, np.ndarray], Any]:
    """A smooth initial field compatible with homogeneous-flux or constant-value boundaries."""

    def u0(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        px, py = np.pi * x / length[0], np.pi * y / length[1]
        if boundary == "dirichlet":
            bump = np.exp(-((x / length[0] - 0.3) ** 2 + (y / length[1] - 0.6) ** 2) / 0.045)
            return level + np.sin(px) * np.sin(py) * (1.0 + 2.0 * bump)
        return 1.0 + 0.6 * np.cos(px) * np.cos(py) + 0.3 * np.cos(2 * px) + 0.2 * np.cos(3 * py)

    return u0


def _on_fine(name: str, f: Field2D, xc: np.ndarray, yc: np.ndarray, log: bool) -> Field2D:
    """Turn an observation-grid array into a callable bicubic-spline interpolant."""
    if callable(f) or np.ndim(f) == 0:
        return f
    arr = np.asarray(f, dtype=np.float64)
    if arr.shape != (xc.size, yc.size):
        raise ValueError(
            f"{name} array has shape {arr.shape}; give it on the observation grid "
            f"{(xc.size, yc.size)}"
        )
    if not np.all(np.isfinite(arr)) or (log and arr.min() <= 0):
        raise ValueError(f"{name} must be finite" + (" and positive" if log else ""))
    spline = RectBivariateSpline(xc, yc, np.log(arr) if log else arr, kx=3, ky=3, s=0)

    def interp(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xb, yb = np.broadcast_arrays(x, y)
        v = spline.ev(xb, yb)
        return np.exp(v) if log else v

    return interp


def _kind(f: Any) -> str:
    return "callable" if callable(f) else ("constant" if np.ndim(f) == 0 else "array")


def _check_request(
    *,
    n: int | tuple[int, int],
    refine: int,
    form: str,
    boundary: str,
    length: tuple[float, float],
    boundary_data: float,
    n_times: int,
) -> tuple[int, int]:
    """Validate :func:`simulate_heat`'s grid options and refuse, before any work, a fine grid
    whose arrays exceed the memory available now; returns the observation shape."""
    check_choice("form", form, ("steady", "divergence", "transient"))
    check_choice("boundary", boundary, ("dirichlet", "neumann"))
    nx, ny = (n, n) if isinstance(n, int | np.integer) else (int(n[0]), int(n[1]))
    if min(nx, ny) < 3:
        raise ValueError(f"n must be >= 3 nodes per axis, got {(nx, ny)}")
    if int(refine) != refine or refine < 1:
        raise ValueError(f"refine must be a positive integer, got {refine}")
    if len(length) != 2 or not all(math.isfinite(v) and v > 0 for v in length):
        raise ValueError(f"length must be two positive numbers, got {length}")
    if not math.isfinite(boundary_data):
        raise ValueError(f"boundary_data must be finite, got {boundary_data}")
    fine = ((nx - 1) * int(refine) + 1) * ((ny - 1) * int(refine) + 1)
    frames = int(n_times) if form == "transient" and isinstance(n_times, int) else 0
    # A lower bound: the 5-point matrix (5 entries of 12 bytes per node), about six node-sized
    # float64 arrays, and the transient solution's frames; the sparse factorisation comes on top.
    check_memory(
        fine * (60 + 6 * 8 + 8 * frames),
        f"simulate_heat on a fine grid of {(nx - 1) * int(refine) + 1} × "
        f"{(ny - 1) * int(refine) + 1} nodes (n = {(nx, ny)}, refine = {int(refine)})",
        hint="use a smaller n (mollifier simulate heat --grid) or refine (--refine)",
    )
    return nx, ny


def _transient(
    *,
    xc: np.ndarray,
    yc: np.ndarray,
    xf: np.ndarray,
    yf: np.ndarray,
    lam_fine: Any,
    src_fine: Any,
    initial: Field2D | None,
    boundary: Boundary,
    boundary_data: float,
    lengths: tuple[float, float],
    n_times: int,
    t_end: float,
    substeps: int,
    params: dict[str, Any],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The transient form's observed clean field ``u(t, x, y)`` and its coordinates; records
    the time stepping in ``params``."""
    refine = int(params["refine"])
    sl = (slice(None, None, refine), slice(None, None, refine))
    if not (n_times >= 2 and math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"need n_times >= 2 and t_end > 0, got {n_times}, {t_end}")
    t = np.linspace(0.0, t_end, n_times)
    params["initial_model"] = "default" if initial is None else _kind(initial)
    if initial is None:
        initial = _default_initial(boundary, lengths, boundary_data)
    u0 = _on_fine("initial", initial, xc, yc, log=False)
    u_fine = solve_transient(
        x=xf,
        y=yf,
        t=t,
        lam=lam_fine,
        initial=u0 if callable(u0) else evaluate_field("initial", u0, xf, yf),
        boundary=boundary,
        source=src_fine if not callable(src_fine) else evaluate_field("source", src_fine, xf, yf),
        boundary_data=boundary_data,
        substeps=substeps,
    )
    u_clean = u_fine[(slice(None), *sl)]
    coords = {"t": t, "x": xc, "y": yc}
    params.update(
        n_times=int(n_times),
        t_end=float(t_end),
        substeps=int(substeps),
        dt=float(t_end / (n_times - 1) / substeps),
        scheme="crank-nicolson",
    )
    return u_clean, coords


def _observe(
    u_clean: np.ndarray, noise: AbstractNoise, rng: np.random.Generator, mask: Any
) -> tuple[np.ndarray, np.ndarray | None]:
    """The noisy observation of ``u_clean``, NaN where ``mask`` (if given) is False."""
    u = noise.apply(u_clean, rng)
    if mask is None:
        return u, None
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != u.shape:
        raise ValueError(f"mask must be a boolean array of shape {u.shape}")
    return np.where(mask, u, np.nan), mask


def simulate_heat(
    *,
    n: int | tuple[int, int] = 64,
    refine: int = 4,
    form: Form = "steady",
    boundary: Boundary = "dirichlet",
    lam: Field2D | LognormalLambda = HEAT_LAMBDA,
    source: Field2D | None = None,
    noise: AbstractNoise | None = None,
    seed: int = 0,
    length: tuple[float, float] = (1.0, 1.0),
    boundary_data: float = 0.0,
    initial: Field2D | None = None,
    n_times: int = 21,
    t_end: float = 0.1,
    substeps: int = 5,
    mask: np.ndarray | None = None,
) -> Dataset:
    """Simulate heat conduction with a known conductivity field and observe ``u`` on a grid.

    The problem is solved on a fine grid with ``(n - 1) * refine + 1`` nodes per axis and sampled
    at every ``refine``-th node, which are exactly the observation nodes
    ``x = linspace(0, Lx, nx)``, ``y = linspace(0, Ly, ny)``.

    Parameters
    ----------
    n : int or (int, int)
        Observation nodes per axis (>= 3).
    refine : int
        Fine-to-observation refinement factor (>= 1; 1 solves on the observation grid).
    form : {"steady", "divergence", "transient"}
        ``λ∇²u + m = 0`` (the paper's form), ``∇·(λ∇u) + m = 0``, or ``u_t = ∇·(λ∇u) + m``.
    boundary : {"dirichlet", "neumann"}
        ``u = boundary_data`` or ``∂u/∂n = boundary_data`` on the whole boundary.
    lam : float, ndarray, callable or LognormalLambda
        True conductivity: a constant, an array on the observation grid (interpolated to the fine
        grid by a bicubic spline of ``log λ``), ``lam(x, y)``, or a
        :class:`~mollifier.sim.LognormalLambda` drawn on the observation grid from ``seed`` (not
        periodic), then interpolated. Default :data:`HEAT_LAMBDA`: median 1, ``sigma`` 0.3,
        correlation length 0.2.
    source : float, ndarray or callable, optional
        Known source ``m(x, y)`` (an array on the observation grid is spline-interpolated).
        Default for the steady forms: ``1 + 2 G(0.30, 0.35; 0.12) + 1.5 G(0.70, 0.60; 0.10)
        + G(0.45, 0.80; 0.08)``, ``G(cx, cy; s)`` a unit Gaussian bump in relative coordinates
        ``(x/Lx, y/Ly)``; it is positive everywhere, so ``∇²u = -m/λ`` never vanishes in the
        steady form. Default for the transient form: 0.
    noise : AbstractNoise, optional
        Measurement noise on the sampled field (default ``GaussianNoise(0.01)``).
    seed : int
        Seeds a lognormal conductivity and the noise (independent streams).
    length : (float, float)
        Domain ``[0, Lx] × [0, Ly]``.
    boundary_data : float
        The constant boundary value (Dirichlet) or outward flux ``∂u/∂n`` (Neumann).
    initial : float, ndarray or callable, optional
        Transient only: ``u(0, x, y)``; default a smooth field compatible with the boundaries.
    n_times, t_end, substeps : int, float, int
        Transient only: output times ``linspace(0, t_end, n_times)`` and Crank–Nicolson steps per
        output interval.
    mask : ndarray of bool, optional
        Observation mask shaped like the dataset grid; unobserved nodes of ``u`` are set to NaN.

    Returns
    -------
    Dataset
        ``equation="heat"``; axes ``(x, y)`` or ``(t, x, y)``; field ``u`` with ``u_clean``; known
        ``m`` (repeated over ``t`` for the transient form); truth ``lam`` over ``(x, y)`` (a float
        if constant). For steady Neumann problems ``m`` includes the compatibility shift recorded
        in ``params["source_shift"]`` and ``u`` has zero mean.

    Examples
    --------
    >>> ds = simulate_heat(n=17, refine=2, seed=3)
    >>> ds.axes, ds.fields["u"].shape, sorted(ds.arrays())
    (('x', 'y'), (17, 17), ['lam', 'm', 'u', 'u_clean', 'x', 'y'])
    """
    nx, ny = _check_request(
        n=n,
        refine=refine,
        form=form,
        boundary=boundary,
        length=length,
        boundary_data=boundary_data,
        n_times=n_times,
    )
    noise = GaussianNoise(0.01) if noise is None else noise
    if not isinstance(noise, AbstractNoise):
        raise ValueError(f"noise must be an AbstractNoise, got {type(noise).__name__}")
    lengths = (float(length[0]), float(length[1]))
    xc, yc = np.linspace(0.0, lengths[0], nx), np.linspace(0.0, lengths[1], ny)
    xf = np.linspace(0.0, lengths[0], (nx - 1) * refine + 1)
    yf = np.linspace(0.0, lengths[1], (ny - 1) * refine + 1)
    lam_seed, noise_seed = np.random.SeedSequence(seed).spawn(2)

    params: dict[str, Any] = {
        "form": form,
        "boundary": boundary,
        "boundary_data": float(boundary_data),
        "refine": int(refine),
        "shape": [nx, ny],
        "fine_shape": [xf.size, yf.size],
        "length": list(lengths),
        "lam_model": "lognormal" if isinstance(lam, LognormalLambda) else _kind(lam),
        "source_model": "default" if source is None else _kind(source),
        "discretisation": "vertex-centred finite volume, face-midpoint conductivity, 5-point",
    }
    if isinstance(lam, LognormalLambda):
        params.update(
            correlation_length=lam.correlation_length, lam_median=lam.median, lam_sigma=lam.sigma
        )
        lam = lam.sample(xc, yc, rng=np.random.default_rng(lam_seed), periodic=False)
    lam_fine = _on_fine("lam", lam, xc, yc, log=True)
    truth_lam = evaluate_field("lam", lam_fine, xc, yc)
    if source is None:
        source = 0.0 if form == "transient" else _default_source(lengths)
    src_fine = _on_fine("source", source, xc, yc, log=False)
    m = evaluate_field("source", src_fine, xc, yc)
    sl = (slice(None, None, refine), slice(None, None, refine))

    if form == "transient":
        u_clean, coords = _transient(
            xc=xc,
            yc=yc,
            xf=xf,
            yf=yf,
            lam_fine=lam_fine,
            src_fine=src_fine,
            initial=initial,
            boundary=boundary,
            boundary_data=boundary_data,
            lengths=lengths,
            n_times=n_times,
            t_end=t_end,
            substeps=substeps,
            params=params,
        )
        m = np.broadcast_to(m, u_clean.shape).copy()
    else:
        sol = solve_steady(
            x=xf, y=yf, lam=lam_fine, source=src_fine, form=form, boundary=boundary,
            boundary_data=boundary_data,
        )  # fmt: skip
        u_clean, coords = sol.u[sl], {"x": xc, "y": yc}
        m = m + sol.source_shift
        params["source_shift"] = sol.source_shift

    u, mask = _observe(u_clean, noise, np.random.default_rng(noise_seed), mask)
    constant = _kind(lam) == "constant"
    return Dataset(
        equation="heat",
        coords=coords,
        fields={"u": u},
        clean={"u": u_clean},
        known={"m": m},
        truth={"lam": float(lam) if constant else truth_lam},  # type: ignore[arg-type]
        truth_axes={"lam": () if constant else ("x", "y")},
        noise=noise.describe(),
        seed=seed,
        params=params,
        mask=mask,
    )
