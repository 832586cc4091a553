"""Grid: named uniform axes and the errors for coordinates that are not."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml


def test_grid_properties():
    t = np.linspace(0, 2, 21)
    x = np.linspace(-1, 1, 11)
    g = ml.Grid(t=t, x=x)
    assert g.axes == ("t", "x") and g.shape == (21, 11) and g.ndim == 2
    assert g.spacing == {"t": pytest.approx(0.1), "x": pytest.approx(0.2)}
    assert g.extent["x"] == (-1.0, 1.0)
    T, X = g.mesh()
    assert T.shape == (21, 11) and np.all(X[0] == x)
    assert g.index("x") == 1 and list(g) == ["t", "x"] and np.all(g["t"] == t)
    assert g.crop({"t": 2}).shape == (17, 11)
    assert g.subgrid(("x",)).axes == ("x",)
    assert g == ml.Grid(t=t, x=x) and g != ml.Grid(t=t, x=x + 1)


def test_roundoff_in_coordinates_is_accepted():
    x = np.linspace(0, 10, 201)
    x[7] += 1e-12  # COMSOL-style round-off
    assert ml.Grid(x=x).spacing["x"] == pytest.approx(0.05)
    assert ml.Grid(x=np.linspace(0, 1, 101).astype(np.float32)).shape == (101,)


@pytest.mark.parametrize(
    ("coords", "match"),
    [
        ({"x": np.r_[0.0, 0.1, 0.25, 0.3]}, r"not uniform: step 1 is 0.15"),
        ({"x": np.r_[0.0, 0.2, 0.1, 0.3]}, "strictly increasing"),
        ({"x": np.linspace(1, 0, 5)}, "strictly increasing"),
        ({"x": np.r_[0.0, np.nan, 0.2]}, "NaN or inf"),
        ({"x": np.r_[0.0]}, "at least 2 points"),
        ({"x": np.zeros((3, 3))}, "1-D vector"),
        ({"x": ["a", "b"]}, "real numbers"),
        ({"xy": np.linspace(0, 1, 4)}, "single letter"),
        ({}, "at least one axis"),
    ],
)
def test_bad_coordinates(coords, match):
    with pytest.raises(ml.GridError, match=match):
        ml.Grid(**coords)


def test_check_array_and_missing_axis():
    g = ml.Grid(x=np.linspace(0, 1, 5), y=np.linspace(0, 1, 4))
    g.check_array("u", np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"u has shape \(4, 5\), but the grid \('x', 'y'\)"):
        g.check_array("u", np.zeros((4, 5)))
    with pytest.raises(KeyError, match="no axis 'z'"):
        g["z"]
    with pytest.raises(ml.GridError, match="cannot crop"):
        g.crop({"x": 2})
