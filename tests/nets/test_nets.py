"""Contract tests shared by all coordinate networks, the coordinate box and the factory."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from mollifier.nets import ARCHITECTURES, CoordinateBox, build_network
from mollifier.nets.mlp import MLP
from mollifier.nets.pinnsformer import PINNsFormer
from mollifier.nets.pirate import PirateNet

#: Tiny but complete instances (every component present) for the exact-derivative tests.
TINY: dict[str, dict[str, object]] = {
    "mlp": {"hidden": 8, "depth": 2, "embedding": 8, "fourier_scale": 1.0},
    "pirate": {"hidden": 8, "depth": 2, "embedding": 8, "fourier_scale": 1.0},
    "pinnsformer": {
        "hidden": 8,
        "depth": 1,
        "heads": 2,
        "feedforward": 8,
        "output_hidden": 8,
        "k": 3,
        "delta": 0.05,
    },
}


def tiny(arch: str, *, seed: int = 0, out_features: int = 2, **extra: object) -> torch.nn.Module:
    torch.manual_seed(seed)
    options = {**TINY[arch], **extra}
    return build_network(arch, in_features=2, out_features=out_features, **options).double()


def nested(net: torch.nn.Module, x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """∂^|axes| u_0 / ∂x_{axes[0]} ... ∂x_{axes[-1]} per point, by nested autograd."""
    x = x.detach().clone().requires_grad_(True)
    u = net(x)[:, 0]
    for a in axes:
        u = torch.autograd.grad(u.sum(), x, create_graph=True)[0][:, a]
    return u


# --------------------------------------------------------------------------------------------
# Shapes, dtypes, determinism, the box
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(arch: str, dtype: torch.dtype) -> None:
    torch.manual_seed(1)
    net = build_network(arch, in_features=3, out_features=2, lower=[0, 0, 0], upper=[1, 2, 3])
    net = net.to(dtype)
    x = torch.rand(17, 3, dtype=dtype)
    y = net(x)
    assert y.shape == (17, 2)
    assert y.dtype == dtype
    assert torch.isfinite(y).all()
    # derivatives keep dtype and shape
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(xg)[:, 1].sum(), xg, create_graph=True)
    assert g.shape == (17, 3) and g.dtype == dtype
    # every buffer followed the dtype
    assert all(b.dtype == dtype for b in net.buffers())


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_default_size_evaluates_128x128_grid(arch: str) -> None:
    torch.manual_seed(0)
    net = build_network(arch, in_features=2, out_features=1, lower=[0, 0], upper=[1, 1])
    c = torch.linspace(0, 1, 128)
    x = torch.stack(torch.meshgrid(c, c, indexing="ij"), dim=-1).reshape(-1, 2)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (16384, 1)
    assert torch.isfinite(y).all()
    # rows are returned in input order: reshaping gives the field on the grid, [x, y]
    with torch.no_grad():
        corner = net(torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(y.reshape(128, 128)[-1, 0], corner[0, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_initialisation_is_deterministic_given_seed(arch: str) -> None:
    a, b, c = tiny(arch, seed=3), tiny(arch, seed=3), tiny(arch, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_box_is_an_affine_map_to_unit_cube(arch: str) -> None:
    lower, upper = [-3.0, 10.0], [5.0, 10.5]
    boxed = tiny(arch, seed=5, lower=lower, upper=upper)
    plain = tiny(arch, seed=5)
    if arch == "pinnsformer":  # the shift is in physical units: rescale it for the plain net
        plain.delta = boxed.delta / ((upper[1] - lower[1]) / 2)
    torch.manual_seed(0)
    x = torch.rand(11, 2, dtype=torch.float64) * torch.tensor([8.0, 0.5]) + torch.tensor(lower)
    xhat = 2 * (x - torch.tensor(lower)) / (torch.tensor(upper) - torch.tensor(lower)) - 1
    assert xhat.min() >= -1 and xhat.max() <= 1
    torch.testing.assert_close(boxed(x), plain(xhat), rtol=1e-12, atol=1e-12)
    assert {"box.center", "box.half_range"} <= set(boxed.state_dict())


def test_coordinate_box_values_and_errors() -> None:
    box = CoordinateBox(in_features=2, lower=[1.0, -4.0], upper=[3.0, 4.0])
    x = torch.tensor([[1.0, -4.0], [2.0, 0.0], [3.0, 4.0], [2.5, 2.0]])
    expected = torch.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [0.5, 0.5]])
    torch.testing.assert_close(box(x), expected)
    identity = CoordinateBox(in_features=2)
    assert identity(x) is x
    with pytest.raises(ValueError, match="both lower and upper"):
        CoordinateBox(in_features=2, lower=[0, 0])
    with pytest.raises(ValueError, match="in_features=2"):
        CoordinateBox(in_features=2, lower=[0, 0, 0], upper=[1, 1, 1])
    with pytest.raises(ValueError, match="coordinate 1"):
        CoordinateBox(in_features=2, lower=[0, 1], upper=[1, 1])
    with pytest.raises(ValueError, match="finite"):
        CoordinateBox(in_features=2, lower=[0, 0], upper=[1, math.inf])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_bad_coordinates_and_sizes_raise(arch: str) -> None:
    net = tiny(arch)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        net(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        net(torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="hidden"):
        build_network(arch, in_features=2, out_features=1, hidden=0)
    with pytest.raises(ValueError, match="depth"):
        build_network(arch, in_features=2, out_features=1, depth=1.5)


# --------------------------------------------------------------------------------------------
# Pointwise in N
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_rows_do_not_interact(arch: str) -> None:
    net = tiny(arch, seed=2)
    torch.manual_seed(0)
    x = torch.rand(9, 2, dtype=torch.float64)
    y = net(x)
    j = 4
    x2 = x.clone()
    x2[j] += torch.tensor([0.3, -0.2], dtype=torch.float64)
    y2 = net(x2)
    others = [i for i in range(9) if i != j]
    torch.testing.assert_close(y2[others], y[others], rtol=1e-14, atol=1e-14)
    assert (y2[j] - y[j]).abs().max() > 1e-4  # the perturbed row did change
    # each row alone gives the same value as in the batch
    single = torch.cat([net(x[i : i + 1]) for i in range(9)])
    torch.testing.assert_close(single, y, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_batch_jacobian_is_block_diagonal(arch: str) -> None:
    net = tiny(arch, seed=6)
    torch.manual_seed(1)
    x = torch.rand(5, 2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(net, x)  # (N, out, N, in)
    assert jac.shape == (5, 2, 5, 2)
    for i in range(5):
        for j in range(5):
            block = jac[i, :, j, :]
            if i == j:
                assert block.abs().max() > 1e-6
            else:
                assert torch.count_nonzero(block) == 0


# --------------------------------------------------------------------------------------------
# Derivatives through nested autograd
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize(
    "axes",
    [(0, 0, 0, 0), (0, 0, 1, 1), (1, 1, 1, 1), (0, 1, 0, 1, 0, 1)],
    ids=["xxxx", "xxyy", "yyyy", "xyxyxy"],
)
def test_highest_autograd_derivative_matches_finite_difference(
    arch: str, axes: tuple[int, ...]
) -> None:
    """The last derivative by autograd equals a central difference of the previous one."""
    net = tiny(arch, seed=7)
    torch.manual_seed(2)
    x = torch.rand(4, 2, dtype=torch.float64) * 2 - 1
    h = 1e-3
    step = torch.zeros(2, dtype=torch.float64)
    step[axes[-1]] = h
    lower_order = axes[:-1]

    def f(m: int) -> torch.Tensor:
        return nested(net, x + m * step, lower_order).detach()

    # fourth-order central difference: truncation error h^4/30 |f^(5)|
    fd = (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * h)
    exact = nested(net, x, axes).detach()
    scale = exact.abs().max().item()
    assert scale > 1e-3  # a non-trivial derivative
    np.testing.assert_allclose(exact.numpy(), fd.numpy(), rtol=0, atol=1e-7 * scale)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_gradcheck_and_gradgradcheck(arch: str) -> None:
    net = tiny(arch, seed=8)
    torch.manual_seed(3)
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradgradcheck(net, (x,), eps=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Training: every architecture fits a smooth 2-D function
# --------------------------------------------------------------------------------------------

# (options, Adam steps, bound on the relative L2 test error); seeds 0..3 all give errors at
# most 0.7x the bound (measured: mlp 0.028-0.053, pirate 0.010-0.015, pinnsformer 0.026-0.038).
FIT = {
    "mlp": ({}, 800, 0.08),
    "pirate": ({"hidden": 32, "depth": 2, "embedding": 32}, 300, 0.03),
    "pinnsformer": (
        {"hidden": 16, "feedforward": 32, "output_hidden": 32, "k": 3, "delta": 0.01},
        300,
        0.06,
    ),
}


def _grid(nx: int, *, interior: bool) -> torch.Tensor:
    gx, gy = torch.linspace(0, 2, nx), torch.linspace(-1, 1, nx)
    if interior:
        gx, gy = gx[1:-1], gy[1:-1]
    return torch.stack(torch.meshgrid(gx, gy, indexing="ij"), dim=-1).reshape(-1, 2)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run on one thread (faster than two for loops of 400-point batches), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.usefixtures("one_thread")
def test_fits_smooth_function(arch: str) -> None:
    options, steps, bound = FIT[arch]

    def target(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(math.pi * x[:, :1]) * torch.cos(math.pi * x[:, 1:])

    x_train, x_test = _grid(20, interior=False), _grid(33, interior=True)  # test ∩ train = ∅
    y_train, y_test = target(x_train), target(x_test)
    torch.manual_seed(0)
    net = build_network(arch, in_features=2, out_features=1, lower=[0, -1], upper=[2, 1], **options)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)

    def rel_error() -> float:
        with torch.no_grad():
            return float((net(x_test) - y_test).norm() / y_test.norm())

    initial = rel_error()
    for _ in range(steps):
        opt.zero_grad()
        loss = (net(x_train) - y_train).square().mean()
        loss.backward()
        opt.step()
        schedule.step()
    final = rel_error()
    assert final < bound
    assert final < initial / 10


@pytest.mark.usefixtures("one_thread")
def test_fourier_features_beat_the_classic_mlp_on_a_field_with_several_features() -> None:
    """Spectral bias: with the same budget, the MLP on Fourier features fits a field with three
    periods per axis several times better than the classic tanh PINN on raw coordinates."""

    def target(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(3 * math.pi * x[:, :1]) * torch.cos(3 * math.pi * x[:, 1:])

    x_train, x_test = _grid(40, interior=False), _grid(57, interior=True)
    errors = {}
    for embedding in (0, 64):
        torch.manual_seed(0)
        net = MLP(
            in_features=2, out_features=1, hidden=32, depth=3, embedding=embedding,
            lower=[0, -1], upper=[2, 1],
        )  # fmt: skip
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(400):
            opt.zero_grad()
            (net(x_train) - target(x_train)).square().mean().backward()
            opt.step()
        with torch.no_grad():
            errors[embedding] = float((net(x_test) - target(x_test)).norm() / target(x_test).norm())
    assert errors[64] < 0.2 < errors[0], errors
    assert errors[64] < errors[0] / 3, errors


def test_classic_mlp_has_no_embedding_and_bad_embeddings_are_named() -> None:
    torch.manual_seed(0)
    classic = MLP(in_features=3, out_features=1, hidden=8, depth=2, embedding=0)
    assert classic.frequencies is None and classic.layers[0].in_features == 3
    torch.manual_seed(0)
    ff = MLP(in_features=3, out_features=1, hidden=8, depth=2, embedding=6, fourier_scale=0.5)
    assert ff.frequencies is not None and tuple(ff.frequencies.shape) == (3, 3)
    assert ff.layers[0].in_features == 6
    assert abs(float(ff.frequencies.std()) - 0.5) < 0.4  # N(0, 0.5²) entries
    for bad, match in ((5, "even"), (-2, "non-negative"), (True, "non-negative")):
        with pytest.raises(ValueError, match=match):
            MLP(in_features=2, out_features=1, embedding=bad)
    with pytest.raises(ValueError, match="fourier_scale"):
        MLP(in_features=2, out_features=1, fourier_scale=0.0)


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------


def test_factory_builds_each_class_and_passes_options() -> None:
    expected = {"mlp": MLP, "pirate": PirateNet, "pinnsformer": PINNsFormer}
    for arch, cls in expected.items():
        net = build_network(arch, in_features=3, out_features=2, hidden=12, depth=2)
        assert type(net) is cls
        assert net.hidden == 12 and net.depth == 2
    pirate = build_network("pirate", in_features=2, out_features=1, embedding=10)
    assert pirate.frequencies.shape == (2, 5)
    former = build_network("pinnsformer", in_features=3, out_features=1, seq_axis=0, k=4)
    assert former.seq_axis == 0 and former.k == 4


def test_factory_errors() -> None:
    with pytest.raises(ValueError, match="'mlp', 'pirate', 'pinnsformer'") as info:
        build_network("resnet", in_features=2, out_features=1)
    assert "resnet" in str(info.value)
    with pytest.raises(TypeError, match="widht"):
        build_network("mlp", in_features=2, out_features=1, widht=3)
    # an option valid for one architecture is not silently dropped by another
    with pytest.raises(TypeError, match="heads"):
        build_network("mlp", in_features=2, out_features=1, heads=2)
    with pytest.raises(TypeError, match="fourier_scale"):
        build_network("pinnsformer", in_features=2, out_features=1, fourier_scale=1.0)
