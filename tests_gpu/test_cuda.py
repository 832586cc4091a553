"""CUDA checks, run on a GPU machine only (``make gpu-check``); CI has no GPU and does not collect
this folder. Every test here fails, rather than skips, when no CUDA device is present."""

from __future__ import annotations

import copy

import pytest
import torch
from tests.nets.test_nets import nested, tiny

import mollifier as ml
from mollifier.nets import ARCHITECTURES, build_network


@pytest.fixture(autouse=True)
def _require_cuda() -> None:
    assert torch.cuda.is_available(), "tests_gpu needs a CUDA device"


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_cuda_matches_cpu(arch: str) -> None:
    net = tiny(arch, seed=9)
    gpu = copy.deepcopy(net).cuda()
    torch.manual_seed(4)
    x = torch.rand(6, 2, dtype=torch.float64)
    torch.testing.assert_close(gpu(x.cuda()).cpu(), net(x), rtol=1e-12, atol=1e-12)
    d4_cpu = nested(net, x, (0, 0, 1, 1)).detach()
    d4_gpu = nested(gpu, x.cuda(), (0, 0, 1, 1)).detach().cpu()
    torch.testing.assert_close(d4_gpu, d4_cpu, rtol=1e-10, atol=1e-10 * d4_cpu.abs().max().item())
    if arch == "pirate":
        y = torch.sin(3 * x)
        net.initialize_output(x, y)
        gpu.initialize_output(x.cuda(), y.cuda())
        assert gpu.output.weight.device.type == "cuda"
        torch.testing.assert_close(gpu(x.cuda()).cpu(), net(x), rtol=1e-9, atol=1e-9)
    # float32 on a 128 x 128 grid with the default sizes
    torch.manual_seed(0)
    big = build_network(arch, in_features=2, out_features=1, lower=[0, 0], upper=[1, 1]).cuda()
    grid = torch.rand(16384, 2, device="cuda", requires_grad=True)
    (g,) = torch.autograd.grad(big(grid).sum(), grid, create_graph=True)
    assert g.shape == (16384, 2) and g.device.type == "cuda" and torch.isfinite(g).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("boundary", ["reflect", "periodic", "valid", "extrapolate"])
def test_layer_on_cuda_matches_cpu(dtype, boundary) -> None:
    torch.manual_seed(0)
    g = torch.randn(2, 1, 96, 80, dtype=dtype)
    layer = ml.MollifierLayer(axes=("x", "y"), spacing=0.1, width=(0.5, 0.6), boundary=boundary)
    specs = ("", "x", "xxyy", "yyyy")
    cpu = layer(g, *specs)
    gpu = layer.cuda()(g.cuda(), *specs)
    tol = 1e-10 if dtype == torch.float64 else 2e-4
    for c, d in zip(cpu, gpu, strict=True):
        assert d.device.type == "cuda" and d.dtype == dtype
        scale = float(c.abs().max())
        assert float((d.cpu() - c).abs().max()) <= tol * scale


@pytest.mark.parametrize("method", ["fft", "matrix"])
def test_fft_and_matrix_paths_on_cuda(method: str) -> None:
    g = torch.randn(1, 1, 512, dtype=torch.float64, device="cuda")
    direct = ml.MollifierLayer(axes=("x",), spacing=0.01, width=0.6, method="direct").cuda()
    other = ml.MollifierLayer(axes=("x",), spacing=0.01, width=0.6, method=method).cuda()
    a, b = direct(g, "xxxx"), other(g, "xxxx")
    assert b.device.type == "cuda"
    assert (
        float((a - b).abs().max()) <= 1e-10 * float(a.abs().max()) <= 1e-10 * float(a.abs().max())
    )
