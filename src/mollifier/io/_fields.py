"""The result every reader returns, and the checks that make it trustworthy.

A reader hands back coordinates and fields that the rest of the library can use without further
checks: every coordinate vector is 1-D, finite, strictly increasing and uniform (as
:class:`mollifier.grid.Grid` demands), and every field is a real ``float64`` array whose shape is
the grid's, indexed in axis order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mollifier.grid import Grid, GridError
from mollifier.io._gridding import FileFormatError

__all__ = ["GriddedFields", "check_axis_names", "existing_file", "finish", "real_array"]

#: Default tolerance on ``max|imag| / max|value|`` below which a complex array is taken as real.
IMAG_RTOL = 1e-6


class GriddedFields(NamedTuple):
    """Gridded data read from a file: ``coords, fields = read_...(path)``.

    Attributes
    ----------
    coords : dict of str to ndarray
        Axis name to its 1-D, uniform, strictly increasing ``float64`` coordinate vector, in grid
        order.
    fields : dict of str to ndarray
        Field name to a ``float64`` array of shape ``tuple(len(c) for c in coords.values())``,
        indexed in axis order (``[x, y]``, ``[x, t]``, ``[t, x, y]``, ...).
    """

    coords: dict[str, np.ndarray]
    fields: dict[str, np.ndarray]


def check_axis_names(axes: Sequence[str], *, what: str = "coords") -> tuple[str, ...]:
    """Validate caller-given axis names: single letters, no repeats (a caller's error)."""
    if isinstance(axes, str):
        raise ValueError(
            f"{what} must be a sequence of axis names such as ('x', 'y'), not {axes!r}"
        )
    names = tuple(axes)
    if not names:
        raise ValueError(f"{what} must name at least one axis")
    for name in names:
        if not isinstance(name, str) or len(name) != 1 or not name.isalpha():
            raise ValueError(
                f"{what}: axis name {name!r} must be a single letter, so that derivative strings "
                "like 'xxyy' are unambiguous"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"{what} repeats an axis name: {names}")
    return names


def existing_file(path: str | os.PathLike[str]) -> Path:
    """``Path(path)``, or :class:`FileFormatError` if it is not an existing regular file."""
    p = Path(path)
    if not p.is_file():
        what = "is a directory, not a file" if p.is_dir() else "file not found"
        raise FileFormatError(f"{p}: {what}")
    return p


def real_array(value: Any, *, name: str, source: str, imag_rtol: float = IMAG_RTOL) -> np.ndarray:
    """``value`` as a real ``float64`` array.

    Complex input is accepted when ``max|imag| <= imag_rtol * max|value|`` (for example data
    computed by an FFT and stored as complex with round-off imaginary parts); its real part is
    returned. Otherwise, and for non-numeric or boolean input, :class:`FileFormatError` is raised.
    """
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise FileFormatError(f"{source}: array {name!r} is not numeric (dtype {arr.dtype})")
    if np.iscomplexobj(arr):
        imag = float(np.max(np.abs(arr.imag), initial=0.0))
        scale = float(np.max(np.abs(arr), initial=0.0))
        if imag > imag_rtol * scale:
            raise FileFormatError(
                f"{source}: array {name!r} is complex with max|imag| = {imag:.3g}, which is not "
                f"negligible against max|value| = {scale:.3g} (tolerance {imag_rtol:.0e}); "
                "refusing to drop the imaginary part"
            )
        arr = arr.real
    return arr.astype(np.float64, copy=False)


def finish(
    coords: Mapping[str, np.ndarray], fields: Mapping[str, np.ndarray], *, source: str
) -> GriddedFields:
    """Validate a reader's result and make decreasing axes increasing.

    Each coordinate vector must be finite and uniform. A strictly *decreasing* uniform axis (an
    image stored bottom-up, a table sorted descending) is reversed, and every field is flipped along
    it, so that the result always has increasing coordinates. Field shapes must equal the grid's.
    """
    out_coords: dict[str, np.ndarray] = {}
    flip_axes: list[int] = []
    for i, (name, c) in enumerate(coords.items()):
        c = np.asarray(c, dtype=np.float64)
        if c.ndim == 1 and c.size >= 2 and np.all(np.isfinite(c)) and np.all(np.diff(c) < 0):
            c = c[::-1]
            flip_axes.append(i)
        out_coords[name] = c
    try:
        Grid(**out_coords)
    except GridError as exc:
        raise FileFormatError(f"{source}: {exc}") from exc
    shape = tuple(c.size for c in out_coords.values())
    out_fields: dict[str, np.ndarray] = {}
    for name, arr in fields.items():
        if arr.shape != shape:
            hint = ""
            if arr.ndim == len(shape) and sorted(arr.shape) == sorted(shape):
                hint = "; it may be stored in another axis order: list the axes in the file's order"
            raise FileFormatError(
                f"{source}: field {name!r} has shape {arr.shape}, but the coordinates "
                f"{tuple(out_coords)} give the grid shape {shape}{hint}"
            )
        out_fields[name] = np.flip(arr, axis=tuple(flip_axes)).copy() if flip_axes else arr
    if not out_fields:
        raise FileFormatError(f"{source}: no fields to read")
    return GriddedFields(out_coords, out_fields)
