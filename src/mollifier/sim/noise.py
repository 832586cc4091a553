"""Measurement-noise models and sparse observation patterns for simulated data.

A noise model maps a clean field to a noisy observation, ``noisy = model.apply(clean, rng)``; all
randomness comes from the :class:`numpy.random.Generator` passed in, so the same seed gives the same
draw. Each model describes itself as a JSON-able dict (``describe``) that :func:`noise_from_dict`
turns back into an equal model, which is how datasets record their noise in ``meta.json``.

Observation masks are boolean arrays shaped like the grid with ``True`` = observed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "AbstractNoise",
    "GaussianNoise",
    "NoNoise",
    "OutlierNoise",
    "PoissonNoise",
    "block_mask",
    "gap_mask",
    "noise_from_dict",
    "random_mask",
    "strided_mask",
]


def _clean_array(clean: Any) -> np.ndarray:
    arr = np.asarray(clean, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("cannot add noise to an empty field")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the clean field contains NaN or inf")
    return arr


def _field_std(arr: np.ndarray, model: str) -> float:
    std = float(arr.std())
    if std == 0.0:
        raise ValueError(
            f"{model} noise is relative to the field's standard deviation, which is 0 for a "
            "constant field; use NoNoise or a non-constant field"
        )
    return std


class AbstractNoise(ABC):
    """A measurement-noise model: a seeded map from a clean field to a noisy one."""

    @abstractmethod
    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a noisy copy of ``clean`` (same shape, float64), drawing only from ``rng``."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-able description; ``noise_from_dict(self.describe()) == self``."""


@dataclass(frozen=True)
class NoNoise(AbstractNoise):
    """The identity: observations equal the clean field.

    Examples
    --------
    >>> import numpy as np
    >>> NoNoise().apply(np.arange(3.0), np.random.default_rng(0)).tolist()
    [0.0, 1.0, 2.0]
    """

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a float64 copy of ``clean``."""
        return _clean_array(clean).copy()

    def describe(self) -> dict[str, Any]:
        """``{"model": "none"}``."""
        return {"model": "none"}


@dataclass(frozen=True)
class GaussianNoise(AbstractNoise):
    """Additive white Gaussian noise relative to the field's standard deviation.

    ``noisy = clean + level * std(clean) * xi`` with ``xi`` i.i.d. standard normal and ``std`` the
    (population) standard deviation over the *whole* field, all axes together. "1% noise" means
    ``level=0.01``.

    Parameters
    ----------
    level : float
        Noise standard deviation as a fraction of ``std(clean)``; must be >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.sin(np.linspace(0, 20, 200_000))
    >>> noisy = GaussianNoise(0.01).apply(clean, np.random.default_rng(0))
    >>> bool(abs((noisy - clean).std() / (0.01 * clean.std()) - 1) < 0.01)
    True
    """

    level: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.level) and self.level >= 0):
            raise ValueError(f"GaussianNoise level must be a finite number >= 0, got {self.level}")

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add ``level * std(clean)`` white Gaussian noise."""
        arr = _clean_array(clean)
        if self.level == 0:
            return arr.copy()
        return arr + self.level * _field_std(arr, "Gaussian") * rng.standard_normal(arr.shape)

    def describe(self) -> dict[str, Any]:
        """``{"model": "gaussian", "level": level, "relative_to": "std"}``."""
        return {"model": "gaussian", "level": float(self.level), "relative_to": "std"}


@dataclass(frozen=True)
class PoissonNoise(AbstractNoise):
    """Shot noise: the field counts photons or molecules, its maximum being ``counts`` events.

    ``noisy = Poisson(clean * s) / s`` with ``s = counts / max(clean)``. The observation is
    unbiased, ``E[noisy] = clean``, with variance ``clean * max(clean) / counts``, so the relative
    noise at the brightest node is ``1 / sqrt(counts)``. An all-zero field stays zero.

    Parameters
    ----------
    counts : float
        Expected number of events at the field's maximum; must be > 0.

    Raises
    ------
    ValueError
        From :meth:`apply` if the field has negative values.
    """

    counts: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.counts) and self.counts > 0):
            raise ValueError(f"PoissonNoise counts must be a finite number > 0, got {self.counts}")

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw Poisson counts with mean ``clean * counts / max(clean)`` and scale back."""
        arr = _clean_array(clean)
        if np.any(arr < 0):
            raise ValueError(
                f"Poisson noise needs a non-negative field, but its minimum is {arr.min():.6g}"
            )
        peak = float(arr.max())
        if peak == 0:
            return arr.copy()
        scale = self.counts / peak
        return rng.poisson(arr * scale).astype(np.float64) / scale

    def describe(self) -> dict[str, Any]:
        """``{"model": "poisson", "counts": counts, "relative_to": "max"}``."""
        return {"model": "poisson", "counts": float(self.counts), "relative_to": "max"}


@dataclass(frozen=True)
class OutlierNoise(AbstractNoise):
    """Gross outliers at a seeded fraction of nodes, optionally on top of a base noise model.

    First ``base`` is applied (if given). Then exactly ``round(fraction * clean.size)`` distinct
    nodes, chosen uniformly without replacement, are shifted by
    ``scale * std(clean) * s * v`` with a random sign ``s = ±1`` and ``v ~ Uniform(0.5, 1.5)``, so
    each outlier is off by between ``0.5`` and ``1.5`` times ``scale`` standard deviations.

    Parameters
    ----------
    fraction : float
        Fraction of nodes that are outliers, in ``[0, 1]``.
    scale : float
        Typical outlier offset in units of ``std(clean)``; must be >= 0.
    base : AbstractNoise or None
        Noise applied to every node before the outliers.
    """

    fraction: float
    scale: float
    base: AbstractNoise | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fraction) and 0 <= self.fraction <= 1):
            raise ValueError(f"OutlierNoise fraction must lie in [0, 1], got {self.fraction}")
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"OutlierNoise scale must be a finite number >= 0, got {self.scale}")
        if self.base is not None and not isinstance(self.base, AbstractNoise):
            raise ValueError(f"OutlierNoise base must be a noise model, got {type(self.base)}")

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply ``base``, then shift the outlier nodes."""
        arr = _clean_array(clean)
        out = arr.copy() if self.base is None else self.base.apply(arr, rng)
        n_out = round(self.fraction * arr.size)
        if n_out == 0 or self.scale == 0:
            return out
        std = _field_std(arr, "outlier")
        flat = out.reshape(-1)
        idx = rng.choice(arr.size, size=n_out, replace=False)
        sign = rng.choice(np.array([-1.0, 1.0]), size=n_out)
        flat[idx] += self.scale * std * sign * rng.uniform(0.5, 1.5, size=n_out)
        return flat.reshape(arr.shape)

    def describe(self) -> dict[str, Any]:
        """``{"model": "outlier", "fraction", "scale", "relative_to": "std", "base"}``."""
        return {
            "model": "outlier",
            "fraction": float(self.fraction),
            "scale": float(self.scale),
            "relative_to": "std",
            "base": None if self.base is None else self.base.describe(),
        }


_KEYS: dict[str, set[str]] = {
    "none": set(),
    "gaussian": {"level", "relative_to"},
    "poisson": {"counts", "relative_to"},
    "outlier": {"fraction", "scale", "relative_to", "base"},
}
_RELATIVE_TO = {"gaussian": "std", "poisson": "max", "outlier": "std"}


def noise_from_dict(d: Mapping[str, Any]) -> AbstractNoise:
    """Rebuild a noise model from its :meth:`AbstractNoise.describe` dict.

    Raises
    ------
    ValueError
        For an unknown model name, unknown or missing keys, or a ``relative_to`` other than the
        model's own.

    Examples
    --------
    >>> noise_from_dict(GaussianNoise(0.05).describe()) == GaussianNoise(0.05)
    True
    """
    if not isinstance(d, Mapping) or "model" not in d:
        raise ValueError(f"a noise description must be a mapping with a 'model' key, got {d!r}")
    model = d["model"]
    if model not in _KEYS:
        raise ValueError(f"unknown noise model {model!r}; known: {sorted(_KEYS)}")
    keys = set(d) - {"model"}
    unknown = keys - _KEYS[model]
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} for noise model {model!r}")
    if "relative_to" in d and d["relative_to"] != _RELATIVE_TO[model]:
        raise ValueError(
            f"noise model {model!r} is relative to {_RELATIVE_TO[model]!r}, "
            f"not {d['relative_to']!r}"
        )
    required = {"gaussian": ["level"], "poisson": ["counts"], "outlier": ["fraction", "scale"]}
    missing = [k for k in required.get(model, []) if k not in d]
    if missing:
        raise ValueError(f"noise model {model!r} is missing keys {missing}")
    if model == "none":
        return NoNoise()
    if model == "gaussian":
        return GaussianNoise(float(d["level"]))
    if model == "poisson":
        return PoissonNoise(float(d["counts"]))
    base = d.get("base")
    return OutlierNoise(
        float(d["fraction"]),
        float(d["scale"]),
        base=None if base is None else noise_from_dict(base),
    )


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(s) for s in shape)
    if not out or any(s < 1 for s in out):
        raise ValueError(f"shape must be a non-empty sequence of positive sizes, got {shape}")
    return out


def _per_axis(name: str, value: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    if isinstance(value, int | np.integer):
        vals: tuple[int, ...] = (int(value),) * ndim
    else:
        vals = tuple(int(v) for v in value)
    if len(vals) != ndim:
        raise ValueError(f"{name} needs one entry per axis ({ndim}), got {value}")
    return vals


def random_mask(shape: Sequence[int], *, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Observe a random subset of exactly ``round(fraction * size)`` nodes.

    Parameters
    ----------
    shape : sequence of int
        Grid shape.
    fraction : float
        Observed fraction, in ``[0, 1]``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of bool
        ``True`` = observed.

    Examples
    --------
    >>> import numpy as np
    >>> int(random_mask((10, 10), fraction=0.3, rng=np.random.default_rng(1)).sum())
    30
    """
    shp = _shape(shape)
    if not (math.isfinite(fraction) and 0 <= fraction <= 1):
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    size = math.prod(shp)
    mask = np.zeros(size, dtype=bool)
    mask[rng.choice(size, size=round(fraction * size), replace=False)] = True
    return mask.reshape(shp)


def strided_mask(shape: Sequence[int], *, stride: int | Sequence[int]) -> np.ndarray:
    """Observe every ``stride``-th node along each axis, starting at index 0.

    Parameters
    ----------
    shape : sequence of int
        Grid shape.
    stride : int or sequence of int
        Positive stride, one for all axes or one per axis.

    Returns
    -------
    ndarray of bool
        ``True`` at nodes whose every index is a multiple of its axis's stride.

    Examples
    --------
    >>> strided_mask((5,), stride=2).tolist()
    [True, False, True, False, True]
    """
    shp = _shape(shape)
    strides = _per_axis("stride", stride, len(shp))
    if any(s < 1 for s in strides):
        raise ValueError(f"stride must be a positive integer, got {stride}")
    mask = np.zeros(shp, dtype=bool)
    mask[tuple(slice(None, None, s) for s in strides)] = True
    return mask


def block_mask(
    shape: Sequence[int],
    *,
    size: int | Sequence[int],
    start: Sequence[int] | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Observe everything except one missing rectangular patch.

    Parameters
    ----------
    shape : sequence of int
        Grid shape.
    size : int or sequence of int
        Patch extent in nodes, per axis (or one for all axes); each in ``[1, shape[a]]``.
    start : sequence of int, optional
        Index of the patch's first node per axis. Give exactly one of ``start`` and ``rng``.
    rng : numpy.random.Generator, optional
        Place the patch uniformly at random among all positions that fit in the grid.

    Returns
    -------
    ndarray of bool
        ``False`` on the patch ``[start, start + size)``, ``True`` elsewhere.

    Examples
    --------
    >>> block_mask((6,), size=2, start=(1,)).tolist()
    [True, False, False, True, True, True]
    """
    shp = _shape(shape)
    sizes = _per_axis("size", size, len(shp))
    if any(not 1 <= s <= n for s, n in zip(sizes, shp, strict=True)):
        raise ValueError(f"block size {sizes} must be between 1 and the grid shape {shp}")
    if (start is None) == (rng is None):
        raise ValueError("give exactly one of start (a fixed patch) and rng (a random patch)")
    if start is None:
        assert rng is not None
        first = tuple(int(rng.integers(0, n - s + 1)) for s, n in zip(sizes, shp, strict=True))
    else:
        first = _per_axis("start", start, len(shp))
        if any(not 0 <= f <= n - s for f, s, n in zip(first, sizes, shp, strict=True)):
            raise ValueError(f"block at start {first} with size {sizes} does not fit in {shp}")
    mask = np.ones(shp, dtype=bool)
    mask[tuple(slice(f, f + s) for f, s in zip(first, sizes, strict=True))] = False
    return mask


def gap_mask(
    shape: Sequence[int],
    *,
    missing: float,
    size: int | Sequence[int],
    rng: np.random.Generator,
) -> np.ndarray:
    """Data with gaps: random rectangular patches (:func:`block_mask`, possibly overlapping)
    removed one after another until at least a fraction ``missing`` of the nodes is gone.

    Parameters
    ----------
    shape : sequence of int
        Grid shape.
    missing : float
        Fraction of nodes to remove, in ``(0, 1)``; the result removes at least this many and
        at most one patch more.
    size : int or sequence of int
        Patch extent in nodes, per axis (or one for all axes).
    rng : numpy.random.Generator
        Places the patches.

    Returns
    -------
    ndarray of bool
        ``True`` at observed nodes.

    Examples
    --------
    >>> m = gap_mask((48, 48), missing=0.5, size=12, rng=np.random.default_rng(0))
    >>> bool(0.5 <= 1 - m.mean() < 0.5 + 144 / 48**2)
    True
    """
    if not 0 < missing < 1:
        raise ValueError(f"missing must be a fraction in (0, 1), got {missing}")
    mask = np.ones(_shape(shape), dtype=bool)
    while 1 - mask.mean() < missing:
        mask &= block_mask(shape, size=size, rng=rng)
    return mask
