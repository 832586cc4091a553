"""Numerics of the chromatin phase-field model: Laplacian symbols, rates and the IMEX time stepper.

Private to :mod:`mollifier.sim.chromatin`, which documents the model; the array helpers of that
module (initial sites, domain means, pattern-statistics internals) live at the end. Everything here
works on plain arrays indexed ``[x, y]``; the public module validates arguments before calling in.

The two fields are the nucleoplasm fraction ``w`` (φ_w) and the difference ``d = φ_h - φ_e`` (φ_d)
between heterochromatin and euchromatin. With ``φ_h = (1 - w + d)/2``, ``φ_e = (1 - w - d)/2`` and
``g(φ_h) = φ_h (φ_max - φ_h)(φ_max - 2 φ_h)``::

    μ_w = -g(φ_h) - φ_e - l_w² ∇²w          ∂w/∂t = M_w ∇²μ_w
    μ_d =  g(φ_h) - φ_e - l²   ∇²d          ∂d/∂t = ∇²μ_d + 2 (λ φ_e - φ_h)

Every Laplacian is the diagonal operator ``-q`` of one transform (``q >= 0``): the real FFT for
periodic boundaries, the type-I discrete cosine transform for no-flux boundaries on a node grid
that includes both walls. ``q`` is either the exact (spectral) symbol ``|k|²`` or the symbol of the
second-order 5-point stencil, ``(4/h²) sin²(k h / 2)`` summed over the axes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import fft as sfft

Boundary = Literal["periodic", "noflux"]
LaplacianKind = Literal["spectral", "fd2"]

#: Largest |φ| a physical state can reach; beyond it the run is declared divergent.
BLOWUP_BOUND = 10.0


class SimulationDivergedError(RuntimeError):
    """The time integration produced NaN/inf or left the physical range of the fields."""


class SteadyStateNotReachedError(RuntimeError):
    """The step budget ran out before the steady-state tolerance (or ``t_end``) was met."""


class SpectralLaplacian:
    """The Laplacian on a uniform 2-D node grid, diagonalised by one real transform.

    Parameters
    ----------
    shape : (int, int)
        Nodes per axis.
    spacing : (float, float)
        Node spacing per axis.
    boundary : {"periodic", "noflux"}
        Periodic (real FFT; nodes ``i * h``, ``i < n``) or homogeneous Neumann (DCT-I; nodes
        ``i * h``, ``i <= n - 1``, both walls included, mirror-symmetric extension).
    laplacian : {"spectral", "fd2"}
        Exact symbol ``k²`` or the 5-point finite-difference symbol ``(2 - 2 cos kh) / h²``.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        spacing: tuple[float, float],
        boundary: Boundary,
        laplacian: LaplacianKind,
    ) -> None:
        self.shape = shape
        self.boundary = boundary
        axes_q = []
        for axis, (n, h) in enumerate(zip(shape, spacing, strict=True)):
            if boundary == "periodic":
                if axis == len(shape) - 1:
                    k = 2 * np.pi * sfft.rfftfreq(n, d=h)
                else:
                    k = 2 * np.pi * sfft.fftfreq(n, d=h)
            else:
                k = np.pi * np.arange(n) / ((n - 1) * h)
            q = k**2 if laplacian == "spectral" else (4.0 / h**2) * np.sin(0.5 * k * h) ** 2
            axes_q.append(q)
        self.q = axes_q[0][:, None] + axes_q[1][None, :]

    def forward(self, u: np.ndarray) -> np.ndarray:
        """Coefficients of ``u`` in the eigenbasis."""
        if self.boundary == "periodic":
            return sfft.rfft2(u)
        return sfft.dctn(u, type=1)

    def inverse(self, uh: np.ndarray) -> np.ndarray:
        """The grid function with coefficients ``uh``."""
        if self.boundary == "periodic":
            return sfft.irfft2(uh, s=self.shape)
        return sfft.idctn(uh, type=1)

    def apply(self, u: np.ndarray) -> np.ndarray:
        """``∇²u`` with this operator's symbol and boundary condition."""
        return self.inverse(-self.q * self.forward(u))


@dataclass(frozen=True)
class Coefficients:
    """The model constants the numerics need (validated by the public ``ChromatinModel``)."""

    phi_max: float
    l: float  # noqa: E741 - the paper's symbol
    l_w: float
    mobility_w: float
    stabilization: float


def fractions(w: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(φ_h, φ_e) = ((1 − φ_w + φ_d)/2, (1 − φ_w − φ_d)/2)``: hetero- and euchromatin from
    ``φ_w`` and ``φ_d = φ_h − φ_e`` (the three fractions sum to 1)."""
    return 0.5 * (1.0 - w + d), 0.5 * (1.0 - w - d)


def g_local(phi_h: np.ndarray, phi_max: float) -> np.ndarray:
    """``g(φ_h) = φ_h (φ_max - φ_h)(φ_max - 2 φ_h) = ½ d/dφ_h [φ_h² (φ_max - φ_h)²]``."""
    return phi_h * (phi_max - phi_h) * (phi_max - 2.0 * phi_h)


def potentials(
    w: np.ndarray, d: np.ndarray, op: SpectralLaplacian, c: Coefficients
) -> tuple[np.ndarray, np.ndarray]:
    """Chemical potentials ``(μ_w, μ_d)`` of the free energy, with ``op`` as the Laplacian."""
    phi_h, phi_e = fractions(w, d)
    g = g_local(phi_h, c.phi_max)
    mu_w = -g - phi_e - c.l_w**2 * op.apply(w)
    mu_d = g - phi_e - c.l**2 * op.apply(d)
    return mu_w, mu_d


def rates(
    w: np.ndarray, d: np.ndarray, lam: np.ndarray | float, op: SpectralLaplacian, c: Coefficients
) -> tuple[np.ndarray, np.ndarray]:
    """``(∂w/∂t, ∂d/∂t)``: the steady-state residuals of the discrete model."""
    mu_w, mu_d = potentials(w, d, op, c)
    phi_h, phi_e = fractions(w, d)
    return c.mobility_w * op.apply(mu_w), op.apply(mu_d) + 2.0 * (lam * phi_e - phi_h)


@dataclass
class RunResult:
    """Final state and bookkeeping of :func:`integrate`."""

    w: np.ndarray
    d: np.ndarray
    t: float
    steps: int
    rejected: int
    dt: float
    residual: float
    converged: bool
    wall_time: float


class _Stepper:
    """One first-order IMEX step, solved mode by mode as a 2×2 system per wave number.

    Implicit: the gradient terms, the linear ``-φ_e`` in both potentials, the stabiliser (``g``
    is taken as ``g(φ_h^n) + S (φ_h^{n+1} - φ_h^n)``, so ``±S φ_h^{n+1}`` enters ``μ_d`` and
    ``μ_w``) and the mean-λ reaction ``(1 - λ̄) φ_w - (1 + λ̄) φ_d``. Explicit: ``g(φ_h^n) - S φ_h^n``
    and ``(λ - 1) + (λ̄ - λ)(φ_w + φ_d)``. The 2×2 determinant is positive for every ``q >= 0``,
    ``S >= 0`` and ``dt > 0``.
    """

    def __init__(
        self, op: SpectralLaplacian, c: Coefficients, lam: np.ndarray | float, lam_bar: float
    ) -> None:
        self.op, self.c, self.lam, self.lam_bar = op, c, lam, lam_bar
        self.uniform = np.ndim(lam) == 0
        if self.uniform:
            self.react_uniform = op.forward(np.full(op.shape, float(lam) - 1.0))
        self.dt = math.nan

    def set_dt(self, dt: float) -> None:
        if dt == self.dt:
            return
        q, c, lb = self.op.q, self.c, self.lam_bar
        half = 0.5 * c.stabilization
        self.a11 = 1.0 + dt * c.mobility_w * q * (0.5 + half + c.l_w**2 * q)
        self.a12 = dt * c.mobility_w * q * (0.5 - half)
        self.a21 = dt * (q * (0.5 - half) - (1.0 - lb))
        self.a22 = 1.0 + dt * (q * (0.5 + half + c.l**2 * q) + 1.0 + lb)
        self.det = self.a11 * self.a22 - self.a12 * self.a21
        self.dt = dt

    def step(
        self, w: np.ndarray, d: np.ndarray, wh: np.ndarray, dh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients of the next state from the current state (physical and transformed)."""
        op, c, dt = self.op, self.c, self.dt
        gh = op.forward(g_local(fractions(w, d)[0], c.phi_max))
        if self.uniform:
            react = self.react_uniform
        else:
            react = op.forward((self.lam - 1.0) + (self.lam_bar - self.lam) * (w + d))
        sh = (0.5 * c.stabilization) * (wh - dh)
        rw = wh + dt * c.mobility_w * op.q * (gh + sh)
        rd = dh + dt * (-op.q * (gh + sh) + react)
        w_next = (self.a22 * rw - self.a12 * rd) / self.det
        d_next = (self.a11 * rd - self.a21 * rw) / self.det
        return w_next, d_next


def integrate(
    w0: np.ndarray,
    d0: np.ndarray,
    lam: np.ndarray | float,
    op: SpectralLaplacian,
    c: Coefficients,
    *,
    dt: float,
    adaptive: bool,
    dt_max: float,
    max_change: float,
    t_end: float | None,
    tolerance: float | None,
    max_steps: int,
    check_every: int,
    progress: Callable[[float, float, float], None] | None = None,
) -> RunResult:
    """Integrate from ``(w0, d0)`` until ``t_end`` or until the residual drops below ``tolerance``.

    The residual is ``max(|∂w/∂t|, |∂d/∂t|)`` over the grid, evaluated with ``op`` every
    ``check_every`` accepted steps and at the end. Adaptive stepping rejects a step whose largest
    nodal change exceeds ``max_change`` (halving ``dt``) and grows ``dt`` by 1.25 (up to
    ``dt_max``) after a step that changed the fields by less than ``max_change / 4``.

    Raises
    ------
    SimulationDivergedError
        On NaN/inf, ``|φ| > BLOWUP_BOUND``, or (adaptive) ``dt`` shrinking below ``1e-8``.
    SteadyStateNotReachedError
        If ``max_steps`` accepted steps pass without meeting the stopping condition (the
        tolerance, or ``t_end`` when given).
    """
    start = time.perf_counter()
    lam_bar = float(np.mean(lam))
    stepper = _Stepper(op, c, lam, lam_bar)
    w, d = w0.copy(), d0.copy()
    wh, dh = op.forward(w), op.forward(d)
    t, steps, rejected = 0.0, 0, 0
    residual = math.inf

    def current_residual() -> float:
        rw, rd = rates(w, d, lam, op, c)
        return float(max(np.abs(rw).max(), np.abs(rd).max()))

    while True:
        if tolerance is not None and steps % check_every == 0:
            residual = current_residual()
            if not math.isfinite(residual):
                raise SimulationDivergedError(f"the residual is {residual} at t={t:.6g}")
            if progress is not None:
                progress(t, dt, residual)
            if residual < tolerance:
                return RunResult(
                    w, d, t, steps, rejected, dt, residual, True, time.perf_counter() - start
                )
        if t_end is not None and t >= t_end * (1 - 1e-12):
            break
        if steps >= max_steps:
            goal = (
                f"residual {current_residual():.3e} > tolerance {tolerance:.3e}"
                if t_end is None
                else f"t_end={t_end:.6g} not reached"
            )
            raise SteadyStateNotReachedError(
                f"no steady state after {steps} steps (t={t:.6g}, dt={dt:.3g}): {goal}; raise "
                "max_steps, loosen the tolerance (it cannot go below the round-off floor of the "
                "fourth-order operator) or check that a steady state exists for this λ"
            )
        step_dt = dt if t_end is None else min(dt, t_end - t)
        stepper.set_dt(step_dt)
        wh_new, dh_new = stepper.step(w, d, wh, dh)
        w_new, d_new = op.inverse(wh_new), op.inverse(dh_new)
        change = float(max(np.abs(w_new - w).max(), np.abs(d_new - d).max()))
        finite = math.isfinite(change)
        if adaptive and (not finite or change > max_change):
            rejected += 1
            dt *= 0.5
            if dt < 1e-8:
                raise SimulationDivergedError(
                    f"the adaptive time step fell below 1e-8 at t={t:.6g} (largest nodal change "
                    f"{change:.3g} > {max_change}); the model or its parameters admit no stable "
                    "evolution from this state"
                )
            continue
        bound = float(max(np.abs(w_new).max(), np.abs(d_new).max())) if finite else math.inf
        if not finite or bound > BLOWUP_BOUND:
            raise SimulationDivergedError(
                f"the fields diverged at t={t + step_dt:.6g} after {steps + 1} steps "
                f"(max |φ| = {bound:.3g} > {BLOWUP_BOUND}); reduce dt or enable adaptive stepping"
            )
        w, d, wh, dh = w_new, d_new, wh_new, dh_new
        t += step_dt
        steps += 1
        if progress is not None and (tolerance is None) and steps % check_every == 0:
            progress(t, dt, math.nan)
        if adaptive and change < 0.25 * max_change:
            dt = min(dt * 1.25, dt_max)
    residual = current_residual()
    if not math.isfinite(residual):
        raise SimulationDivergedError(f"the residual is {residual} at t={t:.6g}")
    converged = tolerance is not None and residual < tolerance
    return RunResult(w, d, t, steps, rejected, dt, residual, converged, time.perf_counter() - start)


# --- helpers of the public module: initial sites, domain means, pattern statistics ---------------


def domain_mean(u: np.ndarray, periodic: bool) -> float:
    """Mean over the domain: plain on periodic grids, trapezoidal on no-flux node grids.

    The trapezoidal mean is the DCT-I zero mode, the quantity the no-flux scheme conserves.
    """
    if periodic:
        return float(u.mean())
    weights = [np.ones(n) for n in u.shape]
    for wt in weights:
        wt[[0, -1]] = 0.5
    return float(weights[0] @ u @ weights[1] / (weights[0].sum() * weights[1].sum()))


def poisson_disk_sites(
    rng: np.random.Generator, length: float, spacing: float, periodic: bool
) -> np.ndarray:
    """Sites ``(m, 2)`` in ``[0, length)²`` by dart throwing, none closer than ``spacing``."""
    darts = max(30, int(30 * length**2 / spacing**2))
    candidates = rng.uniform(0.0, length, size=(darts, 2))
    sites = np.empty((0, 2))
    for c in candidates:
        delta = sites - c
        if periodic:
            delta = (delta + 0.5 * length) % length - 0.5 * length
        if not np.any(np.einsum("ij,ij->i", delta, delta) < spacing**2):
            sites = np.vstack([sites, c])
    return sites


def merge_periodic_labels(labels: np.ndarray, count: int) -> np.ndarray:
    """Relabel so that components touching across opposite edges share one label."""
    parent = np.arange(count + 1)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for a, b in zip(
        np.concatenate([labels[0, :], labels[:, 0]]),
        np.concatenate([labels[-1, :], labels[:, -1]]),
        strict=True,
    ):
        if a and b:
            ra, rb = find(int(a)), find(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(count + 1)])
    _, compact = np.unique(roots, return_inverse=True)
    return compact[labels]


def label_centroids(labels: np.ndarray, count: int, periodic: bool) -> np.ndarray:
    """Centroid index coordinates ``(count, 2)`` of labels 1..count (circular if periodic)."""
    out = np.empty((count, 2))
    idx = np.indices(labels.shape)
    flat = labels.ravel()
    for axis in range(2):
        coord = idx[axis].ravel().astype(float)
        size = labels.shape[axis]
        if periodic:
            ang = 2 * np.pi * coord / size
            s = np.bincount(flat, np.sin(ang), count + 1)[1:]
            c = np.bincount(flat, np.cos(ang), count + 1)[1:]
            # wrapped into [-0.5, size - 0.5), the cells' own index range
            out[:, axis] = (np.arctan2(s, c) * size / (2 * np.pi) + 0.5) % size - 0.5
        else:
            tot = np.bincount(flat, minlength=count + 1)[1:]
            out[:, axis] = np.bincount(flat, coord, count + 1)[1:] / tot
    return out


def dominant_wavelength(field: np.ndarray, spacing: tuple[float, float], window: bool) -> float:
    """``2π / k*``, ``k*`` the power-weighted mean ``|k|`` around the radial spectrum's peak shell.

    NaN for a constant field, which has no spectrum to peak.
    """
    f = field - field.mean()
    if window:
        f = f * np.outer(np.hanning(f.shape[0]), np.hanning(f.shape[1]))
    power = np.abs(sfft.fft2(f)) ** 2
    kx = 2 * np.pi * sfft.fftfreq(f.shape[0], d=spacing[0])
    ky = 2 * np.pi * sfft.fftfreq(f.shape[1], d=spacing[1])
    k = np.hypot(kx[:, None], ky[None, :])
    dk = max(2 * np.pi / (f.shape[0] * spacing[0]), 2 * np.pi / (f.shape[1] * spacing[1]))
    shell = np.rint(k / dk).astype(int)
    kmax = min(np.pi / spacing[0], np.pi / spacing[1])
    nshell = int(kmax / dk)
    radial = np.bincount(shell.ravel(), power.ravel(), shell.max() + 1)[: nshell + 1]
    radial = radial / np.maximum(np.bincount(shell.ravel())[: nshell + 1], 1).astype(float)
    j = 1 + int(np.argmax(radial[1:]))
    near = np.abs(shell - j) <= 1
    weight = float((k[near] * power[near]).sum())
    if weight == 0.0:
        return math.nan
    return float(2 * np.pi * power[near].sum() / weight)


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Refuse a value that is not a finite number > 0 (>= 0 with ``allow_zero``)."""
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
