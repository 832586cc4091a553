"""PirateNet: identity blocks at initialisation and the least-squares output initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mollifier.nets.pirate import PirateNet

LOWER, UPPER = np.array([0.0, -2.0]), np.array([1.0, 2.0])


def make(seed: int = 0, **options: object) -> PirateNet:
    torch.manual_seed(seed)
    opts = {"hidden": 16, "depth": 3, "embedding": 24, "lower": LOWER, "upper": UPPER, **options}
    return PirateNet(in_features=2, out_features=2, **opts).double()  # type: ignore[arg-type]


def points(n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(LOWER + (UPPER - LOWER) * rng.random((n, 2)))


def numpy_embedding(net: PirateNet, x: torch.Tensor) -> np.ndarray:
    """Independent reference: Φ(x̂) = [cos(x̂ B), sin(x̂ B)], x̂ = 2 (x - lower)/(upper - lower) - 1."""
    xhat = 2 * (x.numpy() - LOWER) / (UPPER - LOWER) - 1
    proj = xhat @ net.frequencies.numpy()
    return np.concatenate([np.cos(proj), np.sin(proj)], axis=1)


def test_frequencies_have_the_requested_scale() -> None:
    torch.manual_seed(0)
    net = PirateNet(in_features=2, out_features=1, embedding=2000, fourier_scale=3.0)
    b = net.frequencies
    assert b.shape == (2, 1000)
    assert not b.requires_grad and "frequencies" in dict(net.named_buffers())
    # sample std of 2000 N(0, 9) draws: 3 ± 3/sqrt(4000) ≈ 3 ± 0.05
    assert abs(b.std().item() - 3.0) < 0.2
    assert abs(b.mean().item()) < 0.2


def test_starts_as_linear_model_of_the_embedding() -> None:
    net = make()
    x = points(40, seed=1)
    assert all(block.alpha.item() == 0.0 for block in net.blocks)
    phi = numpy_embedding(net, x)
    np.testing.assert_allclose(net.embed(x).detach().numpy(), phi, rtol=0, atol=1e-14)
    # α = 0: every block is the identity, so the features are the embedding itself...
    assert torch.equal(net.features(x), net.embed(x))
    # ...and the output is an affine function of Φ with the output layer's weights.
    w = net.output.weight.detach().numpy()
    b = net.output.bias.detach().numpy()
    np.testing.assert_allclose(net(x).detach().numpy(), phi @ w.T + b, rtol=0, atol=1e-13)
    # once the blocks open (α ≠ 0) the network is no longer that linear model
    with torch.no_grad():
        for block in net.blocks:
            block.alpha.fill_(0.5)
    assert np.abs(net(x).detach().numpy() - (phi @ w.T + b)).max() > 1e-3


def test_alpha_receives_gradients() -> None:
    net = make()
    x = points(30, seed=2)
    net(x).square().sum().backward()
    grads = [block.alpha.grad for block in net.blocks]
    assert all(g is not None and abs(g.item()) > 0 for g in grads)


def test_initialize_output_reproduces_span_of_features_exactly() -> None:
    net = make(seed=3)
    x = points(200, seed=4)
    rng = np.random.default_rng(5)
    coef = rng.standard_normal((24, 2))
    shift = rng.standard_normal(2)
    y = numpy_embedding(net, x) @ coef + shift
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.initialize_output(x, torch.from_numpy(y))
    np.testing.assert_allclose(net(x).detach().numpy(), y, rtol=0, atol=1e-9)
    # ...also away from the fitting points: the weights themselves are recovered
    np.testing.assert_allclose(net.output.weight.detach().numpy(), coef.T, atol=1e-7)
    np.testing.assert_allclose(net.output.bias.detach().numpy(), shift, atol=1e-7)
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"output.weight", "output.bias"}


def test_initialize_output_equals_numpy_least_squares() -> None:
    net = make(seed=6)
    x = points(300, seed=7)
    xn = x.numpy()
    y = np.stack([np.exp(xn[:, 0]) * np.sin(3 * xn[:, 1]), np.abs(xn[:, 0] - 0.5)], axis=1)
    net.initialize_output(x, torch.from_numpy(y))
    design = np.concatenate([numpy_embedding(net, x), np.ones((300, 1))], axis=1)
    sol, *_ = np.linalg.lstsq(design, y, rcond=None)
    ls_fit = design @ sol
    np.testing.assert_allclose(net(x).detach().numpy(), ls_fit, rtol=0, atol=1e-8)
    residual = np.linalg.norm(net(x).detach().numpy() - y)
    assert residual == pytest.approx(np.linalg.norm(ls_fit - y), rel=1e-8)
    assert residual > 1e-3  # a target outside the span: the fit is a projection, not exact


def test_initialize_output_uses_current_features_and_float32() -> None:
    net = make(seed=8)
    with torch.no_grad():
        for block in net.blocks:
            block.alpha.fill_(0.3)
    x = points(150, seed=9)
    y = torch.sin(2 * x).to(torch.float64)
    net.initialize_output(x, y)
    h = net.features(x).detach().numpy()
    design = np.concatenate([h, np.ones((150, 1))], axis=1)
    sol, *_ = np.linalg.lstsq(design, y.numpy(), rcond=None)
    np.testing.assert_allclose(net(x).detach().numpy(), design @ sol, atol=1e-8)
    # float32 network: the solve runs in float64, the layer keeps its dtype
    net32 = make(seed=8).float()
    net32.initialize_output(x.float(), y.float())
    assert net32.output.weight.dtype == torch.float32
    err32 = (net32(x.float()).double() - y).norm() / y.norm()
    net64 = make(seed=8)
    net64.initialize_output(x, y)
    err64 = (net64(x) - y).norm() / y.norm()
    assert err32.item() == pytest.approx(err64.item(), rel=1e-3, abs=1e-5)


def test_initialize_output_rejects_bad_targets() -> None:
    net = make()
    x = points(10, seed=0)
    with pytest.raises(ValueError, match=r"shape \(N, out_features\) = \(10, 2\)"):
        net.initialize_output(x, torch.zeros(10, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="finite"):
        net.initialize_output(x, torch.full((10, 2), float("nan"), dtype=torch.float64))


def test_invalid_options() -> None:
    with pytest.raises(ValueError, match="even"):
        PirateNet(in_features=2, out_features=1, embedding=7)
    with pytest.raises(ValueError, match="fourier_scale"):
        PirateNet(in_features=2, out_features=1, fourier_scale=0.0)
