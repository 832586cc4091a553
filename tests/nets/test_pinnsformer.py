"""PINNsFormer: Wavelet activation, pseudo-sequences, attention and the sequence output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mollifier.nets.pinnsformer import PINNsFormer, Wavelet, _Attention


def make(seed: int = 0, **options: object) -> PINNsFormer:
    torch.manual_seed(seed)
    opts = {"hidden": 8, "heads": 2, "feedforward": 16, "output_hidden": 16, **options}
    return PINNsFormer(in_features=3, out_features=2, **opts).double()  # type: ignore[arg-type]


def test_wavelet_formula_and_learnable_coefficients() -> None:
    act = Wavelet().double()
    assert act.omega1.item() == 1.0 and act.omega2.item() == 1.0
    with torch.no_grad():
        act.omega1.fill_(0.3)
        act.omega2.fill_(-1.7)
    x = torch.linspace(-7, 4, 101, dtype=torch.float64)
    xn = x.numpy()
    np.testing.assert_allclose(
        act(x).detach().numpy(), 0.3 * np.sin(xn) - 1.7 * np.cos(xn), rtol=0, atol=1e-15
    )
    act(x).sum().backward()
    assert act.omega1.grad is not None and act.omega2.grad is not None
    np.testing.assert_allclose(act.omega1.grad.item(), np.sin(xn).sum(), rtol=1e-12)
    np.testing.assert_allclose(act.omega2.grad.item(), np.cos(xn).sum(), rtol=1e-12)
    net = make()
    names = [n for n, _ in net.named_parameters() if n.endswith("omega1")]
    # per layer: 2 pre-activations + 2 in the feed-forward; encoder, decoder, final acts, output
    assert len(names) == 4 + 4 + 2 + 2


@pytest.mark.parametrize(("seq_axis", "index"), [(-1, 2), (0, 0), (1, 1)])
def test_pseudo_sequence_values(seq_axis: int, index: int) -> None:
    net = make(k=4, delta=0.25, seq_axis=seq_axis)
    assert net.seq_axis == index
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], dtype=torch.float64)
    seq = net.pseudo_sequence(x)
    assert seq.shape == (2, 4, 3)
    expected = x.numpy()[:, None, :].repeat(4, axis=1)
    expected[:, :, index] += 0.25 * np.arange(4)
    np.testing.assert_array_equal(seq.numpy(), expected)


def test_sequence_output_shapes_and_first_element() -> None:
    net = make(k=6, delta=0.1)
    torch.manual_seed(1)
    x = torch.rand(10, 3, dtype=torch.float64)
    seq = net.forward_sequence(x)
    assert seq.shape == (10, 6, 2)
    out = net(x)
    assert out.shape == (10, 2)
    torch.testing.assert_close(out, seq[:, 0], rtol=1e-13, atol=1e-13)


def test_attention_mixes_the_pseudo_sequence() -> None:
    """The same weights with k = 1 (attention over a single element) give another output."""
    long = make(seed=2, k=5, delta=0.2)
    short = make(seed=2, k=1, delta=0.2)
    short.load_state_dict(long.state_dict())
    torch.manual_seed(3)
    x = torch.rand(8, 3, dtype=torch.float64)
    assert (long(x) - short(x)).abs().max() > 1e-4
    # and the prediction depends on delta (the shifted points are really used)
    other = make(seed=2, k=5, delta=0.4)
    assert (long(x) - other(x)).abs().max() > 1e-4


def test_attention_matches_torch_multihead_attention() -> None:
    """Independent reference: torch.nn.MultiheadAttention with the same projection weights."""
    torch.manual_seed(4)
    ours = _Attention(8, 2).double()
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        for layer in (ours.query, ours.key, ours.value, ours.out):
            layer.bias.normal_()  # non-zero biases, so that they are checked too
        ref.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    q = torch.randn(5, 3, 8, dtype=torch.float64)
    mem = torch.randn(5, 4, 8, dtype=torch.float64)
    expected, _ = ref(q, mem, mem, need_weights=False)
    torch.testing.assert_close(ours(q, mem), expected, rtol=1e-12, atol=1e-12)


def test_invalid_options() -> None:
    with pytest.raises(ValueError, match="divisible by heads"):
        PINNsFormer(in_features=2, out_features=1, hidden=10, heads=3)
    with pytest.raises(ValueError, match="seq_axis=2 is out of range"):
        PINNsFormer(in_features=2, out_features=1, seq_axis=2)
    with pytest.raises(ValueError, match="delta"):
        PINNsFormer(in_features=2, out_features=1, delta=0.0)
    with pytest.raises(ValueError, match="k must be"):
        PINNsFormer(in_features=2, out_features=1, k=0)
