"""Tables with one row per grid node: delimited text (CSV, TSV, whitespace), ``.npy`` arrays and
in-memory 2-D arrays with named columns."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mollifier.grid import Grid
from mollifier.io._delimiter import sniff_delimiter, split_rows
from mollifier.io._fields import (
    GriddedFields,
    check_axis_names,
    existing_file,
    finish,
    real_array,
)
from mollifier.io._gridding import FileFormatError, grid_scattered

__all__ = ["read_rows", "read_table", "write_table"]

_DEFAULT_VALUE_NAME = "value"


def _parse_number_rows(
    rows: list[list[str]], line_numbers: list[int], names: Sequence[str], source: str
) -> np.ndarray:
    """Rows of strings to a float array; on failure name the first bad cell and its line."""
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        pass
    for row, line_no in zip(rows, line_numbers, strict=True):
        for name, cell in zip(names, row, strict=True):
            try:
                float(cell)
            except ValueError:
                shown = "an empty cell" if cell == "" else repr(cell)
                raise FileFormatError(
                    f"{source}: line {line_no}, column {name!r}: cannot read {shown} as a number"
                ) from None
    raise FileFormatError(f"{source}: table is not numeric")  # unreachable in practice


def _column_names(
    first: list[str],
    *,
    header: bool,
    axes: tuple[str, ...],
    wanted: tuple[str, ...] | None,
    source: str,
) -> tuple[list[str], tuple[str, ...] | None]:
    """The table's column names, from its header row ``first`` or, headerless, from ``coords``
    and ``fields``; and the value columns to read (``None``: every non-coordinate column)."""
    if header:
        names = [cell.strip("'").strip() for cell in first]
        if all(_is_number(n) for n in names):
            raise FileFormatError(
                f"{source}: the first row {names} is numeric, not a header; pass header=False "
                "for a headerless X, Y, value table"
            )
        if any(n == "" for n in names):
            raise FileFormatError(f"{source}: the header row has an empty column name: {names}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise FileFormatError(f"{source}: the header repeats column names {repeated}")
    else:
        n_cols = len(first)
        n_values = n_cols - len(axes)
        if wanted is None:
            if n_values != 1:
                raise FileFormatError(
                    f"{source}: a headerless table with {n_cols} columns has {n_values} value "
                    f"columns after the {len(axes)} coordinates; name them with fields=..."
                )
            wanted = (_DEFAULT_VALUE_NAME,)
        names = [*axes, *wanted]
        if n_cols != len(names):
            raise FileFormatError(
                f"{source}: the first row has {n_cols} columns, but coords + fields name "
                f"{len(names)}: {names}"
            )
    return names, wanted


def read_table(
    path: str | os.PathLike[str],
    *,
    coords: Sequence[str] = ("x", "y"),
    fields: Sequence[str] | None = None,
    delimiter: str | None = None,
    header: bool = True,
    comments: Sequence[str] = ("#", "%"),
) -> GriddedFields:
    """Read a table whose rows are grid nodes: coordinate columns, then value columns.

    Rows may come in any order and coordinates may carry round-off; nodes are snapped onto the
    uniform tensor grid they sample (:func:`mollifier.io._gridding.grid_scattered`). Every node of
    that grid must appear exactly once.

    Parameters
    ----------
    path : path-like
        The table. Blank lines and lines starting with one of ``comments`` are skipped.
    coords : sequence of str
        Names of the coordinate columns, in the axis order of the returned fields. With
        ``header=True`` they must be column names in the file; the returned fields are indexed
        ``[coords[0], coords[1], ...]`` regardless of the column order in the file.
    fields : sequence of str, optional
        Value columns to read. ``None`` reads every non-coordinate column (with ``header=True``),
        or the single value column, named ``"value"``, of a headerless file.
    delimiter : str, optional
        Column separator. ``None`` detects it from the first rows
        (:func:`mollifier.io._delimiter.sniff_delimiter`): comma, tab, semicolon, or runs of
        whitespace. Cells in double quotes may contain the separator.
    header : bool
        ``True`` (default): the first row names the columns. ``False``: the COMSOL-like headerless
        layout ``X, Y[, Z], value[s]``; columns are then named ``(*coords, *fields)`` in file order.
    comments : sequence of str
        Line prefixes that mark comment lines (COMSOL writes ``%`` header lines).

    Returns
    -------
    GriddedFields
        ``(coords, fields)``: axis name to uniform coordinate vector (exact ``linspace`` values),
        and field name to a ``float64`` array of shape ``(len(coords[0]), len(coords[1]), ...)``.
        Units are the file's.

    Raises
    ------
    FileFormatError
        If the file is missing or not text, has no data rows, has ragged or non-numeric rows, lacks
        a column named in ``coords`` or ``fields``, repeats a column name, has NaN or inf
        coordinates, or its nodes do not fill a uniform grid exactly once (missing, duplicate or
        non-uniform nodes). The message names the file and the problem.
    ValueError
        For invalid arguments (axis names that are not single letters, repeated names).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("y,x,u\\n0,0,1\\n0,1,2\\n1,0,3\\n1,1,4\\n2,0,5\\n2,1,6\\n")
    >>> coords, fields = read_table(p)
    >>> fields["u"].shape, float(fields["u"][1, 2])
    ((2, 3), 6.0)
    """
    axes = check_axis_names(coords)
    wanted = None if fields is None else tuple(fields)
    if wanted is not None:
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"fields repeats a name: {wanted}")
        overlap = [f for f in wanted if f in axes]
        if overlap:
            raise ValueError(f"fields {overlap} are also named in coords")
    source, lines = _text_lines(path, comments)
    texts = [line for _, line in lines]
    sep = sniff_delimiter("\n".join(texts[:20])) if delimiter is None else delimiter
    table = split_rows(texts, sep)

    names, wanted = _column_names(table[0], header=header, axes=axes, wanted=wanted, source=source)
    body = lines[1:] if header else lines
    if not body:
        raise FileFormatError(f"{source}: the table has a header but no data rows")

    rows = table[len(lines) - len(body) :]
    for (line_no, _), cells in zip(body, rows, strict=True):
        if len(cells) != len(names):
            raise FileFormatError(
                f"{source}: line {line_no} has {len(cells)} columns, but the table has "
                f"{len(names)} ({', '.join(names)}); the table is ragged or truncated"
            )
    data = _parse_number_rows(rows, [n for n, _ in body], names, source)

    missing = [a for a in axes if a not in names]
    if missing:
        raise FileFormatError(
            f"{source}: coordinate column(s) {missing} named in coords are not in the file; "
            f"its columns are {names}"
        )
    if wanted is None:
        wanted = tuple(n for n in names if n not in axes)
        if not wanted:
            raise FileFormatError(f"{source}: no value columns besides the coordinates {axes}")
    else:
        missing = [f for f in wanted if f not in names]
        if missing:
            raise FileFormatError(
                f"{source}: field column(s) {missing} are not in the file; its columns are {names}"
            )
    col = {n: i for i, n in enumerate(names)}
    values = data[:, [col[f] for f in wanted]]
    grid_coords, grid_values = grid_scattered(
        [data[:, col[a]] for a in axes], values, names=axes, source=source
    )
    result = {f: np.ascontiguousarray(grid_values[..., j]) for j, f in enumerate(wanted)}
    return finish(grid_coords, result, source=source)


def _text_lines(
    path: str | os.PathLike[str], comments: Sequence[str]
) -> tuple[str, list[tuple[int, str]]]:
    """The file's name and its non-blank, non-comment lines with their 1-based line numbers;
    ``FileFormatError`` for a file that is not UTF-8 text or has no such line."""
    p = existing_file(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{source}: not a UTF-8 text table ({exc})") from exc
    prefixes = tuple(comments)
    lines = [
        (i + 1, line)
        for i, line in enumerate(text.splitlines())
        if line.strip() and not (prefixes and line.lstrip().startswith(prefixes))
    ]
    if not lines:
        raise FileFormatError(f"{source}: the table is empty (no header and no data rows)")
    return source, lines


def read_rows(
    table: np.ndarray | str | os.PathLike[str],
    *,
    columns: Sequence[str],
    coords: Sequence[str] = ("x", "y"),
    fields: Sequence[str] | None = None,
) -> GriddedFields:
    """Grid a numeric table whose rows are nodes: an in-memory 2-D array or a ``.npy`` file.

    The layout of DeepXDE's and TorchPhysics's data, one row per node such as ``t, x, y, u``,
    with the column names given by the caller (an array has none). Rows may come in any order;
    they must form a complete uniform tensor grid, each node exactly once
    (:func:`mollifier.io._gridding.grid_scattered`: the distinct values of each coordinate column,
    sorted, are its axis, checked uniform by :class:`mollifier.grid.Grid`).

    Parameters
    ----------
    table : ndarray or path-like
        Array of shape ``(n_rows, len(columns))``, or a ``.npy`` file holding one (pickled
        object arrays are refused).
    columns : sequence of str
        The name of every column, in order.
    coords : sequence of str
        The coordinate columns, in the axis order of the returned fields.
    fields : sequence of str, optional
        Value columns to return; ``None`` returns every column not in ``coords``.

    Returns
    -------
    GriddedFields
        ``(coords, fields)``: exact ``linspace`` coordinate vectors, and ``float64`` fields indexed
        ``[coords[0], coords[1], ...]``.

    Raises
    ------
    FileFormatError
        If the table is not a finite numeric 2-D array with one column per name, or its rows do
        not fill a uniform tensor grid exactly once; the message says how many nodes are missing
        or repeated.
    ValueError
        For invalid names (axes that are not single letters, a coordinate or field not among
        ``columns``, repeated names).

    Examples
    --------
    >>> rows = np.array([[1, 0, 30.0], [0, 1, 20.0], [1, 1, 40.0], [0, 0, 10.0]])
    >>> coords, fields = read_rows(rows, columns=("x", "y", "u"))
    >>> fields["u"].tolist()
    [[10.0, 20.0], [30.0, 40.0]]
    """
    axes = check_axis_names(coords)
    if isinstance(columns, str):
        raise ValueError(
            f"columns must be a sequence of names such as ('x', 'y', 'u'), not {columns!r}"
        )
    names = tuple(columns)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"columns repeats names {repeated}")
    missing = [a for a in axes if a not in names]
    if missing:
        raise ValueError(f"coords {missing} are not among the columns {list(names)}")
    if fields is None:
        wanted = tuple(n for n in names if n not in axes)
        if not wanted:
            raise ValueError(f"no value columns besides the coordinates {axes}")
    else:
        wanted = tuple(fields)
        absent = [f for f in wanted if f not in names]
        if absent:
            raise ValueError(f"fields {absent} are not among the columns {list(names)}")
        clash = [f for f in wanted if f in axes]
        if clash:
            raise ValueError(f"fields {clash} are also named in coords")
    if isinstance(table, np.ndarray):
        source, raw = "table", table
    else:
        p = existing_file(table)
        source = str(p)
        try:
            raw = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FileFormatError(f"{source}: not a readable .npy array ({exc})") from exc
        if not isinstance(raw, np.ndarray):
            raise FileFormatError(f"{source}: an .npz archive, not a single .npy array")
    data = real_array(raw, name="table", source=source)
    if data.ndim != 2 or data.shape[1] != len(names):
        raise FileFormatError(
            f"{source}: a node table must be 2-D with one column per name in columns "
            f"({len(names)}: {list(names)}), got shape {data.shape}"
        )
    if data.shape[0] == 0:
        raise FileFormatError(f"{source}: the table has no rows")
    col = {n: i for i, n in enumerate(names)}
    grid_coords, grid_values = grid_scattered(
        [data[:, col[a]] for a in axes],
        data[:, [col[f] for f in wanted]],
        names=axes,
        source=source,
    )
    result = {f: np.ascontiguousarray(grid_values[..., j]) for j, f in enumerate(wanted)}
    return finish(grid_coords, result, source=source)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_table(
    path: str | os.PathLike[str],
    coords: Mapping[str, np.ndarray],
    fields: Mapping[str, np.ndarray],
    *,
    delimiter: str = ",",
    header: bool = True,
) -> Path:
    """Write gridded fields as a table with one row per node, readable by :func:`read_table`.

    Columns are the coordinates (in ``coords`` order) followed by the fields; rows run over the
    grid in C order (the last axis fastest). Numbers are written with 17 significant digits, so a
    ``float64`` round trip is exact.

    Parameters
    ----------
    path : path-like
        Output file (overwritten).
    coords : mapping of str to ndarray
        Axis name to uniform 1-D coordinate vector.
    fields : mapping of str to ndarray
        Field name to array of shape ``tuple(len(c) for c in coords.values())``.
    delimiter : str
        Column separator.
    header : bool
        Write a header row of column names (``False`` gives the headerless X, Y, value layout).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the coordinates are not a valid uniform grid (:class:`mollifier.grid.GridError`), a
        field's shape is not the grid's, a name clashes or contains the delimiter, or there are no
        fields.
    """
    grid = Grid(**dict(coords))
    if not fields:
        raise ValueError("write_table needs at least one field")
    names = [*grid.axes, *fields]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"field names clash with axis names: {repeated}")
    if header and any(delimiter in n or "\n" in n for n in names):
        raise ValueError(f"column names must not contain the delimiter {delimiter!r}: {names}")
    columns = [m.ravel() for m in grid.mesh()]
    for name, value in fields.items():
        arr = np.asarray(value, dtype=np.float64)
        grid.check_array(f"field {name!r}", arr)
        columns.append(arr.ravel())
    out = Path(path)
    np.savetxt(
        out,
        np.column_stack(columns),
        fmt="%.17g",
        delimiter=delimiter,
        header=delimiter.join(names) if header else "",
        comments="",
    )
    return out
