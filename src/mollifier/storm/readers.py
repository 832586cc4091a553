"""Readers (and writers) of localisation tables and density images, with clear errors.

====================================  ==========================================================
format                                reader
====================================  ==========================================================
ThunderSTORM CSV (``"x [nm]"``, ...)  :func:`read_thunderstorm` (units from the header brackets)
Picasso HDF5 (``locs``, camera px)    :func:`read_picasso` (needs h5py: ``mollifier[io]``)
N-STORM, Zeiss, SMAP, DECODE          :mod:`mollifier.storm.formats` (the unit the format fixes)
plain CSV / npz with ``x``, ``y``      :func:`read_localisation_table` (the unit must be declared;
                                      other column names declared with ``columns``)
density image: TIFF, npz, ``X,Y,v``   :func:`read_density_map`
any of the above                      :func:`read_storm_input` (by suffix and header)
====================================  ==========================================================

Every reader converts coordinates to nanometres; a coordinate unit that is missing or unknown is
an error, never a guess. Malformed files raise :class:`~mollifier.io.FileFormatError` naming the
file and the problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.io._delimiter import sniff_delimiter
from mollifier.io._fields import existing_file
from mollifier.io._gridding import FileFormatError
from mollifier.io._optional import optional_module
from mollifier.storm._tables import (
    MAP_VALUE_NAMES,
    column,
    first_line,
    is_number,
    load_numbers,
    npz_unit,
    split_header,
)
from mollifier.storm.density import DensityMap
from mollifier.storm.formats import (
    TABLE_ROLES,
    TEXT_FORMATS,
    detect_text_format,
    read_decode,
    read_smap_mat,
    read_text_localisations,
)
from mollifier.storm.localisations import Localisations, UnitError, length_unit_nm
from mollifier.storm.maps import read_density_map

__all__ = [
    "INPUT_KINDS",
    "THUNDERSTORM_COLUMNS",
    "read_density_map",
    "read_localisation_table",
    "read_picasso",
    "read_storm_input",
    "read_thunderstorm",
    "write_picasso",
    "write_thunderstorm",
]

#: Column order ThunderSTORM writes (and :func:`write_thunderstorm` reproduces).
THUNDERSTORM_COLUMNS = (
    "id",
    "frame",
    "x [nm]",
    "y [nm]",
    "sigma [nm]",
    "intensity [photon]",
    "offset [photon]",
    "bkgstd [photon]",
    "uncertainty [nm]",
)
#: Values of ``kind`` accepted by :func:`read_storm_input`.
INPUT_KINDS = (
    "auto",
    "thunderstorm",
    "picasso",
    "nstorm",
    "zeiss",
    "smap",
    "decode",
    "table",
    "map",
)


def read_thunderstorm(
    path: str | os.PathLike[str], *, pixel_size: float | None = None
) -> Localisations:
    """Read a ThunderSTORM results CSV.

    The header names each column with its unit in brackets (``"x [nm]"``, ``"y [nm]"``,
    ``"uncertainty [nm]"``; ``[µm]`` and ``[px]`` are also accepted, ``[px]`` with
    ``pixel_size``). ``x``, ``y`` are required; ``frame`` and ``uncertainty`` (or the older
    ``uncertainty_xy``) are read when present; other columns are ignored.

    Parameters
    ----------
    path : path-like
        The CSV file.
    pixel_size : float, optional
        Camera pixel size in nm, needed only for columns in ``[px]``.

    Returns
    -------
    Localisations
        Positions and uncertainties in nm. An empty table (header only) gives 0 localisations;
        :meth:`Localisations.check_analysable` rejects it later.

    Raises
    ------
    FileFormatError
        Missing or empty file, unparsable header or rows, missing ``x``/``y`` column.
    UnitError
        A coordinate column without a unit, or in an unknown unit.
    """
    p = existing_file(path)
    source = str(p)
    line = first_line(p)
    names = split_header(line, source)
    ix, iy = column(names, "x"), column(names, "y")
    missing = [c for c, i in (("x [nm]", ix), ("y [nm]", iy)) if i is None]
    if missing:
        raise FileFormatError(
            f"{source}: missing column(s) {missing}; a ThunderSTORM table has "
            f"{list(THUNDERSTORM_COLUMNS)}, this one has {[n for n, _ in names]}"
        )
    assert ix is not None and iy is not None
    scales = []
    for i in (ix, iy):
        unit = names[i][1]
        if unit is None:
            raise UnitError(
                f"{source}: column {names[i][0]!r} has no unit in brackets (ThunderSTORM writes "
                "'x [nm]'); give the unit: --unit nm|um|px on the command line, unit=... in Python"
            )
        scales.append(length_unit_nm(unit, pixel_size=pixel_size, source=source))
    delimiter = sniff_delimiter(line)
    data = load_numbers(p, len(names), delimiter)
    iframe = column(names, "frame")
    iunc = column(names, "uncertainty", "uncertainty_xy")
    unc = None
    if iunc is not None and data.shape[0]:
        unit = names[iunc][1] or "nm"
        unc = data[:, iunc] * length_unit_nm(unit, pixel_size=pixel_size, source=source)
    return Localisations(
        x=data[:, ix] * scales[0],
        y=data[:, iy] * scales[1],
        frame=None if iframe is None else data[:, iframe],
        uncertainty=unc,
        source=source,
        meta={"format": "thunderstorm", "units": [names[ix][1], names[iy][1]]},
    )


def write_thunderstorm(
    path: str | os.PathLike[str],
    locs: Localisations,
    *,
    columns: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write localisations as a ThunderSTORM CSV with the columns of :data:`THUNDERSTORM_COLUMNS`.

    ``id`` counts from 1; ``frame`` defaults to 1 and ``uncertainty`` to 0 when ``locs`` lacks
    them; ``sigma``, ``intensity``, ``offset`` and ``bkgstd`` come from ``columns`` (keyed by the
    bare names) or are 0. Positions are written with 0.01 nm resolution.
    """
    n = len(locs)
    cols = dict(columns or {})
    for key, value in cols.items():
        if np.shape(value) != (n,):
            raise ValueError(f"column {key!r} must have {n} entries, got shape {np.shape(value)}")
    table = np.column_stack(
        [
            np.arange(1, n + 1),
            np.ones(n) if locs.frame is None else locs.frame,
            locs.x,
            locs.y,
            cols.get("sigma", np.zeros(n)),
            cols.get("intensity", np.zeros(n)),
            cols.get("offset", np.zeros(n)),
            cols.get("bkgstd", np.zeros(n)),
            np.zeros(n) if locs.uncertainty is None else locs.uncertainty,
        ]
    )
    out = Path(path)
    header = ",".join(f'"{c}"' for c in THUNDERSTORM_COLUMNS)
    np.savetxt(
        out,
        table,
        delimiter=",",
        header=header,
        comments="",
        fmt=["%d", "%d", "%.2f", "%.2f", "%.2f", "%.1f", "%.1f", "%.2f", "%.3f"],
    )
    return out


def _h5py(what: str) -> Any:
    return optional_module("h5py", what)


def _picasso_pixel_size(p: Path) -> float | None:
    yaml = p.with_suffix(".yaml")
    if not yaml.is_file():
        return None
    m = re.search(
        r"^\s*Pixelsize\s*:\s*([0-9.eE+-]+)\s*$",
        yaml.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    return float(m.group(1)) if m else None


def read_picasso(path: str | os.PathLike[str], *, pixel_size: float | None = None) -> Localisations:
    """Read a Picasso localisation file (HDF5 dataset ``locs``, positions in camera pixels).

    ``x``, ``y`` (and the precisions ``lpx``, ``lpy``) are multiplied by the pixel size: the
    ``pixel_size`` argument, or else the ``Pixelsize:`` entry of the ``.yaml`` file Picasso writes
    beside the ``.hdf5``. ``frame`` is read when present; the uncertainty is ``(lpx + lpy)/2``.

    Raises
    ------
    ImportError
        If h5py is not installed.
    FileFormatError
        Not an HDF5 file, no ``locs`` dataset, or no ``x``/``y`` fields.
    UnitError
        No pixel size from either source.
    """
    h5py = _h5py("reading Picasso HDF5")
    p = existing_file(path)
    source = str(p)
    try:
        with h5py.File(p, "r") as fh:
            if "locs" not in fh:
                raise FileFormatError(
                    f"{source}: no 'locs' dataset; a Picasso file holds one (it has "
                    f"{sorted(fh.keys())})"
                )
            locs = fh["locs"][()]
    except OSError as exc:
        raise FileFormatError(f"{source}: not a readable HDF5 file ({exc})") from None
    fields = locs.dtype.names or ()
    missing = [f for f in ("x", "y") if f not in fields]
    if missing:
        raise FileFormatError(f"{source}: the locs table lacks {missing} (it has {list(fields)})")
    size = pixel_size if pixel_size is not None else _picasso_pixel_size(p)
    if size is None:
        raise UnitError(
            f"{source}: Picasso positions are in camera pixels and no pixel size was found; "
            "pass pixel_size (nm), or --pixel-size on the command line"
        )
    scale = length_unit_nm("px", pixel_size=size, source=source)
    unc = None
    if "lpx" in fields and "lpy" in fields and locs.size:
        unc = 0.5 * (np.asarray(locs["lpx"], float) + np.asarray(locs["lpy"], float)) * scale
    return Localisations(
        x=np.asarray(locs["x"], float) * scale,
        y=np.asarray(locs["y"], float) * scale,
        frame=np.asarray(locs["frame"], float) if "frame" in fields else None,
        uncertainty=unc,
        source=source,
        meta={"format": "picasso", "pixel_size_nm": size},
    )


def write_picasso(path: str | os.PathLike[str], locs: Localisations, *, pixel_size: float) -> Path:
    """Write a minimal Picasso file (``locs`` with frame, x, y, lpx, lpy in pixels) plus its
    ``.yaml`` holding ``Pixelsize``; :func:`read_picasso` reads it back."""
    h5py = _h5py("writing Picasso HDF5")
    n = len(locs)
    rec = np.zeros(
        n, dtype=[("frame", "u4"), ("x", "f4"), ("y", "f4"), ("lpx", "f4"), ("lpy", "f4")]
    )
    rec["frame"] = 0 if locs.frame is None else locs.frame
    rec["x"] = locs.x / pixel_size
    rec["y"] = locs.y / pixel_size
    u = np.full(n, 0.1 * pixel_size) if locs.uncertainty is None else locs.uncertainty
    rec["lpx"] = u / pixel_size
    rec["lpy"] = u / pixel_size
    out = Path(path)
    with h5py.File(out, "w") as fh:
        fh.create_dataset("locs", data=rec)
    out.with_suffix(".yaml").write_text(
        f"Generated by: mollifier\nPixelsize: {pixel_size}\n", encoding="utf-8"
    )
    return out


def read_localisation_table(
    path: str | os.PathLike[str],
    *,
    unit: str | None = None,
    pixel_size: float | None = None,
    columns: Mapping[str, str] | None = None,
) -> Localisations:
    """Read a plain localisation table: delimited text with a header, or an npz archive with
    1-D arrays ``x`` and ``y``.

    The text table's columns are ``columns`` (by role, :data:`~mollifier.storm.formats.
    TABLE_ROLES`: ``{"x": "pos_x", "y": "pos_y", "channel": "probe"}``), by default those named
    ``x``, ``y``, ``frame``, ``uncertainty`` (same unit as the positions) and ``channel``.
    The unit comes from ``unit``, from brackets in the header (``x [um]``) or from a string
    entry ``unit`` in the npz; when none says it, or two disagree, the read fails.

    Raises
    ------
    FileFormatError
        Missing/empty/unparsable file or missing ``x``/``y``.
    UnitError
        Unit undeclared, unknown, conflicting, or ``px`` without ``pixel_size``.
    """
    p = existing_file(path)
    source = str(p)
    if p.suffix.lower() == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                missing = [k for k in ("x", "y") if k not in data.files]
                if missing:
                    raise FileFormatError(
                        f"{source}: missing array(s) {missing}; it holds {sorted(data.files)}"
                    )
                arrays = {
                    k: np.asarray(data[k])
                    for k in ("x", "y", "frame", "uncertainty")
                    if k in data.files
                }
                file_unit = npz_unit(data, source)
        except (OSError, ValueError) as exc:
            if isinstance(exc, FileFormatError):
                raise
            raise FileFormatError(f"{source}: not a readable npz archive ({exc})") from None
        for k, v in arrays.items():
            if v.ndim != 1:
                raise FileFormatError(f"{source}: array {k!r} must be 1-D, got shape {v.shape}")
    else:
        return read_text_localisations(
            p,
            unit=unit,
            pixel_size=pixel_size,
            columns=_default_columns(p) if columns is None else columns,
        )
    if (
        unit is not None
        and file_unit is not None
        and length_unit_nm(unit, pixel_size=pixel_size)
        != length_unit_nm(file_unit, pixel_size=pixel_size)
    ):
        raise UnitError(f"{source}: the file says unit {file_unit!r} but unit={unit!r} was given")
    chosen = unit if unit is not None else file_unit
    if chosen is None:
        raise UnitError(
            f"{source}: the table does not say its coordinate unit; give unit='nm', 'um' or "
            "'px' (with pixel_size), or --unit on the command line"
        )
    scale = length_unit_nm(chosen, pixel_size=pixel_size, source=source)
    return Localisations(
        x=arrays["x"] * scale,
        y=arrays["y"] * scale,
        frame=arrays.get("frame"),
        uncertainty=None if "uncertainty" not in arrays else arrays["uncertainty"] * scale,
        source=source,
        meta={"format": "table", "unit": chosen},
    )


def _default_columns(p: Path) -> dict[str, str]:
    names = [n for n, _ in split_header(first_line(p), str(p))]
    return {r: r for r in TABLE_ROLES if r in names or r in ("x", "y")}


def _hdf5_kind(p: Path) -> str:
    h5py = _h5py("reading HDF5 localisation files")
    try:
        with h5py.File(p, "r") as fh:
            keys = set(fh.keys())
            if "data" in keys and "xyz" in fh["data"]:
                return "decode"
    except OSError as exc:
        raise FileFormatError(f"{p}: not a readable HDF5 file ({exc})") from None
    if "saveloc" in keys:
        return "smap"
    return "picasso"


def _sniff_kind(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _hdf5_kind(p)
    if suffix == ".mat":
        return "smap"
    if suffix in (".tif", ".tiff"):
        return "map"
    if suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                return "map" if any(data[k].ndim == 2 for k in data.files) else "table"
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"{p}: not a readable npz archive ({exc})") from None
    if suffix in (".csv", ".tsv", ".txt"):
        line = first_line(p)
        cells = [c for c in re.split(r"[,\t; ]+", line.strip()) if c]
        if all(is_number(c) for c in cells):
            return "map"
        names = split_header(line, str(p))
        lower = [n for n, _ in names]
        fmt = detect_text_format(lower)
        if fmt is not None:
            return fmt.name
        if any(u is not None for _, u in names) and "x" in lower:
            return "thunderstorm"
        if len(lower) == 3 and any(n in MAP_VALUE_NAMES for n in lower):
            return "map"
        return "table"
    raise FileFormatError(
        f"{p}: unsupported suffix {p.suffix!r}; STORM inputs are .csv/.tsv/.txt, .npz, "
        ".h5/.hdf5, .mat or .tif/.tiff"
    )


def read_storm_input(
    path: str | os.PathLike[str],
    *,
    kind: str = "auto",
    unit: str | None = None,
    pixel_size: float | None = None,
    columns: Mapping[str, str] | None = None,
) -> Localisations | DensityMap:
    """Read any supported STORM input; ``kind`` is one of :data:`INPUT_KINDS`.

    ``"auto"`` decides by suffix and header: ``.h5``/``.hdf5`` DECODE (a ``data/xyz``
    dataset), SMAP v7.3 (``saveloc``) or Picasso; ``.mat`` SMAP; ``.tif`` a map; a text table
    whose header is an N-STORM, Zeiss or SMAP export's (:data:`~mollifier.storm.formats.
    TEXT_FORMATS`) that export; one with bracketed units ThunderSTORM; a headerless or
    ``x, y, value`` table a map; other text a plain localisation table (``columns`` declares
    its columns); an npz with a 2-D array a map, else a table.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {INPUT_KINDS}, got {kind!r}")
    p = existing_file(path)
    chosen = _sniff_kind(p) if kind == "auto" and columns is None else kind
    if columns is not None and chosen == "auto":
        chosen = "table"
    if chosen == "thunderstorm":
        return read_thunderstorm(p, pixel_size=pixel_size)
    if chosen == "picasso":
        return read_picasso(p, pixel_size=pixel_size)
    if chosen == "decode":
        return read_decode(p)
    if chosen == "smap" and p.suffix.lower() in (".mat", ".h5", ".hdf5"):
        return read_smap_mat(p)
    if chosen in TEXT_FORMATS:
        return read_text_localisations(p, TEXT_FORMATS[chosen], unit=unit, pixel_size=pixel_size)
    if chosen == "table":
        return read_localisation_table(p, unit=unit, pixel_size=pixel_size, columns=columns)
    return read_density_map(p, unit=unit, pixel_size=pixel_size)
