"""TIFF images and stacks (microscopy), through the optional dependency tifffile.

Index convention
----------------
An image is stored row by row: ``image[row, col]`` with the row index running down the picture
(``y``) and the column index across it (``x``). Our fields are indexed ``[x, y]``. The readers and
writers here therefore **swap the last two dimensions**: a stored ``(rows, cols)`` image becomes a
field of shape ``(nx, ny) = (cols, rows)`` with ``u[i, j] = image[j, i]``, and a stored
``(frames, rows, cols)`` stack becomes ``[t, x, y]``. Coordinates start at 0 at the first pixel
centre (``x_i = i * spacing_x``); ``y`` grows with the row index, that is downwards in the displayed
image.

Units
-----
Lengths are returned in micrometres and frame intervals in seconds, converted from the file's
resolution tags (``ResolutionUnit`` inch, centimetre, millimetre, micrometre) or from the ImageJ
``unit``/``tunit`` metadata. When the file states no physical pixel size, the caller must give
``spacing``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mollifier.grid import Grid
from mollifier.io._fields import (
    GriddedFields,
    check_axis_names,
    existing_file,
    finish,
    real_array,
)
from mollifier.io._gridding import FileFormatError
from mollifier.io._optional import optional_module

__all__ = ["read_tiff", "write_tiff"]

#: Micrometres per unit, for ImageJ ``unit`` strings.
_LENGTH_UNITS_UM = {
    "nm": 1e-3,
    "nanometer": 1e-3,
    "um": 1.0,
    "µm": 1.0,
    "μm": 1.0,
    "\\u00b5m": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "mm": 1e3,
    "millimeter": 1e3,
    "cm": 1e4,
    "centimeter": 1e4,
    "m": 1e6,
    "meter": 1e6,
    "inch": 25400.0,
}
#: Micrometres per unit, for the TIFF ResolutionUnit tag (2 inch, 3 cm; 4 mm and 5 µm are the
#: common extensions written by tifffile). 1 (NONE) means the resolution is not physical.
_RESUNIT_UM = {2: 25400.0, 3: 1e4, 4: 1e3, 5: 1.0}
#: Seconds per unit, for the ImageJ ``tunit`` string (``finterval`` is in seconds by default).
_TIME_UNITS_S = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 1e-3,
    "msec": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
_IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


def _tifffile(what: str) -> ModuleType:
    return optional_module("tifffile", what)


def _pixel_size(tag: Any, *, factor: float, name: str, source: str) -> float:
    """Physical size of one pixel from a rational ``(pixels, per_unit)`` resolution tag, in µm."""
    value = tag.value
    pair = (value, 1) if np.isscalar(value) else tuple(value)
    num, den = float(pair[0]), float(pair[1])
    if not (num > 0 and den > 0):
        raise FileFormatError(f"{source}: resolution tag for {name!r} is {value}, not positive")
    return den / num * factor


def _file_spacing(tif: Any, axes: tuple[str, ...], *, source: str) -> dict[str, float]:
    """Spacing per axis (µm or s) stated by the file; axes it says nothing about are absent."""
    page = tif.pages[0]
    tags = page.tags
    ij = tif.imagej_metadata or {}
    found: dict[str, float] = {}
    factor: float | None = None
    unit = ij.get("unit")
    if unit is not None:
        key = str(unit).strip().lower()
        if key in _LENGTH_UNITS_UM:
            factor = _LENGTH_UNITS_UM[key]
        elif key not in ("", "pixel", "pixels"):
            raise FileFormatError(
                f"{source}: ImageJ length unit {unit!r} is not one of "
                f"{sorted(_LENGTH_UNITS_UM)}; pass spacing=... explicitly"
            )
    if factor is None and "ResolutionUnit" in tags:
        factor = _RESUNIT_UM.get(int(tags["ResolutionUnit"].value))
    row_axis, col_axis = axes[-2], axes[-1]
    if factor is not None:
        for axis, tag_name in ((col_axis, "XResolution"), (row_axis, "YResolution")):
            if tag_name in tags:
                found[axis] = _pixel_size(tags[tag_name], factor=factor, name=axis, source=source)
    if len(axes) == 3:
        lead = axes[0]
        if lead == "t" and ij.get("finterval") is not None:
            tunit = str(ij.get("tunit", "s")).strip().lower()
            if tunit not in _TIME_UNITS_S:
                raise FileFormatError(
                    f"{source}: ImageJ time unit {ij.get('tunit')!r} is not one of "
                    f"{sorted(_TIME_UNITS_S)}; pass spacing=... explicitly"
                )
            found[lead] = float(ij["finterval"]) * _TIME_UNITS_S[tunit]
        elif lead == "z" and ij.get("spacing") is not None and factor is not None:
            found[lead] = float(ij["spacing"]) * factor
    return found


def _check_complete(tif: Any, size: int, *, source: str) -> None:
    """Raise if any page's image data would lie past the end of the file (a truncated file)."""
    for i, page in enumerate(tif.pages):
        ends = [o + c for o, c in zip(page.dataoffsets, page.databytecounts, strict=True)]
        if ends and max(ends) > size:
            raise FileFormatError(
                f"{source}: truncated TIFF: page {i} needs bytes up to {max(ends)} but the file "
                f"has {size}"
            )


def read_tiff(
    path: str | os.PathLike[str],
    *,
    axes: Sequence[str] | None = None,
    spacing: Mapping[str, float] | None = None,
    field: str = "u",
) -> GriddedFields:
    """Read a grey-scale TIFF image or stack as a gridded field.

    Parameters
    ----------
    path : path-like
        The ``.tif``/``.tiff`` file. Only its first series is read.
    axes : sequence of str, optional
        Names of the stored dimensions **in storage order**, the last two being image rows and
        columns: default ``("y", "x")`` for an image and ``("t", "y", "x")`` for a stack. The
        returned grid swaps the last two: ``(*axes[:-2], axes[-1], axes[-2])``, e.g. ``("t", "x",
        "y")``.
    spacing : mapping of str to float, optional
        Grid step per axis, in the units you want the coordinates in. An axis listed here ignores
        the file's metadata. An axis not listed takes the file's spacing: pixel size in µm from the
        resolution tags or ImageJ ``unit``; the ImageJ frame interval ``finterval`` in seconds for
        an axis named ``"t"``; the ImageJ slice ``spacing`` in µm for an axis named ``"z"``. It is
        an error if neither gives a spacing. Note that many programs write a dummy resolution
        (72 pixels per inch); override it here when the file's value is not physical.
    field : str
        Name of the returned field.

    Returns
    -------
    GriddedFields
        ``(coords, {field: values})``; ``values`` is ``float64`` of shape ``(nx, ny)`` or
        ``(nt, nx, ny)``, indexed ``[x, y]`` / ``[t, x, y]`` (see the module notes), and each
        coordinate starts at 0.

    Raises
    ------
    FileFormatError
        If the file is missing, not a TIFF, corrupt or truncated; if it has colour samples or
        several channels; if its number of dimensions differs from ``len(axes)`` (for example a
        stack where an image is expected); if its data are not numeric; or if an axis has no
        spacing. The message names the file.
    ImportError
        If tifffile is not installed.
    ValueError
        For invalid arguments.
    """
    if axes is not None:
        check_axis_names(axes, what="axes")
    if spacing is not None:
        for name, step in spacing.items():
            if not (np.isfinite(step) and step > 0):
                raise ValueError(f"spacing[{name!r}] must be positive and finite, got {step}")
    tifffile = _tifffile("read_tiff")
    p = existing_file(path)
    source = str(p)
    try:
        with tifffile.TiffFile(p) as tif:
            _check_complete(tif, p.stat().st_size, source=source)
            series = tif.series[0]
            stored_axes = str(series.axes)
            data = series.asarray()
            if axes is None:
                default = {2: ("y", "x"), 3: ("t", "y", "x")}
                if data.ndim not in default:
                    raise FileFormatError(
                        f"{source}: a {data.ndim}-D image ({stored_axes} {data.shape}); "
                        "name its dimensions with axes=..."
                    )
                names = default[data.ndim]
            else:
                names = tuple(axes)
            if "S" in stored_axes or "C" in stored_axes:
                raise FileFormatError(
                    f"{source}: image has colour samples or channels (axes {stored_axes}, shape "
                    f"{data.shape}); convert it to a single grey-scale channel first"
                )
            if data.ndim != len(names):
                raise FileFormatError(
                    f"{source}: image is {data.ndim}-D (axes {stored_axes}, shape {data.shape}), "
                    f"but {len(names)} axes {names} were expected"
                )
            from_file = _file_spacing(tif, names, source=source)
    except FileFormatError:
        raise
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, OSError... on bad files
        raise FileFormatError(
            f"{source}: not a readable TIFF file ({type(exc).__name__}: {exc})"
        ) from exc
    extra = [a for a in (spacing or {}) if a not in names]
    if extra:
        raise ValueError(f"spacing names axes {extra}, which are not among {names}")
    steps = {**from_file, **dict(spacing or {})}
    unknown = [a for a in names if a not in steps]
    if unknown:
        raise FileFormatError(
            f"{source}: the file states no physical spacing for axes {unknown}; "
            f"pass spacing={{{', '.join(repr(a) + ': ...' for a in unknown)}}}"
        )
    values = real_array(data, name=field, source=source)
    sizes = dict(zip(names, data.shape, strict=True))
    out_axes = (*names[:-2], names[-1], names[-2])
    coords = {a: steps[a] * np.arange(sizes[a], dtype=np.float64) for a in out_axes}
    return finish(coords, {field: np.ascontiguousarray(np.swapaxes(values, -1, -2))}, source=source)


def write_tiff(
    path: str | os.PathLike[str],
    coords: Mapping[str, np.ndarray],
    values: np.ndarray,
) -> Path:
    """Write a field as an ImageJ-compatible TIFF that :func:`read_tiff` reads back exactly.

    Parameters
    ----------
    path : path-like
        Output file (overwritten).
    coords : mapping of str to ndarray
        ``{x: ..., y: ...}`` or ``{t: ..., x: ..., y: ...}`` / ``{z: ..., x: ..., y: ...}``, in the
        field's axis order; uniform, starting at 0 (TIFF stores no origin). Lengths are written as
        micrometres and a ``t`` step as seconds.
    values : ndarray
        Shape ``tuple(len(c) for c in coords.values())``, indexed ``[x, y]`` or ``[t|z, x, y]``;
        dtype ``uint8``, ``uint16`` or ``float32`` (what ImageJ stores). Convert ``float64`` data
        explicitly, e.g. ``values.astype(np.float32)``, accepting the rounding.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        For a non-uniform grid, a shape mismatch, an unsupported dtype, a leading axis other than
        ``t`` or ``z``, or coordinates that do not start at 0.
    ImportError
        If tifffile is not installed.
    """
    grid = Grid(**dict(coords))
    grid.check_array("values", values)
    arr = np.asarray(values)
    if arr.dtype not in _IMAGEJ_DTYPES:
        raise ValueError(
            f"write_tiff stores uint8, uint16 or float32 (ImageJ's types), got {arr.dtype}; "
            "convert explicitly, e.g. values.astype(np.float32)"
        )
    if grid.ndim not in (2, 3):
        raise ValueError(f"write_tiff writes 2-D images or 3-D stacks, got axes {grid.axes}")
    if grid.ndim == 3 and grid.axes[0] not in ("t", "z"):
        raise ValueError(f"the leading axis of a stack must be 't' or 'z', got {grid.axes[0]!r}")
    nonzero = [a for a in grid.axes if grid[a][0] != 0]
    if nonzero:
        raise ValueError(
            f"TIFF stores no coordinate origin; axes {nonzero} do not start at 0 (shift them)"
        )
    tifffile = _tifffile("write_tiff")
    col_axis, row_axis = grid.axes[-2], grid.axes[-1]
    metadata: dict[str, Any] = {"unit": "um"}
    if grid.ndim == 3:
        lead = grid.axes[0]
        metadata["axes"] = "TYX" if lead == "t" else "ZYX"
        metadata["finterval" if lead == "t" else "spacing"] = grid.spacing[lead]
    else:
        metadata["axes"] = "YX"
    out = Path(path)
    tifffile.imwrite(
        out,
        np.ascontiguousarray(np.swapaxes(arr, -1, -2)),
        imagej=True,
        resolution=(1.0 / grid.spacing[col_axis], 1.0 / grid.spacing[row_axis]),
        metadata=metadata,
    )
    return out
