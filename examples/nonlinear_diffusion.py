"""Unknowns the direct solver cannot reach: recover D₀ and β of u_t = ∂ₓ(D₀ e^{βu} ∂ₓu).

β sits in an exponent, so the residual is not affine in the unknowns: the direct solver refuses
the problem (NonAffineResidualError) and the network solver recovers both constants. The data
come from the finite-volume simulator (64 nodes × 50 times, D₀ = 0.05, β = 1.5, 1% noise); the
network starts from D₀ = 0.1, β = 0.5 and trains 3 000 Adam steps at lr 3e-3, then 500 L-BFGS
steps (benchmarks/RESULTS.md § 18: both within 2%; a few minutes on one core).

Usage: python examples/nonlinear_diffusion.py [--smoke]   (--smoke: a tiny grid and 60 steps)
"""

from __future__ import annotations

import argparse

import torch

import mollifier as ml
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, simulate_nonlinear_diffusion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny grid and step counts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, n_times, steps, polish = (24, 16, 60, 10) if args.smoke else (64, 50, 3000, 500)
    ds = simulate_nonlinear_diffusion(n=n, n_times=n_times, noise=GaussianNoise(0.01), seed=0)
    problem = problem_from_dataset(ds, width="auto")  # the built-in "nonlinear-diffusion"
    try:
        problem.solve(ml.Direct())
    except ml.NonAffineResidualError as exc:
        print(f"direct solver refused: {str(exc).split(';')[0]}")
    result = problem.solve(ml.Network(steps=steps, lr=3e-3, lbfgs_steps=polish, seed=0))
    for name, true in ds.truth.items():
        est = result.unknowns[name]
        print(f"{name:<5} {est:.5f}  true {true:g}  error {est / true - 1:+.2%}")
    print(f"status {result.status}, {result.wall_time_s:.0f} s")


if __name__ == "__main__":
    main()
