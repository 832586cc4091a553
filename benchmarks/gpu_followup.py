"""A GPU follow-up to the full tier that fits what is left of a short device lease.

The full tier (``benchmarks/gpu_full_tier.sh``) runs the matrix first; on a 15-minute lease its
time budget is spent before the autodiff runs of the 4th-order task can finish and before the
scaling study starts. This script runs, in this order:

1. the scaling study of the full tier (derivative cost against order 1–6 on a 256² grid, and
   against grid size at order 4, by default 128² and 512²; floor, mollifier and autodiff);
2. the chromatin (4th-order) MLP 4×64 pair on the full tier's 128² grid at 1% noise with a
   shorter step budget (default 1000 Adam steps, lr 3e-3), mollifier first, then autodiff with
   the same network, steps, learning rate, seed and widths, plus the direct row.

Usage (device):  python3 benchmarks/gpu_followup.py --out DIR [--steps 1000] [--n 128]
                 [--grid-sizes 128 512]
"""

from __future__ import annotations

import argparse
import dataclasses

from mollifier_bench.config import MatrixSpec
from mollifier_bench.harness import run_tier
from mollifier_bench.tiers import get_tier


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--n", type=int, default=128, help="chromatin grid points per axis")
    p.add_argument("--steps", type=int, default=1000, help="Adam steps of both backends")
    p.add_argument("--run-limit", type=float, default=240.0, help="per-run limit, seconds")
    p.add_argument("--budget", type=float, default=200.0, help="stop starting runs after, s")
    p.add_argument(
        "--grid-sizes", type=int, nargs="+", default=[128, 512], help="grid-size sweep (order 4)"
    )
    p.add_argument("--small-scaling", action="store_true", help="tiny scaling (dry runs)")
    args = p.parse_args()

    full = get_tier("full")
    scaling = full.scaling
    if args.small_scaling and scaling is not None:
        scaling = dataclasses.replace(scaling, order_n=64, grid_sizes=(32, 64), steps=2, warmup=1)
    elif scaling is not None:
        scaling = dataclasses.replace(scaling, grid_sizes=tuple(args.grid_sizes))
    tier = dataclasses.replace(
        full,
        name="full-followup",
        description=(
            "GPU follow-up of the full tier: its scaling study, then the chromatin (4th-order) "
            f"MLP 4×64 pair on a {args.n}² grid at 1% noise, {args.steps} Adam steps at lr 3e-3 "
            "for both backends (mollifier first), and the direct row."
        ),
        matrix=(
            MatrixSpec(
                task="chromatin",
                n=args.n,
                archs=("mlp",),
                derivatives=("mollifier", "autodiff"),
                steps=args.steps,
                network=(("depth", 4), ("hidden", 64)),
            ),
        ),
        scaling=scaling,
        accuracy=None,
        run_time_limit_s=args.run_limit,
        time_budget_s=args.budget,
        studies=("scaling", "matrix"),
    )
    outcome = run_tier(
        tier, args.out, device=args.device, progress=False, command="benchmarks/gpu_followup.py"
    )
    print(f"{outcome.ran} run, {outcome.cached} cached; wrote {[f.name for f in outcome.files]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
