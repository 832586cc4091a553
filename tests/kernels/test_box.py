"""Box kernels on irregular 2-D domains: exactness at every node, locality, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mollifier import MollifierLayer
from mollifier.kernels import PolyBump, stencil_radius
from mollifier.kernels.box import NO_BOX, box_shifts, shifted_rows
from mollifier.kernels.edges import interval_operator

H = 0.05
N = 72
X, Y = np.meshgrid(np.arange(N) * H, np.arange(N) * H, indexing="ij")
C = (N - 1) * H / 2


def _domains() -> dict[str, np.ndarray]:
    r2 = (X - C) ** 2 + (Y - C) ** 2
    angle = np.arctan2(Y - C, X - C)
    return {
        "disk": r2 < 1.6**2,
        "ellipse": ((X - C) / 1.7) ** 2 + ((Y - C) / 1.0) ** 2 < 1,
        "star": np.sqrt(r2) < 1.3 + 0.3 * np.cos(5 * angle),
        "hole": (r2 < 1.6**2) & ((X - C - 0.3) ** 2 + (Y - C) ** 2 > 0.45**2),
    }


def _layer(domain: np.ndarray, max_order: int = 4) -> MollifierLayer:
    return MollifierLayer(
        axes=("x", "y"),
        spacing=H,
        width=0.3,
        boundary="interior",
        max_order=max_order,
        domain=domain,
    )


@pytest.mark.parametrize("order", range(5))
def test_shifted_rows_are_the_interval_operator_rows(order):
    kernel, width = PolyBump(), 0.5
    r = stencil_radius(spacing=0.1, width=width)
    rows = shifted_rows(kernel, order, spacing=0.1, width=width)
    op = interval_operator(kernel, order, spacing=0.1, width=width, n=2 * r + 1)
    for s in range(-r, r + 1):  # shift s: the node sits at position r - s of its box
        np.testing.assert_array_equal(rows[s + r], op[r - s])


def test_box_shifts_fit_inside_and_are_smallest():
    dom = _domains()["star"]
    r = (4, 6)
    shifts = box_shifts(dom, r)
    valid = shifts[..., 0] != NO_BOX
    assert valid.sum() > 0.9 * dom.sum()
    for i, j in np.argwhere(valid)[::37]:
        sx, sy = shifts[i, j]
        box = dom[i + sx - r[0] : i + sx + r[0] + 1, j + sy - r[1] : j + sy + r[1] + 1]
        assert box.shape == (9, 13) and box.all()
        # no smaller normalised shift fits
        cost = (sx / 4) ** 2 + (sy / 6) ** 2
        for tx in range(-4, 5):
            for ty in range(-6, 7):
                if (tx / 4) ** 2 + (ty / 6) ** 2 < cost - 1e-12:
                    a, b = i + tx - 4, j + ty - 6
                    inside = a >= 0 and b >= 0 and dom[a : a + 9, b : b + 13].shape == (9, 13)
                    assert not (inside and dom[a : a + 9, b : b + 13].all())


@pytest.mark.parametrize("name", ["disk", "ellipse", "star", "hole"])
def test_polynomials_differentiated_exactly_at_every_valid_node(name):
    dom = _domains()[name]
    layer = _layer(dom)
    # the nodes with a kernel are the domain's opening by the box (a morphological identity)
    side = 2 * layer.radius["x"] + 1
    opened = ndimage.binary_opening(dom, structure=np.ones((side, side), dtype=bool))
    np.testing.assert_array_equal(layer.valid, opened)
    # x^a y^b with a <= kx + 1 and b <= ky + 1: exact for every derivative (kx, ky) below
    cases = {
        "xx": (X**3 * Y, 6 * X * Y),
        "yy": (X * Y**3, 6 * X * Y),
        "xy": (X**2 * Y**2, 4 * X * Y),
        "xxyy": (X**3 * Y**3, 36 * X * Y),
        "xxxx": (X**5 + Y, 120 * X),
        "xyyy": (X**2 * Y**4, 48 * X * Y),
        "": (3 * X - 2 * Y + X * Y, 3 * X - 2 * Y + X * Y),
    }
    v = layer.valid
    for spec, (p, exact) in cases.items():
        outside = np.where(dom, p, np.nan)  # values outside the domain are never read
        out = layer(torch.tensor(outside)[None, None], spec)[0, 0].numpy()
        scale = np.abs(exact[v]).max()
        assert np.abs(out[v] - exact[v]).max() < 1e-8 * scale, spec
        assert np.all(out[~v] == 0.0)


def test_all_of_the_grid_as_domain_equals_the_rectangle():
    g = torch.tensor(np.random.default_rng(0).standard_normal((N, N)))[None, None]
    boxed = _layer(np.ones((N, N), dtype=bool))
    plain = MollifierLayer(axes=("x", "y"), spacing=H, width=0.3, boundary="interior")
    for spec in ("", "x", "yy", "xy", "xxyy"):
        np.testing.assert_allclose(boxed(g, spec), plain(g, spec), rtol=1e-12, atol=1e-9)


def test_outputs_do_not_depend_on_data_outside_the_domain():
    dom = _domains()["hole"]
    layer = _layer(dom)
    rng = np.random.default_rng(1)
    u = rng.standard_normal((N, N))
    other = np.where(dom, u, 1e6 * rng.standard_normal((N, N)))
    a = layer(torch.tensor(u)[None, None], "xy", "yy")
    b = layer(torch.tensor(other)[None, None], "xy", "yy")
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


def test_gradcheck_through_box_kernels():
    n = 24
    xx, yy = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    dom = (xx - 11.5) ** 2 + (yy - 11.5) ** 2 < 11**2
    layer = MollifierLayer(
        axes=("x", "y"), spacing=0.1, width=0.4, boundary="interior", max_order=2, domain=dom
    )
    g = torch.randn(1, 2, n, n, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: layer(t, "xy"), (g,))


def test_noise_gain_is_one_inside_and_larger_at_the_edge():
    dom = _domains()["disk"]
    layer = _layer(dom)
    gain = layer.noise_gain((N, N), "xx")
    centre = N // 2
    assert gain[centre, centre] == pytest.approx(1.0)
    assert np.nanmax(gain) > 2
    assert np.isnan(gain[~layer.valid]).all()


def test_domain_refusals_name_the_problem():
    dom = _domains()["disk"]
    with pytest.raises(ValueError, match="boundary='interior'"):
        MollifierLayer(axes=("x", "y"), spacing=H, width=0.3, domain=dom)
    with pytest.raises(ValueError, match="boolean array over a 2-D grid"):
        _layer(dom.astype(float))
    with pytest.raises(ValueError, match="no node inside"):
        _layer(np.zeros((N, N), dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        _layer(dom)(torch.zeros(1, 1, N - 1, N, dtype=torch.float64), "x")
