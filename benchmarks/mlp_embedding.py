"""The MLP on raw coordinates (the classic tanh PINN) against the MLP on Fourier features.

Usage: python benchmarks/mlp_embedding.py [--cases heat demo langevin chromatin] [--scales 1 2 4]

Same data, widths, steps, learning rate (3e-3) and seed for every row; only
``ml.MLP(embedding=..., fourier_scale=...)`` differs (``embedding=0``: raw coordinates). Cases,
1% noise, seed 0, ``width="auto"``:

* ``heat``: steady heat ``0 = λ∇²u + m`` on 64² (the § 4 problem), 2 500 Adam steps, cold and
  warm (``start="direct"``) starts;
* ``demo``: the demo's problem (heat 48², edge kernels, ``boundary="interior"``, widths by the
  stability ladder), 2 500 steps, λ on every node;
* ``langevin``: λ(t) on 201 times, 2 500 steps;
* ``chromatin``: the steady chromatin model on 64² of [0, 5]², lognormal λ, 1 000 steps.

Prints Pearson r and relative L2 error of the network's λ channel against the truth, on the
nodes where the problem reports λ, and the wall time of each fit.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time

import torch

import mollifier as ml
from mollifier.inverse import refine_width
from mollifier.pdes import problem_from_dataset
from mollifier.sim import (
    GaussianNoise,
    LognormalLambda,
    simulate_chromatin,
    simulate_heat,
    simulate_langevin,
)


def _problem(case: str) -> tuple[ml.InverseProblem, int, tuple[str, ...]]:
    noise = GaussianNoise(0.01)
    if case == "heat":
        ds = simulate_heat(n=64, noise=noise, seed=0)
        return problem_from_dataset(ds, width="auto"), 2500, ("cold", "direct")
    if case == "demo":
        ds = simulate_heat(n=48, noise=noise, seed=0)
        problem = refine_width(problem_from_dataset(ds, width="auto", boundary="interior"))
        return problem, 2500, ("cold",)
    if case == "langevin":
        return (
            problem_from_dataset(simulate_langevin(noise=noise, seed=0), width="auto"),
            2500,
            ("cold",),
        )
    lam = LognormalLambda(median=0.5, sigma=0.2, correlation_length=2.0)
    ds = simulate_chromatin(n=64, length=5.0, lam=lam, noise=noise, seed=0)
    return problem_from_dataset(ds, width="auto"), 1000, ("cold",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--cases", nargs="+", choices=("heat", "demo", "langevin", "chromatin"),
        default=["heat", "demo", "langevin", "chromatin"],
    )  # fmt: skip
    parser.add_argument("--scales", nargs="+", type=float, default=[1.0, 2.0, 4.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"command: python benchmarks/mlp_embedding.py --cases {' '.join(args.cases)} --scales "
        f"{' '.join(f'{s:g}' for s in args.scales)}; commit {commit or 'unknown'}; torch "
        f"{torch.__version__}; {platform.machine()} CPU, 1 thread"
    )
    print("| case | start | MLP | steps | r(λ) | rel. L2 | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for case in args.cases:
        problem, steps, starts = _problem(case)
        direct = problem.solve(ml.Direct()).metrics["lam"]
        print(f"| {case} | — | direct solver | — | {direct['pearson']:.4f} | "
              f"{direct['rel_l2']:.4f} | — |")  # fmt: skip
        archs = [("raw coordinates", ml.MLP(embedding=0))] + [
            (f"Fourier, scale {s:g}", ml.MLP(fourier_scale=s)) for s in args.scales
        ]
        for start in starts:
            for label, arch in archs:
                t0 = time.perf_counter()
                res = problem.solve(
                    ml.Network(arch=arch, steps=steps, lr=3e-3, seed=0, start=start)
                )
                m = res.metrics["lam"]
                print(
                    f"| {case} | {start} | {label} | {steps} | {m['pearson']:.4f} | "
                    f"{m['rel_l2']:.4f} | {time.perf_counter() - t0:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
