"""Checks on observed data that decide whether they can support an answer: a constant field
determines nothing, a field that is mostly white noise determines nothing meaningful.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mollifier.inverse.noise import NOISE_ORDER, estimate_noise

__all__ = ["NOISE_DOMINATED", "constant_fields", "noise_fraction"]

#: A data field whose estimated white-noise variance (:func:`noise_fraction`) is more than this
#: fraction of its total variance is mostly noise: results fitted to it are marked unreliable.
NOISE_DOMINATED = 0.5


def constant_fields(data: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose observed (finite) values are all equal, e.g. all zero: their
    derivatives vanish, so they cannot determine any unknown.

    Examples
    --------
    >>> constant_fields({"u": np.zeros(5), "v": np.arange(5.0)})
    ['u']
    """
    out = []
    for name, values in data.items():
        arr = np.asarray(values, dtype=float)
        seen = arr[np.isfinite(arr)]
        if seen.size and np.all(seen == seen[0]):
            out.append(name)
    return out


def noise_fraction(values: np.ndarray) -> float:
    """Estimated fraction of a gridded field's variance that is white noise, 0 to 1.

    ``σ̂² / var(u)`` with ``σ̂`` from :func:`~mollifier.inverse.noise.estimate_noise` (robust
    scale of tensor-product differences, the order lowered to fit a short grid). NaN (unobserved)
    values are skipped; ``nan`` when no axis has 6 points or the field is constant.

    Examples
    --------
    >>> x = np.linspace(0, 1, 200)
    >>> smooth = np.sin(2 * np.pi * x)
    >>> noise_fraction(smooth) < 1e-3
    True
    >>> noise_fraction(np.random.default_rng(0).standard_normal(200)) > 0.8
    True
    """
    u = np.asarray(values, dtype=float)
    total = float(np.nanvar(u)) if np.isfinite(u).any() else 0.0
    if not total > 0 or max(u.shape, default=0) < 6:
        return float("nan")
    order = min(NOISE_ORDER, (max(u.shape) - 2) // 2)
    sigma = estimate_noise(u, order=order)
    if not np.isfinite(sigma):
        return float("nan")
    return min(1.0, sigma**2 / total)
