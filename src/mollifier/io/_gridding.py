"""Snap scattered node tables (X, Y, value rows in any order) onto a uniform grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mollifier.grid import Grid, GridError

__all__ = ["FileFormatError", "grid_scattered"]


class FileFormatError(ValueError):
    """A file that cannot be read as the format it claims to be. The message names the file."""


def _axis_levels(values: np.ndarray, *, name: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct levels of one coordinate column, tolerant to round-off, and each row's index."""
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    span = float(sorted_vals[-1] - sorted_vals[0])
    if span == 0:
        raise FileFormatError(f"{source}: column {name!r} is constant; it cannot be a grid axis")
    steps = np.diff(sorted_vals)
    # A new level starts where the sorted values jump by more than round-off.
    tol = 1e-6 * span
    new_level = np.concatenate([[True], steps > tol])
    level_of_sorted = np.cumsum(new_level) - 1
    idx = np.empty_like(level_of_sorted)
    idx[order] = level_of_sorted
    n = int(level_of_sorted[-1]) + 1
    # Each level is its smallest member plus the mean offset from it, so that a level whose
    # members are all equal comes back bit for bit.
    first = sorted_vals[np.flatnonzero(new_level)]
    offsets = values - first[idx]
    levels = first + np.bincount(idx, weights=offsets, minlength=n) / np.bincount(idx, minlength=n)
    if n < 2:
        raise FileFormatError(f"{source}: column {name!r} has a single distinct value")
    # Snap to the ideal uniform levels; Grid validates uniformity and reports the offending step.
    try:
        Grid(**{name if len(name) == 1 else "a": levels})
    except GridError as exc:
        raise FileFormatError(f"{source}: {exc}") from exc
    uniform = np.linspace(levels[0], levels[-1], n)
    return uniform, idx


def grid_scattered(
    columns: Sequence[np.ndarray],
    values: np.ndarray,
    *,
    names: Sequence[str],
    source: str,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Place scattered ``(coordinates, value)`` rows on the tensor grid they sample.

    Parameters
    ----------
    columns : sequence of 1-D arrays
        One coordinate column per axis, all of length ``N`` (rows may come in any order and
        carry round-off such as ``0.0499999999999397``).
    values : ndarray, shape (N,) or (N, m)
        Value(s) at each node.
    names : sequence of str
        Axis names, one per column.
    source : str
        File name used in error messages.

    Returns
    -------
    coords : dict
        Axis name to its uniform coordinate vector (snapped to exact ``linspace`` values).
    grid_values : ndarray
        ``values`` arranged as ``[axis0, axis1, ...]`` (plus a trailing dimension of size ``m``).

    Raises
    ------
    FileFormatError
        If the nodes do not fill a uniform tensor grid exactly once (missing or duplicate nodes,
        non-uniform levels, NaN coordinates).
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in columns]
    vals = np.asarray(values, dtype=float)
    n_rows = vals.shape[0]
    if any(c.size != n_rows for c in cols):
        raise FileFormatError(f"{source}: coordinate and value columns have different lengths")
    for name, c in zip(names, cols, strict=True):
        if not np.all(np.isfinite(c)):
            raise FileFormatError(f"{source}: column {name!r} contains NaN or inf coordinates")
    coords: dict[str, np.ndarray] = {}
    indices = []
    for name, c in zip(names, cols, strict=True):
        levels, idx = _axis_levels(c, name=name, source=source)
        coords[name] = levels
        indices.append(idx)
    shape = tuple(v.size for v in coords.values())
    flat = np.ravel_multi_index(tuple(indices), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape)))
    if np.any(counts > 1):
        raise FileFormatError(
            f"{source}: {int(np.sum(counts > 1))} grid nodes appear more than once"
        )
    if np.any(counts == 0):
        raise FileFormatError(
            f"{source}: {int(np.sum(counts == 0))} of {counts.size} nodes of the {shape} grid "
            "are missing; the file does not sample a full tensor grid"
        )
    out = np.empty((int(np.prod(shape)), *vals.shape[1:]), dtype=float)
    out[flat] = vals
    return coords, out.reshape(shape + vals.shape[1:])
