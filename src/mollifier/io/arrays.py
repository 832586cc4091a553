"""Named-array containers: NumPy ``.npz`` archives and MATLAB ``.mat`` files (v4/v5/v7 and v7.3).

Both hold named arrays with no grid semantics of their own. The caller says which arrays are the
coordinate vectors (``coords``) and which are fields (``fields``); the readers check that the
coordinates are uniform and that every field has the shape they imply, in the order given. With two
or more axes, coordinates and fields may instead be node columns of one common length (one entry
per node, any order); the nodes must then form a complete uniform tensor grid.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mollifier.io._fields import (
    IMAG_RTOL,
    GriddedFields,
    check_axis_names,
    existing_file,
    finish,
    real_array,
)
from mollifier.io._gridding import FileFormatError, grid_scattered
from mollifier.io._optional import optional_module

__all__ = ["read_mat", "read_npz"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: MATLAB v7.3 files are HDF5 files with a 512-byte user block holding the MATLAB text header.
_MAT73_USERBLOCK = 512
_MATLAB_NON_NUMERIC = {"char", "cell", "struct", "logical", "function_handle", "object"}


def _coordinate(arrays: Mapping[str, np.ndarray], name: str, *, source: str, imag_rtol: float):
    arr = real_array(arrays[name], name=name, source=source, imag_rtol=imag_rtol)
    if sum(n > 1 for n in arr.shape) != 1:
        raise FileFormatError(
            f"{source}: coordinate {name!r} has shape {arr.shape}; expected a vector "
            "(one dimension longer than 1)"
        )
    return arr.ravel()


def _assemble(
    arrays: Mapping[str, np.ndarray],
    *,
    axes: tuple[str, ...],
    fields: tuple[str, ...] | None,
    squeeze: bool,
    source: str,
    imag_rtol: float,
    listing: str,
    non_numeric: Mapping[str, str] | None = None,
) -> GriddedFields:
    """Pick the coordinate vectors and fields out of a name -> array mapping and validate them.

    ``listing`` describes the file's contents for error messages.
    """
    notes = dict(non_numeric or {})
    for name in (*axes, *(fields or ())):
        if name in notes:
            raise FileFormatError(
                f"{source}: array {name!r} is a MATLAB {notes[name]}, not a numeric array"
            )
    missing = [a for a in axes if a not in arrays]
    if missing:
        raise FileFormatError(
            f"{source}: coordinate array(s) {missing} named in coords are not in the file; "
            f"it holds: {listing or 'nothing'}"
        )
    coords = {a: _coordinate(arrays, a, source=source, imag_rtol=imag_rtol) for a in axes}
    rows = _node_rows(arrays, coords, fields, source=source, imag_rtol=imag_rtol)
    if rows is not None:
        return rows
    shape = tuple(c.size for c in coords.values())

    def shaped(name: str) -> np.ndarray:
        arr = real_array(arrays[name], name=name, source=source, imag_rtol=imag_rtol)
        return np.squeeze(arr) if squeeze and arr.ndim != len(shape) else arr

    if fields is None:
        out = {}
        for name, value in arrays.items():
            if name in coords or not _is_numeric(value):
                continue
            arr = shaped(name)
            if arr.shape == shape:
                out[name] = arr
        if not out:
            permuted = [
                k
                for k, v in arrays.items()
                if k not in coords and sorted(np.shape(v)) == sorted(shape) and len(shape) > 1
            ]
            hint = (
                f"; {permuted} hold the same sizes in another order: list coords in the "
                "file's axis order"
                if permuted
                else ""
            )
            raise FileFormatError(
                f"{source}: no array has the grid shape {shape} implied by coords {axes}; "
                f"it holds: {listing}{hint}"
            )
    else:
        missing = [f for f in fields if f not in arrays]
        if missing:
            raise FileFormatError(
                f"{source}: field array(s) {missing} are not in the file; it holds: {listing}"
            )
        out = {f: shaped(f) for f in fields}
    return finish(coords, out, source=source)


def _node_rows(
    arrays: Mapping[str, np.ndarray],
    coords: Mapping[str, np.ndarray],
    fields: tuple[str, ...] | None,
    *,
    source: str,
    imag_rtol: float,
) -> GriddedFields | None:
    """The node-table layout, or None: with two or more axes, every coordinate and every field is
    a vector of the same length ``N`` (one entry per node, any order, as DeepXDE and TorchPhysics
    store data). A tensor grid's fields would have shape ``(N, N, ...)`` instead, so the two
    layouts cannot be confused. The nodes are gridded by :func:`grid_scattered`."""
    sizes = {c.size for c in coords.values()}
    if len(coords) < 2 or len(sizes) != 1:
        return None
    (n_rows,) = sizes

    def is_node_vector(value: np.ndarray) -> bool:
        shape = np.shape(value)
        return (
            _is_numeric(value) and sum(n > 1 for n in shape) == 1 and int(np.prod(shape)) == n_rows
        )

    if fields is None:
        grid_shape = (n_rows,) * len(coords)
        if any(np.shape(v) == grid_shape for k, v in arrays.items() if k not in coords):
            return None  # a tensor-grid field: the grid layout
        names = [k for k, v in arrays.items() if k not in coords and is_node_vector(v)]
    else:
        names = list(fields) if all(is_node_vector(arrays[f]) for f in fields) else []
    if not names:
        return None
    values = np.column_stack(
        [real_array(arrays[n], name=n, source=source, imag_rtol=imag_rtol).ravel() for n in names]
    )
    axes = tuple(coords)
    grid_coords, grid_values = grid_scattered(
        list(coords.values()), values, names=axes, source=source
    )
    out = {n: np.ascontiguousarray(grid_values[..., j]) for j, n in enumerate(names)}
    return finish(grid_coords, out, source=source)


def _is_numeric(value: np.ndarray) -> bool:
    dtype = np.asarray(value).dtype
    return bool(
        np.issubdtype(dtype, np.integer)
        or np.issubdtype(dtype, np.floating)
        or np.issubdtype(dtype, np.complexfloating)
    )


def _check_names(
    coords: Sequence[str], fields: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    axes = check_axis_names(coords)
    if fields is None:
        return axes, None
    if isinstance(fields, str):
        raise ValueError(f"fields must be a sequence of names such as ('u',), not {fields!r}")
    wanted = tuple(fields)
    if not wanted or len(set(wanted)) != len(wanted):
        raise ValueError(f"fields must be distinct names, got {wanted}")
    overlap = [f for f in wanted if f in axes]
    if overlap:
        raise ValueError(f"fields {overlap} are also named in coords")
    return axes, wanted


def read_npz(
    path: str | os.PathLike[str],
    *,
    coords: Sequence[str] = ("x", "y"),
    fields: Sequence[str] | None = None,
    imag_rtol: float = IMAG_RTOL,
) -> GriddedFields:
    """Read coordinate vectors and gridded fields from a NumPy ``.npz`` archive.

    Any ``.npz`` works (it need not be the project's dataset format, see
    :mod:`mollifier.io.dataset`): the archive must hold one 1-D array per axis named in ``coords``
    and the fields, each of shape ``(len(coords[0]), len(coords[1]), ...)`` (indexed in axis order).
    Alternatively, with two or more axes, the node-table layout: every coordinate and field is a
    vector of one common length, one entry per node in any order (``t, x, y, u`` columns as
    DeepXDE stores them); the nodes must fill a uniform tensor grid exactly once.

    Parameters
    ----------
    path : path-like
        The ``.npz`` file (compressed or not). Pickled (object) arrays are refused.
    coords : sequence of str
        Names of the coordinate arrays, in the fields' axis order.
    fields : sequence of str, optional
        Names of the field arrays. ``None`` takes every other numeric (non-boolean) array whose
        shape is the grid's and skips the rest (scalars, masks, parameters).
    imag_rtol : float
        A complex array is accepted, as its real part, when ``max|imag| <= imag_rtol * max|value|``.

    Returns
    -------
    GriddedFields
        ``(coords, fields)`` as ``float64`` arrays; a decreasing coordinate axis is reversed (and
        the fields flipped along it) so that coordinates increase.

    Raises
    ------
    FileFormatError
        If the file is missing, not an npz archive, corrupt or truncated, lacks a named array, holds
        non-numeric or non-negligibly complex data, has coordinates that are not a uniform finite
        vector, or a field whose shape is not the grid's. The message names the file.
    """
    axes, wanted = _check_names(coords, fields)
    p = existing_file(path)
    source = str(p)
    try:
        npz = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FileFormatError(f"{source}: not an npz archive ({exc})") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise FileFormatError(f"{source}: a single .npy array, not an .npz archive")
    with npz:
        names = npz.files if wanted is None else [n for n in npz.files if n in {*axes, *wanted}]
        try:
            arrays = {n: npz[n] for n in names}
        except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as exc:
            raise FileFormatError(
                f"{source}: corrupt or truncated npz archive ({type(exc).__name__}: {exc})"
            ) from exc
        listing = ", ".join(npz.files)
    return _assemble(
        arrays,
        axes=axes,
        fields=wanted,
        squeeze=False,
        source=source,
        imag_rtol=imag_rtol,
        listing=listing,
    )


def _is_mat73(p: Path) -> bool:
    with open(p, "rb") as fh:
        head = fh.read(_MAT73_USERBLOCK + len(_HDF5_SIGNATURE))
    return (
        head.startswith(b"MATLAB 7.3")
        or head.startswith(_HDF5_SIGNATURE)
        or head[_MAT73_USERBLOCK:].startswith(_HDF5_SIGNATURE)
    )


def _read_mat73(
    p: Path, *, wanted: set[str] | None, source: str
) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """Datasets of a MATLAB v7.3 file, transposed back to MATLAB's (row, column, ...) order.

    MATLAB writes arrays column-major, so an ``m x n`` MATLAB array is an HDF5 dataset of shape
    ``(n, m)``; reversing the axes restores MATLAB's shape and indexing. Complex arrays are HDF5
    compound datasets with members ``real`` and ``imag``.
    """
    h5py = optional_module("h5py", f"{source} is a MATLAB v7.3 (HDF5) file; reading it")
    arrays: dict[str, np.ndarray] = {}
    non_numeric: dict[str, str] = {}
    inventory: list[str] = []
    try:
        with h5py.File(p, "r") as f:
            for name, obj in f.items():
                if name.startswith("#"):
                    continue  # '#refs#', '#subsystem#': MATLAB internals
                cls = obj.attrs.get("MATLAB_class", b"")
                cls = cls.decode() if isinstance(cls, bytes) else str(cls)
                shape = tuple(reversed(obj.shape)) if isinstance(obj, h5py.Dataset) else ()
                inventory.append(f"{name} {shape} {cls}".rstrip())
                if wanted is not None and name not in wanted:
                    continue
                if not isinstance(obj, h5py.Dataset):
                    non_numeric[name] = cls or "group"
                    continue
                if cls in _MATLAB_NON_NUMERIC:
                    non_numeric[name] = cls
                    continue
                if obj.attrs.get("MATLAB_empty", 0):
                    arrays[name] = np.empty((0,))
                    continue
                data = obj[()]
                if data.dtype.names is not None:
                    if set(data.dtype.names) != {"real", "imag"}:
                        non_numeric[name] = f"compound {data.dtype.names}"
                        continue
                    data = data["real"] + 1j * data["imag"]
                arrays[name] = np.asarray(data).T
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... on damaged files
        raise FileFormatError(
            f"{source}: corrupt or truncated MATLAB v7.3 (HDF5) file ({type(exc).__name__}: {exc})"
        ) from exc
    return arrays, non_numeric, ", ".join(inventory)


def _read_mat5(
    p: Path, *, wanted: set[str] | None, source: str
) -> tuple[dict[str, np.ndarray], str]:
    """Variables of a MATLAB v4/v5/v7 file (scipy), and a listing of all of them."""
    from scipy.io import loadmat, whosmat

    try:
        raw = loadmat(
            p,
            squeeze_me=False,
            variable_names=None if wanted is None else sorted(wanted),
        )
        arrays = {k: v for k, v in raw.items() if not k.startswith("__")}
        if wanted is None:
            listing = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in arrays.items())
        else:
            listing = ", ".join(f"{k} {shape} {cls}" for k, shape, cls in whosmat(p))
    except Exception as exc:  # scipy raises many exception types on damaged files
        raise FileFormatError(
            f"{source}: corrupt or truncated MATLAB file ({type(exc).__name__}: {exc})"
        ) from exc
    return arrays, listing


def read_mat(
    path: str | os.PathLike[str],
    *,
    coords: Sequence[str] = ("x", "y"),
    fields: Sequence[str] | None = None,
    squeeze: bool = True,
    imag_rtol: float = IMAG_RTOL,
) -> GriddedFields:
    """Read coordinate vectors and gridded fields from a MATLAB ``.mat`` file.

    Versions 4, 5 and 7 are read with :func:`scipy.io.loadmat`; version 7.3 (an HDF5 file behind a
    512-byte MATLAB header) with h5py, an optional dependency (``pip install mollifier[io]``). The
    version is detected from the file, not the suffix.

    Index convention: a MATLAB array ``u`` of size ``m x n`` is returned with shape ``(m, n)`` and
    ``u[i, j]`` equal to MATLAB's ``u(i+1, j+1)``, for every version (v7.3 stores the transpose,
    which is undone). So with ``coords=("x", "t")`` the field must be ``numel(x) x numel(t)``
    in MATLAB. Arrays saved from ``meshgrid`` output are ``[y, x]``: pass ``coords=("y", "x")``.

    Parameters
    ----------
    path : path-like
        The ``.mat`` file.
    coords : sequence of str
        Names of the coordinate variables, in the fields' axis order. Coordinates may be row or
        column vectors.
    fields : sequence of str, optional
        Names of the field variables. ``None`` takes every other numeric variable whose shape
        (squeezed when ``squeeze``) is the grid's, and skips the rest.
    squeeze : bool
        Drop singleton dimensions of fields (MATLAB has no 1-D arrays: a field over one axis is a
        ``1 x n`` or ``n x 1`` matrix). With ``False`` a field must have exactly the grid's shape.
    imag_rtol : float
        Complex variables are accepted, as their real part, when ``max|imag| <= imag_rtol *
        max|value|`` (MATLAB code often stores ``real(ifft(...))`` results as complex).

    Returns
    -------
    GriddedFields
        ``(coords, fields)`` as ``float64`` arrays; a decreasing coordinate axis is reversed (and
        the fields flipped along it).

    Raises
    ------
    FileFormatError
        If the file is missing, corrupt or truncated, lacks a named variable, holds a non-numeric
        (char, cell, struct, logical) or non-negligibly complex variable where a number array is
        needed, has non-uniform or non-finite coordinates, or a field of the wrong shape (for
        example 3-D where the coordinates give a 2-D grid). The message names the file.
    ImportError
        For a v7.3 file when h5py is not installed.

    Examples
    --------
    >>> import numpy as np, scipy.io, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "u.mat"
    >>> x, t = np.linspace(0, 1, 5), np.linspace(0, 2, 3)
    >>> scipy.io.savemat(p, {"x": x, "t": t, "u": np.add.outer(x, 10 * t)})
    >>> coords, fields = read_mat(p, coords=("x", "t"))
    >>> fields["u"].shape, float(fields["u"][4, 2])
    ((5, 3), 21.0)
    """
    axes, wanted = _check_names(coords, fields)
    p = existing_file(path)
    source = str(p)
    selection = None if wanted is None else {*axes, *wanted}
    non_numeric: dict[str, str] = {}
    if _is_mat73(p):
        arrays, non_numeric, listing = _read_mat73(p, wanted=selection, source=source)
    else:
        arrays, listing = _read_mat5(p, wanted=selection, source=source)
    return _assemble(
        arrays,
        axes=axes,
        fields=wanted,
        squeeze=squeeze,
        source=source,
        imag_rtol=imag_rtol,
        listing=listing,
        non_numeric=non_numeric,
    )
