"""CSV/TSV tables with coordinate columns: round trips, layouts and every rejected file."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

from mollifier.io import tables
from mollifier.io._gridding import FileFormatError
from mollifier.io.tables import read_table, write_table

from .conftest import assert_message, truncate


def _grid(nx: int = 13, ny: int = 7) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    x = np.linspace(-1.0, 2.0, nx)
    y = np.linspace(0.0, 0.6, ny)
    gx, gy = np.meshgrid(x, y, indexing="ij")
    return {"x": x, "y": y}, {"u": np.sin(3 * gx) * np.cos(5 * gy), "v": gx**2 - gy}


def _shuffle_rows(path: Path, rng: np.random.Generator, *, header: bool = True) -> None:
    lines = path.read_text().splitlines()
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    order = rng.permutation(len(body))
    path.write_text("\n".join(head + [body[i] for i in order]) + "\n")


@pytest.mark.parametrize("delimiter", [",", "\t", ";", " "])
def test_round_trip_with_shuffled_rows(tmp_path, rng, delimiter):
    coords, fields = _grid()
    path = write_table(tmp_path / "t.csv", coords, fields, delimiter=delimiter)
    _shuffle_rows(path, rng)
    got_coords, got_fields = read_table(path)
    assert list(got_coords) == ["x", "y"]
    for a in coords:
        # Within 1 ulp, not bit-identical: see test_coordinates_round_trip_bit_for_bit.
        np.testing.assert_array_max_ulp(got_coords[a], coords[a], maxulp=1)
    assert set(got_fields) == {"u", "v"}
    for name in fields:
        np.testing.assert_array_equal(got_fields[name], fields[name])


def test_coordinates_round_trip_bit_for_bit(tmp_path):
    coords, fields = _grid()
    got_coords, _ = read_table(write_table(tmp_path / "t.csv", coords, fields))
    np.testing.assert_array_equal(got_coords["y"], coords["y"])


def test_coords_order_sets_the_axis_order_not_the_column_order(tmp_path):
    coords, fields = _grid()
    path = write_table(tmp_path / "t.csv", coords, fields)
    swapped_coords, swapped = read_table(path, coords=("y", "x"), fields=("u",))
    assert list(swapped_coords) == ["y", "x"]
    assert list(swapped) == ["u"]
    np.testing.assert_array_equal(swapped["u"], fields["u"].T)


def test_three_axes_round_trip(tmp_path, rng):
    t = np.linspace(0.0, 1.0, 4)
    x = np.linspace(0.0, 1.0, 5)
    y = np.linspace(-2.0, 2.0, 6)
    u = rng.normal(size=(4, 5, 6))
    path = write_table(tmp_path / "t.tsv", {"t": t, "x": x, "y": y}, {"u": u}, delimiter="\t")
    _shuffle_rows(path, rng)
    coords, fields = read_table(path, coords=("t", "x", "y"))
    np.testing.assert_array_equal(fields["u"], u)
    np.testing.assert_array_equal(coords["y"], y)


def test_headerless_comsol_like_csv_with_round_off(tmp_path, rng):
    # COMSOL-like: '%' comment lines, then X, Y, value rows in no particular order, coordinates
    # carrying round-off of a few 1e-14 (like 0.0499999999999397 in real exports).
    x = np.linspace(0.0, 10.0, 21)
    y = np.linspace(0.0, 5.0, 11)
    gx, gy = np.meshgrid(x, y, indexing="ij")
    u = np.exp(-0.1 * gx) * np.sin(gy)
    rows = np.column_stack([gx.ravel(), gy.ravel(), u.ravel()])
    rows = rows[rng.permutation(len(rows))]
    rows[:, :2] += rng.uniform(-5e-14, 5e-14, size=(len(rows), 2))
    path = tmp_path / "export.csv"
    text = "% Model: synthetic\n% X,Y,u\n" + "\n".join(
        ",".join(f"{v:.17g}" for v in row) for row in rows
    )
    path.write_text(text + "\n")
    coords, fields = read_table(path, header=False)
    assert list(fields) == ["value"]
    # Snapped to a uniform grid: the round-off averages out, steps are exactly uniform.
    np.testing.assert_allclose(coords["x"], x, rtol=0, atol=5e-14)
    np.testing.assert_allclose(coords["y"], y, rtol=0, atol=5e-14)
    assert np.ptp(np.diff(coords["x"])) < 1e-14
    np.testing.assert_array_equal(fields["value"], u)
    named = read_table(path, header=False, fields=("u",)).fields
    np.testing.assert_array_equal(named["u"], u)


def test_headerless_writer_round_trip(tmp_path):
    coords, fields = _grid()
    path = write_table(tmp_path / "t.csv", coords, {"u": fields["u"]}, header=False)
    assert path.read_text().splitlines()[0].count(",") == 2  # X, Y, value: no header line
    np.testing.assert_array_equal(read_table(path, header=False).fields["value"], fields["u"])


def test_blank_and_comment_lines_and_quoted_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('# comment\n"x", "y", "u"\n\n0,0,1\n1,0,2\n# mid comment\n0,1,3\n1,1,4\n')
    coords, fields = read_table(path)
    np.testing.assert_array_equal(coords["y"], [0.0, 1.0])
    np.testing.assert_array_equal(fields["u"], [[1.0, 3.0], [2.0, 4.0]])


def test_decreasing_rows_still_give_increasing_coordinates(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y,u\n1,1,4\n1,0,2\n0,1,3\n0,0,1\n")
    coords, fields = read_table(path)
    np.testing.assert_array_equal(coords["x"], [0.0, 1.0])
    np.testing.assert_array_equal(fields["u"], [[1.0, 3.0], [2.0, 4.0]])


# --- rejected files -------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "x,y,u\n0,0,1\n1,0,2\n2,0,3\n0,1,4\n1,1,5\n2,1,6\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty"]),
        ("# only a comment\n", ["empty"]),
        ("x,y,u\n", ["no data rows"]),
        (GOOD.replace("1,0,2\n", "1,0\n"), ["line 3", "ragged"]),
        (GOOD.replace("1,0,2\n", "1,0,2,9\n"), ["line 3", "4 columns"]),
        (GOOD.replace("1,0,2\n", "1,0,abc\n"), ["line 3", "'u'", "'abc'"]),
        (GOOD.replace("1,0,2\n", "1,,2\n"), ["line 3", "'y'", "empty cell"]),
        (GOOD.replace("1,0,2\n", "nan,0,2\n"), ["'x'", "nan"]),
        (GOOD.replace("2,0,3\n", "2.5,0,3\n").replace("2,1,6\n", "2.5,1,6\n"), ["not uniform"]),
        (GOOD.replace("2,1,6\n", "2,0,6\n"), ["more than once"]),
        (GOOD.replace("2,1,6\n", ""), ["missing"]),
        ("x,x,u\n0,0,1\n", ["repeats", "'x'"]),
        ("x,,u\n0,0,1\n", ["empty column name"]),
        ("0,0,1\n1,0,2\n", ["numeric", "header=False"]),
        ("x,y\n0,0\n1,1\n", ["no value columns"]),
        ("x,u\n0,1\n1,2\n", ["['y']", "coords"]),
    ],
    ids=[
        "empty",
        "comments-only",
        "header-only",
        "short-row",
        "long-row",
        "text-cell",
        "empty-cell",
        "nan-coordinate",
        "non-uniform",
        "duplicate-node",
        "missing-node",
        "repeated-name",
        "empty-name",
        "numeric-header",
        "no-values",
        "missing-coordinate-column",
    ],
)
def test_rejected_tables_name_file_and_problem(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(FileFormatError) as excinfo:
        read_table(path)
    assert_message(excinfo, path, *words)


def test_missing_field_column(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(FileFormatError) as excinfo:
        read_table(path, fields=("u", "w"))
    assert_message(excinfo, path, "['w']", "not in the file")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileFormatError) as excinfo:
        read_table(tmp_path / "nope.csv")
    assert_message(excinfo, tmp_path / "nope.csv", "not found")
    with pytest.raises(FileFormatError) as excinfo:
        read_table(tmp_path)
    assert_message(excinfo, tmp_path, "directory")


def test_truncated_table(tmp_path):
    coords, fields = _grid()
    lines = write_table(tmp_path / "t.csv", coords, fields).read_text().splitlines(keepends=True)
    half = len(lines) // 2
    # Cut in the middle of a row: the last row is short.
    mid_row = tmp_path / "mid_row.csv"
    mid_row.write_text("".join(lines[:half]) + lines[half][:5])
    with pytest.raises(FileFormatError) as excinfo:
        read_table(mid_row)
    assert_message(excinfo, mid_row, f"line {half + 1}", "ragged or truncated")
    # Cut at a row boundary: whole rows are missing, so the grid is incomplete.
    at_row = truncate(write_table(tmp_path / "at_row.csv", coords, fields), 1.0)
    at_row.write_text("".join(lines[:half]))
    with pytest.raises(FileFormatError) as excinfo:
        read_table(at_row)
    assert_message(excinfo, at_row, "missing")


def test_garbled_binary_header(tmp_path):
    coords, fields = _grid()
    path = write_table(tmp_path / "t.csv", coords, fields)
    data = bytearray(path.read_bytes())
    data[0:4] = b"\xff\xfe\x00\x81"
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError) as excinfo:
        read_table(path)
    assert_message(excinfo, path, "utf-8")


def test_caller_errors_are_plain_value_errors(tmp_path):
    path = _write(tmp_path, GOOD)
    for kwargs in (
        {"coords": ("x", "xx")},
        {"coords": "xy"},
        {"coords": ("x", "x")},
        {"fields": ("u", "u")},
        {"fields": ("x",)},
    ):
        with pytest.raises(ValueError) as excinfo:
            read_table(path, **kwargs)
        assert not isinstance(excinfo.value, FileFormatError), kwargs


def test_writer_validates(tmp_path):
    coords, fields = _grid()
    with pytest.raises(ValueError, match="shape"):
        write_table(tmp_path / "w.csv", coords, {"u": fields["u"].T})
    with pytest.raises(ValueError, match="uniform"):
        write_table(
            tmp_path / "w.csv", {"x": [0.0, 1.0, 3.0], "y": [0.0, 1.0]}, {"u": np.ones((3, 2))}
        )
    with pytest.raises(ValueError, match="clash"):
        write_table(tmp_path / "w.csv", coords, {"x": fields["u"]})
    with pytest.raises(ValueError, match="at least one field"):
        write_table(tmp_path / "w.csv", coords, {})


def test_docstring_examples():
    result = doctest.testmod(tables, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
