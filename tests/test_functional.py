"""The functional contract: derivative(u, order, *, spacing, width, axis, kernel, boundary)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mollifier as ml


def test_numpy_in_numpy_out_and_shapes():
    x = np.linspace(0, 1, 101)
    u = np.stack([np.sin(3 * x), np.cos(2 * x)])  # (2, 101)
    out = ml.derivative(u, 2, spacing=x[1] - x[0], width=0.08)
    assert isinstance(out, np.ndarray) and out.shape == u.shape and out.dtype == np.float64
    out32 = ml.derivative(u.astype(np.float32), 2, spacing=x[1] - x[0], width=0.08)
    assert out32.dtype == np.float32
    ints = ml.derivative(np.arange(40), 1, spacing=1.0, width=4.0, boundary="valid")
    assert ints.dtype == np.float64 and np.allclose(ints, 1.0)
    valid = ml.derivative(u, 2, spacing=x[1] - x[0], width=0.08, boundary="valid")
    radius = ml.kernels.stencil_radius(spacing=x[1] - x[0], width=0.08)
    assert valid.shape == (2, 101 - 2 * radius)


def test_axis_argument_matches_transpose():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(50, 40))
    a0 = ml.derivative(u, 1, spacing=0.1, width=0.5, axis=0)
    a1 = ml.derivative(u.T, 1, spacing=0.1, width=0.5, axis=1)
    np.testing.assert_array_equal(a0, a1.T)
    # other axes are untouched: a row-constant field has zero derivative along axis 0 and is
    # unchanged along axis 1
    c = np.tile(np.linspace(0, 1, 40), (50, 1))
    assert np.allclose(ml.derivative(c, 1, spacing=0.1, width=0.5, axis=0), 0.0, atol=1e-12)


def test_torch_in_torch_out_differentiable():
    x = torch.linspace(0, 1, 64, dtype=torch.float64)
    u = torch.sin(4 * x).requires_grad_(True)
    out = ml.derivative(u, 3, spacing=float(x[1] - x[0]), width=0.1, boundary="periodic")
    assert isinstance(out, torch.Tensor) and out.shape == u.shape and out.requires_grad
    out.pow(2).sum().backward()
    assert u.grad is not None and torch.isfinite(u.grad).all()
    assert torch.autograd.gradcheck(
        lambda t: ml.derivative(t, 2, spacing=1.0, width=4.0, boundary="extrapolate"),
        (torch.randn(30, dtype=torch.float64, requires_grad=True),),
    )


def test_kernel_objects_and_names_agree():
    u = np.random.default_rng(1).normal(size=80)
    a = ml.derivative(u, 2, spacing=0.1, width=0.5, kernel="bump")
    b = ml.derivative(u, 2, spacing=0.1, width=0.5, kernel=ml.Bump())
    np.testing.assert_array_equal(a, b)
    c = ml.derivative(u, 2, spacing=0.1, width=0.5, kernel=ml.Bump(accuracy=4))
    assert not np.allclose(a, c)


def test_bad_input_errors():
    u = np.ones(50)
    with pytest.raises(ValueError, match="NaN or inf"):
        ml.derivative(np.array([1.0, np.nan] * 30), 1, spacing=0.1, width=0.5)
    with pytest.raises(ValueError, match="NaN or inf"):
        ml.derivative(torch.tensor([1.0, float("inf")] * 30), 1, spacing=0.1, width=0.5)
    with pytest.raises(ValueError, match=r"needs at least 3\.5 points per width"):
        ml.derivative(u, 2, spacing=0.1, width=0.2)
    with pytest.raises(ValueError, match="unknown kernel"):
        ml.derivative(u, 2, spacing=0.1, width=0.5, kernel="tophat")
    with pytest.raises(ValueError, match="unknown boundary mode"):
        ml.derivative(u, 2, spacing=0.1, width=0.5, boundary="nearest")
    with pytest.raises(ValueError, match=r"axis -1: axis 0 has 50 points"):
        ml.derivative(u, 2, spacing=0.01, width=0.3, boundary="periodic")
    with pytest.raises(ValueError, match="order must be between 0 and 6"):
        ml.derivative(u, 7, spacing=0.1, width=0.5)
    with pytest.raises(TypeError, match="real numeric"):
        ml.derivative(np.array(["a"] * 10), 1, spacing=0.1, width=0.5)
    with pytest.raises(ValueError, match="unknown convolution method"):
        ml.derivative(u, 1, spacing=0.1, width=0.5, method="winograd")


@pytest.mark.parametrize(
    "boundary", ["reflect", "odd", "periodic", "valid", "extrapolate", "interior"]
)
def test_convolution_methods_agree_along_a_middle_axis(boundary):
    """direct, FFT and dense matrix are one linear map: equal to round-off, any axis."""
    rng = np.random.default_rng(4)
    u = rng.standard_normal((3, 57, 5))
    outs = {
        m: ml.derivative(u, 3, spacing=0.1, width=0.7, axis=1, boundary=boundary, method=m)
        for m in ("direct", "fft", "matrix", "auto")
    }
    ref = outs["direct"]
    for m, out in outs.items():
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max(), err_msg=m)
