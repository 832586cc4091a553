"""Empirical coverage of network-ensemble intervals over repeated noise draws (heat ν).

Usage: python benchmarks/ensemble_coverage.py [--draws 12] [--members 4] [--steps 400]
       [--level 0.01] [--seed-only]

``u_t = ν u_xx`` on 31 × 41 nodes (two decaying modes, ν = 0.3, the ``heat_nu`` case of
``coverage.py``); each draw adds white noise (``level · std(clean) · ξ``) and is solved with
``Network(ensemble=members, ensemble_noise=True)`` (``--seed-only``: members differ in seed
only), a small tanh MLP, cold start. Prints one Markdown row: coverage of the truth by the 95%
intervals, their median width, the spread of the ensemble mean over the draws against the median
member spread (a calibrated spread has ratio 1), the mean error and the time per draw.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mollifier as ml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--level", type=float, default=0.01)
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    grid = ml.Grid(t=np.linspace(0, 1, 31), x=np.linspace(0, 2, 41))
    t, x = grid.mesh()
    clean = np.exp(-0.3 * np.pi**2 * t) * np.sin(np.pi * x)
    clean = clean + 0.5 * np.exp(-1.2 * np.pi**2 * t) * np.sin(2 * np.pi * x)
    solver = ml.Network(
        arch=ml.MLP(hidden=32, depth=3),
        steps=args.steps,
        lr=3e-3,
        read_off=False,
        ensemble=args.members,
        ensemble_noise=not args.seed_only,
    )
    rng = np.random.default_rng(2024)
    scale = args.level * float(np.std(clean))
    est, sd, hit, width, cost = [], [], [], [], []
    for _ in range(args.draws):
        problem = ml.InverseProblem(
            grid=grid,
            data={"u": clean + scale * rng.standard_normal(clean.shape)},
            unknowns={"nu": ml.Constant(init=0.2)},
            residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx"),
            width={"t": 0.15, "x": 0.3},
        )
        t0 = time.perf_counter()
        res = problem.solve(solver)
        cost.append(time.perf_counter() - t0)
        low, high = res.intervals()["nu"]
        est.append(res.unknowns["nu"])
        sd.append(res.unknowns_std["nu"])
        hit.append(low <= 0.3 <= high)
        width.append(high - low)
    ratio = float(np.std(est, ddof=1) / np.median(sd))
    print(
        "| members | noise resampled | draws | steps | coverage of ν = 0.3 | median width | "
        "std of the mean over draws / median member std | mean error | s per draw |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.members} | {not args.seed_only} | {args.draws} | {args.steps} | "
        f"{np.mean(hit):.0%} | {np.median(width):.3g} | {ratio:.2f} | "
        f"{np.mean(est) - 0.3:+.3g} | {np.median(cost):.1f} |"
    )


if __name__ == "__main__":
    main()
