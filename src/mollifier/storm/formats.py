"""Localisation exports of microscopes and localisation software, each with the unit its format
fixes (never a guessed one).

==============================  ==========================================================
format                          what identifies it and what is read (all converted to nm)
==============================  ==========================================================
Nikon N-STORM / NIS-Elements    tab-separated text with ``Channel Name, X, Y, Xc, Yc, …,
text export (``nstorm``)        Lateral Localization Accuracy``; positions in nm. The
                                drift-corrected ``Xwc, Ywc`` (warped, drift-corrected) or
                                ``Xc, Yc`` are used when present, else ``X, Y``;
                                uncertainty = ``Lateral Localization Accuracy`` (nm),
                                channel = ``Channel Name``.
Zeiss ZEN / Elyra table         ``Index, First Frame, …, Position X [nm], Position Y [nm],
(``zeiss``)                     Precision [nm], …, Channel``; the unit is the brackets' and
                                must be nm. Trailing short lines that start with a letter
                                (a footer such as ``VoxelSizeX …``) end the table.
SMAP CSV export (``smap``)      ``xnm, ynm`` (nm by name), ``locprecnm``, ``frame``,
                                ``channel``.
SMAP ``_sml.mat`` (``smap``)    MATLAB file with ``saveloc.loc.xnm, ynm, locprecnm, frame,
                                channel`` (v5 via scipy, v7.3 via h5py).
DECODE HDF5 (``decode``)        groups ``data`` (``xyz`` N×3, ``xyz_sig``, ``frame_ix``) and
                                ``meta`` (attributes ``xy_unit`` = ``nm`` or ``px`` and
                                ``px_size``, nm per pixel along x and y).
generic table (``table``)       any delimited text; the columns are declared
                                (``columns={"x": …, "y": …}``) and the unit too.
==============================  ==========================================================

ThunderSTORM and Picasso are read by :mod:`mollifier.storm.readers`. Malformed files raise
:class:`~mollifier.io.FileFormatError` naming the file and the problem; a unit that the format
does not allow raises :class:`~mollifier.storm.localisations.UnitError`.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.io._delimiter import sniff_delimiter
from mollifier.io._fields import existing_file
from mollifier.io._gridding import FileFormatError
from mollifier.io._optional import optional_module
from mollifier.storm._tables import HEADER, is_number, text_encoding
from mollifier.storm.localisations import Localisations, UnitError, length_unit_nm

__all__ = [
    "NSTORM",
    "SMAP",
    "TABLE_ROLES",
    "TEXT_FORMATS",
    "ZEISS",
    "TableFormat",
    "detect_text_format",
    "read_decode",
    "read_smap_mat",
    "read_text_localisations",
    "write_decode",
    "write_text_localisations",
]

#: The quantities a localisation table may hold, in :class:`TableFormat` order.
TABLE_ROLES = ("x", "y", "frame", "uncertainty", "channel")


@dataclass(frozen=True)
class TableFormat:
    """How one text export names its columns, and its unit.

    Parameters
    ----------
    name : str
        Format name (``--kind``).
    x, y, frame, uncertainty, channel : tuple of str
        Column names for each quantity, lower case and without unit brackets, in order of
        preference (the first present is read); ``x`` and ``y`` are required.
    signature : tuple of str
        Columns whose presence identifies the format in ``--kind auto``.
    unit : str or None
        The unit the format fixes for positions and precisions; ``None``: from the header's
        brackets (``Position X [nm]``).
    allowed_units : tuple of str
        Units the header may declare (when ``unit`` is None).
    footer : bool
        Whether trailing lines shorter than the header that start with a letter (a footer
        such as ``VoxelSizeX 0.1``) end the table.
    delimiter : str
        Written by :func:`write_text_localisations`.
    """

    name: str
    x: tuple[str, ...]
    y: tuple[str, ...]
    frame: tuple[str, ...] = ()
    uncertainty: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    signature: tuple[str, ...] = ()
    unit: str | None = "nm"
    allowed_units: tuple[str, ...] = ("nm",)
    footer: bool = False
    delimiter: str = ","

    def candidates(self, role: str) -> tuple[str, ...]:
        value: tuple[str, ...] = getattr(self, role)
        return value


NSTORM = TableFormat(
    name="nstorm",
    x=("xwc", "xc", "x"),
    y=("ywc", "yc", "y"),
    frame=("frame",),
    uncertainty=("lateral localization accuracy",),
    channel=("channel name",),
    signature=("xc", "yc"),
    delimiter="\t",
)
ZEISS = TableFormat(
    name="zeiss",
    x=("position x",),
    y=("position y",),
    frame=("first frame",),
    uncertainty=("precision",),
    channel=("channel",),
    signature=("position x", "position y"),
    unit=None,
    footer=True,
    delimiter="\t",
)
SMAP = TableFormat(
    name="smap",
    x=("xnm",),
    y=("ynm",),
    frame=("frame",),
    uncertainty=("locprecnm",),
    channel=("channel",),
    signature=("xnm", "ynm"),
)
#: Text exports recognised by their header, in the order ``--kind auto`` tries them.
TEXT_FORMATS = {f.name: f for f in (NSTORM, ZEISS, SMAP)}


def _decode_text(p: Path) -> str:
    try:
        return p.read_bytes().decode(text_encoding(p))
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{p}: not a UTF-8 or UTF-16 text table ({exc})") from None


def _header_and_rows(p: Path) -> tuple[list[tuple[str, str | None]], list[list[str]], str | None]:
    """Header cells as (lower-case name, unit) and data rows as lists of text cells."""
    text = _decode_text(p)
    lines = [
        line
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "%"))
    ]
    if not lines:
        raise FileFormatError(f"{p}: the file is empty (no header row)")
    delimiter = sniff_delimiter("\n".join(lines[:20]))
    if delimiter is None:
        cells = [line.split() for line in lines]
    else:
        cells = [
            [c.strip() for c in row]
            for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
        ]
    names = []
    for cell in cells[0]:
        m = HEADER.match(cell.strip("'"))
        if m is None or not m.group("name"):
            raise FileFormatError(f"{p}: cannot parse the header cell {cell!r}")
        unit = m.group("unit")
        names.append((m.group("name").strip().lower(), None if unit is None else unit.strip()))
    return names, cells[1:], delimiter


def detect_text_format(names: list[str]) -> TableFormat | None:
    """The export whose signature columns all appear in the lower-case header ``names``."""
    have = set(names)
    for fmt in TEXT_FORMATS.values():
        if all(s in have for s in fmt.signature):
            return fmt
    return None


def _column(names: list[str], candidates: tuple[str, ...]) -> int | None:
    for cand in candidates:
        if cand in names:
            return names.index(cand)
    return None


def _numbers(p: Path, rows: list[list[str]], index: int, label: str) -> np.ndarray:
    try:
        return np.array([row[index] for row in rows], dtype=np.float64)
    except ValueError:
        for k, row in enumerate(rows):
            if not is_number(row[index]):
                raise FileFormatError(
                    f"{p}: row {k + 2}, column {label!r}: {row[index]!r} is not a number"
                ) from None
        raise


def read_text_localisations(
    path: str | os.PathLike[str],
    fmt: TableFormat | None = None,
    *,
    unit: str | None = None,
    pixel_size: float | None = None,
    columns: Mapping[str, str] | None = None,
) -> Localisations:
    """Read a delimited text export (N-STORM, Zeiss, SMAP, or a table with declared columns).

    Parameters
    ----------
    path : path-like
    fmt : TableFormat, optional
        The export's format; ``None`` detects it from the header (:func:`detect_text_format`)
        unless ``columns`` is given.
    unit : str, optional
        The coordinate unit: required for a generic table without unit brackets; for an export
        whose format fixes the unit it must agree.
    pixel_size : float, optional
        nm per camera pixel, for ``unit="px"``.
    columns : mapping, optional
        A generic table's column names by role (:data:`TABLE_ROLES`); ``x`` and ``y`` required,
        e.g. ``{"x": "pos_x", "y": "pos_y", "channel": "probe"}``.

    Raises
    ------
    FileFormatError
        Empty file, unknown header, missing columns, rows with a different number of cells
        than the header (a wrong delimiter), text where a number belongs.
    UnitError
        No unit, a unit the format does not allow, or a ``unit`` that contradicts the format.
    """
    p = existing_file(path)
    source = str(p)
    names_units, rows, delimiter = _header_and_rows(p)
    names = [n for n, _ in names_units]
    if columns is not None:
        unknown = sorted(set(columns) - set(TABLE_ROLES))
        if unknown or "x" not in columns or "y" not in columns:
            raise ValueError(
                f"columns must name 'x' and 'y' and may name {list(TABLE_ROLES)}, got "
                f"{dict(columns)}"
            )
        declared = {
            r: (str(columns[r]).strip().lower(),) if r in columns else () for r in TABLE_ROLES
        }
        fmt = TableFormat(
            name="table",
            x=declared["x"],
            y=declared["y"],
            frame=declared["frame"],
            uncertainty=declared["uncertainty"],
            channel=declared["channel"],
            unit=None,
            allowed_units=(),
        )
    elif fmt is None:
        fmt = detect_text_format(names)
        if fmt is None:
            raise FileFormatError(
                f"{source}: the header {names} is not one of the known exports "
                f"({', '.join(TEXT_FORMATS)}); declare the columns (columns={{'x': ..., "
                "'y': ...}}, or --columns x=NAME y=NAME) and the unit"
            )
    idx = {r: _column(names, fmt.candidates(r)) for r in TABLE_ROLES}
    missing = [fmt.candidates(r)[0] for r in ("x", "y") if idx[r] is None]
    if missing:
        raise FileFormatError(
            f"{source}: missing column(s) {missing} for a {fmt.name} table; the header names "
            f"{names}"
        )
    if fmt.footer:
        while rows and len(rows[-1]) < len(names) and rows[-1][0][:1].isalpha():
            rows = rows[:-1]
    for k, row in enumerate(rows):
        if len(row) != len(names):
            sep = {None: "whitespace", "\t": "tab"}.get(delimiter, repr(delimiter))
            raise FileFormatError(
                f"{source}: row {k + 2} has {len(row)} cells but the header names "
                f"{len(names)} (separated by {sep}); is the delimiter the same on every line?"
            )
    scale = _scale(fmt, names_units, idx, unit, pixel_size, source)
    ix, iy = idx["x"], idx["y"]
    assert ix is not None and iy is not None
    x = _numbers(p, rows, ix, names[ix])
    y = _numbers(p, rows, iy, names[iy])
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if bad.size:
        raise FileFormatError(
            f"{source}: {bad.size} rows have a NaN or infinite position (first: row "
            f"{int(bad[0]) + 2})"
        )
    i_f, i_u, i_c = idx["frame"], idx["uncertainty"], idx["channel"]
    meta: dict[str, Any] = {
        "format": fmt.name,
        "columns": {r: names[i] for r, i in idx.items() if i is not None},
        "nm_per_unit": scale,
    }
    return Localisations(
        x=x * scale,
        y=y * scale,
        frame=None if i_f is None else _numbers(p, rows, i_f, names[i_f]),
        uncertainty=None if i_u is None else _numbers(p, rows, i_u, names[i_u]) * scale,
        channel=None if i_c is None else np.array([row[i_c] for row in rows], dtype=str),
        source=source,
        meta=meta,
    )


def _scale(
    fmt: TableFormat,
    names_units: list[tuple[str, str | None]],
    idx: dict[str, int | None],
    unit: str | None,
    pixel_size: float | None,
    source: str,
) -> float:
    declared = {names_units[i][1] for r in ("x", "y") if (i := idx[r]) is not None}
    if len(declared) > 1:
        raise UnitError(f"{source}: x and y are in different units {sorted(map(str, declared))}")
    in_header = declared.pop()
    if fmt.unit is not None:
        if in_header is not None and length_unit_nm(in_header, pixel_size=pixel_size) != 1.0:
            raise UnitError(
                f"{source}: a {fmt.name} table gives positions in {fmt.unit}; this header says "
                f"{in_header!r}"
            )
        if unit is not None and length_unit_nm(unit, pixel_size=pixel_size) != length_unit_nm(
            fmt.unit
        ):
            raise UnitError(
                f"{source}: a {fmt.name} table is in {fmt.unit} by its format, but "
                f"unit={unit!r} (--unit) was given"
            )
        return length_unit_nm(fmt.unit)
    if in_header is not None:
        if fmt.allowed_units and in_header.lower() not in fmt.allowed_units:
            raise UnitError(
                f"{source}: a {fmt.name} table gives positions in "
                f"{' or '.join(fmt.allowed_units)}; this header says {in_header!r}"
            )
        scale = length_unit_nm(in_header, pixel_size=pixel_size, source=source)
        if unit is not None and length_unit_nm(unit, pixel_size=pixel_size) != scale:
            raise UnitError(
                f"{source}: the header says unit {in_header!r} but unit={unit!r} was given"
            )
        return scale
    if unit is None:
        raise UnitError(
            f"{source}: the table does not say its coordinate unit; give unit='nm', 'um' or "
            "'px' (with pixel_size), or --unit on the command line"
        )
    return length_unit_nm(unit, pixel_size=pixel_size, source=source)


_HEADERS = {
    "nstorm": {
        "channel": "Channel Name",
        "x": "Xc",
        "y": "Yc",
        "frame": "Frame",
        "uncertainty": "Lateral Localization Accuracy",
    },
    "zeiss": {
        "frame": "First Frame",
        "x": "Position X [nm]",
        "y": "Position Y [nm]",
        "uncertainty": "Precision [nm]",
        "channel": "Channel",
    },
    "smap": {
        "x": "xnm",
        "y": "ynm",
        "frame": "frame",
        "uncertainty": "locprecnm",
        "channel": "channel",
    },
}


def write_text_localisations(
    path: str | os.PathLike[str], locs: Localisations, fmt: TableFormat
) -> Path:
    """Write ``locs`` as a text export of format ``fmt`` (``NSTORM``, ``ZEISS`` or ``SMAP``),
    in nm, with every number written exactly (:func:`repr`), so that
    :func:`read_text_localisations` reads back the same values.

    Only the columns that ``locs`` has are written (``x`` and ``y`` always); N-STORM tables
    get ``Xc, Yc`` (drift-corrected positions), which its reader prefers to ``X, Y``. Channel
    names must not contain the delimiter or quotes.
    """
    if fmt.name not in _HEADERS:
        raise ValueError(f"no writer for format {fmt.name!r}; use one of {list(_HEADERS)}")
    header = _HEADERS[fmt.name]
    cols: list[tuple[str, list[str]]] = []
    for role in ("channel", "frame", "x", "y", "uncertainty"):
        value = getattr(locs, role)
        if value is None:
            continue
        if role == "channel":
            for name in set(value.tolist()):
                if fmt.delimiter in name or '"' in name or not name.strip():
                    raise ValueError(f"channel name {name!r} cannot be written to a text table")
            cells = [str(v) for v in value]
        else:
            cells = [repr(float(v)) for v in value]
        cols.append((header[role], cells))
    out = Path(path)
    lines = [fmt.delimiter.join(h for h, _ in cols)]
    lines += [fmt.delimiter.join(row) for row in zip(*(c for _, c in cols), strict=True)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _h5py(what: str) -> Any:
    return optional_module("h5py", what)


def read_decode(path: str | os.PathLike[str]) -> Localisations:
    """Read a DECODE emitter file (HDF5): ``data/xyz`` (N×3; x, y in ``meta`` attribute
    ``xy_unit``, ``"nm"`` or ``"px"``), ``data/xyz_sig`` (the same unit; uncertainty = the mean
    of its x and y columns), ``data/frame_ix`` (0-based); ``px`` is converted with the
    ``px_size`` attribute (nm per pixel along x and y).

    Raises
    ------
    ImportError
        Without h5py (``pip install 'mollifier[io]'``).
    FileFormatError
        Not an HDF5 file, or no ``data/xyz`` of shape (N, 2 or 3).
    UnitError
        ``xy_unit`` missing or not ``nm``/``px``; ``px`` without a positive ``px_size``.
    """
    h5py = _h5py("reading DECODE HDF5")
    p = existing_file(path)
    source = str(p)
    try:
        with h5py.File(p, "r") as fh:
            if "data" not in fh or "xyz" not in fh["data"]:
                raise FileFormatError(
                    f"{source}: no 'data/xyz' dataset; a DECODE emitter file holds one (it has "
                    f"{sorted(fh.keys())})"
                )
            g = fh["data"]
            xyz = np.asarray(g["xyz"][()], dtype=float)
            sig = g["xyz_sig"] if "xyz_sig" in g else None
            sig_arr = None if sig is None or sig.shape is None else np.asarray(sig[()], float)
            frame = np.asarray(g["frame_ix"][()], float) if "frame_ix" in g else None
            attrs = dict(fh["meta"].attrs) if "meta" in fh else {}
    except OSError as exc:
        raise FileFormatError(f"{source}: not a readable HDF5 file ({exc})") from None
    if xyz.ndim != 2 or xyz.shape[1] not in (2, 3):
        raise FileFormatError(f"{source}: data/xyz must have shape (N, 2 or 3), got {xyz.shape}")
    raw_unit = attrs.get("xy_unit")
    xy_unit = raw_unit.decode() if isinstance(raw_unit, bytes) else raw_unit
    if xy_unit not in ("nm", "px"):
        raise UnitError(
            f"{source}: the meta attribute xy_unit must be 'nm' or 'px' (DECODE's units), got "
            f"{xy_unit!r}"
        )
    scale = np.ones(2)
    if xy_unit == "px":
        size = np.atleast_1d(np.asarray(attrs.get("px_size", []), dtype=float)).ravel()
        if size.size == 1:
            size = np.repeat(size, 2)
        if size.size != 2 or not np.all(np.isfinite(size) & (size > 0)):
            raise UnitError(
                f"{source}: xy_unit is 'px' but the meta attribute px_size (nm per pixel along x "
                f"and y) is {attrs.get('px_size')!r}"
            )
        scale = size
    bad = np.flatnonzero(~np.all(np.isfinite(xyz[:, :2]), axis=1))
    if bad.size:
        raise FileFormatError(
            f"{source}: {bad.size} emitters have a NaN or infinite position (first: {bad[0]})"
        )
    unc = None
    if sig_arr is not None and sig_arr.shape[0] == xyz.shape[0] and sig_arr.size:
        unc = 0.5 * (sig_arr[:, 0] * scale[0] + sig_arr[:, 1] * scale[1])
    return Localisations(
        x=xyz[:, 0] * scale[0],
        y=xyz[:, 1] * scale[1],
        frame=frame,
        uncertainty=unc,
        source=source,
        meta={"format": "decode", "xy_unit": xy_unit, "nm_per_unit": scale.tolist()},
    )


def write_decode(
    path: str | os.PathLike[str],
    locs: Localisations,
    *,
    unit: str = "nm",
    pixel_size: float | None = None,
) -> Path:
    """Write ``locs`` as a DECODE emitter HDF5 (``data/xyz`` with z = 0, ``data/xyz_sig``,
    ``data/frame_ix``, ``meta`` attributes ``xy_unit`` and ``px_size``); in ``nm`` the values
    are written exactly."""
    h5py = _h5py("writing DECODE HDF5")
    if unit not in ("nm", "px"):
        raise ValueError(f"unit must be 'nm' or 'px', got {unit!r}")
    size = 1.0 if unit == "nm" else float(pixel_size or math.nan)
    if not size > 0:
        raise ValueError("unit='px' needs a positive pixel_size")
    n = len(locs)
    xyz = np.column_stack([locs.x / size, locs.y / size, np.zeros(n)])
    out = Path(path)
    with h5py.File(out, "w") as fh:
        m = fh.create_group("meta")
        m.attrs["xy_unit"] = unit
        m.attrs["px_size"] = np.array([size, size] if unit == "px" else [100.0, 100.0])
        g = fh.create_group("data")
        g.create_dataset("xyz", data=xyz)
        if locs.uncertainty is not None:
            u = locs.uncertainty / size
            g.create_dataset("xyz_sig", data=np.column_stack([u, u, np.zeros(n)]))
        else:
            g.create_dataset("xyz_sig", data=h5py.Empty("f"))
        frame = np.zeros(n, dtype=np.int64) if locs.frame is None else locs.frame
        g.create_dataset("frame_ix", data=frame)
    return out


_SMAP_FIELDS = {"x": "xnm", "y": "ynm", "frame": "frame", "uncertainty": "locprecnm"}


def read_smap_mat(path: str | os.PathLike[str]) -> Localisations:
    """Read a SMAP ``_sml.mat`` file: ``saveloc.loc`` with ``xnm``, ``ynm`` (nm), and when
    present ``frame``, ``locprecnm`` (nm) and ``channel``. MATLAB v5 files are read with scipy,
    v7.3 (HDF5) files with h5py.

    Raises
    ------
    FileFormatError
        Not a MATLAB file, no ``saveloc.loc``, or no ``xnm``/``ynm``.
    """
    p = existing_file(path)
    source = str(p)
    with p.open("rb") as fh:
        head = fh.read(8)
    fields: dict[str, np.ndarray] = {}
    if head == b"\x89HDF\r\n\x1a\n" or _is_v73(p):
        h5py = _h5py("reading a MATLAB v7.3 (HDF5) SMAP file")
        with h5py.File(p, "r") as fh:
            if "saveloc" not in fh or "loc" not in fh["saveloc"]:
                raise FileFormatError(f"{source}: no saveloc.loc; not a SMAP _sml.mat file")
            loc = fh["saveloc"]["loc"]
            for key in (*_SMAP_FIELDS.values(), "channel"):
                if key in loc:
                    fields[key] = np.asarray(loc[key][()]).ravel()
    else:
        from scipy.io import loadmat

        try:
            mat = loadmat(p, squeeze_me=True, struct_as_record=False)
        except (ValueError, TypeError, OSError) as exc:
            raise FileFormatError(f"{source}: not a readable MATLAB file ({exc})") from None
        saveloc = mat.get("saveloc")
        loc = getattr(saveloc, "loc", None)
        if loc is None:
            raise FileFormatError(f"{source}: no saveloc.loc; not a SMAP _sml.mat file")
        for key in (*_SMAP_FIELDS.values(), "channel"):
            if hasattr(loc, key):
                fields[key] = np.atleast_1d(np.asarray(getattr(loc, key))).ravel()
    missing = [k for k in ("xnm", "ynm") if k not in fields]
    if missing:
        raise FileFormatError(f"{source}: saveloc.loc lacks {missing} (it has {sorted(fields)})")
    channel = fields.get("channel")
    return Localisations(
        x=fields["xnm"].astype(float),
        y=fields["ynm"].astype(float),
        frame=fields["frame"].astype(float) if "frame" in fields else None,
        uncertainty=fields["locprecnm"].astype(float) if "locprecnm" in fields else None,
        channel=None if channel is None else _channel_text(channel),
        source=source,
        meta={"format": "smap"},
    )


def _channel_text(values: np.ndarray) -> np.ndarray:
    """Channel numbers as text: ``1.0`` → ``"1"``."""
    if values.dtype.kind in "fc" and np.all(values == np.round(values)):
        return values.astype(np.int64).astype(str)
    return values.astype(str)


def _is_v73(p: Path) -> bool:
    with p.open("rb") as fh:
        fh.seek(512)
        return fh.read(8) == b"\x89HDF\r\n\x1a\n"
