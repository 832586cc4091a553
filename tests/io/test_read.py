"""``read_fields``: the suffix dispatcher gives every format the same result shape."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from mollifier.io._gridding import FileFormatError
from mollifier.io.dataset import Dataset, save_dataset
from mollifier.io.images import write_tiff
from mollifier.io.read import SUFFIXES, read_fields
from mollifier.io.tables import write_table

from .conftest import assert_message

X = np.linspace(0.0, 1.5, 4)  # spacing 0.5: exactly representable everywhere, TIFF included
Y = np.linspace(0.0, 1.0, 3)
U = np.arange(12.0).reshape(4, 3) ** 1.5


def _write(tmp_path, suffix: str):
    path = tmp_path / f"data{suffix}"
    if suffix in (".csv", ".CSV"):
        write_table(path, {"x": X, "y": Y}, {"u": U})
    elif suffix == ".tsv":
        write_table(path, {"x": X, "y": Y}, {"u": U}, delimiter="\t")
    elif suffix == ".txt":
        gx, gy = np.meshgrid(X, Y, indexing="ij")
        rows = np.column_stack([gx.ravel(), gy.ravel(), U.ravel()])[::-1]
        path.write_text(
            "% Dimension: 2\n% X Y u\n" + "\n".join(" ".join(f"{v:.17g}" for v in r) for r in rows)
        )
    elif suffix == ".npz":
        np.savez(path, x=X, y=Y, u=U)
    elif suffix == ".npy":  # a node table, rows in reverse order
        gx, gy = np.meshgrid(X, Y, indexing="ij")
        np.save(path, np.column_stack([gx.ravel(), gy.ravel(), U.ravel()])[::-1])
    elif suffix == ".mat":
        scipy.io.savemat(path, {"x": X, "y": Y, "u": U})
    elif suffix in (".tif", ".tiff"):
        write_tiff(path, {"x": X, "y": Y}, U.astype(np.float32))
    return path


@pytest.mark.parametrize("suffix", [*sorted(SUFFIXES), ".CSV"])
def test_every_suffix_reads_the_same_grid(tmp_path, suffix):
    columns = ("x", "y", "u") if suffix == ".npy" else None
    coords, fields = read_fields(_write(tmp_path, suffix), columns=columns)
    assert list(coords) == ["x", "y"] and list(fields) == ["u"]
    np.testing.assert_array_max_ulp(coords["x"], X, maxulp=1)
    np.testing.assert_array_max_ulp(coords["y"], Y, maxulp=1)
    np.testing.assert_array_equal(fields["u"], U.astype(np.float32) if "tif" in suffix else U)


def test_dataset_directory(tmp_path):
    ds = Dataset(equation="heat", coords={"x": X, "y": Y}, fields={"u": U, "v": -U})
    out = save_dataset(ds, tmp_path / "ds")
    coords, fields = read_fields(out)
    np.testing.assert_array_equal(coords["x"], X)
    assert list(fields) == ["u", "v"]
    np.testing.assert_array_equal(fields["v"], -U)
    assert list(read_fields(out, fields=("v",)).fields) == ["v"]
    with pytest.raises(FileFormatError) as excinfo:
        read_fields(out, fields=("w",))
    assert_message(excinfo, out, "['w']")
    with pytest.raises(ValueError, match="axes are"):
        read_fields(out, coords=("y", "x"))
    (out / "meta.json").write_text("{broken")
    with pytest.raises(FileFormatError) as excinfo:
        read_fields(out)
    assert_message(excinfo, out / "meta.json", "not valid JSON")


def test_options_reach_the_readers(tmp_path):
    tif = _write(tmp_path, ".tif")
    assert list(read_fields(tif, fields=("phi",)).fields) == ["phi"]
    assert read_fields(tif, coords=("y", "x"), spacing={"x": 2.0}).coords["x"][1] == 2.0
    npz = _write(tmp_path, ".npz")
    with pytest.raises(FileFormatError) as excinfo:
        read_fields(npz, coords=("y", "x"))
    assert_message(excinfo, npz, "another order")


def test_comsol_value_columns_are_named_by_fields(tmp_path):
    gx, gy = np.meshgrid(X, Y, indexing="ij")
    rows = np.column_stack([gx.ravel(), gy.ravel(), U.ravel(), 2 * U.ravel()])
    path = tmp_path / "two.txt"
    path.write_text("% Dimension: 2\n" + "\n".join(" ".join(f"{v:.17g}" for v in r) for r in rows))
    fields = read_fields(path, fields=("a", "b")).fields
    np.testing.assert_array_equal(fields["b"], 2 * U)
    with pytest.raises(FileFormatError) as excinfo:
        read_fields(path)
    assert_message(excinfo, path, "2 value column(s)")


def test_dispatcher_errors(tmp_path):
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(FileFormatError) as excinfo:
        read_fields(odd)
    assert_message(excinfo, odd, "unsupported suffix", ".npz")
    with pytest.raises(FileFormatError) as excinfo:
        read_fields(tmp_path / "none.csv")
    assert_message(excinfo, tmp_path / "none.csv", "not found")
    with pytest.raises(ValueError, match="TIFF files only"):
        read_fields(_write(tmp_path, ".npz"), spacing={"x": 1.0})
    with pytest.raises(ValueError, match="one field"):
        read_fields(_write(tmp_path, ".tif"), fields=("a", "b"))
