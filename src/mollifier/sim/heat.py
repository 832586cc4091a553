"""Heat conduction with a spatially varying conductivity λ(x, y) on a rectangle, three forms.

* ``"steady"`` — the non-divergence form of the paper, ``0 = λ ∇²u + m``;
* ``"divergence"`` — the conservative steady form, ``0 = ∇·(λ ∇u) + m``;
* ``"transient"`` — ``u_t = ∇·(λ ∇u) + m`` (``m = 0`` unless a source is given).

Boundaries are all Dirichlet (``u = g``) or all Neumann (``∂u/∂n = g``, outward normal).

Discretisation: vertex-centred finite volumes on a uniform node grid (nodes on the boundary; dual
cells of half or quarter size there), two-point fluxes with λ at face midpoints, which is the
conservative 5-point scheme ``[λ_{i+½}(u_{i+1} - u_i) - λ_{i-½}(u_i - u_{i-1})] / h²`` in the
interior and is second-order accurate in the maximum norm, Neumann boundaries included (verified in
``tests/sim/test_heat.py``). The transient form uses Crank–Nicolson with one sparse LU factorisation
reused for all steps. :func:`simulate_heat` solves on a grid ``refine`` times finer than the
observation grid and samples every ``refine``-th node, so inverse methods tested on the data do not
share the forward solver's discretisation (no "inverse crime").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import RectBivariateSpline
from scipy.sparse.linalg import factorized, spsolve

from mollifier._limits import check_memory
from mollifier.io.dataset import Dataset
from mollifier.sim.noise import AbstractNoise, GaussianNoise
from mollifier.sim.random_fields import LognormalLambda

__all__ = ["HEAT_LAMBDA", "SteadySolution", "simulate_heat", "solve_steady", "solve_transient"]

Form = Literal["steady", "divergence", "transient"]
Boundary = Literal["dirichlet", "neumann"]
Field2D = float | np.ndarray | Callable[[np.ndarray, np.ndarray], Any]
#: Neumann data ``g(x, y, n_x, n_y)``: the outward normal derivative at boundary points.
NeumannData = float | Callable[[np.ndarray, np.ndarray, float, float], Any]

#: The default true conductivity of :func:`simulate_heat`, drawn on the observation grid.
HEAT_LAMBDA = LognormalLambda(median=1.0, sigma=0.3, correlation_length=0.2)


def _uniform(name: str, c: Any) -> tuple[np.ndarray, float]:
    arr = np.asarray(c, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 3:
        raise ValueError(f"{name} must be a 1-D coordinate vector of >= 3 nodes")
    h = (arr[-1] - arr[0]) / (arr.size - 1)
    if not (h > 0 and np.allclose(np.diff(arr), h, rtol=1e-9, atol=0)):
        raise ValueError(f"{name} must be strictly increasing and uniformly spaced")
    return arr, float(h)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _evaluate(name: str, f: Field2D, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``f`` on the tensor grid ``x[:, None], y[None, :]`` as a finite float64 array."""
    shape = (x.size, y.size)
    if callable(f):
        out = np.asarray(f(x[:, None], y[None, :]), dtype=np.float64)
    else:
        out = np.asarray(f, dtype=np.float64)
        if out.ndim and out.shape != shape:
            raise ValueError(f"{name} array has shape {out.shape}, expected the grid's {shape}")
    out = np.broadcast_to(out, shape).astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or inf")
    return out


def _conductivity(
    lam: Field2D, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """λ at nodes, at x-face midpoints (nx-1, ny) and at y-face midpoints (nx, ny-1).

    A callable is evaluated at the midpoints; nodal arrays are averaged arithmetically.
    """
    nodes = _evaluate("lam", lam, x, y)
    if callable(lam):
        xf = _evaluate("lam", lam, 0.5 * (x[1:] + x[:-1]), y)
        yf = _evaluate("lam", lam, x, 0.5 * (y[1:] + y[:-1]))
    else:
        xf, yf = 0.5 * (nodes[1:] + nodes[:-1]), 0.5 * (nodes[:, 1:] + nodes[:, :-1])
    if min(nodes.min(), xf.min(), yf.min()) <= 0:
        raise ValueError("the conductivity lam must be positive everywhere")
    return nodes, xf, yf


def _dual_lengths(n: int, h: float) -> np.ndarray:
    out = np.full(n, h)
    out[[0, -1]] = 0.5 * h
    return out


def _assemble(
    x: np.ndarray, y: np.ndarray, lam_xf: np.ndarray, lam_yf: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Cell-integrated operator ``A u ≈ ∫_cell ∇·(λ∇u)`` (zero-flux walls) and cell areas.

    ``A`` is symmetric, negative semi-definite, with rows summing to 0; nodes are flattened in
    C order (``[x, y]``).
    """
    nx, ny, hx, hy = x.size, y.size, x[1] - x[0], y[1] - y[0]
    lx, ly = _dual_lengths(nx, hx), _dual_lengths(ny, hy)
    idx = np.arange(nx * ny).reshape(nx, ny)
    a = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    b = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    c = np.concatenate([(lam_xf * ly[None, :] / hx).ravel(), (lam_yf * lx[:, None] / hy).ravel()])
    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([-c, -c, c, c])
    A = sp.coo_matrix((vals, (rows, cols)), shape=(nx * ny, nx * ny)).tocsr()
    return A, np.outer(lx, ly)


def _boundary(nx: int, ny: int) -> np.ndarray:
    mask = np.zeros((nx, ny), dtype=bool)
    mask[[0, -1], :] = True
    mask[:, [0, -1]] = True
    return mask


def _neumann_flux(g: NeumannData, x: np.ndarray, y: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``∮ coef · g ds`` over each dual cell's share of the domain boundary, shape (nx, ny)."""
    lx, ly = _dual_lengths(x.size, x[1] - x[0]), _dual_lengths(y.size, y[1] - y[0])

    def gval(xs: Any, ys: Any, n_x: float, n_y: float, size: int) -> np.ndarray:
        v = g(xs, ys, n_x, n_y) if callable(g) else g
        out = np.broadcast_to(np.asarray(v, dtype=np.float64), (size,))
        if not np.all(np.isfinite(out)):
            raise ValueError("Neumann boundary data contains NaN or inf")
        return out

    out = np.zeros((x.size, y.size))
    out[0, :] += coef[0, :] * gval(x[0], y, -1.0, 0.0, y.size) * ly
    out[-1, :] += coef[-1, :] * gval(x[-1], y, 1.0, 0.0, y.size) * ly
    out[:, 0] += coef[:, 0] * gval(x, y[0], 0.0, -1.0, x.size) * lx
    out[:, -1] += coef[:, -1] * gval(x, y[-1], 0.0, 1.0, x.size) * lx
    return out


@dataclass(frozen=True)
class SteadySolution:
    """Result of :func:`solve_steady`.

    Attributes
    ----------
    u : ndarray
        Solution on the grid, shape ``(len(x), len(y))``, indexed ``[x, y]``.
    source_shift : float
        Constant added to the source ``m`` to make a pure-Neumann problem solvable (0 for
        Dirichlet). The problem actually solved has source ``m + source_shift``.
    """

    u: np.ndarray
    source_shift: float


def solve_steady(
    *,
    x: np.ndarray,
    y: np.ndarray,
    lam: Field2D,
    source: Field2D,
    form: Literal["steady", "divergence"] = "steady",
    boundary: Boundary = "dirichlet",
    boundary_data: Field2D | NeumannData | None = None,
) -> SteadySolution:
    """Solve ``λ ∇²u + m = 0`` (``form="steady"``) or ``∇·(λ∇u) + m = 0`` (``"divergence"``).

    Parameters
    ----------
    x, y : ndarray
        Uniform node coordinates (>= 3 each) of the rectangle ``[x[0], x[-1]] × [y[0], y[-1]]``.
    lam : float, ndarray or callable
        Conductivity λ > 0: a constant, nodal values of shape ``(len(x), len(y))`` (averaged to
        faces) or ``lam(x, y)`` evaluated with broadcasting (at nodes and face midpoints).
    source : float, ndarray or callable
        Source ``m``, in the same forms (nodal values only).
    form : {"steady", "divergence"}
        Non-divergence (the paper's) or divergence form.
    boundary : {"dirichlet", "neumann"}
        ``u = g`` on the whole boundary, or ``∂u/∂n = g`` with ``n`` the outward normal.
    boundary_data : float or callable, optional
        ``g``; default 0. Dirichlet: ``g(x, y)``. Neumann: ``g(x, y, n_x, n_y)`` (corners are
        asked once per adjacent side).

    Returns
    -------
    SteadySolution
        For Neumann the solution is unique only up to a constant and exists only if
        ``∫ m/λ dA = -∮ g ds`` (steady) or ``∫ m dA = -∮ λ g ds`` (divergence). The constant
        that makes the discrete problem compatible is added to ``m`` and reported as
        ``source_shift``, and ``u`` is fixed to have zero area-weighted mean.
    """
    _check_choice("form", form, ("steady", "divergence"))
    _check_choice("boundary", boundary, ("dirichlet", "neumann"))
    x, _ = _uniform("x", x)
    y, _ = _uniform("y", y)
    nodes, xf, yf = _conductivity(lam, x, y)
    m = _evaluate("source", source, x, y)
    if form == "steady":  # ∇²u = -m/λ: unit-conductivity operator, source m/λ
        A, w = _assemble(x, y, np.ones_like(xf), np.ones_like(yf))
        coef, weight = np.ones_like(nodes), w / nodes
    else:
        A, w = _assemble(x, y, xf, yf)
        coef, weight = nodes, w
    g = 0.0 if boundary_data is None else boundary_data
    if boundary == "dirichlet":
        bmask = _boundary(x.size, y.size)
        gb = _evaluate("boundary_data", g, x, y)  # type: ignore[arg-type]
        flat = np.where(bmask, gb, 0.0).reshape(-1)
        inner, outer = np.flatnonzero(~bmask), np.flatnonzero(bmask)
        rhs = -(weight * m).reshape(-1)[inner] - A[inner][:, outer] @ flat[outer]
        flat[inner] = spsolve(A[inner][:, inner].tocsc(), rhs)
        return SteadySolution(u=flat.reshape(x.size, y.size), source_shift=0.0)
    rhs = -(weight * m + _neumann_flux(g, x, y, coef)).ravel()  # type: ignore[arg-type]
    shift = float(rhs.sum() / weight.sum())  # 1ᵀA = 0, so solvable iff Σ rhs = 0
    rhs -= shift * weight.ravel()
    u = np.zeros(x.size * y.size)
    u[1:] = spsolve(A[1:, 1:].tocsc(), rhs[1:])  # pin u at node 0, then remove the mean
    u -= np.sum(w.ravel() * u) / w.sum()
    return SteadySolution(u=u.reshape(x.size, y.size), source_shift=shift)


def solve_transient(
    *,
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    lam: Field2D,
    initial: np.ndarray | Callable[[np.ndarray, np.ndarray], Any],
    boundary: Boundary = "dirichlet",
    source: float | np.ndarray | Callable[..., Any] | None = None,
    boundary_data: float | Callable[..., Any] | None = None,
    substeps: int = 1,
) -> np.ndarray:
    """Solve ``u_t = ∇·(λ∇u) + m`` by Crank–Nicolson and return ``u`` at the times ``t``.

    Parameters
    ----------
    x, y : ndarray
        Uniform node coordinates, as in :func:`solve_steady`.
    t : ndarray
        Uniform output times (>= 2); ``t[0]`` is the initial time.
    lam : float, ndarray or callable
        Time-independent conductivity, as in :func:`solve_steady`.
    initial : ndarray or callable
        ``u(t[0], x, y)``: values of shape ``(len(x), len(y))`` or ``initial(x, y)``.
    boundary : {"dirichlet", "neumann"}
        As in :func:`solve_steady`.
    source : float, ndarray or callable, optional
        ``m``: constant, nodal values, or ``source(t, x, y)``; default 0.
    boundary_data : float or callable, optional
        ``g``, default 0: Dirichlet ``g(t, x, y)``, Neumann ``g(t, x, y, n_x, n_y)``.
    substeps : int
        Crank–Nicolson steps per output interval (time step ``(t[1] - t[0]) / substeps``).

    Returns
    -------
    ndarray
        ``u`` of shape ``(len(t), len(x), len(y))``, indexed ``[t, x, y]``; for Dirichlet the
        boundary nodes hold ``g``. Second order in space and time for smooth, compatible data.
    """
    _check_choice("boundary", boundary, ("dirichlet", "neumann"))
    x, _ = _uniform("x", x)
    y, _ = _uniform("y", y)
    tt = np.asarray(t, dtype=np.float64)
    if tt.ndim != 1 or tt.size < 2:
        raise ValueError("t must be a 1-D vector of >= 2 output times")
    spacing = (tt[-1] - tt[0]) / (tt.size - 1)
    if not (spacing > 0 and np.allclose(np.diff(tt), spacing, rtol=1e-9, atol=0)):
        raise ValueError("t must be strictly increasing and uniformly spaced")
    if int(substeps) != substeps or substeps < 1:
        raise ValueError(f"substeps must be a positive integer, got {substeps}")
    dt = spacing / substeps
    nodes, xf, yf = _conductivity(lam, x, y)
    A, w = _assemble(x, y, xf, yf)
    u0 = _evaluate("initial", initial, x, y)
    g = 0.0 if boundary_data is None else boundary_data
    src = 0.0 if source is None else source

    def m_at(s: float) -> np.ndarray:
        f = (lambda xx, yy: src(s, xx, yy)) if callable(src) else src
        return _evaluate("source", f, x, y)

    def g_at(s: float) -> Any:
        if not callable(g):
            return g
        return lambda *args: g(s, *args)

    if boundary == "dirichlet":
        bmask = _boundary(x.size, y.size)
        free, fixed = np.flatnonzero(~bmask), np.flatnonzero(bmask)
        A_ff, A_fb = A[free][:, free], A[free][:, fixed]

        def g_b(s: float) -> np.ndarray:
            return _evaluate("boundary_data", g_at(s), x, y).ravel()[fixed]

        def load(s: float) -> np.ndarray:
            return (w * m_at(s)).ravel()[free] + A_fb @ g_b(s)
    else:
        free, A_ff = np.arange(x.size * y.size), A

        def load(s: float) -> np.ndarray:
            return (w * m_at(s) + _neumann_flux(g_at(s), x, y, nodes)).ravel()

    mass = sp.diags(w.ravel()[free] / dt)
    solve = factorized((mass - 0.5 * A_ff).tocsc())
    explicit = (mass + 0.5 * A_ff).tocsr()
    out = np.empty((tt.size, x.size, y.size))
    out[0] = u0
    v, s, r_old = u0.ravel()[free].copy(), float(tt[0]), load(float(tt[0]))
    for i in range(1, tt.size):
        for j in range(1, substeps + 1):
            s_new = float(tt[i - 1]) + j * dt
            r_new = load(s_new)
            v = solve(explicit @ v + 0.5 * (r_old + r_new))
            s, r_old = s_new, r_new
        frame = np.empty(x.size * y.size)
        frame[free] = v
        if boundary == "dirichlet":
            frame[fixed] = g_b(s)
        out[i] = frame.reshape(x.size, y.size)
    return out


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
    _check_choice("form", form, ("steady", "divergence", "transient"))
    _check_choice("boundary", boundary, ("dirichlet", "neumann"))
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
        initial=u0 if callable(u0) else _evaluate("initial", u0, xf, yf),
        boundary=boundary,
        source=src_fine if not callable(src_fine) else _evaluate("source", src_fine, xf, yf),
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
    truth_lam = _evaluate("lam", lam_fine, xc, yc)
    if source is None:
        source = 0.0 if form == "transient" else _default_source(lengths)
    src_fine = _on_fine("source", source, xc, yc, log=False)
    m = _evaluate("source", src_fine, xc, yc)
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
            x=xf,
            y=yf,
            lam=lam_fine,
            source=src_fine,
            form=form,
            boundary=boundary,
            boundary_data=boundary_data,
        )
        u_clean = sol.u[sl]
        m = m + sol.source_shift
        coords = {"x": xc, "y": yc}
        params["source_shift"] = sol.source_shift

    u = noise.apply(u_clean, np.random.default_rng(noise_seed))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != u.shape:
            raise ValueError(f"mask must be a boolean array of shape {u.shape}")
        u = np.where(mask, u, np.nan)
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
