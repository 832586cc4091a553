"""MollifierLayer: exactness in 2-D/3-D, boundary modes, FFT path, gradcheck, properties, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mollifier as ml
from mollifier import _conv
from mollifier._conv import DIRECT_MAX_WORK, FFT_MIN_TAPS, MATRIX_MAX_POINTS
from mollifier.layers import OPERATOR_CACHE_SIZE


def _poly2d(x, y, coef):
    """Σ c_ij x^i y^j and its exact partial derivatives ∂x^a ∂y^b."""
    out = torch.zeros(x.shape[0], y.shape[0], dtype=torch.float64)
    for (i, j), c in coef.items():
        out = out + c * x[:, None] ** i * y[None, :] ** j
    return out


def _dpoly2d(x, y, coef, a, b):
    out = torch.zeros(x.shape[0], y.shape[0], dtype=torch.float64)
    for (i, j), c in coef.items():
        if i < a or j < b:
            continue
        fx = float(np.prod(range(i - a + 1, i + 1)))
        fy = float(np.prod(range(j - b + 1, j + 1)))
        out = out + c * fx * fy * x[:, None] ** (i - a) * y[None, :] ** (j - b)
    return out


@pytest.mark.parametrize("kernel", ["polybump", "bump", "gaussian"])
def test_polynomial_reproduction_2d_with_mixed_partials(kernel):
    """∂^α of a polynomial of total degree <= |α| + 1 is exact (rel. error <= 1e-8), including
    mixed partials, through the layer with valid cropping."""
    rng = np.random.default_rng(3)
    x = torch.linspace(-1, 1, 81, dtype=torch.float64)
    y = torch.linspace(0, 1.5, 61, dtype=torch.float64)
    hx, hy = float(x[1] - x[0]), float(y[1] - y[0])
    kern = ml.get_kernel(kernel)
    wx, wy = 2.2 * kern.min_points(4) * hx, 2.2 * kern.min_points(4) * hy
    layer = ml.MollifierLayer(
        axes=("x", "y"), spacing=(hx, hy), width=(wx, wy), kernel=kernel, boundary="valid"
    )
    rx, ry = layer.radius["x"], layer.radius["y"]
    for spec, (a, b) in {
        "x": (1, 0),
        "xx": (2, 0),
        "xy": (1, 1),
        "yyy": (0, 3),
        "xxy": (2, 1),
        "xxyy": (2, 2),
        "xxxx": (4, 0),
        "xyyy": (1, 3),
    }.items():
        deg = a + b + 1
        coef = {(i, j): float(rng.normal()) for i in range(deg + 1) for j in range(deg + 1 - i)}
        g = _poly2d(x, y, coef)[None, None]
        out = layer(g, spec)[0, 0]
        exact = _dpoly2d(x, y, coef, a, b)[rx:-rx, ry:-ry]
        err = (out - exact).abs().max() / exact.abs().max()
        assert err <= 1e-8, (spec, float(err))


def test_3d_mixed_partial_and_time_axis():
    t = torch.linspace(0, 1, 41, dtype=torch.float64)
    x = torch.linspace(0, 2, 51, dtype=torch.float64)
    y = torch.linspace(-1, 1, 45, dtype=torch.float64)
    T, X, Y = torch.meshgrid(t, x, y, indexing="ij")
    g = (T**2 * X * Y**2 + 3 * T * X**2)[None, None]
    h = [float(c[1] - c[0]) for c in (t, x, y)]
    layer = ml.MollifierLayer(
        axes=("t", "x", "y"), spacing=h, width=[5 * s for s in h], boundary="valid"
    )
    r = layer.radius
    crop = (slice(r["t"], -r["t"]), slice(r["x"], -r["x"]), slice(r["y"], -r["y"]))
    gt, gtxyy = layer(g, "t", "txyy")
    assert torch.allclose(gtxyy[0, 0], (4 * T)[crop], atol=1e-9)
    # η ∗ s² = s² + m₂ w² for the unit-mass, even kernel with second moment m₂ (unit support).
    m2 = layer.kernel.moment(2)
    wx, wy = 5 * h[1], 5 * h[2]
    want = 2 * T * X * (Y**2 + m2 * wy**2) + 3 * (X**2 + m2 * wx**2)
    assert torch.allclose(gt[0, 0], want[crop], atol=1e-9)


def test_multiple_specs_equal_single_calls_and_order():
    torch.manual_seed(0)
    g = torch.randn(2, 3, 40, 36, dtype=torch.float64)
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=(0.1, 0.2), width=(0.5, 1.0))
    specs = ("", "x", "xx", "xxyy", "y", "xy", ("x", "y", "y"))
    many = layer(g, *specs)
    assert len(many) == len(specs)
    for spec, out in zip(specs, many, strict=True):
        assert out.shape == g.shape
        torch.testing.assert_close(out, layer(g, spec), rtol=0, atol=0)
    torch.testing.assert_close(layer(g), layer(g, ""))


@pytest.mark.parametrize("method", ["direct", "matrix"])
@pytest.mark.parametrize(
    "boundary", ["reflect", "odd", "periodic", "valid", "extrapolate", "interior"]
)
def test_gradcheck(boundary, method):
    torch.manual_seed(1)
    g = torch.randn(1, 1, 16, 15, dtype=torch.float64, requires_grad=True)
    layer = ml.MollifierLayer(
        axes=("x", "y"), spacing=1.0, width=(3.5, 3.5), boundary=boundary, method=method
    )
    assert torch.autograd.gradcheck(lambda t: layer(t, "", "x", "xxy", "yy"), (g,))
    assert torch.autograd.gradgradcheck(lambda t: layer(t, "xy"), (g,))


@pytest.mark.parametrize(
    "boundary", ["reflect", "odd", "periodic", "valid", "extrapolate", "interior"]
)
def test_fft_and_matrix_paths_match_direct_path(boundary):
    torch.manual_seed(2)
    h = 0.01
    for width in (0.12, 0.45):  # below and above the FFT crossover
        layers = {
            m: ml.MollifierLayer(
                axes=("x", "y"), spacing=h, width=width, boundary=boundary, method=m
            )
            for m in ("direct", "fft", "matrix", "auto")
        }
        g = torch.randn(2, 3, 250, 110, dtype=torch.float64)
        specs = ("", "x", "xxxx", "xxyy", "y")
        d, f, m, a = (layers[k](g, *specs) for k in ("direct", "fft", "matrix", "auto"))
        for spec, dd, ff, mm, aa in zip(specs, d, f, m, a, strict=True):
            scale = dd.abs().max()
            assert (dd - ff).abs().max() <= 1e-12 * scale, spec
            assert (dd - mm).abs().max() <= 1e-12 * scale, spec
            # auto on CPU: both axes are short enough for the dense operator
            assert max(g.shape[2:]) <= MATRIX_MAX_POINTS
            assert torch.equal(aa, mm)


def test_auto_method_rule():
    cpu, meta = torch.device("cpu"), torch.device("meta")
    f32, f64 = torch.float32, torch.float64

    def rule(method: str, **kw: object) -> str:
        return _conv.resolve_method(method, **{"dtype": f64, "device": cpu, **kw})  # type: ignore[arg-type]

    # a cached operator on CPU (MollifierLayer): the matrix up to MATRIX_MAX_POINTS, then the FFT
    for n in (64, MATRIX_MAX_POINTS):
        assert rule("auto", n_taps=13, n=n, numel=n**2, cached=True) == "matrix"
    n = MATRIX_MAX_POINTS + 1
    assert rule("auto", n_taps=13, n=n, numel=n**2, cached=True) == "fft"
    # one-off calls on CPU, double precision: conv1d while elements × taps ≤ DIRECT_MAX_WORK
    assert rule("auto", n_taps=13, n=256, numel=256**2) == "direct"
    assert rule("auto", n_taps=25, n=256, numel=256**2) == "fft"
    assert rule("auto", n_taps=193, n=4096, numel=4096) == "direct"  # a 1-D series
    assert rule("auto", n_taps=7, n=64, numel=64**3) == "fft"  # a 3-D field
    work = DIRECT_MAX_WORK // 16
    assert rule("auto", n_taps=16, n=64, numel=work) == "direct"
    assert rule("auto", n_taps=16, n=64, numel=work + 1) == "fft"
    assert rule("auto", n_taps=16, n=64, numel=work + 1, dtype=torch.bfloat16) == "direct"
    # single precision one-off calls on CPU (for accuracy) and other devices: the taps decide
    for kw in ({"dtype": f32}, {"device": meta}, {"device": meta, "cached": True}):
        assert rule("auto", n_taps=FFT_MIN_TAPS - 2, n=4096, numel=10**8, **kw) == "direct"
        assert rule("auto", n_taps=FFT_MIN_TAPS, n=64, numel=64, **kw) == "fft"
    assert rule("fft", n_taps=13, n=64, numel=64) == "fft"
    with pytest.raises(ValueError, match="unknown convolution method 'winograd'"):
        rule("winograd", n_taps=13, n=64, numel=64)


def test_auto_keeps_float32_derivatives_accurate_on_steep_fields():
    """The FFT's float32 round-off is relative to a whole row's largest value: on e^{12x} it
    is about 200× conv1d's, so ``auto`` must not take it for short stencils in float32 even
    where it is faster (a 512² field, 31 taps: 7.75·2²⁰ elements × taps)."""
    n = 512
    x = np.linspace(0.0, 1.0, n)
    h = x[1] - x[0]
    u = np.exp(12 * x)[:, None] * np.ones(n)
    ref = ml.derivative(u, 2, spacing=h, width=12 * h, axis=0, method="direct")
    inner = slice(int(0.15 * n), n // 2)
    scale = np.abs(ref[inner]).max()

    def error(method: str) -> float:
        got = ml.derivative(u.astype(np.float32), 2, spacing=h, width=12 * h, axis=0, method=method)
        return float(np.abs(got - ref)[inner].max() / scale)

    assert error("auto") == error("direct") < 1e-4
    assert error("fft") > 1e-4  # what auto avoids
    # in float64 the FFT (what auto takes here) stays at round-off
    fft64 = ml.derivative(u, 2, spacing=h, width=12 * h, axis=0)
    assert np.abs(fft64 - ref)[inner].max() / scale < 1e-10


def test_long_axis_auto_path_matches_matrix_path():
    """Above MATRIX_MAX_POINTS ``auto`` uses the FFT: same numbers as the dense operator."""
    torch.manual_seed(3)
    n = MATRIX_MAX_POINTS + 40
    g = torch.randn(1, 1, n, dtype=torch.float64)
    for width in (0.05, 0.4):  # short and long stencils, h = 1/n
        auto = ml.MollifierLayer(axes=("x",), spacing=1.0 / n, width=width, boundary="reflect")
        dense = ml.MollifierLayer(
            axes=("x",), spacing=1.0 / n, width=width, boundary="reflect", method="matrix"
        )
        a, m = auto(g, "xx"), dense(g, "xx")
        assert (a - m).abs().max() <= 1e-12 * m.abs().max()


def test_dense_operator_is_cached_per_length_dtype_and_device():
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.6, method="matrix")
    g32 = torch.randn(1, 1, 40, 30)
    layer(g32, "xx")
    layer(g32, "xx")
    layer(g32.double(), "xx")
    keys = sorted((k[0], k[1], k[2], str(k[3])) for k in layer._operators)
    assert keys == [
        ("x", (2,), 40, "torch.float32"),
        ("x", (2,), 40, "torch.float64"),
        ("y", (0,), 30, "torch.float32"),
        ("y", (0,), 30, "torch.float64"),
    ]
    op = layer.operator("x", (2,), 40, g32)
    assert op.shape == (1, 40, 40) and op.dtype == torch.float32 and not op.requires_grad
    with pytest.raises(ValueError, match="does not apply to an axis of 30 points"):
        _conv.apply_operator(g32, op, dim=-1)


def test_operator_cache_is_bounded_and_order_independent():
    layer = ml.MollifierLayer(axes=("x",), spacing=0.1, width=0.6, method="matrix")
    a = layer(torch.randn(1, 1, 50, dtype=torch.float64), "", "x")
    b = layer(torch.randn(1, 1, 50, dtype=torch.float64), "x", "")
    assert len(layer._operators) == 1  # ("", "x") and ("x", "") share one operator
    assert a[0].shape == b[1].shape
    for n in range(20, 20 + 2 * OPERATOR_CACHE_SIZE):
        layer(torch.randn(1, 1, n), "x")
    assert len(layer._operators) == OPERATOR_CACHE_SIZE
    assert max(k[2] for k in layer._operators) == 20 + 2 * OPERATOR_CACHE_SIZE - 1  # newest kept


def test_operator_follows_a_changed_boundary():
    g = torch.randn(1, 1, 40, dtype=torch.float64)
    layer = ml.MollifierLayer(axes=("x",), spacing=0.1, width=0.6, method="matrix")
    reflect = layer(g, "xx")
    layer.boundary = "periodic"
    periodic = ml.MollifierLayer(
        axes=("x",), spacing=0.1, width=0.6, boundary="periodic", method="direct"
    )(g, "xx")
    assert torch.allclose(layer(g, "xx"), periodic, rtol=0, atol=1e-12 * periodic.abs().max())
    assert not torch.allclose(reflect, periodic)


@pytest.mark.parametrize("method", ["auto", "matrix", "direct"])
def test_cache_filled_under_inference_mode_still_trains(method):
    """Operators and cast stencils cached inside torch.inference_mode must not be inference
    tensors, or a later call that needs gradients cannot save them for backward."""
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.6, method=method)
    with torch.inference_mode():
        layer(torch.randn(1, 1, 30, 30), "xx")  # float32: stencils are cast and cached
    g = torch.randn(1, 1, 30, 30, requires_grad=True)
    layer(g, "xx").square().sum().backward()
    assert g.grad is not None and torch.isfinite(g.grad).all()


def test_matrix_path_keeps_gradients_with_respect_to_the_stencils():
    g = torch.randn(2, 40, dtype=torch.float64)
    taps = torch.randn(2, 9, dtype=torch.float64, requires_grad=True)
    for boundary in ("reflect", "periodic", "valid", _conv.Extrapolate(degree=3)):
        assert torch.autograd.gradcheck(
            lambda t, b=boundary: _conv.convolve_axis(g, t, dim=-1, boundary=b, method="matrix"),
            (taps,),
        )


def test_axis_out_of_range_is_an_error_not_a_wrap_around():
    u = np.zeros((5, 40))
    with pytest.raises(ValueError, match="axis 2 is out of range for an array with 2 dimensions"):
        ml.derivative(u, 1, spacing=0.1, width=0.6, axis=2)
    with pytest.raises(ValueError, match="axis -3 is out of range"):
        ml.derivative(u, 1, spacing=0.1, width=0.6, axis=-3)


def test_periodic_mode_is_spectrally_consistent():
    """On a periodic band-limited signal, periodic output equals the analytic mollified
    derivative (iω)^k η̂(ω w) e^{iωx}."""
    n = 128
    x = torch.arange(n, dtype=torch.float64) * (2 * np.pi / n)
    h, w = float(x[1]), 0.5
    layer = ml.MollifierLayer(axes=("x",), spacing=h, width=w, boundary="periodic")
    kernel = layer.kernel
    g = torch.sin(3 * x)[None, None]
    for k, spec in enumerate(["", "x", "xx", "xxx", "xxxx"]):
        want = 3.0**k * kernel.fourier(3 * w)[0] * torch.sin(3 * x + k * np.pi / 2)
        assert torch.allclose(layer(g, spec)[0, 0], want, atol=1e-8 * 3.0**k)


def test_extrapolate_boundary_is_exact_for_polynomials_at_the_edges():
    """With a degree-5 extension, outputs at the edges equal the boundary-free mollified
    derivative (valid mode on a grid extended past both ends) for a degree-5 polynomial."""
    h = 1 / 59

    def poly(x):
        return 1 + 2 * x - x**2 + 0.5 * x**3 - 0.2 * x**4 + 0.1 * x**5

    x = torch.arange(60, dtype=torch.float64) * h
    layer = ml.MollifierLayer(axes=("x",), spacing=h, width=5 * h, boundary="extrapolate")
    r = layer.radius["x"]
    wide = torch.arange(-r, 60 + r, dtype=torch.float64) * h
    free = ml.MollifierLayer(axes=("x",), spacing=h, width=5 * h, boundary="valid")
    for spec in ("", "x", "xx", "xxxx"):
        got = layer(poly(x)[None, None], spec)[0, 0]
        want = free(poly(wide)[None, None], spec)[0, 0]
        assert torch.allclose(got, want, atol=1e-8 * float(want.abs().max())), spec
    # "reflect" forces odd derivatives to vanish at the edge instead.
    gx_reflect = ml.MollifierLayer(axes=("x",), spacing=h, width=5 * h)(poly(x)[None, None], "x")
    assert abs(float(gx_reflect[0, 0, 0])) < 1e-12
    assert float(free(poly(wide)[None, None], "x")[0, 0, 0]) > 1


def test_reflect_is_even_extension():
    g = torch.tensor(
        [[[1.0, 2.0, 4.0, 3.0, 5.0, 8.0, 7.0, 6.0, 5.0, 4.0, 2.0]]], dtype=torch.float64
    )
    layer = ml.MollifierLayer(axes=("x",), spacing=1.0, width=3.5, max_order=0)
    padded = torch.cat([g[..., 1:].flip(-1), g, g[..., :-1].flip(-1)], dim=-1)
    ref = ml.MollifierLayer(axes=("x",), spacing=1.0, width=3.5, max_order=0, boundary="periodic")
    assert torch.allclose(layer(g)[0, 0], ref(padded)[0, 0, 10:21])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_shape_preserved(dtype):
    g = torch.randn(2, 1, 33, 30, dtype=dtype)
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.4)
    out = layer(g, "xxyy")
    assert out.dtype == dtype and out.shape == g.shape and out.device == g.device
    # float32 input uses the float64 stencil rounded once: agrees with float64 to float32 precision
    ref = layer(g.double(), "xxyy")
    assert torch.allclose(out.double(), ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_layer_has_no_trainable_parameters_and_float64_buffers():
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.4)
    assert list(layer.parameters()) == []
    names = dict(layer.named_buffers())
    assert set(names) == {f"stencil_{a}{k}" for a in "xy" for k in range(5)}
    assert all(b.dtype == torch.float64 for b in names.values())
    assert layer.state_dict() == {}
    layer = layer.float()  # casting the module must not degrade float64 use
    g = torch.randn(1, 1, 30, 30, dtype=torch.float64)
    ref = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.4)(g, "xxxx")
    assert torch.equal(layer(g, "xxxx"), ref)


@settings(max_examples=30, deadline=None)
@given(shift=st.integers(-40, 40), ax=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_periodic_translation_equivariance(shift, ax, seed):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(1, 1, 48, 40, dtype=torch.float64, generator=gen)
    layer = ml.MollifierLayer(
        axes=("x", "y"), spacing=(0.1, 0.1), width=(0.45, 0.6), boundary="periodic"
    )
    for spec in ("", "x", "xxy", "yyyy"):
        lhs = layer(torch.roll(g, shift, dims=2 + ax), spec)
        rhs = torch.roll(layer(g, spec), shift, dims=2 + ax)
        assert torch.allclose(lhs, rhs, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    a=st.floats(-5, 5),
    b=st.floats(-5, 5),
    seed=st.integers(0, 2**16),
    boundary=st.sampled_from(["reflect", "periodic", "valid", "extrapolate"]),
)
def test_linearity(a, b, seed, boundary):
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(2, 1, 30, 24, dtype=torch.float64, generator=gen)
    g = torch.randn(2, 1, 30, 24, dtype=torch.float64, generator=gen)
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=1.0, width=3.5, boundary=boundary)
    for spec in ("", "xy", "xxxx"):
        lhs = layer(a * f + b * g, spec)
        rhs = a * layer(f, spec) + b * layer(g, spec)
        assert torch.allclose(lhs, rhs, atol=1e-9 * (1 + abs(a) + abs(b)))


def test_valid_crops_radius_and_from_grid():
    grid = ml.Grid(x=np.linspace(0, 1, 51), y=np.linspace(0, 2, 41))
    layer = ml.MollifierLayer.from_grid(grid, width={"x": 0.1, "y": 0.25}, boundary="valid")
    assert layer.spacing == grid.spacing
    assert layer.radius == {"x": 5 + 3, "y": 5 + 3}
    out = layer(torch.zeros(1, 1, 51, 41), "xy")
    assert tuple(out.shape[2:]) == (51 - 16, 41 - 16) == layer.output_shape((51, 41))


def test_bad_inputs_give_clear_errors():
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=0.4)
    g = torch.zeros(1, 1, 20, 20)
    with pytest.raises(ValueError, match=r"shape \(batch, channel, x, y\)"):
        layer(torch.zeros(20, 20), "x")
    with pytest.raises(ValueError, match="names axis 'z'"):
        layer(g, "xz")
    with pytest.raises(ValueError, match="above this layer's max_order=4"):
        layer(g, "xxxxx")
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.zeros(1, 1, 20, 20, dtype=torch.int64), "x")
    with pytest.raises(ValueError, match=r"axis 'x' has 6 points.*needs at least"):
        layer(torch.zeros(1, 1, 6, 20), "x")
    with pytest.raises(ValueError, match="unknown boundary mode 'mirror'"):
        ml.MollifierLayer(axes=("x",), spacing=0.1, width=0.4, boundary="mirror")
    with pytest.raises(ValueError, match="unknown kernel 'box'"):
        ml.MollifierLayer(axes=("x",), spacing=0.1, width=0.4, kernel="box")
    with pytest.raises(ValueError, match=r"width 0.2 along axis 'y' spans only 2 grid points"):
        ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=(0.4, 0.2))
    with pytest.raises(ValueError, match="width has 3 entries but there are 2 axes"):
        ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=(0.4, 0.4, 0.4))
    with pytest.raises(ValueError, match="single letters"):
        ml.MollifierLayer(axes=("x1",), spacing=0.1, width=0.4)
    with pytest.raises(ValueError, match=r"max_order must be an integer in 0\.\.6"):
        ml.MollifierLayer(axes=("x",), spacing=0.1, width=0.4, max_order=7)
    with pytest.raises(ValueError, match=r"Extrapolate\.degree"):
        ml.Extrapolate(degree=9)
