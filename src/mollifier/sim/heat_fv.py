"""Finite-volume solvers for heat conduction with a conductivity λ(x, y) on a rectangle.

Vertex-centred finite volumes on a uniform node grid (nodes on the boundary; dual cells of half or
quarter size there), two-point fluxes with λ at face midpoints: the conservative 5-point scheme
``[λ_{i+½}(u_{i+1} - u_i) - λ_{i-½}(u_i - u_{i-1})] / h²`` in the interior, second-order accurate
in the maximum norm, Neumann boundaries included (``tests/sim/test_heat.py``). The steady forms
are one sparse solve; the transient form is Crank–Nicolson with one sparse LU factorisation reused
for all steps. :mod:`mollifier.sim.heat` builds data sets on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import factorized, spsolve

__all__ = ["SteadySolution", "solve_steady", "solve_transient"]

Form = Literal["steady", "divergence", "transient"]
Boundary = Literal["dirichlet", "neumann"]
Field2D = float | np.ndarray | Callable[[np.ndarray, np.ndarray], Any]
#: Neumann data ``g(x, y, n_x, n_y)``: the outward normal derivative at boundary points.
NeumannData = float | Callable[[np.ndarray, np.ndarray, float, float], Any]


def uniform_coordinates(name: str, c: Any) -> tuple[np.ndarray, float]:
    """``c`` as a float64 vector of >= 3 uniformly spaced, increasing nodes, and its spacing."""
    arr = np.asarray(c, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 3:
        raise ValueError(f"{name} must be a 1-D coordinate vector of >= 3 nodes")
    h = (arr[-1] - arr[0]) / (arr.size - 1)
    if not (h > 0 and np.allclose(np.diff(arr), h, rtol=1e-9, atol=0)):
        raise ValueError(f"{name} must be strictly increasing and uniformly spaced")
    return arr, float(h)


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def evaluate_field(name: str, f: Field2D, x: np.ndarray, y: np.ndarray) -> np.ndarray:
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
    nodes = evaluate_field("lam", lam, x, y)
    if callable(lam):
        xf = evaluate_field("lam", lam, 0.5 * (x[1:] + x[:-1]), y)
        yf = evaluate_field("lam", lam, x, 0.5 * (y[1:] + y[:-1]))
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
    check_choice("form", form, ("steady", "divergence"))
    check_choice("boundary", boundary, ("dirichlet", "neumann"))
    x, _ = uniform_coordinates("x", x)
    y, _ = uniform_coordinates("y", y)
    nodes, xf, yf = _conductivity(lam, x, y)
    m = evaluate_field("source", source, x, y)
    if form == "steady":  # ∇²u = -m/λ: unit-conductivity operator, source m/λ
        A, w = _assemble(x, y, np.ones_like(xf), np.ones_like(yf))
        coef, weight = np.ones_like(nodes), w / nodes
    else:
        A, w = _assemble(x, y, xf, yf)
        coef, weight = nodes, w
    g = 0.0 if boundary_data is None else boundary_data
    if boundary == "dirichlet":
        bmask = _boundary(x.size, y.size)
        gb = evaluate_field("boundary_data", g, x, y)  # type: ignore[arg-type]
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
    check_choice("boundary", boundary, ("dirichlet", "neumann"))
    x, _ = uniform_coordinates("x", x)
    y, _ = uniform_coordinates("y", y)
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
    u0 = evaluate_field("initial", initial, x, y)
    g = 0.0 if boundary_data is None else boundary_data
    src = 0.0 if source is None else source

    def m_at(s: float) -> np.ndarray:
        f = (lambda xx, yy: src(s, xx, yy)) if callable(src) else src
        return evaluate_field("source", f, x, y)

    def g_at(s: float) -> Any:
        if not callable(g):
            return g
        return lambda *args: g(s, *args)

    if boundary == "dirichlet":
        bmask = _boundary(x.size, y.size)
        free, fixed = np.flatnonzero(~bmask), np.flatnonzero(bmask)
        A_ff, A_fb = A[free][:, free], A[free][:, fixed]

        def g_b(s: float) -> np.ndarray:
            return evaluate_field("boundary_data", g_at(s), x, y).ravel()[fixed]

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
