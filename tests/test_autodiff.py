"""Autodiff baseline and the one-residual-two-backends contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mollifier as ml
from mollifier.nets import MLP


def _coords(n_t=40, n_x=48):
    t = torch.linspace(0, 1, n_t, dtype=torch.float64)
    x = torch.linspace(0, 2, n_x, dtype=torch.float64)
    T, X = torch.meshgrid(t, x, indexing="ij")
    return t, x, T, X


def test_autodiff_matches_analytic_derivatives():
    _, _, T, X = _coords()
    tt = T.reshape(-1).clone().requires_grad_(True)
    xx = X.reshape(-1).clone().requires_grad_(True)
    d = ml.AutodiffDerivatives({"t": tt, "x": xx})
    u = torch.sin(2 * xx) * torch.exp(-tt)
    assert torch.allclose(d(u, "xxxx"), 16 * torch.sin(2 * xx) * torch.exp(-tt))
    assert torch.allclose(d(u, "txx"), 4 * torch.sin(2 * xx) * torch.exp(-tt))
    assert d(u, "") is u and d(u) is u
    assert torch.equal(d(torch.ones_like(u) * 3.0, "x"), torch.zeros_like(u))


def test_autodiff_memoises_shared_prefixes():
    xx = torch.linspace(0, 1, 10, dtype=torch.float64, requires_grad=True)
    d = ml.AutodiffDerivatives({"x": xx})
    u = xx**5
    first = d(u, "xx")
    assert d(u, "xx") is first
    assert torch.allclose(d(u, "xxxx"), 120 * xx)


def test_autodiff_through_network_against_finite_differences():
    torch.manual_seed(0)
    net = MLP(in_features=2, out_features=1, hidden=16, depth=2).double()
    pts = torch.rand(7, 2, dtype=torch.float64)
    t = pts[:, 0].clone().requires_grad_(True)
    x = pts[:, 1].clone().requires_grad_(True)
    u = net(torch.stack([t, x], dim=-1))
    d = ml.AutodiffDerivatives({"t": t, "x": x})
    uxx = d(u, "xx").detach().reshape(-1)
    eps = 1e-4

    def f(dx):
        return net(torch.stack([pts[:, 0], pts[:, 1] + dx], dim=-1)).detach().reshape(-1)

    fd = (f(eps) - 2 * f(0.0) + f(-eps)) / eps**2
    assert torch.allclose(uxx, fd, rtol=1e-5, atol=1e-6)


def residual(f, d, p):
    """Burgers-type residual in conservative form, written once for both backends."""
    return d(f.u, "t") + d(f.u**2 / 2, "x") - p.nu * d(f.u, "xx")


class _NS(dict):
    __getattr__ = dict.__getitem__


def test_same_residual_runs_with_both_backends():
    """The mollifier residual of gridded u equals the mollified autodiff residual of the same
    analytic u (linear terms exactly by the stencil identities, the flux term by the weak form)."""
    t, x, T, X = _coords(81, 97)
    nu = 0.3

    def u_of(tt, xx):
        return torch.sin(np.pi * xx) * torch.exp(-tt) + 0.5

    # autodiff backend at every grid point
    tt = T.reshape(-1).clone().requires_grad_(True)
    xx = X.reshape(-1).clone().requires_grad_(True)
    d_ad = ml.AutodiffDerivatives({"t": tt, "x": xx})
    r_ad = residual(_NS(u=u_of(tt, xx)), d_ad, _NS(nu=nu)).detach().reshape(T.shape)
    # mollifier backend on the grid
    grid = ml.Grid(t=t.numpy(), x=x.numpy())
    layer = ml.MollifierLayer.from_grid(grid, width={"t": 0.08, "x": 0.15}, boundary="valid")
    d_ml = ml.MollifierDerivatives(layer, grid.shape)
    r_ml = residual(_NS(u=u_of(T, X)), d_ml, _NS(nu=nu))
    # reference: mollify the pointwise residual
    r_ref = d_ml(r_ad, "")
    assert r_ml.shape == r_ref.shape == layer.output_shape(grid.shape)
    assert torch.allclose(r_ml, r_ref, atol=1e-7 * float(r_ref.abs().max()))


def test_mollifier_derivatives_broadcast_scalars_and_shapes():
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.4)
    d = ml.MollifierDerivatives(layer, (20, 18))
    assert torch.allclose(d(2.0), torch.full((20, 18), 2.0, dtype=torch.float64))
    ones = torch.ones(20, 18, dtype=torch.float64)
    assert torch.allclose(d(ones, "x"), torch.zeros_like(ones), atol=1e-12)
    assert d(ones.float(), "x").dtype == torch.float32
    assert d(torch.ones(1, 1, 20, 18), "xy").shape == (1, 1, 20, 18)
    with pytest.raises(ValueError, match=r"cannot differentiate an expression of shape \(5,\)"):
        d(torch.ones(5), "x")


def test_autodiff_errors():
    x = torch.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="requires_grad=True"):
        ml.AutodiffDerivatives({"x": x})
    xg = x.clone().requires_grad_(True)
    d = ml.AutodiffDerivatives({"x": xg})
    with pytest.raises(ValueError, match="one value per point"):
        d(torch.stack([xg, xg], dim=1) ** 2, "x")
    with pytest.raises(ValueError, match="names axis 'y'"):
        d(xg**2, "y")
