"""The lead's COMSOL text-export reader on the shared export and on synthetic exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mollifier.grid import Grid
from mollifier.io._gridding import FileFormatError
from mollifier.io.comsol import read_comsol

from .conftest import assert_message, shared_file

HEADER = """% Model:              synthetic.mph
% Version:            COMSOL 6.0.0.405
% Date:               Jun 9 2024, 17:21
% Dimension:          {dim}
% Nodes:              {nodes}
% Expressions:        {expressions}
% Description:        Surface
% {columns}
"""


def _export(
    path: Path,
    rows: np.ndarray,
    *,
    dim: int = 2,
    columns: str = "X Y u",
    header: bool = True,
) -> Path:
    text = (
        HEADER.format(dim=dim, nodes=len(rows), expressions=rows.shape[1] - dim, columns=columns)
        if header
        else ""
    )
    body = "\n".join("    ".join(f"{v:.17g}" for v in row) for row in rows)
    path.write_text(text + body + "\n")
    return path


def _synthetic(rng: np.random.Generator, *, jitter: float = 1e-13):
    x = np.linspace(0.0, 2.0, 21)
    y = np.linspace(-1.0, 1.0, 11)
    gx, gy = np.meshgrid(x, y, indexing="ij")
    u = np.sin(np.pi * gx) * gy**2
    v = gx + 10 * gy
    rows = np.column_stack([gx.ravel(), gy.ravel(), u.ravel(), v.ravel()])
    rows = rows[rng.permutation(len(rows))]
    rows[:, :2] += rng.uniform(-jitter, jitter, size=(len(rows), 2))
    return x, y, u, v, rows


def test_shuffled_perturbed_export_is_gridded(tmp_path, rng):
    x, y, u, _, rows = _synthetic(rng)
    path = _export(tmp_path / "u.txt", rows[:, :3])
    coords, values = read_comsol(path)
    assert list(coords) == ["x", "y"]
    np.testing.assert_allclose(coords["x"], x, rtol=0, atol=1e-13)
    np.testing.assert_allclose(coords["y"], y, rtol=0, atol=1e-13)
    assert Grid(**coords).spacing["x"] == pytest.approx(0.1, rel=1e-12)
    np.testing.assert_array_equal(values, u)


def test_two_expressions_give_a_trailing_dimension(tmp_path, rng):
    _, _, u, v, rows = _synthetic(rng)
    path = _export(tmp_path / "uv.txt", rows, columns="X Y u v")
    _, values = read_comsol(path)
    assert values.shape == (21, 11, 2)
    np.testing.assert_array_equal(values[..., 0], u)
    np.testing.assert_array_equal(values[..., 1], v)


def test_headerless_export_and_custom_axis_names(tmp_path, rng):
    _, _, u, _, rows = _synthetic(rng)
    path = _export(tmp_path / "u.txt", rows[:, :3], header=False)
    coords, values = read_comsol(path, axes=("r", "s"))
    assert list(coords) == ["r", "s"]
    np.testing.assert_array_equal(values, u)


def test_three_d_export_with_dimension_header(tmp_path):
    x, y, z = np.arange(3.0), np.arange(4.0), 0.5 * np.arange(2)
    gx, gy, gz = np.meshgrid(x, y, z, indexing="ij")
    rows = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel(), (gx * gy - gz).ravel()])
    path = _export(tmp_path / "3d.txt", rows[::-1], dim=3, columns="X Y Z w")
    coords, values = read_comsol(path)
    assert list(coords) == ["x", "y", "z"]
    np.testing.assert_array_equal(values, gx * gy - gz)


def test_three_d_export_without_header_uses_the_given_axes(tmp_path):
    g = np.meshgrid(np.arange(3.0), np.arange(4.0), np.arange(2.0), indexing="ij")
    rows = np.column_stack([c.ravel() for c in g] + [sum(g).ravel()])
    path = _export(tmp_path / "3d.txt", rows, dim=3, header=False)
    _, values = read_comsol(path, axes=("x", "y", "z"))
    assert values.shape == (3, 4, 2)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda rows: rows[1:], ["missing"]),
        (lambda rows: np.vstack([rows, rows[:1]]), ["more than once"]),
        (lambda rows: np.where(rows == 2.0, 2.5, rows), ["not uniform"]),
        (lambda rows: np.vstack([[np.nan, 0.0, 1.0], rows]), ["'x'", "nan"]),
        (lambda rows: np.column_stack([np.zeros(len(rows)), rows[:, 1:]]), ["constant"]),
    ],
    ids=["missing-node", "duplicate-node", "non-uniform", "nan-coordinate", "constant-axis"],
)
def test_rejected_exports(tmp_path, rng, edit, words):
    _, _, _, _, rows = _synthetic(rng, jitter=0.0)
    path = _export(tmp_path / "bad.txt", edit(rows[:, :3]))
    with pytest.raises(FileFormatError) as excinfo:
        read_comsol(path)
    assert_message(excinfo, path, *words)


@pytest.mark.filterwarnings("ignore:loadtxt. input contained no data:UserWarning")
def test_unreadable_exports(tmp_path, rng):
    _, _, _, _, rows = _synthetic(rng)
    good = _export(tmp_path / "good.txt", rows[:, :3]).read_text()
    cases = {
        "ragged.txt": (good.replace("\n0", "\n0 1 2 3", 1), ["not a numeric comsol table"]),
        "text.txt": (good.replace("\n0", "\nabc", 1), ["not a numeric comsol table"]),
        "headeronly.txt": (
            HEADER.format(dim=2, nodes=0, expressions=1, columns="X Y u"),
            ["no data"],
        ),
        "baddim.txt": (good.replace("Dimension:          2", "Dimension: two"), ["header"]),
        "twocols.txt": ("0 0\n1 1\n", ["columns"]),
    }
    for name, (text, words) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(FileFormatError) as excinfo:
            read_comsol(path)
        assert_message(excinfo, path, *words)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\xff\xfe\x81 garbage\n\x01\x02\n")
    with pytest.raises(FileFormatError) as excinfo:
        read_comsol(binary)
    assert_message(excinfo, binary)
    with pytest.raises(FileFormatError) as excinfo:
        read_comsol(tmp_path / "none.txt")
    assert_message(excinfo, tmp_path / "none.txt", "not found")


# --- the shared COMSOL export (ananyae-24/JAXPI, examples/My_eq/data, commit e6f4216) --------


def test_shared_phi_w_export_matches_an_independent_gridding():
    path = shared_file("chromatin_comsol_lambda_0.5/Phi_w.txt")
    coords, values = read_comsol(path)
    assert values.shape == (201, 201)
    grid = Grid(**coords)
    assert grid.spacing == pytest.approx({"x": 0.05, "y": 0.05}, rel=1e-12)
    np.testing.assert_allclose(coords["x"], np.linspace(0.0, 10.0, 201), rtol=0, atol=1e-12)
    np.testing.assert_allclose(coords["y"], np.linspace(0.0, 10.0, 201), rtol=0, atol=1e-12)
    # Independent gridding: index each row by rounding its coordinates to multiples of 0.05.
    raw = np.loadtxt(path, comments="%")
    assert raw.shape == (201 * 201, 3)
    i = np.rint(raw[:, 0] / 0.05).astype(int)
    j = np.rint(raw[:, 1] / 0.05).astype(int)
    assert (
        np.max(np.abs(raw[:, 0] - 0.05 * i)) < 1e-9 and np.max(np.abs(raw[:, 1] - 0.05 * j)) < 1e-9
    )
    reference = np.full((201, 201), np.nan)
    reference[i, j] = raw[:, 2]
    np.testing.assert_array_equal(values, reference)
    # The COMSOL model is periodic on the square: opposite edges of a correctly gridded field
    # agree to round-off, which a scrambled node order would break.
    np.testing.assert_allclose(values[0, :], values[-1, :], rtol=0, atol=1e-10)
    np.testing.assert_allclose(values[:, 0], values[:, -1], rtol=0, atol=1e-10)
    assert np.max(np.abs(values[1, :] - values[-1, :])) > 1e-3
