"""Chromatin phase-field reaction–diffusion model: the forward simulator.

The model (Kant, Guo, …, Shenoy, Nat. Commun. 2024; the Mollifier Layers paper's fourth-order
benchmark) describes the nucleus as nucleoplasm ``φ_w``, euchromatin ``φ_e`` and heterochromatin
``φ_h`` with ``φ_w + φ_e + φ_h = 1``. It evolves ``φ_w`` and ``φ_d = φ_h - φ_e``
(so ``φ_h = (1 - φ_w + φ_d)/2`` and ``φ_e = (1 - φ_w - φ_d)/2``), in the authors'
non-dimensional units, under the free energy ::

    F = ∫ φ_h² (φ_max - φ_h)² + φ_e² + (l²/2)|∇φ_d|² + (l_w²/2)|∇φ_w|² dA

    μ_d = δF/δφ_d = -φ_e + g(φ_h) - l² ∇²φ_d,   g(φ_h) = φ_h (φ_max - φ_h)(φ_max - 2 φ_h)
    μ_w = δF/δφ_w = -φ_e - g(φ_h) - l_w² ∇²φ_w

    ∂φ_d/∂t = ∇²μ_d + 2 (λ φ_e - φ_h)          (methylation λ, acetylation 1)
    ∂φ_w/∂t = M_w ∇²μ_w                          (conserved nucleoplasm)

``μ_d`` and the steady state ``∇²μ_d + 2(λφ_e - φ_h) = 0`` are exactly the authors' residual; the
``φ_w`` part is this module's reconstruction (see ``docs/simulators/chromatin.md``), checked
against the authors' COMSOL steady state. At steady state
``λ = (φ_h - ½∇²μ_d) / φ_e`` pointwise, which is what the inverse problem recovers.

Fields are indexed ``[x, y]``; lengths are in the model's unit (the reference domain is
``[0, 10]²``) and times in units of the inverse acetylation rate.

:func:`simulate_chromatin` steps the model with the settings of a :class:`Stepping`; the
statistics that compare its patterns with data are in :mod:`mollifier.sim.patterns`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from mollifier._limits import check_memory
from mollifier.io.dataset import Dataset
from mollifier.sim._chromatin_model import (
    Boundary,
    Coefficients,
    LaplacianKind,
    RunResult,
    SimulationDivergedError,
    SpectralLaplacian,
    SteadyStateNotReachedError,
    check_positive,
    domain_mean,
    fractions,
    g_local,
    integrate,
    rates,
)
from mollifier.sim.chromatin_initial import InitialNoise, InitialNuclei, initial_fields
from mollifier.sim.random_fields import LognormalLambda

__all__ = [
    "ChromatinModel",
    "InitialNoise",
    "InitialNuclei",
    "SimulationDivergedError",
    "SteadyStateNotReachedError",
    "Stepping",
    "simulate_chromatin",
    "steady_state_residual",
]


class NoiseLike(Protocol):
    """What :func:`simulate_chromatin` needs of a noise model (e.g. ``GaussianNoise``)."""

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ChromatinModel:
    """Constants of the chromatin free energy and kinetics (non-dimensional).

    Parameters
    ----------
    phi_max : float
        Heterochromatin fraction of the dense phase: the wells of ``φ_h²(φ_max - φ_h)²`` are at
        ``φ_h = 0`` and ``φ_h = φ_max``. In ``(0, 1]``; the authors use 0.7.
    l : float
        Interface length of ``φ_d`` (gradient energy ``(l²/2)|∇φ_d|²``); the authors use 0.03.
    l_w : float
        Interface length of ``φ_w``; 0.03 reproduces the COMSOL reference (see the docs).
    mobility_w : float
        Mobility of the nucleoplasm relative to that of ``φ_d`` (which the time unit sets to 1).
        It changes the transient (and so possibly which pattern is selected), never the
        steady-state equations.

    Examples
    --------
    >>> m = ChromatinModel()
    >>> mu_w, mu_d = m.local_potentials(np.array(0.5), np.array(0.0))
    >>> round(float(mu_d), 6)  # φ_h = φ_e = 0.25: g = 0.25 * 0.45 * 0.2 = 0.0225
    -0.2275
    """

    phi_max: float = 0.7
    l: float = 0.03  # noqa: E741 - the paper's symbol for the interface length
    l_w: float = 0.03
    mobility_w: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.phi_max) and 0 < self.phi_max <= 1):
            raise ValueError(f"phi_max must lie in (0, 1], got {self.phi_max}")
        check_positive("l", self.l)
        check_positive("l_w", self.l_w, allow_zero=True)
        check_positive("mobility_w", self.mobility_w)

    def local_potentials(
        self, phi_w: np.ndarray, phi_d: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The gradient-free parts ``(-φ_e - g(φ_h), -φ_e + g(φ_h))`` of ``(μ_w, μ_d)``."""
        phi_h, phi_e = self.fractions(phi_w, phi_d)
        g = self.g(phi_h)
        return -phi_e - g, -phi_e + g

    @staticmethod
    def fractions(phi_w: np.ndarray, phi_d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(φ_h, φ_e) = ((1 − φ_w + φ_d)/2, (1 − φ_w − φ_d)/2)``, hetero- and euchromatin."""
        return fractions(phi_w, phi_d)

    def g(self, phi_h: np.ndarray) -> np.ndarray:
        """``g(φ_h) = φ_h(φ_max − φ_h)(φ_max − 2φ_h)``, the double-well derivative term."""
        return g_local(phi_h, self.phi_max)

    def _coefficients(self, stabilization: float) -> Coefficients:
        return Coefficients(self.phi_max, self.l, self.l_w, self.mobility_w, stabilization)


#: Accepted forms of the rate ratio λ.
LambdaSpec = float | np.ndarray | Callable[[np.ndarray, np.ndarray], Any] | LognormalLambda


def _grid(n: int, length: float, boundary: Boundary) -> tuple[np.ndarray, float]:
    if boundary == "periodic":
        h = length / n
        return np.arange(n) * h, h
    return np.linspace(0.0, length, n), length / (n - 1)


def _lambda_field(
    lam: LambdaSpec, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, periodic: bool
) -> tuple[float | np.ndarray, dict[str, Any]]:
    shape = (x.size, y.size)
    if isinstance(lam, LognormalLambda):
        out: Any = lam.sample(x, y, rng=rng, periodic=periodic)
        desc: dict[str, Any] = {"kind": "lognormal", **asdict(lam)}
    elif callable(lam):
        out = np.broadcast_to(np.asarray(lam(x[:, None], y[None, :]), dtype=float), shape)
        desc = {"kind": "callable"}
    else:
        out = np.asarray(lam, dtype=float)
        if out.ndim == 0:
            desc = {"kind": "constant", "value": float(out)}
        elif out.shape != shape:
            raise ValueError(f"lam array has shape {out.shape}, expected the grid's {shape}")
        else:
            desc = {"kind": "array"}
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ValueError("lam must be finite and >= 0 everywhere")
    if np.ndim(out) == 0 or np.ptp(out) == 0:
        return float(np.ravel(out)[0]), desc
    return np.array(out, dtype=float), desc


@dataclass(frozen=True)
class Stepping:
    """How :func:`simulate_chromatin` steps in time and when it stops.

    The run stops when the steady-state residual drops below ``tolerance`` or at ``t_end``,
    whichever comes first; at least one of the two must be given. None of these settings changes
    the discrete steady state, only the path to it and how closely it is reached.

    Parameters
    ----------
    tolerance : float or None
        Stop when ``max |∂φ_w/∂t|, |∂φ_d/∂t|`` over the grid, evaluated with the stepping
        discretisation, drops below it.
    t_end : float or None
        Stop at this time.
    max_steps : int
        Step budget; exhausting it raises :class:`SteadyStateNotReachedError`.
    dt : float
        Initial time step.
    adaptive : bool
        Halve ``dt`` when a step changes a field by more than ``max_change`` anywhere (the step
        is then rejected and retried) and grow it by 1.25 up to ``dt_max`` after small changes.
    dt_max, max_change : float
        Bounds of the adaptive stepping.
    stabilization : float
        Stabiliser ``S >= 0``: ``g(φ_h)`` is extrapolated as ``g(φ_h^n) + S(φ_h^{n+1} - φ_h^n)``.
        Large steps are stable for ``S >= max g'/2``, about 0.36 over the values the fields take;
        smaller ``S`` converges in fewer steps but can oscillate.
    check_every : int
        Accepted steps between evaluations of the residual (and updates of the progress bar).

    Examples
    --------
    >>> Stepping(t_end=5.0, tolerance=None).dt
    0.05
    >>> Stepping(tolerance=None)
    Traceback (most recent call last):
    ...
    ValueError: give a tolerance, a t_end or both, so that the run knows when to stop
    """

    tolerance: float | None = 1e-6
    t_end: float | None = None
    max_steps: int = 200_000
    dt: float = 0.05
    adaptive: bool = True
    dt_max: float = 5.0
    max_change: float = 0.05
    stabilization: float = 0.4
    check_every: int = 20

    def __post_init__(self) -> None:
        if self.tolerance is None and self.t_end is None:
            raise ValueError(
                "give a tolerance, a t_end or both, so that the run knows when to stop"
            )
        if self.tolerance is not None:
            check_positive("tolerance", self.tolerance)
        if self.t_end is not None:
            check_positive("t_end", self.t_end)
        for name in ("max_steps", "check_every"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        check_positive("dt", self.dt)
        check_positive("dt_max", self.dt_max)
        check_positive("max_change", self.max_change)
        check_positive("stabilization", self.stabilization, allow_zero=True)


def _step_to_steady_state(
    w0: np.ndarray,
    d0: np.ndarray,
    lam_field: float | np.ndarray,
    op: SpectralLaplacian,
    coeffs: Coefficients,
    stepping: Stepping,
    progress: bool,
) -> RunResult:
    """:func:`~mollifier.sim._chromatin_model.integrate` with ``stepping``, under a progress bar."""
    bar: Any = None
    callback = None
    if progress:
        from mollifier._progress import progress_bar

        bar = progress_bar(total=stepping.t_end, desc="chromatin", unit="t", leave=False)
        last = [0.0]

        def callback(t: float, step: float, residual: float) -> None:
            bar.update(t - last[0])
            last[0] = t
            bar.set_postfix(dt=f"{step:.3g}", residual=f"{residual:.2e}")

    s = stepping
    try:
        return integrate(
            w0,
            d0,
            lam_field,
            op,
            coeffs,
            dt=float(s.dt),
            adaptive=bool(s.adaptive),
            dt_max=float(s.dt_max),
            max_change=float(s.max_change),
            t_end=None if s.t_end is None else float(s.t_end),
            tolerance=None if s.tolerance is None else float(s.tolerance),
            max_steps=int(s.max_steps),
            check_every=int(s.check_every),
            progress=callback,
        )
    finally:
        if bar is not None:
            bar.close()


def _check_request(
    *,
    model: Any,
    stepping: Any,
    boundary: str,
    laplacian: str,
    n: int,
    length: float,
    noise: Any,
) -> int:
    """Validate :func:`simulate_chromatin`'s options and refuse, before any work, a grid whose
    arrays exceed the memory available now; returns ``n`` as an int."""
    if not isinstance(model, ChromatinModel):
        raise ValueError(f"model must be a ChromatinModel, got {type(model).__name__}")
    if not isinstance(stepping, Stepping):
        raise ValueError(f"stepping must be a Stepping, got {type(stepping).__name__}")
    if boundary not in ("periodic", "noflux"):
        raise ValueError(f"boundary must be 'periodic' or 'noflux', got {boundary!r}")
    if laplacian not in ("spectral", "fd2"):
        raise ValueError(f"laplacian must be 'spectral' or 'fd2', got {laplacian!r}")
    if int(n) != n or n < 8:
        raise ValueError(f"n must be an integer >= 8, got {n}")
    n = int(n)
    # about 30 grid-sized float64 arrays live at once (fields, spectral operators, FFT buffers)
    check_memory(
        30 * 8 * n * n,
        f"simulate_chromatin on a {n} × {n} grid",
        hint="use a smaller n (mollifier simulate chromatin --grid)",
    )
    check_positive("length", length)
    if noise is not None and not (hasattr(noise, "apply") and hasattr(noise, "describe")):
        raise ValueError(f"noise must have apply(clean, rng) and describe(), got {noise!r}")
    return n


def _record(
    *,
    model: ChromatinModel,
    stepping: Stepping,
    run: Any,
    boundary: str,
    laplacian: str,
    length: float,
    spacing: float,
    lam: dict[str, Any],
    initial: dict[str, Any],
) -> dict[str, Any]:
    """The dataset's ``params``: the model, the discretisation and how the run converged."""
    periodic = boundary == "periodic"
    return {
        "model": asdict(model),
        "boundary": boundary,
        "laplacian": laplacian,
        "n": run.w.shape[0],
        "length": length,
        "spacing": spacing,
        "phi_w_mean": domain_mean(run.w, periodic),
        "lam": lam,
        "initial": initial,
        "scheme": "IMEX Euler, linearly stabilised, "
        + ("real FFT" if periodic else "DCT-I")
        + f" eigenbasis, {laplacian} Laplacian symbol",
        "stabilization": float(stepping.stabilization),
        "dt_initial": float(stepping.dt),
        "dt_final": float(run.dt),
        "adaptive": bool(stepping.adaptive),
        "steps": run.steps,
        "rejected_steps": run.rejected,
        "t_final": float(run.t),
        "tolerance": stepping.tolerance,
        "residual": float(run.residual),
        "converged": bool(run.converged),
        "wall_time_s": float(run.wall_time),
    }


def simulate_chromatin(
    *,
    n: int = 128,
    length: float = 10.0,
    lam: LambdaSpec = 0.5,
    boundary: Boundary = "periodic",
    model: ChromatinModel | None = None,
    initial: InitialNuclei | InitialNoise | tuple[np.ndarray, np.ndarray] | None = None,
    phi_w_mean: float | None = None,
    stepping: Stepping | None = None,
    laplacian: LaplacianKind = "spectral",
    noise: NoiseLike | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Dataset:
    """Evolve the chromatin model on ``[0, length]²`` to steady state and observe ``φ_w, φ_d``.

    The scheme is first-order IMEX: every linear term (the fourth-order gradient terms, the
    ``φ_e`` coupling, the stabiliser ``S φ_h`` inside both potentials and the mean-λ reaction) is
    implicit and solved mode by mode in the Laplacian's eigenbasis (real FFT for periodic, DCT-I
    for no-flux boundaries); ``g(φ_h) - S φ_h`` and the reaction's deviation from mean λ are
    explicit. A fixed point of the scheme satisfies the discrete steady-state equations exactly.

    Parameters
    ----------
    n : int
        Nodes per axis (>= 8). Periodic nodes are ``i·length/n``, ``i < n``; no-flux nodes are
        ``linspace(0, length, n)`` (both walls, as in the COMSOL export).
    length : float
        Side of the square domain, in model length units.
    lam : float, ndarray, callable or LognormalLambda
        Rate ratio λ (methylation / acetylation), >= 0: a constant, an ``(n, n)`` array, a function
        ``lam(x[:, None], y[None, :])`` or a :class:`~mollifier.sim.LognormalLambda` drawn from
        ``seed`` (periodic on periodic grids).
    boundary : {"periodic", "noflux"}
        Periodic, or zero flux of both species with ``∂φ/∂n = 0`` (the natural conditions).
    model : ChromatinModel, optional
        Model constants (default ``ChromatinModel()``).
    initial : InitialNuclei, InitialNoise or (phi_w, phi_d), optional
        Initial condition (default ``InitialNuclei()``), or two arrays on the grid.
    phi_w_mean : float, optional
        Mean nucleoplasm fraction for generated initial conditions (default 0.5); it is
        conserved (on no-flux grids as the trapezoidal mean, walls weighted ½). Not allowed with
        explicit arrays, whose own mean is kept.
    stepping : Stepping, optional
        Time steps, stabiliser and stopping rule (default ``Stepping()``: to a residual of
        1e-6 with adaptive steps).
    laplacian : {"spectral", "fd2"}
        Symbol of the Laplacian: exact, or the second-order 5-point stencil's.
    noise : noise model, optional
        Applied to each clean field (``noise.apply(clean, rng)``); default none.
    seed : int
        Seeds λ, the initial condition and the noise (independent streams).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Dataset
        ``equation="chromatin"``, axes ``(x, y)``, fields and clean fields ``phi_w``, ``phi_d``,
        truth ``lam`` (float if constant). ``params`` holds the model constants, the scheme, the
        steps taken, the final time, ``dt`` and the final ``residual`` and ``converged`` flag.

    Raises
    ------
    SimulationDivergedError
        If the fields become NaN/inf or leave ``|φ| <= 10``, or adaptive steps collapse.
    SteadyStateNotReachedError
        If neither ``stepping.tolerance`` nor ``stepping.t_end`` is reached within
        ``stepping.max_steps``.

    Examples
    --------
    >>> ds = simulate_chromatin(n=16, length=2.0, stepping=Stepping(t_end=1.0, tolerance=None),
    ...                         initial=InitialNoise(amplitude=0.0))
    >>> ds.fields["phi_w"].shape, round(float(ds.fields["phi_w"].mean()), 12)
    ((16, 16), 0.5)
    """
    model = ChromatinModel() if model is None else model
    stepping = Stepping() if stepping is None else stepping
    n = _check_request(
        model=model,
        stepping=stepping,
        boundary=boundary,
        laplacian=laplacian,
        n=n,
        length=length,
        noise=noise,
    )

    periodic = boundary == "periodic"
    x, h = _grid(n, float(length), boundary)
    lam_rng, init_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    lam_field, lam_desc = _lambda_field(lam, x, x, lam_rng, periodic)
    w0, d0, init_desc = initial_fields(
        initial, phi_w_mean, x, lam_field, float(length), periodic, init_rng
    )
    op = SpectralLaplacian((n, n), (h, h), boundary, laplacian)
    coeffs = model._coefficients(float(stepping.stabilization))
    run = _step_to_steady_state(w0, d0, lam_field, op, coeffs, stepping, progress)

    clean = {"phi_w": run.w, "phi_d": run.d}
    if noise is None:
        fields = {k: v.copy() for k, v in clean.items()}
        noise_desc: dict[str, Any] = {"model": "none"}
    else:
        fields = {k: np.asarray(noise.apply(v, noise_rng), dtype=float) for k, v in clean.items()}
        noise_desc = dict(noise.describe())
    params = _record(
        model=model,
        stepping=stepping,
        run=run,
        boundary=boundary,
        laplacian=laplacian,
        length=float(length),
        spacing=h,
        lam=lam_desc,
        initial=init_desc,
    )
    return Dataset(
        equation="chromatin",
        coords={"x": x, "y": x.copy()},
        fields=fields,
        clean=clean,
        truth={"lam": lam_field},
        noise=noise_desc,
        seed=int(seed),
        params=params,
    )


def steady_state_residual(
    phi_w: np.ndarray,
    phi_d: np.ndarray,
    lam: float | np.ndarray,
    *,
    spacing: float,
    boundary: Boundary = "periodic",
    model: ChromatinModel | None = None,
    laplacian: LaplacianKind = "spectral",
) -> tuple[np.ndarray, np.ndarray]:
    """The rates ``(∂φ_w/∂t, ∂φ_d/∂t)`` of the discrete model; both vanish at a steady state.

    ``∂φ_d/∂t = ∇²μ_d + 2(λφ_e - φ_h)`` is the authors' residual. The Laplacian is the one
    :func:`simulate_chromatin` steps with (same ``boundary`` and ``laplacian``), so a converged
    simulation gives residuals below its tolerance.

    Parameters
    ----------
    phi_w, phi_d : ndarray
        Fields of shape ``(nx, ny)`` on the simulator's grid (periodic: ``x = i·spacing``,
        ``i < n``; no-flux: both walls included).
    lam : float or ndarray
        Rate ratio, a constant or an array shaped like the fields.
    spacing : float
        Node spacing (equal on both axes).
    boundary, model, laplacian
        As in :func:`simulate_chromatin`.
    """
    model = ChromatinModel() if model is None else model
    w = np.asarray(phi_w, dtype=float)
    d = np.asarray(phi_d, dtype=float)
    if w.ndim != 2 or w.shape != d.shape:
        raise ValueError(f"phi_w and phi_d must be 2-D of equal shape, got {w.shape}, {d.shape}")
    check_positive("spacing", spacing)
    op = SpectralLaplacian(w.shape, (spacing, spacing), boundary, laplacian)
    return rates(w, d, lam, op, model._coefficients(0.0))
