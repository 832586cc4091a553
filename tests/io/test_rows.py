"""Node tables (one row per node, DeepXDE/TorchPhysics layout) in any row order: arrays, .npy,
.npz columns and CSV give exactly the reference grid; incomplete grids are refused."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.io import FileFormatError, read_fields, read_npz, read_rows, read_table

T = np.array([0.0, 0.5, 1.0])
X = np.array([0.0, 0.25, 0.5, 0.75])
Y = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])


def _reference():
    tt, xx, yy = np.meshgrid(T, X, Y, indexing="ij")
    u = np.exp(-tt) * np.sin(np.pi * xx) * np.cos(np.pi * yy) + 0.1 * tt
    v = xx * yy - tt
    return u, v


def _shuffled_rows(seed: int = 0) -> np.ndarray:
    """Columns t, x, y, u, v; one row per node, in a random order."""
    u, v = _reference()
    tt, xx, yy = np.meshgrid(T, X, Y, indexing="ij")
    rows = np.column_stack([a.ravel() for a in (tt, xx, yy, u, v)])
    return rows[np.random.default_rng(seed).permutation(len(rows))]


def _check(result, names=("u", "v")) -> None:
    coords, fields = result
    assert list(coords) == ["t", "x", "y"]
    np.testing.assert_array_equal(coords["t"], T)
    np.testing.assert_array_equal(coords["x"], X)
    np.testing.assert_array_equal(coords["y"], Y)
    u, v = _reference()
    reference = {"u": u, "v": v}
    assert list(fields) == list(names)
    for name in names:
        np.testing.assert_array_equal(fields[name], reference[name])


COLUMNS = ("t", "x", "y", "u", "v")


def test_in_memory_array_in_any_row_order():
    _check(read_rows(_shuffled_rows(0), columns=COLUMNS, coords=("t", "x", "y")))
    _check(read_rows(_shuffled_rows(1), columns=COLUMNS, coords=("t", "x", "y")))


def test_axis_order_follows_coords_not_column_order():
    rows = _shuffled_rows()[:, [3, 2, 0, 4, 1]]  # u, y, t, v, x
    coords, fields = read_rows(rows, columns=("u", "y", "t", "v", "x"), coords=("x", "t", "y"))
    assert list(coords) == ["x", "t", "y"]
    u, _ = _reference()
    np.testing.assert_array_equal(fields["u"], u.transpose(1, 0, 2))


def test_npy_file_through_read_fields(tmp_path):
    path = tmp_path / "nodes.npy"
    np.save(path, _shuffled_rows())
    _check(read_fields(path, coords=("t", "x", "y"), columns=COLUMNS))
    _check(read_fields(path, coords=("t", "x", "y"), columns=COLUMNS, fields=["v"]), ("v",))
    with pytest.raises(ValueError, match=r"no column names; pass columns="):
        read_fields(path, coords=("t", "x", "y"))


def test_npz_node_columns(tmp_path):
    rows = _shuffled_rows()
    path = tmp_path / "nodes.npz"
    np.savez(path, **{n: rows[:, i] for i, n in enumerate(COLUMNS)}, nu=np.array(0.1))
    _check(read_npz(path, coords=("t", "x", "y")))
    _check(read_fields(path, coords=("t", "x", "y"), fields=["u", "v"]))
    # column vectors (n x 1), as MATLAB users save them, are node columns too
    np.savez(path, **{n: rows[:, i : i + 1] for i, n in enumerate(COLUMNS)})
    _check(read_npz(path, coords=("t", "x", "y")))


def test_npz_square_grid_with_a_parameter_vector_stays_a_grid(tmp_path):
    """x and y of equal length n and a length-n parameter vector: u (n, n) makes it a grid."""
    x = np.linspace(0, 1, 4)
    u = np.add.outer(x, 2 * x)
    path = tmp_path / "grid.npz"
    np.savez(path, x=x, y=x, u=u, profile=np.arange(4.0))
    coords, fields = read_npz(path)
    np.testing.assert_array_equal(coords["y"], x)
    assert list(fields) == ["u"]
    np.testing.assert_array_equal(fields["u"], u)


def test_csv_in_any_row_order(tmp_path):
    path = tmp_path / "nodes.csv"
    np.savetxt(path, _shuffled_rows(), delimiter=",", header=",".join(COLUMNS), comments="")
    _check(read_table(path, coords=("t", "x", "y")))


def test_missing_and_repeated_nodes_are_counted():
    rows = _shuffled_rows()
    with pytest.raises(FileFormatError, match=r"3 of 60 nodes of the \(3, 4, 5\) grid are missing"):
        read_rows(rows[3:], columns=COLUMNS, coords=("t", "x", "y"))
    with pytest.raises(FileFormatError, match="2 grid nodes appear more than once"):
        read_rows(np.vstack([rows, rows[:2]]), columns=COLUMNS, coords=("t", "x", "y"))


def test_non_uniform_axis_is_refused():
    rows = _shuffled_rows()
    rows[:, 1] = np.where(rows[:, 1] == 0.75, 0.9, rows[:, 1])
    with pytest.raises(FileFormatError, match="uniform"):
        read_rows(rows, columns=COLUMNS, coords=("t", "x", "y"))


def test_bad_tables_and_names():
    rows = _shuffled_rows()
    with pytest.raises(FileFormatError, match=r"one column per name.*shape \(60, 5\)"):
        read_rows(rows, columns=("t", "x", "y", "u"), coords=("t", "x", "y"))
    with pytest.raises(FileFormatError, match="not numeric"):
        read_rows(rows.astype(str), columns=COLUMNS, coords=("t", "x", "y"))
    with pytest.raises(ValueError, match=r"coords \['z'\] are not among the columns"):
        read_rows(rows, columns=COLUMNS, coords=("t", "x", "z"))
    with pytest.raises(ValueError, match=r"fields \['w'\] are not among the columns"):
        read_rows(rows, columns=COLUMNS, coords=("t", "x", "y"), fields=["w"])
    with pytest.raises(ValueError, match="repeats"):
        read_rows(rows, columns=("t", "x", "y", "u", "u"), coords=("t", "x", "y"))


def test_columns_is_for_npy_only(tmp_path):
    path = tmp_path / "nodes.csv"
    np.savetxt(path, _shuffled_rows(), delimiter=",", header=",".join(COLUMNS), comments="")
    with pytest.raises(ValueError, match=r"columns applies to \.npy node tables only"):
        read_fields(path, coords=("t", "x", "y"), columns=COLUMNS)
