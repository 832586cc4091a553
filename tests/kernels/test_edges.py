"""Edge kernels: exactness at every node, integration by parts, convergence, noise, layers."""

from __future__ import annotations

from math import factorial

import numpy as np
import pytest
import torch

import mollifier as ml
from mollifier.kernels import Bump, Gaussian, PolyBump, stencil, stencil_radius
from mollifier.kernels.edges import (
    edge_block,
    edge_moments,
    interval_operator,
    min_interval_points,
    noise_gain,
)

FAMILIES = [PolyBump(), Gaussian(), Bump(), PolyBump(accuracy=4)]


def _width(kernel, h: float, points: float = 6.0) -> float:
    return max(points, kernel.min_points(6)) * h


def _bound(op: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rounding bound per row: 64 ε Σ|row| max|u| (as for the interior stencils)."""
    return 64 * np.finfo(np.float64).eps * np.sum(np.abs(op), axis=1) * np.max(np.abs(values))


def _mollified(p: np.polynomial.Polynomial, kernel, order: int, w: float, x: np.ndarray):
    """(η_w ∗ p⁽ᵏ⁾)(x) for a polynomial: Σ_j p⁽ᵏ⁺ʲ⁾(x) w^j M_j / j!."""
    dk = p.deriv(order) if order else p
    out = np.zeros_like(x)
    for j in range(0, dk.degree() + 1):
        out += (dk.deriv(j)(x) if j else dk(x)) * w**j * kernel.moment(j) / factorial(j)
    return out


@pytest.mark.parametrize("kernel", FAMILIES, ids=repr)
@pytest.mark.parametrize("n", [60, "short"])
def test_polynomials_exact_at_every_node(kernel, n):
    """Degree <= k + 1: p⁽ᵏ⁾(x_n) exactly, edges included; degree <= k + moments: the interior's
    (η_w ∗ p⁽ᵏ⁾)(x_n). Orders 0–6, a long interval and the shortest admissible one."""
    h = 0.05
    w = _width(kernel, h)
    n = min_interval_points(spacing=h, width=w) if n == "short" else n
    x = h * np.arange(n) - 0.5 * h * (n - 1)  # centred, so the values stay O(1)
    moments = edge_moments(kernel)
    rng = np.random.default_rng(n)
    top = 4 if isinstance(kernel, Bump) else 6  # the bump's order-5/6 stencils lose ~1e-7
    for k in range(top + 1):
        op = interval_operator(kernel, k, spacing=h, width=w, n=n)
        for degree in range(k, min(k + moments, 7) + 1):  # the interpolant has degree 7
            p = np.polynomial.Polynomial(rng.normal(size=degree + 1))
            want = _mollified(p, kernel, k, w, x)
            if degree <= k + 1:
                np.testing.assert_allclose(want, p.deriv(k)(x) if k else p(x), atol=1e-12)
            err = np.abs(op @ p(x) - want)
            assert np.all(err <= _bound(op, p(x))), (k, degree, err.max(), int(err.argmax()))


@pytest.mark.parametrize("kernel", FAMILIES[:2], ids=repr)
def test_middle_rows_are_the_interior_stencil_and_blocks_do_not_depend_on_length(kernel):
    h = 0.1
    w = max(0.6, kernel.min_points(4) * h)
    r = stencil_radius(spacing=h, width=w)
    for k in range(5):
        taps = stencil(kernel, k, spacing=h, width=w)
        block = edge_block(kernel, k, spacing=h, width=w)
        assert block.shape == (r, 2 * r + 1) and not block.flags.writeable
        for n in (2 * r + 1, 2 * r + 7, 80):
            op = interval_operator(kernel, k, spacing=h, width=w, n=n)
            for i in range(r, n - r):
                np.testing.assert_array_equal(op[i, i - r : i + r + 1], taps[::-1])
            np.testing.assert_array_equal(op[:r, : 2 * r + 1], block)
            np.testing.assert_allclose(op[::-1, ::-1][:r], (-1) ** k * op[:r], atol=0)
        # the block equals rows computed for a longer interval from scratch
        long = interval_operator(kernel, k, spacing=h, width=w, n=2 * r)  # all rows computed
        np.testing.assert_allclose(long[: r - 1, : 2 * r - 1], block[: r - 1, : 2 * r - 1])


@pytest.mark.parametrize("kernel", [PolyBump(), Gaussian(), PolyBump(accuracy=4)], ids=repr)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_integration_by_parts_holds_at_edge_nodes(kernel, order):
    """(−1)ᵏ⟨∂ᵏψ_n, u⟩ = ⟨ψ_n, ∂ᵏu⟩ with no boundary terms: the order-k edge row applied to u
    equals the order-0 edge row applied to the analytic u⁽ᵏ⁾, at the edge nodes."""
    h = 0.01
    w = _width(kernel, h, 12)
    n = 200
    x = h * np.arange(n)
    a, b = 3.1, 0.4
    u = np.sin(a * x + b) + 0.5 * np.exp(-x)
    du = a**order * np.sin(a * x + b + order * np.pi / 2) + 0.5 * (-1) ** order * np.exp(-x)
    r = stencil_radius(spacing=h, width=w)
    lhs = interval_operator(kernel, order, spacing=h, width=w, n=n) @ u
    rhs = interval_operator(kernel, 0, spacing=h, width=w, n=n) @ du
    for sl in (slice(0, r), slice(n - r, n)):
        assert np.max(np.abs(lhs[sl] - rhs[sl])) <= 1e-6 * np.max(np.abs(du)), order


@pytest.mark.parametrize(
    ("kernel", "order"),
    [(PolyBump(), 0), (PolyBump(), 2), (PolyBump(), 4), (PolyBump(accuracy=4), 2)],
    ids=repr,
)
def test_bias_converges_at_edge_nodes_at_the_interior_order(kernel, order):
    """Fitted slope of log |D_k u − u⁽ᵏ⁾| against log width, at the first node, a middle node,
    and half a width from the edge: the kernel's accuracy everywhere."""
    x = np.linspace(0.0, 2.0, 801)
    h = x[1] - x[0]
    u = np.sin(1.3 * x + 0.2) + 0.3 * np.cos(2.1 * x)
    truth = 1.3**order * np.sin(1.3 * x + 0.2 + order * np.pi / 2) + 0.3 * 2.1**order * np.cos(
        2.1 * x + order * np.pi / 2
    )
    widths = np.geomspace(0.06, 0.24, 5)
    errs: dict[str, list[float]] = {"edge": [], "half": [], "middle": []}
    for w in widths:
        out = ml.derivative(u, order, spacing=h, width=w, kernel=kernel, boundary="interior")
        for name, node in (("edge", 0), ("half", round(0.5 * w / h)), ("middle", x.size // 2)):
            errs[name].append(abs(out[node] - truth[node]))
    slopes = {k: np.polyfit(np.log(widths), np.log(e), 1)[0] for k, e in errs.items()}
    for name, slope in slopes.items():
        assert slope == pytest.approx(kernel.accuracy, abs=0.3), (name, slopes)


def test_noise_gain_is_the_measured_noise_amplification():
    """Output std of white noise at each node = σ ‖row‖; the gain is 1 in the middle."""
    kernel, h, w, n = PolyBump(), 0.1, 0.6, 40
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((4000, n))
    for k in (0, 2, 4):
        op = interval_operator(kernel, k, spacing=h, width=w, n=n)
        gain = noise_gain(op, stencil(kernel, k, spacing=h, width=w))
        measured = (noise @ op.T).std(axis=0) / np.linalg.norm(
            stencil(kernel, k, spacing=h, width=w)
        )
        np.testing.assert_allclose(measured, gain, rtol=0.06)
        r = stencil_radius(spacing=h, width=w)
        np.testing.assert_allclose(gain[r:-r], 1.0, rtol=1e-12)
        assert gain[0] > 1.5


def test_too_short_interval_and_bad_moments_are_clear_errors():
    h, w = 0.1, 0.6
    need = min_interval_points(spacing=h, width=w)
    assert need == 13
    with pytest.raises(ValueError, match="too short"):
        interval_operator(PolyBump(), 1, spacing=h, width=w, n=need - 1)
    with pytest.raises(ValueError, match="moments"):
        edge_block(PolyBump(accuracy=4), 1, spacing=h, width=w, moments=1)
    with pytest.raises(ValueError, match=r"Interior\.moments"):
        ml.Interior(moments=0)


@pytest.mark.parametrize("method", ["direct", "fft", "matrix"])
def test_layer_with_edge_kernels_is_exact_up_to_the_edges_in_2d(method):
    h = 0.05
    x = torch.arange(40, dtype=torch.float64) * h
    y = torch.arange(23, dtype=torch.float64) * h  # shorter than one stencil: dense path
    g = (x[:, None] ** 2 * y[None, :] + x[:, None] * y[None, :] ** 2)[None, None]
    layer = ml.MollifierLayer(
        axes=("x", "y"), spacing=h, width=0.35, boundary="interior", method=method
    )
    gxx, gxy, gyy = layer(g, "xx", "xy", "yy")
    torch.testing.assert_close(gxx[0, 0], (2 * y[None, :]).expand(40, 23))
    torch.testing.assert_close(gxy[0, 0], (2 * x[:, None] + 2 * y[None, :]).expand(40, 23))
    torch.testing.assert_close(gyy[0, 0], (2 * x[:, None]).expand(40, 23))


def test_layer_gradcheck_with_edge_kernels():
    torch.manual_seed(0)
    g = torch.randn(1, 1, 12, 9, dtype=torch.float64, requires_grad=True)
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=1.0, width=3.5, boundary="interior")
    assert torch.autograd.gradcheck(lambda t: layer(t, "", "x", "xxy", "yy"), (g,))
