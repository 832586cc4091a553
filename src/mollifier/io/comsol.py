"""COMSOL text exports: ``%`` header lines, then columns X, Y[, Z], value[s]."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from mollifier.io._gridding import FileFormatError, grid_scattered

__all__ = ["read_comsol"]


def read_comsol(
    path: str | os.PathLike[str], *, axes: tuple[str, ...] | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Read a COMSOL "Export > Data" text file sampled on a regular grid.

    The node list may come in any order and its coordinates may carry round-off; nodes are snapped
    onto the uniform tensor grid they sample.

    Parameters
    ----------
    path : path-like
        The ``.txt`` export. Header lines start with ``%``; the last header line names the columns.
    axes : tuple of str, optional
        Names for the coordinate columns. Defaults to ``("x", "y")`` for 2-D exports and
        ``("x", "y", "z")`` for 3-D ones, taken from the ``% Dimension:`` header line.

    Returns
    -------
    coords : dict
        Axis name to coordinate vector.
    values : ndarray
        Shape ``(nx, ny[, nz])`` for one expression, or with a trailing dimension for several.

    Raises
    ------
    FileFormatError
        If the file is missing, has no data rows, has ragged or non-numeric rows, or its nodes do
        not fill a uniform grid. The message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileFormatError(f"{p}: file not found")
    dim = None
    header_count = 0
    with open(p, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("%"):
                break
            header_count += 1
            if line[1:].strip().lower().startswith("dimension:"):
                try:
                    dim = int(line.split(":", 1)[1])
                except ValueError:
                    raise FileFormatError(f"{p}: unreadable header line {line.strip()!r}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": raised below
            data = np.loadtxt(p, comments="%", ndmin=2)
    except ValueError as exc:
        raise FileFormatError(f"{p}: not a numeric COMSOL table ({exc})") from exc
    if data.size == 0:
        raise FileFormatError(f"{p}: no data rows after {header_count} header lines")
    if dim is None and axes is not None:
        dim = len(axes)
    if dim is None:
        if data.shape[1] < 3:
            raise FileFormatError(f"{p}: expected columns X, Y, value; got {data.shape[1]} columns")
        dim = 2
    names = axes if axes is not None else ("x", "y", "z")[:dim]
    if len(names) != dim:
        raise FileFormatError(f"{p}: file is {dim}-D but {len(names)} axis names were given")
    if data.shape[1] <= dim:
        raise FileFormatError(f"{p}: {data.shape[1]} columns leave no value column for {dim}-D")
    values = data[:, dim:]
    if values.shape[1] == 1:
        values = values[:, 0]
    return grid_scattered([data[:, i] for i in range(dim)], values, names=names, source=str(p))
