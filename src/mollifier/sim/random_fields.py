"""Smooth Gaussian and lognormal random fields on uniform grids (ground-truth parameters)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

__all__ = ["LognormalLambda", "gaussian_random_field", "lognormal_field"]


def gaussian_random_field(
    coords: Sequence[np.ndarray],
    *,
    correlation_length: float,
    seed: int | np.random.Generator | None,
    periodic: bool = False,
) -> np.ndarray:
    """A smooth, zero-mean, unit-variance Gaussian random field.

    The field has the squared-exponential covariance
    ``C(r) = exp(-r**2 / (2 * correlation_length**2))`` (up to the finite-domain normalisation),
    obtained by filtering white noise with a Gaussian in Fourier space. Non-periodic fields are
    drawn on a domain padded by ``4 * correlation_length`` on every side and cropped, so they carry
    no wrap-around correlation.

    Parameters
    ----------
    coords : sequence of 1-D arrays
        Uniform coordinate vectors, one per axis, in physical units.
    correlation_length : float
        Correlation length, in the coordinates' units. Must be positive.
    seed : int, Generator or None
        Seed or generator; the same seed gives the same field.
    periodic : bool
        Draw a field that is periodic on the grid (period ``n * spacing`` per axis).

    Returns
    -------
    ndarray
        Array of shape ``tuple(len(c) for c in coords)``, sample mean 0 and sample std 1.
    """
    if not correlation_length > 0:
        raise ValueError(f"correlation_length must be positive, got {correlation_length}")
    rng = np.random.default_rng(seed)
    shape, spacing = [], []
    for c in coords:
        c = np.asarray(c, dtype=float)
        if c.ndim != 1 or c.size < 2:
            raise ValueError("each coordinate vector must be 1-D with at least 2 points")
        shape.append(c.size)
        spacing.append((c[-1] - c[0]) / (c.size - 1))
    pad = [0 if periodic else int(np.ceil(4 * correlation_length / h)) for h in spacing]
    full = [n + 2 * p for n, p in zip(shape, pad, strict=True)]
    noise = rng.standard_normal(full)
    freqs = np.meshgrid(
        *[2 * np.pi * sfft.fftfreq(n, d=h) for n, h in zip(full, spacing, strict=True)],
        indexing="ij",
    )
    k2 = sum(f**2 for f in freqs)
    filt = np.exp(-0.25 * k2 * correlation_length**2)
    field = sfft.ifftn(sfft.fftn(noise) * filt).real
    field = field[tuple(slice(p, p + n) for p, n in zip(pad, shape, strict=True))]
    field = field - field.mean()
    std = field.std()
    if std == 0:
        raise ValueError("correlation_length is so large that the field is constant on the grid")
    return field / std


def lognormal_field(
    coords: Sequence[np.ndarray],
    *,
    median: float,
    sigma: float,
    correlation_length: float,
    seed: int | np.random.Generator | None,
    periodic: bool = False,
) -> np.ndarray:
    """A smooth, positive lognormal random field ``median * exp(sigma * g)``.

    ``g`` is :func:`gaussian_random_field` (unit variance), so ``log(field)`` has standard deviation
    ``sigma`` and the field's median over the grid is close to ``median``.

    Parameters
    ----------
    coords, correlation_length, seed, periodic
        As in :func:`gaussian_random_field`.
    median : float
        Median of the field; must be positive.
    sigma : float
        Standard deviation of ``log(field)``; must be non-negative.
    """
    if not median > 0:
        raise ValueError(f"median must be positive, got {median}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    g = gaussian_random_field(
        coords, correlation_length=correlation_length, seed=seed, periodic=periodic
    )
    return median * np.exp(sigma * g)


@dataclass(frozen=True)
class LognormalLambda:
    """A smooth lognormal ground-truth rate ratio ``λ = median · exp(sigma · G)``.

    ``G`` is a unit-variance Gaussian random field with squared-exponential covariance of the
    given ``correlation_length`` (:func:`lognormal_field`), periodic on periodic grids. The
    simulators that take it (:func:`~mollifier.sim.simulate_chromatin`,
    :func:`~mollifier.sim.simulate_heat`) draw it from their seed; ``sigma = 0`` gives the
    constant ``median``.

    Examples
    --------
    >>> x = np.linspace(0.0, 1.0, 9)
    >>> lam = LognormalLambda(median=2.0, sigma=0.0).sample(x, x, rng=np.random.default_rng(0))
    >>> lam.shape, float(lam.min()), float(lam.max())
    ((9, 9), 2.0, 2.0)
    """

    median: float = 0.5
    sigma: float = 0.2
    correlation_length: float = 1.0

    def __post_init__(self) -> None:
        for name, zero_ok in (("median", False), ("sigma", True), ("correlation_length", False)):
            value = getattr(self, name)
            if not (math.isfinite(value) and (value >= 0 if zero_ok else value > 0)):
                bound = ">= 0" if zero_ok else "> 0"
                raise ValueError(f"{name} must be a finite number {bound}, got {value}")

    def sample(
        self, *coords: np.ndarray, rng: np.random.Generator, periodic: bool = False
    ) -> np.ndarray:
        """The field on the grid the coordinate vectors span (``x[:, None], y[None, :]`` in
        2-D, any number of axes), drawn from ``rng``."""
        return lognormal_field(
            list(coords),
            median=self.median,
            sigma=self.sigma,
            correlation_length=self.correlation_length,
            seed=rng,
            periodic=periodic,
        )
