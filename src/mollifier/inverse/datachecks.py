"""Checks on an inverse problem's inputs: arguments of the right kinds and names, unknowns on the
grid's axes, and data that can support an answer (a constant field determines nothing, a field
that is mostly white noise determines nothing meaningful).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mollifier.grid import Grid
from mollifier.inverse.noise import NOISE_ORDER, estimate_noise
from mollifier.inverse.unknowns import Constant, Field

__all__ = [
    "NOISE_DOMINATED",
    "check_arguments",
    "check_unknowns",
    "constant_fields",
    "noise_fraction",
]

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


def check_arguments(
    grid: Any,
    residual: Any,
    *,
    data: Any,
    unknowns: Any,
    known: Any,
    truth: Any,
) -> None:
    """Refuse a non-Grid ``grid``, a residual that is not callable, and argument mappings that are
    not dicts keyed by Python identifiers (``TypeError`` naming the argument)."""
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a mollifier.Grid, got {type(grid).__name__}")
    if not callable(residual):
        raise TypeError(
            f"residual must be a callable residual(f, d, p), got {type(residual).__name__}"
        )
    for arg, value, example in (
        ("data", data, "{'u': u}, observed fields by name"),
        ("unknowns", unknowns, "{'nu': ml.Constant()}"),
        ("known", known, "{'m': m}, known inputs by name"),
        ("truth", truth, "{'nu': 0.1}"),
    ):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{arg} must be a dict such as {example}, got {type(value).__name__}")
        bad = [k for k in (value or {}) if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise TypeError(f"{arg} keys must be names usable as f.<name> / p.<name>, got {bad!r}")


def check_unknowns(unknowns: Mapping[str, Any], grid: Grid) -> None:
    """Refuse an unknown that is not a Constant or Field, or a Field whose axes are not grid axes
    in grid order."""
    for name, u in unknowns.items():
        if not isinstance(u, (Constant, Field)):
            raise TypeError(f"unknown {name!r} must be a Constant or a Field, got {u!r}")
        if isinstance(u, Field):
            missing = [a for a in u.axes if a not in grid.axes]
            if missing:
                raise ValueError(
                    f"field {name!r} varies along {missing}, which are not grid axes {grid.axes}"
                )
            order = [grid.axes.index(a) for a in u.axes]
            if order != sorted(order):
                raise ValueError(f"field {name!r}: axes {u.axes} must follow grid order")
