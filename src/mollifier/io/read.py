"""One entry point that reads gridded fields from any supported file, choosing by suffix."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mollifier.io._fields import GriddedFields, check_axis_names, finish
from mollifier.io._gridding import FileFormatError
from mollifier.io.arrays import read_mat, read_npz
from mollifier.io.comsol import read_comsol
from mollifier.io.dataset import DatasetError, load_dataset
from mollifier.io.images import read_tiff
from mollifier.io.tables import read_rows, read_table

__all__ = ["SUFFIXES", "read_fields"]

#: Suffix (lower case) to the reader :func:`read_fields` uses for it.
SUFFIXES: dict[str, str] = {
    ".csv": "read_table",
    ".tsv": "read_table",
    ".txt": "read_comsol",
    ".npz": "read_npz",
    ".npy": "read_rows",
    ".mat": "read_mat",
    ".tif": "read_tiff",
    ".tiff": "read_tiff",
}


def _select(result: GriddedFields, fields: Sequence[str] | None, *, source: str) -> GriddedFields:
    if fields is None:
        return result
    missing = [f for f in fields if f not in result.fields]
    if missing:
        raise FileFormatError(
            f"{source}: field(s) {missing} are not in the file; it holds {list(result.fields)}"
        )
    return GriddedFields(result.coords, {f: result.fields[f] for f in fields})


def read_fields(
    path: str | os.PathLike[str],
    *,
    coords: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    spacing: Mapping[str, float] | None = None,
    columns: Sequence[str] | None = None,
) -> GriddedFields:
    """Read gridded fields from a file (or dataset directory), choosing the reader by suffix.

    ======================  ==============================================================
    path                    reader
    ======================  ==============================================================
    directory               :func:`mollifier.io.dataset.load_dataset` (``data.npz`` + ``meta.json``)
    ``.csv``, ``.tsv``      :func:`mollifier.io.tables.read_table` (header row)
    ``.txt``                :func:`mollifier.io.comsol.read_comsol` (COMSOL text export)
    ``.npz``                :func:`mollifier.io.arrays.read_npz` (grid or node-table layout)
    ``.npy``                :func:`mollifier.io.tables.read_rows` (one row per node; ``columns``)
    ``.mat``                :func:`mollifier.io.arrays.read_mat` (v5 and v7.3)
    ``.tif``, ``.tiff``     :func:`mollifier.io.images.read_tiff`
    ======================  ==============================================================

    Call the format's own reader for its other options (delimiters, headerless tables, ...).

    Parameters
    ----------
    path : path-like
        File or dataset directory.
    coords : sequence of str, optional
        Axis names, in the fields' axis order, as the reader expects them (for a TIFF: the stored
        dimensions in storage order, see :func:`~mollifier.io.images.read_tiff`). ``None`` uses the
        reader's default (``("x", "y")``; for a dataset its own axes, which ``coords`` must equal
        when given).
    fields : sequence of str, optional
        Fields to return; ``None`` returns all of them. A COMSOL export or a TIFF has no field
        names: ``fields`` then names its value column(s) (default ``("u",)``).
    spacing : mapping of str to float, optional
        Only for TIFF files: grid step per axis (see :func:`~mollifier.io.images.read_tiff`).
    columns : sequence of str, optional
        Only for ``.npy`` files, and required there: the name of every column of the 2-D node
        table (for example ``("t", "x", "y", "u")``); see :func:`~mollifier.io.tables.read_rows`.

    Returns
    -------
    GriddedFields
        ``(coords, fields)``: axis name to uniform coordinate vector, field name to ``float64``
        array indexed in axis order.

    Raises
    ------
    FileFormatError
        If the path does not exist, has an unsupported suffix, or its reader rejects it (a
        dataset's :class:`~mollifier.io.dataset.DatasetError` is re-raised as one). The message
        names the file.
    ValueError
        For invalid arguments, including ``spacing`` for a format that is not TIFF, ``columns``
        for one that is not ``.npy``, or a ``.npy`` file without ``columns``.
    """
    p = Path(path)
    source = str(p)
    if coords is not None:
        check_axis_names(coords)
    if fields is not None and (isinstance(fields, str) or len(set(fields)) != len(fields)):
        raise ValueError(f"fields must be a sequence of distinct names, got {fields!r}")
    if p.is_dir():
        try:
            ds = load_dataset(p)
        except DatasetError as exc:
            raise FileFormatError(str(exc)) from exc
        if coords is not None and tuple(coords) != ds.axes:
            raise ValueError(f"{source}: the dataset's axes are {ds.axes}, not {tuple(coords)}")
        result = finish(dict(ds.coords), dict(ds.fields), source=source)
        return _select(result, fields, source=source)
    if not p.exists():
        raise FileFormatError(f"{source}: file not found")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise FileFormatError(
            f"{source}: unsupported suffix {p.suffix!r}; read_fields knows "
            f"{sorted(SUFFIXES)} and dataset directories"
        )
    reader = SUFFIXES[suffix]
    if spacing is not None and reader != "read_tiff":
        raise ValueError(f"spacing applies to TIFF files only, not to {p.suffix!r}")
    if columns is not None and reader != "read_rows":
        raise ValueError(f"columns applies to .npy node tables only, not to {p.suffix!r}")
    if reader == "read_rows":
        if columns is None:
            raise ValueError(
                f"{source}: a .npy array has no column names; pass columns=(...) naming each "
                "column of the node table, e.g. ('t', 'x', 'y', 'u')"
            )
        return read_rows(
            p, columns=columns, coords=("x", "y") if coords is None else coords, fields=fields
        )
    if reader == "read_table":
        return read_table(p, coords=("x", "y") if coords is None else coords, fields=fields)
    if reader == "read_npz":
        return read_npz(p, coords=("x", "y") if coords is None else coords, fields=fields)
    if reader == "read_mat":
        return read_mat(p, coords=("x", "y") if coords is None else coords, fields=fields)
    if reader == "read_tiff":
        names = ("u",) if fields is None else tuple(fields)
        if len(names) != 1:
            raise ValueError(f"a TIFF holds one field; got fields={names}")
        return read_tiff(p, axes=coords, spacing=spacing, field=names[0])
    grid_coords, values = read_comsol(p, axes=None if coords is None else tuple(coords))
    names = ("u",) if fields is None else tuple(fields)
    n_values = 1 if values.ndim == len(grid_coords) else values.shape[-1]
    if len(names) != n_values:
        raise FileFormatError(
            f"{source}: the export holds {n_values} value column(s); fields names {len(names)}: "
            f"{names}"
        )
    split = (
        {names[0]: values}
        if n_values == 1
        else {n: values[..., i].copy() for i, n in enumerate(names)}
    )
    return finish(grid_coords, split, source=source)
