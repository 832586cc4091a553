"""Network warm start from the direct solution against a cold start (benchmarks/RESULTS.md § 12).

Usage: python benchmarks/warm_start.py heat|chromatin

heat: ``simulate_heat(n=48, seed=0)`` at 1% noise (the demo's data), width 0.25. chromatin:
``simulate_chromatin(n=64, length=5, seed=0)`` with a lognormal λ (median 0.5, σ 0.2,
correlation length 2, as in ``benchmarks/inverse_problems.py``) at 1% noise, ``width="auto"``.
The problem is built once and solved by the direct solver and by ``ml.Network()`` defaults
(``read_off=False``) with a cold start (500–4 000 physics steps) and with ``start="direct"``
(500 fitting steps, then 0–1 000 physics steps); ``--max-steps`` skips the longer runs. Prints
one line per run: Pearson r and relative L2 of λ, wall time and the data misfit.
"""

from __future__ import annotations

import argparse
import time

import mollifier as ml
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, LognormalLambda, simulate_chromatin, simulate_heat

RUNS = [("cold", 0, s) for s in (500, 1000, 2000, 4000)] + [
    ("direct", 500, s) for s in (0, 500, 1000)
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("heat", "chromatin"))
    parser.add_argument(
        "--max-steps", type=int, default=4000, help="skip runs with more physics steps"
    )
    args = parser.parse_args()
    noise = GaussianNoise(0.01)
    if args.task == "heat":
        problem = problem_from_dataset(simulate_heat(n=48, seed=0, noise=noise), width=0.25)
    else:
        lam = LognormalLambda(median=0.5, sigma=0.2, correlation_length=2.0)
        ds = simulate_chromatin(n=64, length=5.0, lam=lam, seed=0, noise=noise)
        problem = problem_from_dataset(ds, width="auto")
    direct = problem.solve(ml.Direct()).metrics["lam"]
    print("| start | fitting steps | physics steps | r of λ | rel. L2 | time (s) | data misfit |")
    print("|---|---|---|---|---|---|---|")
    print(f"| direct solver | — | — | {direct['pearson']:.4f} | {direct['rel_l2']:.3f} | — | — |")
    for start, fitting, steps in RUNS:
        if steps > args.max_steps:
            continue
        t0 = time.perf_counter()
        solver = ml.Network(
            arch=ml.MLP(embedding=0),  # the classic tanh PINN, as measured in RESULTS.md § 12
            steps=steps,
            start=start,
            start_steps=fitting,
            read_off=False,
        )
        result = problem.solve(solver)
        m = result.metrics["lam"]
        misfit = result.diagnostics["data_misfit"]
        print(
            f"| {start} | {fitting or '—'} | {steps} | {m['pearson']:.4f} | {m['rel_l2']:.3f} | "
            f"{time.perf_counter() - t0:.0f} | {misfit} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
