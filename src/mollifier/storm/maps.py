"""Density images for users who already have density maps: TIFF, npz, ``X, Y, value`` tables.

All return a :class:`~mollifier.storm.density.DensityMap` with pixel centres in nm; the
coordinate unit must be known (from the file or the ``unit`` argument), never guessed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from mollifier.io._delimiter import sniff_delimiter
from mollifier.io._fields import existing_file
from mollifier.io._gridding import FileFormatError, grid_scattered
from mollifier.storm._tables import first_line, is_number, load_numbers, npz_unit, split_header
from mollifier.storm.density import DensityMap
from mollifier.storm.localisations import UnitError, length_unit_nm

__all__ = ["read_density_map"]


def read_density_map(
    path: str | os.PathLike[str],
    *,
    unit: str | None = None,
    pixel_size: float | None = None,
    field: str | None = None,
) -> DensityMap:
    """Read a gridded density (or intensity) image for users who already have density maps.

    * TIFF: the pixel size comes from the file (µm) or ``pixel_size`` (nm).
    * npz: 1-D ``x``, ``y`` and a 2-D field (``field``, else ``density`` or the only one), with
      coordinates in ``unit`` (or the archive's ``unit`` string).
    * CSV/TSV/TXT: the ``X, Y, value`` layout (with or without header, COMSOL style), coordinates
      in ``unit``.

    Returns
    -------
    DensityMap
        Coordinates in nm (pixel centres); values as stored (relative units are fine: the mapping
        normalises by a reference density).

    Raises
    ------
    FileFormatError
        Unreadable or malformed file, no suitable field.
    UnitError
        Coordinate unit undeclared or unknown.
    """
    from mollifier.io import read_npz, read_tiff

    p = existing_file(path)
    source = str(p)
    suffix = p.suffix.lower()
    if suffix in (".tif", ".tiff"):
        spacing = None if pixel_size is None else {"x": pixel_size / 1e3, "y": pixel_size / 1e3}
        try:
            coords, fields = read_tiff(p, spacing=spacing, field="density")
        except FileFormatError as exc:
            if "spacing" in str(exc) and pixel_size is None:
                raise UnitError(f"{exc}; pass pixel_size (nm) / --pixel-size") from None
            raise
        scale = 1e3  # read_tiff returns micrometres
        values = fields["density"]
        if values.ndim != 2:
            raise FileFormatError(f"{source}: a density image must be 2-D, got {values.shape}")
    else:
        if suffix == ".npz":
            coords, fields = read_npz(p, fields=None if field is None else [field])
            file_unit = None
            with np.load(p, allow_pickle=False) as data:
                file_unit = npz_unit(data, source)
        elif suffix in (".csv", ".tsv", ".txt"):
            coords, fields, file_unit = _read_map_table(p, field)
        else:
            raise FileFormatError(f"{source}: unsupported density-map suffix {p.suffix!r}")
        chosen = unit if unit is not None else file_unit
        if chosen is None:
            raise UnitError(
                f"{source}: the density map does not say its coordinate unit; give unit='nm', "
                "'um' or 'px' (with pixel_size), or --unit on the command line"
            )
        scale = length_unit_nm(chosen, pixel_size=pixel_size, source=source)
        if field is not None:
            values = fields[field]
        elif "density" in fields:
            values = fields["density"]
        elif len(fields) == 1:
            values = next(iter(fields.values()))
        else:
            raise FileFormatError(
                f"{source}: several fields {sorted(fields)}; choose one with field=..."
            )
    x, y = np.asarray(coords["x"]) * scale, np.asarray(coords["y"]) * scale
    return DensityMap(x=x, y=y, values=values, method="file", source=source, meta={"format": "map"})


def _read_map_table(
    p: Path, field: str | None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str | None]:
    """An ``X, Y, value`` table (header optional) gridded by its coordinates."""
    source = str(p)
    line = first_line(p)
    delimiter = sniff_delimiter(line)
    cells = [c for c in re.split(r"[,\t; ]+", line.strip()) if c]
    if all(is_number(c) for c in cells):
        data = np.loadtxt(p, delimiter=delimiter, comments=("#", "%"), ndmin=2, encoding="utf-8")
        if data.shape[1] != 3:
            raise FileFormatError(
                f"{source}: a headerless density table has 3 columns "
                f"(X, Y, value), this one has {data.shape[1]}"
            )
        ix, iy, iv, file_unit, name = 0, 1, 2, None, field or "density"
    else:
        names = split_header(line, source)
        lower = [n for n, _ in names]
        if "x" not in lower or "y" not in lower:
            raise FileFormatError(f"{source}: a density table needs x and y columns, has {lower}")
        ix, iy = lower.index("x"), lower.index("y")
        units = {names[ix][1], names[iy][1]}
        if len(units) > 1:
            raise UnitError(f"{source}: x and y are in different units {sorted(map(str, units))}")
        file_unit = units.pop()
        others = [i for i in range(len(names)) if i not in (ix, iy)]
        if field is not None:
            if field.lower() not in lower:
                raise FileFormatError(f"{source}: no column {field!r}; it has {lower}")
            iv = lower.index(field.lower())
        elif len(others) == 1:
            iv = others[0]
        else:
            raise FileFormatError(
                f"{source}: several value columns "
                f"{[lower[i] for i in others]}; choose one with field=..."
            )
        name = lower[iv]
        data = load_numbers(p, len(names), delimiter)
    if data.shape[0] == 0:
        raise FileFormatError(f"{source}: the density table has no data rows")
    coords, values = grid_scattered(
        [data[:, ix], data[:, iy]], data[:, iv], names=("x", "y"), source=source
    )
    return coords, {name: values}, file_unit
