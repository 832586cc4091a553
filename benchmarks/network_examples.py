"""Where only a network serves: non-affine unknowns and data with gaps (benchmarks/RESULTS.md § 18).

Usage: python benchmarks/network_examples.py {nonaffine,gaps,all} [--quick]

nonaffine: ``u_t = ∂ₓ(D₀ e^{βu} ∂ₓu)`` from :func:`mollifier.sim.simulate_nonlinear_diffusion`
(64 nodes × 50 times, D₀ = 0.05, β = 1.5, 1% noise, seed 0), the built-in problem
(``width="auto"``; initial values D₀ = 0.1, β = 0.5). The direct solver must refuse it; the
network runs print D₀, β and their relative errors.

gaps: the demo's heat problem ``0 = λ∇²u + m`` on 48² nodes (1% noise, seed 0) with 50% of the
nodes removed in 12 × 12 blocks (:func:`mollifier.sim.gap_mask`, seed 0). Prints the relative L2
error of λ and the share of nodes with an estimate (coverage) on the observed and on the missing
nodes for the direct solver on the full data (a reference), the direct solver on the observed
region (``domain=mask``, edge kernels, width 4.7 spacings, ``Tikhonov(1.0)``), the direct
solver's rows whose stencils miss every gap (closed form, gaps filled with zeros, then the rows
they reach blanked), and network runs with the mask (edge kernels, ``width="auto"``).

Every network run uses one torch thread. ``--quick``: tiny grids and step counts (a smoke run;
its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.ndimage import binary_dilation

import mollifier as ml
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, gap_mask, simulate_heat, simulate_nonlinear_diffusion

#: The tanh MLP on raw coordinates, the network RESULTS.md § 18 measured (the MLP's default has
#: since become Fourier features, § 19).
_MLP = ml.MLP(embedding=0)


def _rel_l2(estimate: np.ndarray, truth: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """Relative L2 error over the nodes of ``region`` that have an estimate, and their share."""
    keep = region & np.isfinite(estimate)
    if not keep.any():
        return float("nan"), 0.0
    err = np.linalg.norm(estimate[keep] - truth[keep]) / np.linalg.norm(truth[keep])
    return float(err), float(keep.sum() / region.sum())


def nonaffine(quick: bool) -> None:
    n, n_times = (24, 16) if quick else (64, 50)
    ds = simulate_nonlinear_diffusion(n=n, n_times=n_times, noise=GaussianNoise(0.01), seed=0)
    problem = problem_from_dataset(ds, width="auto")
    widths = ", ".join(f"{a} = {w:.3g}" for a, w in problem.width.items())
    print(f"nonlinear diffusion {n_times} × {n}, 1% noise, widths {widths}")
    try:
        problem.solve(ml.Direct())
        print("direct solver: solved (unexpected)")
    except ml.NonAffineResidualError as exc:
        print(f"direct solver: NonAffineResidualError: {str(exc).split(';')[0]}")
    scale = 20 if quick else 1
    runs: list[tuple[str, ml.Network]] = [
        ("defaults: Adam 5000, lr 1e-3", ml.Network(arch=_MLP, steps=5000 // scale)),
        ("Adam 3000, lr 3e-3", ml.Network(arch=_MLP, steps=3000 // scale, lr=3e-3)),
        (
            "Adam 3000, lr 3e-3, L-BFGS 500",
            ml.Network(arch=_MLP, steps=3000 // scale, lr=3e-3, lbfgs_steps=500 // scale),
        ),
        (
            "same, network seed 1",
            ml.Network(arch=_MLP, steps=3000 // scale, lr=3e-3, lbfgs_steps=500 // scale, seed=1),
        ),
    ]
    print("| network run | D₀ | D₀ error | β | β error | status | time (s) |")
    print("|---|---|---|---|---|---|---|")
    truth = ds.truth
    for name, solver in runs:
        t0 = time.perf_counter()
        result = problem.solve(solver)
        d0, beta = result.unknowns["d0"], result.unknowns["beta"]
        print(
            f"| {name} | {d0:.5f} | {d0 / truth['d0'] - 1:+.2%} | {beta:.4f} | "
            f"{beta / truth['beta'] - 1:+.2%} | {result.status} | "
            f"{time.perf_counter() - t0:.0f} |",
            flush=True,
        )


def _complete_stencils(ds: Any, mask: np.ndarray, width: dict[str, float]) -> np.ndarray:
    """λ from the direct solver's closed form on the data with the gaps filled by zeros, kept
    only at nodes whose stencils reach no gap (the closed form solves each node from its own
    row, so those nodes are what the observed data alone determine)."""
    base = problem_from_dataset(ds, width=width, mask=mask)
    filled = ml.InverseProblem(
        grid=base.grid,
        data={"u": np.where(mask, ds.fields["u"], 0.0)},
        known={"m": ds.known["m"]},
        unknowns=base.unknowns,
        residual=base.residual,
        width=width,
    )
    lam = np.array(filled.solve(ml.Direct()).unknowns["lam"], dtype=float)
    r = filled.layer.radius
    reach = binary_dilation(~mask, structure=np.ones((2 * r["x"] + 1, 2 * r["y"] + 1), bool))
    lam[reach] = np.nan
    return lam


def gaps(quick: bool) -> None:
    n, block = (24, 6) if quick else (48, 12)
    mask = gap_mask((n, n), missing=0.5, size=block, rng=np.random.default_rng(0))
    noise = GaussianNoise(0.01)
    ds = simulate_heat(n=n, noise=noise, seed=0, mask=mask)
    full = simulate_heat(n=n, noise=noise, seed=0)
    truth = np.asarray(ds.truth["lam"])
    print(f"heat {n}², 1% noise, {1 - mask.mean():.1%} of the nodes missing in {block}² blocks")
    rows: list[tuple[str, Callable[[], np.ndarray]]] = []

    def direct_full() -> np.ndarray:
        problem = problem_from_dataset(full, width="auto", boundary="interior")
        return problem.solve(ml.Direct(regularization=ml.Tikhonov(1.0))).unknowns["lam"]

    def direct_domain() -> np.ndarray:
        width = 0.1 * 47 / (n - 1)  # 4.7 spacings: wide enough for the kernel, short runs
        problem = problem_from_dataset(ds, width=width, boundary="interior", domain=mask)
        return problem.solve(ml.Direct(regularization=ml.Tikhonov(1.0))).unknowns["lam"]

    def direct_complete() -> np.ndarray:
        width = problem_from_dataset(ds, width="auto", mask=mask).width
        return _complete_stencils(ds, mask, width)

    rows += [
        ("direct, full data (reference)", direct_full),
        ("direct, observed region (domain=mask)", direct_domain),
        ("direct, rows with complete stencils", direct_complete),
    ]
    problem = problem_from_dataset(ds, width="auto", boundary="interior", mask=mask)
    try:
        problem.solve(ml.Direct())
    except Exception as exc:  # the direct solver refuses data with gaps; say how
        print(f"direct solver with mask=: {type(exc).__name__}: {str(exc).split(':')[0]}")
    scale = 20 if quick else 1
    for name, solver in [
        ("network: MLP, Adam 3000, lr 3e-3", ml.Network(arch=_MLP, steps=3000 // scale, lr=3e-3)),
        ("network: MLP, Adam 10000, lr 3e-3", ml.Network(arch=_MLP, steps=10000 // scale, lr=3e-3)),
        (
            "network: MLP, Adam 10000, lr 3e-3, L-BFGS 500",
            ml.Network(arch=_MLP, steps=10000 // scale, lr=3e-3, lbfgs_steps=500 // scale),
        ),
    ]:
        rows.append((name, lambda s=solver: problem.solve(s).unknowns["lam"]))
    print("| solver | rel. L2 observed | coverage observed | rel. L2 missing | coverage missing "
          "| time (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, run in rows:
        t0 = time.perf_counter()
        try:
            lam = np.asarray(run(), dtype=float)
        except ValueError as exc:  # e.g. no run of the observed region is long enough
            print(f"| {name} | refused: {str(exc).split(';')[0]} | 0% | — | 0% | — |")
            continue
        seen, seen_cov = _rel_l2(lam, truth, mask)
        gone, gone_cov = _rel_l2(lam, truth, ~mask)
        print(
            f"| {name} | {seen:.4f} | {seen_cov:.1%} | {gone:.4f} | {gone_cov:.1%} | "
            f"{time.perf_counter() - t0:.0f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("nonaffine", "gaps", "all"))
    parser.add_argument("--quick", action="store_true", help="tiny grids and steps (smoke run)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread")
    if args.task in ("nonaffine", "all"):
        nonaffine(args.quick)
    if args.task in ("gaps", "all"):
        gaps(args.quick)


if __name__ == "__main__":
    main()
