"""Cost of u, u_x, u_xx and the backward pass for each architecture: none, mollifier, autodiff.

Usage: python benchmarks/network_cost.py [--n 128] [--cycles 10] [--threads 0] [--device cpu]
       [--malloc default|retain]

Each architecture is built with its defaults (``build_network(arch, in_features=2,
out_features=1)``) and evaluated on every node of an ``n × n`` grid on [0, 1]² (float32). Three
passes are timed, each a forward pass, a loss and ``loss.backward()`` (no optimiser step):
``floor`` (loss on u only), ``mollifier`` (u, u_x, u_xx from a ``MollifierLayer`` on the gridded
output) and ``autodiff`` (u, u_x, u_xx by nested autograd at every node). The passes of all
architectures are timed in turn, in a balanced order
(:func:`mollifier_bench.cost.time_interleaved`); the table gives the median seconds per pass and
the ratios. This is the measurement behind the cost table of ``docs/nets.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
from collections.abc import Callable

import torch

from mollifier.autodiff import AutodiffDerivatives
from mollifier.layers import MollifierLayer
from mollifier.nets import build_network
from mollifier_bench._process import MALLOC_POLICIES, set_malloc_policy
from mollifier_bench.cost import time_interleaved

ARCHS = ("mlp", "pirate", "pinnsformer")
PASSES = ("floor", "mollifier", "autodiff")


def _pass(arch: str, kind: str, n: int, device: torch.device) -> Callable[[], None]:
    torch.manual_seed(0)
    net = build_network(arch, in_features=2, out_features=1).to(device)
    coords = torch.linspace(0, 1, n, device=device)
    X, Y = torch.meshgrid(coords, coords, indexing="ij")
    h = 1.0 / (n - 1)
    layer = MollifierLayer(axes=("x", "y"), spacing=h, width=6 * h, max_order=2).to(device)

    def run() -> None:
        net.zero_grad(set_to_none=True)
        if kind == "autodiff":
            x = X.reshape(-1).clone().requires_grad_(True)
            y = Y.reshape(-1).clone().requires_grad_(True)
            u = net(torch.stack([x, y], dim=-1))
            d = AutodiffDerivatives({"x": x, "y": y})
            terms = [u, d(u, "x"), d(u, "xx")]
        else:
            u = net(torch.stack([X.reshape(-1), Y.reshape(-1)], dim=-1))
            terms = [u]
            if kind == "mollifier":
                terms = list(layer(u.reshape(1, 1, n, n), "", "x", "xx"))
        loss = sum(t.square().mean() for t in terms)
        assert isinstance(loss, torch.Tensor)
        loss.backward()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--malloc",
        choices=MALLOC_POLICIES,
        default="default",
        help="C allocator policy of this process (CPU; 'retain' needs glibc)",
    )
    args = parser.parse_args()
    if args.cycles < 1 or args.n < 16:
        parser.error("need --cycles >= 1 and --n >= 16")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.malloc != "default":
        set_malloc_policy(args.malloc)
    device = torch.device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    keys = [(a, p) for a in ARCHS for p in PASSES]
    times = time_interleaved(
        [(_pass(a, p, args.n, device), sync) for a, p in keys], cycles=args.cycles, warmup=2
    )
    med = {k: statistics.median(t) for k, t in zip(keys, times, strict=True)}
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(f"device: {name}; torch {torch.__version__}; python {platform.python_version()}")
    print(
        f"grid {args.n}x{args.n} (N = {args.n**2}), float32, default networks, forward + loss + "
        f"backward, median of {args.cycles} interleaved cycles; malloc policy {args.malloc}"
    )
    print("| network | parameters | floor s | mollifier s | autodiff s | AD/moll | moll/floor |")
    print("|---|---|---|---|---|---|---|")
    for a in ARCHS:
        params = sum(
            p.numel() for p in build_network(a, in_features=2, out_features=1).parameters()
        )
        f, m, d = (med[(a, p)] for p in PASSES)
        print(f"| `{a}` | {params:,} | {f:.4f} | {m:.4f} | {d:.4f} | {d / m:.1f}× | {m / f:.2f}× |")


if __name__ == "__main__":
    main()
