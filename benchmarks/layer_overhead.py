"""Order-4 derivative on a 128 × 128 grid: mollifier vs nested autodiff vs the data-fit floor.

Usage: python benchmarks/layer_overhead.py [--n 128] [--order 4] [--operator axis|biharmonic]
       [--steps 10] [--rounds 3] [--interleaved 30] [--compare-direct] [--device cpu]
       [--threads 0] [--malloc default|retain]

Each configuration runs in its own subprocess; the same MLP (2 → 4 × 64 tanh → 1), grid, data,
loss and Adam optimiser are used for all three. A round measures the floor, the mollifier and
autodiff one after the other; ``--rounds`` repeats the round, so that a slow spell of a shared
machine shows up as a spread between rounds instead of a wrong ratio. Prints each round's step
times (median of its timed steps), peak memory above the idle torch baseline (CPU) or max
allocated (CUDA), the per-round ratios, and the median of each over the rounds.

``--interleaved N`` then times the three steps once more in this process, one step of each in
turn for N cycles, in a balanced order (see
:func:`mollifier_bench.cost.interleaved_step_times`): a slow spell slows all three alike, so the
per-cycle ratios are the least noisy estimate of the time ratios (memory is not measured there).
Their medians are printed last. ``--compare-direct`` adds a fourth configuration to those cycles,
the mollifier step with the layer's ``conv1d`` path instead of the one ``method="auto"`` picks.

``--malloc retain`` (CPU, glibc) makes every measuring process keep the memory it frees instead of
returning it to the system (:func:`mollifier_bench._process.set_malloc_policy`), as jemalloc and
tcmalloc do: with glibc's default, each step pays page faults for the buffers the previous step
freed, and how much depends on what the process allocated before (interleaved steps of a large
autodiff graph leave a small step's buffers in the heap; a fresh process does not).
"""

from __future__ import annotations

import argparse
import platform
import statistics
from dataclasses import replace

import torch

from mollifier_bench._process import MALLOC_POLICIES
from mollifier_bench.cost import (
    StepCost,
    StepCostConfig,
    idle_rss_mb,
    interleaved_step_times,
    run_isolated,
)

METHODS = ("none", "mollifier", "autodiff")


def ratios(round_: dict[str, StepCost]) -> dict[str, float]:
    """The four ratios the issue asks for, from one round's measurements."""
    floor, moll, ad = (round_[m] for m in METHODS)
    mem = {m: float(round_[m].peak_memory_mb or "nan") for m in METHODS}
    return {
        "autodiff / mollifier time": ad.step_time_s / moll.step_time_s,
        "autodiff / mollifier peak memory": mem["autodiff"] / mem["mollifier"],
        "mollifier / data-fit time": moll.step_time_s / floor.step_time_s,
        "mollifier / data-fit peak memory": mem["mollifier"] / mem["none"],
    }


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
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interleaved", type=int, default=0, help="interleaved timed cycles")
    parser.add_argument(
        "--compare-direct",
        action="store_true",
        help="add the mollifier step with conv1d (method='direct') to the interleaved cycles",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--malloc",
        choices=MALLOC_POLICIES,
        default="default",
        help="C allocator policy of every measuring process (CPU; 'retain' needs glibc)",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.steps < 1 or args.interleaved == 1 or args.interleaved < 0:
        parser.error("need --rounds >= 1, --steps >= 1 and --interleaved 0 or >= 2")
    if args.compare_direct and not args.interleaved:
        parser.error(
            "--compare-direct times the conv1d path in the interleaved cycles: give "
            "--interleaved N as well"
        )
    base = idle_rss_mb() if args.device == "cpu" else 0.0
    shared = StepCostConfig(
        order=args.order,
        operator=args.operator,
        n=args.n,
        steps=args.steps,
        device=args.device,
        threads=args.threads,
        malloc=args.malloc,
    )
    rounds: list[dict[str, StepCost]] = [
        {m: run_isolated(replace(shared, method=m), baseline_mb=base) for m in METHODS}
        for _ in range(args.rounds)
    ]
    dev = rounds[0]["none"].device_name
    print(
        f"device: {dev}; torch {torch.__version__}; python {platform.python_version()}; "
        f"malloc policy {args.malloc}"
    )
    print(
        f"grid {args.n}x{args.n}, order {args.order} ({args.operator}), MLP 2-4x64-1 float32, "
        f"{args.steps} timed steps per process (median), {args.rounds} rounds"
    )
    if args.device == "cpu":
        print(f"idle torch process peak RSS: {base:.0f} MB (subtracted)")
    print("| round | s/step floor | moll | autodiff | MB floor | moll | autodiff |")
    print("|---|---|---|---|---|---|---|")
    for i, r in enumerate(rounds, 1):
        times = " | ".join(f"{r[m].step_time_s:.4f}" for m in METHODS)
        mems = " | ".join(f"{r[m].peak_memory_mb:.0f}" for m in METHODS)
        print(f"| {i} | {times} | {mems} |")
    per_round = [ratios(r) for r in rounds]
    for name in per_round[0]:
        values = [p[name] for p in per_round]
        listed = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name}: {statistics.median(values):.2f}x (median; rounds: {listed})")
    if args.interleaved:
        configs = [replace(shared, method=m, steps=args.interleaved) for m in METHODS]
        if args.compare_direct:
            configs.append(replace(configs[1], conv_method="direct"))
        floor, moll, ad, *direct = interleaved_step_times(configs)
        print(f"interleaved in one process, {args.interleaved} cycles (median s/step):")
        print(
            f"  floor {statistics.median(floor):.4f}, mollifier {statistics.median(moll):.4f}, "
            f"autodiff {statistics.median(ad):.4f}"
            + (f", mollifier with conv1d {statistics.median(direct[0]):.4f}" if direct else "")
        )
        pairs = [
            ("autodiff / mollifier time", ad, moll),
            ("mollifier / data-fit time", moll, floor),
        ]
        if direct:
            pairs.append(("mollifier with conv1d / mollifier time", direct[0], moll))
        for name, num, den in pairs:
            cycle = [a / b for a, b in zip(num, den, strict=True)]
            q = statistics.quantiles(cycle, n=4)
            print(
                f"  {name}: {statistics.median(cycle):.2f}x (median of per-cycle ratios; "
                f"quartiles {q[0]:.2f}-{q[2]:.2f})"
            )


if __name__ == "__main__":
    main()
