"""Overdamped Langevin ensembles whose mean obeys a first-order linear ODE with unknown forcing.

Each particle follows the Itô SDE

    dX = (-k X + λ(t)) dt + σ dW,    X(0) = x0,

so the ensemble mean ``u(t) = E[X(t)]`` obeys ``u_t = -k u + λ(t)``, ``u(0) = x0``. The simulator
integrates an ensemble with Euler–Maruyama on an internal step finer than the output grid, records
the Monte-Carlo ensemble mean at the output times, and puts a measurement-noise model on top. The
noise-free reference ``u_clean`` is the exact ODE solution, not the ensemble mean.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline

from mollifier._limits import check_memory
from mollifier.io.dataset import Dataset
from mollifier.sim.noise import AbstractNoise, GaussianNoise
from mollifier.sim.random_fields import gaussian_random_field

__all__ = [
    "MAX_PARTICLE_STEPS",
    "AbstractForcing",
    "RandomForcing",
    "SineForcing",
    "StepForcing",
    "langevin_mean_ode",
    "simulate_langevin",
]


class AbstractForcing(ABC):
    """A smooth ground-truth forcing λ(t), callable on arrays of times."""

    @abstractmethod
    def __call__(self, t: ArrayLike) -> np.ndarray:
        """λ evaluated at ``t`` (any shape), float64."""

    @property
    @abstractmethod
    def timescale(self) -> float:
        """Shortest time over which λ changes appreciably; bounds the ODE solver's step."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-able description of the forcing."""


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")


@dataclass(frozen=True)
class SineForcing(AbstractForcing):
    """A sum of sines, ``λ(t) = offset + Σ_i a_i sin(ω_i t + φ_i)``.

    Parameters
    ----------
    amplitudes, frequencies, phases : tuple of float
        ``a_i``, angular frequencies ``ω_i > 0`` (radians per unit time) and phases ``φ_i``
        (radians); all the same length.
    offset : float
        Constant part of λ.
    """

    amplitudes: tuple[float, ...] = (1.0, 0.5)
    frequencies: tuple[float, ...] = (0.6, 1.7)
    phases: tuple[float, ...] = (0.0, 1.0)
    offset: float = 0.5

    def __post_init__(self) -> None:
        n = len(self.amplitudes)
        if n == 0 or len(self.frequencies) != n or len(self.phases) != n:
            raise ValueError(
                "amplitudes, frequencies and phases must be non-empty and of equal length, got "
                f"{len(self.amplitudes)}, {len(self.frequencies)}, {len(self.phases)}"
            )
        for name in ("amplitudes", "frequencies", "phases"):
            for v in getattr(self, name):
                _finite(name, v)
        if any(w <= 0 for w in self.frequencies):
            raise ValueError(f"frequencies must be positive, got {self.frequencies}")
        _finite("offset", self.offset)

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """λ(t)."""
        tt = np.asarray(t, dtype=np.float64)
        out = np.full(tt.shape, float(self.offset))
        for a, w, p in zip(self.amplitudes, self.frequencies, self.phases, strict=True):
            out += a * np.sin(w * tt + p)
        return out

    @property
    def timescale(self) -> float:
        """``1 / max(ω)``."""
        return 1.0 / max(self.frequencies)

    def solution(self, t: ArrayLike, *, k: float, x0: float) -> np.ndarray:
        """Closed-form solution of ``u_t = -k u + λ(t)``, ``u(0) = x0``, for ``k > 0``.

        ``u = x0 e^{-kt} + offset (1 - e^{-kt}) / k
        + Σ a [k sin(ωt+φ) - ω cos(ωt+φ) - e^{-kt}(k sin φ - ω cos φ)] / (k² + ω²)``.
        """
        if not k > 0:
            raise ValueError(f"k must be positive, got {k}")
        tt = np.asarray(t, dtype=np.float64)
        decay = np.exp(-k * tt)
        out = x0 * decay + self.offset * (1.0 - decay) / k
        for a, w, p in zip(self.amplitudes, self.frequencies, self.phases, strict=True):
            s, c = np.sin(w * tt + p), np.cos(w * tt + p)
            out += a * (k * s - w * c - decay * (k * np.sin(p) - w * np.cos(p))) / (k**2 + w**2)
        return out

    def describe(self) -> dict[str, Any]:
        """``{"shape": "sines", ...}``."""
        return {
            "shape": "sines",
            "amplitudes": list(self.amplitudes),
            "frequencies": list(self.frequencies),
            "phases": list(self.phases),
            "offset": self.offset,
        }


@dataclass(frozen=True)
class StepForcing(AbstractForcing):
    """A logistic-smoothed step from ``before`` to ``after``.

    ``λ(t) = before + (after - before) / (1 + exp(-(t - time) / rise_time))``.

    Parameters
    ----------
    before, after : float
        Levels long before and long after the step.
    time : float
        Time of the step's midpoint.
    rise_time : float
        Logistic time constant (> 0); the 10–90% rise takes ``2 ln 9 ≈ 4.4`` rise times.
    """

    before: float = 0.0
    after: float = 1.0
    time: float = 5.0
    rise_time: float = 0.3

    def __post_init__(self) -> None:
        for name in ("before", "after", "time", "rise_time"):
            _finite(name, getattr(self, name))
        if not self.rise_time > 0:
            raise ValueError(f"rise_time must be positive, got {self.rise_time}")

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """λ(t)."""
        z = (np.asarray(t, dtype=np.float64) - self.time) / self.rise_time
        # 0.5 * (1 + tanh(z / 2)) is the logistic function without overflow for large |z|.
        return self.before + (self.after - self.before) * 0.5 * (1.0 + np.tanh(0.5 * z))

    @property
    def timescale(self) -> float:
        """``rise_time``."""
        return self.rise_time

    def describe(self) -> dict[str, Any]:
        """``{"shape": "step", ...}``."""
        return {
            "shape": "step",
            "before": self.before,
            "after": self.after,
            "time": self.time,
            "rise_time": self.rise_time,
        }


@dataclass(frozen=True)
class RandomForcing(AbstractForcing):
    """A smooth random process ``λ(t) = mean + std * g(t)`` on ``[0, t_end]``.

    ``g`` is :func:`mollifier.sim.random_fields.gaussian_random_field` (squared-exponential
    covariance, sample mean 0 and sample std 1 on its knots) drawn on a uniform knot grid with
    spacing at most ``correlation_length / 32`` and interpolated by a cubic spline, so λ is
    smooth and defined for any ``t`` in ``[0, t_end]``.

    Parameters
    ----------
    mean, std : float
        Level and spread of λ; ``std >= 0``.
    correlation_length : float
        Correlation time (> 0).
    t_end : float
        End of the time interval on which λ is defined (> 0).
    seed : int
        Seed of the draw; the forcing is part of the ground truth, not of the simulation noise.
    """

    mean: float = 0.5
    std: float = 1.0
    correlation_length: float = 1.0
    t_end: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("mean", "std", "correlation_length", "t_end"):
            _finite(name, getattr(self, name))
        if self.std < 0:
            raise ValueError(f"std must be >= 0, got {self.std}")
        if not self.correlation_length > 0:
            raise ValueError(f"correlation_length must be positive, got {self.correlation_length}")
        if not self.t_end > 0:
            raise ValueError(f"t_end must be positive, got {self.t_end}")

    @cached_property
    def _spline(self) -> CubicSpline:
        n = max(65, math.ceil(32 * self.t_end / self.correlation_length) + 1)
        tk = np.linspace(0.0, self.t_end, n)
        g = gaussian_random_field([tk], correlation_length=self.correlation_length, seed=self.seed)
        return CubicSpline(tk, self.mean + self.std * g)

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """λ(t); raises ``ValueError`` outside ``[0, t_end]``."""
        tt = np.asarray(t, dtype=np.float64)
        slack = 1e-9 * self.t_end
        if tt.size and (tt.min() < -slack or tt.max() > self.t_end + slack):
            raise ValueError(
                f"RandomForcing is defined on [0, {self.t_end}], asked for "
                f"[{tt.min():.6g}, {tt.max():.6g}]; raise t_end"
            )
        return np.asarray(self._spline(np.clip(tt, 0.0, self.t_end)), dtype=np.float64)

    @property
    def timescale(self) -> float:
        """``correlation_length``."""
        return self.correlation_length

    def describe(self) -> dict[str, Any]:
        """``{"shape": "random", ...}``."""
        return {
            "shape": "random",
            "mean": self.mean,
            "std": self.std,
            "correlation_length": self.correlation_length,
            "t_end": self.t_end,
            "seed": self.seed,
        }


def langevin_mean_ode(
    t: ArrayLike, *, k: float, forcing: AbstractForcing, x0: float = 0.0
) -> np.ndarray:
    """Solve ``u_t = -k u + λ(t)``, ``u(t[0]) = x0`` to near machine precision.

    Uses :func:`scipy.integrate.solve_ivp` (DOP853, ``rtol = atol = 1e-12`` relative to the
    solution's scale, step at most ``forcing.timescale / 4``).

    Parameters
    ----------
    t : array_like
        Increasing output times; ``t[0]`` is the initial time.
    k : float
        Relaxation rate (1 / time); any finite value.
    forcing : AbstractForcing
        λ(t).
    x0 : float
        Initial value.

    Returns
    -------
    ndarray
        ``u(t)``, shape ``t.shape``.

    Examples
    --------
    >>> import numpy as np
    >>> f = SineForcing()
    >>> t = np.linspace(0, 10, 11)
    >>> bool(np.allclose(langevin_mean_ode(t, k=1.0, forcing=f), f.solution(t, k=1.0, x0=0.0),
    ...                  atol=1e-10))
    True
    """
    tt = np.asarray(t, dtype=np.float64)
    if tt.ndim != 1 or tt.size < 2 or np.any(np.diff(tt) <= 0):
        raise ValueError("t must be a strictly increasing 1-D array of >= 2 times")
    span = float(tt[-1] - tt[0])
    response = span if k == 0 else min(span, 1.0 / abs(k))  # time over which λ accumulates
    scale = max(1.0, abs(x0), float(np.abs(forcing(tt)).max()) * response)
    sol = solve_ivp(
        lambda s, u: -k * u + forcing(s),
        (float(tt[0]), float(tt[-1])),
        [float(x0)],
        method="DOP853",
        t_eval=tt,
        rtol=1e-12,
        atol=1e-12 * scale,
        max_step=forcing.timescale / 4,
    )
    if not sol.success:  # pragma: no cover - DOP853 on a linear scalar ODE does not fail
        raise RuntimeError(f"ODE solver failed: {sol.message}")
    return np.asarray(sol.y[0], dtype=np.float64)


#: Most particle steps (Euler steps × particles) :func:`simulate_langevin` takes; the default
#: run has 2·10⁷, which took 0.9 s on a shared 2-core CPU, so the limit is a run of about a
#: minute there. Larger requests are refused up front rather than left running.
MAX_PARTICLE_STEPS = 10**9


def _euler_maruyama(
    *,
    n_times: int,
    substeps: int,
    dt: float,
    forcing: AbstractForcing,
    k: float,
    x0: float,
    sigma: float,
    n_particles: int,
    trajectories: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Step ``n_particles`` copies of ``dx = (λ(t) − k x) dt + σ dW`` from ``x0``, ``substeps``
    Euler–Maruyama steps of ``dt`` per output interval; returns the ensemble mean at the
    ``n_times`` output times, shape ``(n_times,)``, and the first ``trajectories`` paths, shape
    ``(trajectories, n_times)``."""
    lam_steps = forcing(np.arange((n_times - 1) * substeps) * dt)
    x = np.full(n_particles, float(x0))
    mean = np.empty(n_times)
    paths = np.empty((trajectories, n_times))
    mean[0], paths[:, 0] = x.mean(), x[:trajectories]
    amp = sigma * math.sqrt(dt)
    for i in range(1, n_times):
        for j in range((i - 1) * substeps, i * substeps):
            x += (lam_steps[j] - k * x) * dt + amp * rng.standard_normal(n_particles)
        mean[i], paths[:, i] = x.mean(), x[:trajectories]
    return mean, paths


def _check_request(
    *,
    forcing: Any,
    noise: Any,
    n_times: int,
    t_end: float,
    k: float,
    x0: float,
    sigma: float,
    n_particles: int,
    trajectories: int,
    dt_sim: float | None,
) -> tuple[np.ndarray, float, int]:
    """Validate :func:`simulate_langevin`'s arguments and its size; return the output times, the
    Euler–Maruyama step and the number of steps per output interval."""
    if not isinstance(forcing, AbstractForcing):
        raise ValueError(f"forcing must be an AbstractForcing, got {type(forcing).__name__}")
    if not isinstance(noise, AbstractNoise):
        raise ValueError(f"noise must be an AbstractNoise, got {type(noise).__name__}")
    if n_times < 2:
        raise ValueError(f"n_times must be >= 2, got {n_times}")
    if not (math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a positive number, got {t_end}")
    for name, value in (("k", k), ("x0", x0)):
        _finite(name, value)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    if n_particles < 1:
        raise ValueError(f"n_particles must be >= 1, got {n_particles}")
    if not 0 <= trajectories <= n_particles:
        raise ValueError(f"trajectories must lie in [0, n_particles={n_particles}]")
    t = np.linspace(0.0, t_end, n_times)
    spacing = t_end / (n_times - 1)
    if dt_sim is None:
        dt_sim = spacing / 10
    if not (math.isfinite(dt_sim) and 0 < dt_sim <= spacing):
        raise ValueError(f"dt_sim must lie in (0, output spacing {spacing:.6g}], got {dt_sim}")
    substeps = math.ceil(spacing / dt_sim * (1 - 1e-12))
    dt = spacing / substeps
    steps = (n_times - 1) * substeps
    if steps * n_particles > MAX_PARTICLE_STEPS:
        raise ValueError(
            f"{n_times} output times × {substeps} Euler steps each × {n_particles} particles is "
            f"{steps * n_particles:.2g} particle steps, above the {MAX_PARTICLE_STEPS:.0e} this "
            "simulator takes (such a run would take minutes); use fewer output times "
            "(mollifier simulate langevin --grid), fewer particles (--particles) or a larger dt_sim"
        )
    check_memory(
        8 * (steps + (trajectories + 2) * n_times + 3 * n_particles),
        f"simulate_langevin with {n_times} output times and {n_particles} particles",
        hint="use fewer output times or particles",
    )

    return t, dt, substeps


def simulate_langevin(
    *,
    n_times: int = 201,
    t_end: float = 10.0,
    k: float = 1.0,
    sigma: float = 0.5,
    forcing: AbstractForcing | None = None,
    n_particles: int = 10_000,
    x0: float = 0.0,
    dt_sim: float | None = None,
    noise: AbstractNoise | None = None,
    seed: int = 0,
    trajectories: int = 0,
) -> Dataset:
    """Simulate a Langevin ensemble and observe its noisy mean on a uniform time grid.

    Every particle solves ``dX = (-k X + λ(t)) dt + σ dW``, ``X(0) = x0``, by Euler–Maruyama with
    step ``dt_sim``. The observed field is

        u(t_i) = noise(mean over particles of X(t_i)),

    i.e. the Monte-Carlo ensemble mean (which carries Monte-Carlo error of standard deviation
    ``sqrt(Var X(t) / n_particles)`` and an O(dt_sim) Euler bias) with the measurement-noise model
    applied on top. ``u_clean`` is the exact solution of ``u_t = -k u + λ(t)``, ``u(0) = x0``.

    Parameters
    ----------
    n_times : int
        Number of output times, ``t = linspace(0, t_end, n_times)``; >= 2.
    t_end : float
        Final time (> 0). Time is in the units in which ``k`` is a rate.
    k : float
        Relaxation rate of the drift (finite; positive for a stable ensemble).
    sigma : float
        Diffusion amplitude σ >= 0; it does not enter the mean's equation.
    forcing : AbstractForcing, optional
        The ground truth λ(t); defaults to ``SineForcing()``.
    n_particles : int
        Ensemble size (>= 1).
    x0 : float
        Initial position of every particle.
    dt_sim : float, optional
        Requested Euler–Maruyama step; defaults to a tenth of the output spacing. The step used is
        the output spacing divided by ``ceil(spacing / dt_sim)`` so that output times fall on
        steps; it is recorded as ``params["dt_sim"]``.
    noise : AbstractNoise, optional
        Measurement-noise model applied to the ensemble mean; defaults to ``GaussianNoise(0.01)``.
    seed : int
        Seed for the particles and the measurement noise (independent streams).
    trajectories : int
        Number of single particle paths to keep (the first particles of the ensemble, without
        measurement noise), stored as known arrays ``path_0``, ``path_1``, ... over ``t``.

    Returns
    -------
    Dataset
        ``equation="langevin"``, axis ``t``; field ``u`` (noisy) with ``u_clean`` (exact ODE);
        truth ``lam`` over ``("t",)``; known ``k`` (and the paths). ``params`` records ``k``,
        ``sigma``, ``x0``, ``n_particles``, ``dt_sim``, ``substeps`` and the forcing.

    Examples
    --------
    >>> ds = simulate_langevin(n_times=51, n_particles=2000, seed=1)
    >>> ds.fields["u"].shape, sorted(ds.arrays())
    ((51,), ['k', 'lam', 't', 'u', 'u_clean'])
    """
    forcing = SineForcing() if forcing is None else forcing
    noise = GaussianNoise(0.01) if noise is None else noise
    t, dt, substeps = _check_request(
        forcing=forcing,
        noise=noise,
        n_times=n_times,
        t_end=t_end,
        k=k,
        x0=x0,
        sigma=sigma,
        n_particles=n_particles,
        trajectories=trajectories,
        dt_sim=dt_sim,
    )
    particle_seed, noise_seed = np.random.SeedSequence(seed).spawn(2)
    mean, paths = _euler_maruyama(
        n_times=n_times,
        substeps=substeps,
        dt=dt,
        forcing=forcing,
        k=k,
        x0=x0,
        sigma=sigma,
        n_particles=n_particles,
        trajectories=trajectories,
        rng=np.random.default_rng(particle_seed),
    )

    u_clean = langevin_mean_ode(t, k=k, forcing=forcing, x0=x0)
    u = noise.apply(mean, np.random.default_rng(noise_seed))
    known: dict[str, Any] = {"k": float(k)}
    known.update({f"path_{i}": paths[i] for i in range(trajectories)})
    return Dataset(
        equation="langevin",
        coords={"t": t},
        fields={"u": u},
        clean={"u": u_clean},
        known=known,
        truth={"lam": forcing(t)},
        truth_axes={"lam": ("t",)},
        noise=noise.describe(),
        seed=seed,
        params={
            "k": float(k),
            "sigma": float(sigma),
            "x0": float(x0),
            "t_end": float(t_end),
            "n_times": int(n_times),
            "n_particles": int(n_particles),
            "dt_sim": dt,
            "substeps": substeps,
            "scheme": "euler-maruyama",
            "observable": "ensemble mean, then measurement noise",
            "trajectories": int(trajectories),
            "forcing": forcing.describe(),
        },
    )
