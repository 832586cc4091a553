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
