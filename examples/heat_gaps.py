"""Data with gaps: recover λ(x, y) of 0 = λ∇²u + m with half of the nodes missing in blocks.

The direct solver needs complete data under its stencils: given a mask it refuses
(MissingDataError), and on the observed region alone (``domain=mask``) it covers only part of it.
The network fits the data where they are observed and the equation everywhere, so λ comes back
at every node. 48² nodes, 1% noise, 50% removed in 12 × 12 blocks; MLP, 10 000 Adam steps at
lr 3e-3 (benchmarks/RESULTS.md § 18; a few minutes on one core).

Usage: python examples/heat_gaps.py [--smoke]   (--smoke: 24² nodes and 60 steps)
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import mollifier as ml
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, gap_mask, simulate_heat


def rel_l2(estimate: np.ndarray, truth: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """Relative L2 error over the nodes of ``region`` with an estimate, and their share."""
    keep = region & np.isfinite(estimate)
    if not keep.any():
        return float("nan"), 0.0
    error = np.linalg.norm(estimate[keep] - truth[keep]) / np.linalg.norm(truth[keep])
    return float(error), float(keep.mean() / region.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny grid and step counts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, block, steps = (24, 6, 60) if args.smoke else (48, 12, 10_000)
    mask = gap_mask((n, n), missing=0.5, size=block, rng=np.random.default_rng(0))
    ds = simulate_heat(n=n, noise=GaussianNoise(0.01), seed=0, mask=mask)
    truth = ds.truth["lam"]
    print(f"{1 - mask.mean():.1%} of the {n}² nodes missing")
    problem = problem_from_dataset(ds, width="auto", boundary="interior")  # mask from ds
    try:
        problem.solve(ml.Direct())
    except ml.MissingDataError as exc:
        print(f"direct solver refused: {str(exc).split(':')[0]}")
    try:
        region = problem_from_dataset(ds, width=4.7 / (n - 1), boundary="interior", domain=mask)
        lam = region.solve(ml.Direct(regularization=ml.Tikhonov(1.0))).unknowns["lam"]
        error, coverage = rel_l2(lam, truth, mask)
        print(f"direct on the observed region: rel. L2 {error:.3f} on {coverage:.0%} of it")
    except ValueError as exc:
        print(f"direct on the observed region: nothing left ({str(exc).split(';')[0]})")
    lam = problem.solve(ml.Network(steps=steps, lr=3e-3, seed=0)).unknowns["lam"]
    for name, region in (("observed", mask), ("missing", ~mask)):
        error, coverage = rel_l2(lam, truth, region)
        print(f"network, {name} nodes: rel. L2 {error:.3f} on {coverage:.0%} of them")


if __name__ == "__main__":
    main()
