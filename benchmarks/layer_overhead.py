"""Order-4 derivative on a 128 × 128 grid: mollifier vs nested autodiff vs the data-fit floor.

Usage: python benchmarks/layer_overhead.py [--n 128] [--order 4] [--operator axis|biharmonic]
       [--steps 5] [--device cpu]

Each configuration runs in its own subprocess; the same MLP (2 → 4 × 64 tanh → 1), grid, data,
loss and Adam optimiser are used for all three. Prints step times, peak memory above the idle
torch baseline (CPU) or max allocated (CUDA), and the ratios side by side.
"""

from __future__ import annotations

import argparse
import platform

import torch

from mollifier.bench.cost import StepCostConfig, idle_rss_mb, run_isolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument(
        "--operator",
        choices=("axis", "biharmonic"),
        default="axis",
        help="penalise ∂ₓᵏu (axis) or ∇⁴u = u_xxxx + 2u_xxyy + u_yyyy (biharmonic, order 4)",
    )
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    base = idle_rss_mb() if args.device == "cpu" else 0.0
    results = {}
    for method in ("none", "mollifier", "autodiff"):
        cfg = StepCostConfig(
            method=method,
            order=args.order,
            operator=args.operator,
            n=args.n,
            steps=args.steps,
            device=args.device,
            threads=args.threads,
        )
        results[method] = run_isolated(cfg, baseline_mb=base)
    dev = results["none"].device_name
    print(f"device: {dev}; torch {torch.__version__}; python {platform.python_version()}")
    print(
        f"grid {args.n}x{args.n}, order {args.order} ({args.operator}), MLP 2-4x64-1 float32, "
        f"{args.steps} timed steps (median)"
    )
    if args.device == "cpu":
        print(f"idle torch process peak RSS: {base:.0f} MB (subtracted)")
    print("| step | time per step (s) | peak memory (MB) |")
    print("|---|---|---|")
    for m, r in results.items():
        label = {
            "none": "data fit only (floor)",
            "mollifier": "mollifier",
            "autodiff": "nested autograd",
        }[m]
        print(f"| {label} | {r.step_time_s:.4f} | {r.peak_memory_mb:.0f} |")
    moll, ad, floor = results["mollifier"], results["autodiff"], results["none"]
    print(f"autodiff / mollifier time: {ad.step_time_s / moll.step_time_s:.1f}x")
    print(f"autodiff / mollifier peak memory: {ad.peak_memory_mb / moll.peak_memory_mb:.1f}x")
    print(f"mollifier / data-fit time: {moll.step_time_s / floor.step_time_s:.2f}x")
    print(f"mollifier / data-fit peak memory: {moll.peak_memory_mb / floor.peak_memory_mb:.2f}x")


if __name__ == "__main__":
    main()
