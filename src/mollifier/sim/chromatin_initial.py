"""Initial conditions of the chromatin model: heterochromatin nuclei or smooth noise on the
homogeneous reaction equilibrium, or given arrays (:func:`~mollifier.sim.simulate_chromatin`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mollifier.sim._chromatin_model import check_positive, domain_mean, poisson_disk_sites
from mollifier.sim.random_fields import gaussian_random_field

__all__ = ["InitialNoise", "InitialNuclei", "initial_fields"]


@dataclass(frozen=True)
class InitialNuclei:
    """Initial heterochromatin nuclei at random sites on the homogeneous reaction equilibrium.

    Sites are drawn by dart throwing (Poisson-disk sampling, 30 darts per ``spacing²`` of area)
    with no two closer than ``spacing``; each raises ``φ_h`` by
    ``amplitude · exp(-r²/(2 radius²))`` at euchromatin fixed, taking the volume from the
    nucleoplasm. The sites are continuous coordinates, so the same seed gives the same initial
    condition on every grid.
    """

    spacing: float = 0.9
    radius: float = 0.15
    amplitude: float = 0.5

    def __post_init__(self) -> None:
        check_positive("spacing", self.spacing)
        check_positive("radius", self.radius)
        check_positive("amplitude", self.amplitude, allow_zero=True)


@dataclass(frozen=True)
class InitialNoise:
    """Homogeneous reaction equilibrium plus smooth Gaussian noise of std ``amplitude``.

    Independent unit-variance Gaussian random fields with the given ``correlation_length`` are
    added to ``φ_w`` and ``φ_d``. At the reference λ = 0.5 the homogeneous state is linearly
    stable, so small noise decays; domains need amplitudes of about 0.1 or more.
    """

    amplitude: float = 0.1
    correlation_length: float = 0.1

    def __post_init__(self) -> None:
        check_positive("amplitude", self.amplitude, allow_zero=True)
        check_positive("correlation_length", self.correlation_length)


def _initial_state(
    initial: InitialNuclei | InitialNoise,
    x: np.ndarray,
    y: np.ndarray,
    lam: float | np.ndarray,
    phi_w_mean: float,
    length: float,
    periodic: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    shape = (x.size, y.size)
    phi_e = np.broadcast_to((1.0 - phi_w_mean) / (1.0 + np.asarray(lam)), shape).copy()
    phi_h = np.asarray(lam) * phi_e
    desc: dict[str, Any] = asdict(initial)
    if isinstance(initial, InitialNuclei):
        sites = poisson_disk_sites(rng, length, initial.spacing, periodic)
        bump = np.zeros(shape)
        for sx, sy in sites:
            dx, dy = x[:, None] - sx, y[None, :] - sy
            if periodic:
                dx = (dx + 0.5 * length) % length - 0.5 * length
                dy = (dy + 0.5 * length) % length - 0.5 * length
            np.maximum(bump, np.exp(-(dx**2 + dy**2) / (2 * initial.radius**2)), out=bump)
        phi_h = phi_h + initial.amplitude * bump
        w = 1.0 - phi_h - phi_e
        d = phi_h - phi_e
        desc = {"kind": "nuclei", "sites": len(sites), **desc}
    else:
        noise = [
            gaussian_random_field(
                [x, y], correlation_length=initial.correlation_length, seed=rng, periodic=periodic
            )
            for _ in range(2)
        ]
        w = phi_w_mean + initial.amplitude * noise[0]
        d = phi_h - phi_e + initial.amplitude * noise[1]
        desc = {"kind": "noise", **desc}
    return w + (phi_w_mean - domain_mean(w, periodic)), np.asarray(d, dtype=float), desc


def initial_fields(
    initial: InitialNuclei | InitialNoise | tuple[np.ndarray, np.ndarray] | None,
    phi_w_mean: float | None,
    x: np.ndarray,
    lam_field: float | np.ndarray,
    length: float,
    periodic: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(φ_w, φ_d)`` at ``t = 0`` on the square grid ``x × x``, and their description."""
    n = x.size
    if isinstance(initial, tuple):
        if phi_w_mean is not None:
            raise ValueError("phi_w_mean applies to generated initial conditions, not to arrays")
        if len(initial) != 2:
            raise ValueError("initial arrays must be a pair (phi_w, phi_d)")
        w0, d0 = (np.array(a, dtype=float) for a in initial)
        for name, arr in (("phi_w", w0), ("phi_d", d0)):
            if arr.shape != (n, n) or not np.all(np.isfinite(arr)):
                raise ValueError(f"initial {name} must be a finite array of shape {(n, n)}")
        return w0, d0, {"kind": "arrays"}
    initial = InitialNuclei() if initial is None else initial
    if not isinstance(initial, InitialNuclei | InitialNoise):
        raise ValueError(
            "initial must be InitialNuclei, InitialNoise or a (phi_w, phi_d) pair, "
            f"got {type(initial).__name__}"
        )
    mean = 0.5 if phi_w_mean is None else float(phi_w_mean)
    if not 0 < mean < 1:
        raise ValueError(f"phi_w_mean must lie in (0, 1), got {mean}")
    return _initial_state(initial, x, x, lam_field, mean, length, periodic, rng)
