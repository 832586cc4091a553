"""The [data] section of a study config: what load_study_data assembles from it."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.config import ConfigError, load_config
from mollifier.study import load_study_data

X = np.linspace(0.0, 1.0, 9)
Y = np.linspace(0.0, 2.0, 5)


def _config(tmp_path, data: str, problem: str = 'builtin = "heat"'):
    path = tmp_path / "study.toml"
    path.write_text(f"[data]\n{data}\n[problem]\n{problem}\n")
    return load_config(path)


def test_npy_node_table_with_columns(tmp_path):
    gx, gy = np.meshgrid(X, Y, indexing="ij")
    u = np.sin(gx) + gy**2
    rows = np.column_stack([gy.ravel(), u.ravel(), gx.ravel()])
    np.save(tmp_path / "nodes.npy", rows[np.random.default_rng(0).permutation(len(rows))])
    cfg = _config(tmp_path, 'path = "nodes.npy"\ncoords = ["x", "y"]\ncolumns = ["y", "u", "x"]')
    ds = load_study_data(cfg)
    np.testing.assert_array_equal(ds.coords["x"], X)
    np.testing.assert_array_equal(ds.coords["y"], Y)
    np.testing.assert_array_equal(ds.fields["u"], u)


def test_columns_must_be_a_list_of_names(tmp_path):
    with pytest.raises(ConfigError, match=r"\[data\] columns"):
        _config(tmp_path, 'path = "nodes.npy"\ncoords = ["x", "y"]\ncolumns = "y,u,x"')


def _npz_data(tmp_path):
    gx, gy = np.meshgrid(X, Y, indexing="ij")
    np.savez(tmp_path / "u.npz", x=X, y=Y, u=np.sin(gx) * np.cos(gy))
    return 'path = "u.npz"\ncoords = ["x", "y"]'


def test_field_truth_from_an_expression_of_the_coordinates(tmp_path):
    data = _npz_data(tmp_path)
    cfg = _config(tmp_path, data + '\ntruth = { D = "expr: 1 + 0.5*sin(pi*x)*cos(pi*y)", c = 2 }')
    ds = load_study_data(cfg)
    gx, gy = np.meshgrid(X, Y, indexing="ij")
    np.testing.assert_allclose(ds.truth["D"], 1 + 0.5 * np.sin(np.pi * gx) * np.cos(np.pi * gy))
    assert ds.truth_axes["D"] == ("x", "y")
    assert ds.truth["c"] == 2.0
    # an expression of one coordinate still fills the grid
    one = load_study_data(_config(tmp_path, data + '\ntruth = { k = "expr: exp(-y)" }'))
    np.testing.assert_allclose(one.truth["k"], np.broadcast_to(np.exp(-Y), (9, 5)))


def test_field_truth_from_an_array_file_relative_to_the_config(tmp_path):
    data = _npz_data(tmp_path)
    sub = tmp_path / "truth"
    sub.mkdir()
    D = np.arange(45.0).reshape(9, 5)
    np.save(sub / "D_true.npy", D)
    ds = load_study_data(_config(tmp_path, data + '\ntruth = { D = "truth/D_true.npy" }'))
    np.testing.assert_array_equal(ds.truth["D"], D)


def test_truth_added_to_a_dataset_directory(tmp_path):
    from mollifier.io.dataset import Dataset, save_dataset

    save_dataset(
        Dataset(
            equation="heat",
            coords={"x": X, "y": Y},
            fields={"u": np.ones((9, 5))},
            truth={"lam": 0.5},
        ),
        tmp_path / "ds",
    )
    ds = load_study_data(_config(tmp_path, 'path = "ds"\ntruth = { D = "expr: x + y" }'))
    assert ds.truth["lam"] == 0.5
    np.testing.assert_allclose(ds.truth["D"], np.add.outer(X, Y))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"D_true"', "is not accepted"),  # a bare word: neither a file nor an expression
        ("true", "is not accepted"),
        ("{ a = 1 }", "is not accepted"),
        ('"expr: x.__class__"', "is not allowed"),
        ('"expr: __import__(1)"', None),  # passes the shape check, refused on evaluation
        ('"expr: 1 +"', "not a valid expression"),
        ('"expr: sin(x, out=y)"', "is not allowed"),
    ],
)
def test_malformed_truth_names_the_key_the_value_and_the_forms(tmp_path, value, words):
    data = _npz_data(tmp_path)
    text = data + f"\ntruth = {{ D = {value} }}"
    if words is None:
        cfg = _config(tmp_path, text)
        with pytest.raises(ConfigError, match=r"truth\.D.*unknown name\(s\) \['__import__'\]"):
            load_study_data(cfg)
        return
    with pytest.raises(ConfigError) as excinfo:
        _config(tmp_path, text)
    message = str(excinfo.value)
    assert "truth.D" in message and words in message
    if words == "is not accepted":
        assert "D_true.npy" in message and "expr: 1 + 0.5*sin(pi*x)*cos(pi*y)" in message


def test_missing_truth_file_and_unknown_coordinate(tmp_path):
    data = _npz_data(tmp_path)
    with pytest.raises(ConfigError, match=r"truth\.D: array file .*nope\.npy not found"):
        load_study_data(_config(tmp_path, data + '\ntruth = { D = "nope.npy" }'))
    with pytest.raises(ConfigError, match=r"unknown name\(s\) \['t'\]; the coordinates are"):
        load_study_data(_config(tmp_path, data + '\ntruth = { D = "expr: sin(t)" }'))
