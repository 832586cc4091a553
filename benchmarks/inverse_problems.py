"""Full-size checks of the inverse-problem engine's done criteria (recorded in RESULTS.md).

Usage: python benchmarks/inverse_problems.py [--quick] [--network-steps N] [--only PROBLEM...]

Rows (each seeded; noise is Gaussian, relative to each field's std):
* heat, steady form 0 = λ∇²u + m, 64², 1% noise, smooth lognormal λ: direct, an MLP (4×64) and
  a PirateNet trained with mollifier derivatives; Pearson r of λ in the interior (target >= 0.95);
* chromatin (4th order), 128² on [0, 10]², lognormal λ (median 0.5, σ_log 0.2, correlation
  length 2), 1% noise: direct, and PirateNet + mollifier; Pearson r >= 0.9, median within 5%;
* Langevin λ(t), 201 times, 1% noise: direct and MLP; relative L2 <= 5%;
* the shared COMSOL chromatin export (λ = 0.5): median of λ̂ within 3%;
* the shared PDE-FIND Burgers file with 1% added noise: ν within 2%.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

import mollifier as ml
from mollifier.io import Dataset, read_comsol, read_mat
from mollifier.pdes import problem_from_dataset, residuals
from mollifier.sim import (
    GaussianNoise,
    LognormalLambda,
    simulate_chromatin,
    simulate_heat,
    simulate_langevin,
)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _row(name: str, solver: str, result: ml.Result, key: str, target: str) -> str:
    m = result.metrics[key]
    if "pearson" in m:
        truth = result.truth[key]
        med_t = float(
            np.median(np.broadcast_to(truth, result.unknowns[key].shape)[result.unknown_mask(key)])
        )
        value = (
            f"r = {m['pearson']:.4f}, rel. L2 = {m['rel_l2']:.4f}, median {m['median']:.4f} "
            f"(true {med_t:.4f})"
        )
    else:
        value = f"{result.unknowns[key]:.6g} (rel. error {m['rel_error']:.2e})"
    return f"| {name} | {solver} | {value} | {target} | {result.wall_time_s:.1f} |"


def _heat(quick: bool, steps: int) -> list[str]:
    ds = simulate_heat(n=32 if quick else 64, noise=GaussianNoise(0.01), seed=0)
    pb = problem_from_dataset(ds, width="auto")
    rows = [_row("heat (steady), 1%", "direct", pb.solve(ml.Direct()), "lam", "r >= 0.95")]
    for arch, label in (("mlp", "MLP"), ("pirate", "PirateNet")):
        res = pb.solve(
            ml.Network(arch=ml.inverse.network.ARCHITECTURES[arch](), steps=steps, lr=0.003, seed=0)
        )
        rows.append(
            _row(
                "heat (steady), 1%", f"{label} + mollifier, {steps} steps", res, "lam", "r >= 0.95"
            )
        )
    return rows


def _chromatin(quick: bool, steps: int) -> list[str]:
    lam = LognormalLambda(median=0.5, sigma=0.2, correlation_length=2.0)
    n = 48 if quick else 128
    ds = simulate_chromatin(n=n, length=10.0 * n / 128, lam=lam, noise=GaussianNoise(0.01), seed=0)
    pb = problem_from_dataset(ds, width="auto")
    target = "r >= 0.9, median within 5%"
    rows = [_row("chromatin, 1%", "direct", pb.solve(ml.Direct()), "lam", target)]
    res = pb.solve(ml.Network(arch=ml.PirateNet(), steps=steps, lr=0.003, seed=0))
    rows.append(_row("chromatin, 1%", f"PirateNet + mollifier, {steps} steps", res, "lam", target))
    return rows


def _langevin(quick: bool, steps: int) -> list[str]:
    ds = simulate_langevin(noise=GaussianNoise(0.01), seed=0)
    pb = problem_from_dataset(ds, width="auto")
    rows = [_row("Langevin λ(t), 1%", "direct", pb.solve(ml.Direct()), "lam", "rel. L2 <= 5%")]
    res = pb.solve(ml.Network(steps=steps, lr=0.003, seed=0))
    rows.append(
        _row("Langevin λ(t), 1%", f"MLP + mollifier, {steps} steps", res, "lam", "rel. L2 <= 5%")
    )
    return rows


def _comsol(quick: bool, steps: int) -> list[str]:
    folder = SHARED / "chromatin_comsol_lambda_0.5"
    if not folder.is_dir():
        return [f"| COMSOL chromatin | — | skipped: {folder} not found | within 3% | — |"]
    coords, phi_w = read_comsol(folder / "Phi_w.txt")
    _, phi_d = read_comsol(folder / "Phi_d.txt")
    comsol = Dataset(
        equation="chromatin",
        coords=coords,
        fields={"phi_w": phi_w, "phi_d": phi_d},
        truth={"lam": 0.5},
    )
    t0 = time.perf_counter()
    res = problem_from_dataset(comsol, width=0.3).solve(ml.Direct())
    res.wall_time_s = time.perf_counter() - t0
    med = float(np.nanmedian(res.unknowns["lam"]))
    rows = [
        f"| COMSOL chromatin (λ = 0.5), width 0.3 | direct | median {med:.4f} "
        f"({abs(med / 0.5 - 1):.2%} off) | within 3% | {res.wall_time_s:.1f} |"
    ]
    # Edge kernels: every node, and the band within one width of the walls on its own.
    t0 = time.perf_counter()
    res = problem_from_dataset(comsol, width=0.3, boundary="interior").solve(ml.Direct())
    seconds = time.perf_counter() - t0
    lam = np.asarray(res.unknowns["lam"])
    x, y = np.meshgrid(coords["x"], coords["y"], indexing="ij")
    wall = np.minimum.reduce([x - x.min(), x.max() - x, y - y.min(), y.max() - y])
    band = float(np.nanmedian(lam[wall < 0.3]))
    med = float(np.nanmedian(lam))
    rows.append(
        f"| COMSOL chromatin, width 0.3, edge kernels | direct | {np.isfinite(lam).mean():.0%} "
        f"of nodes; median {med:.4f} ({abs(med / 0.5 - 1):.2%} off); band within one width of "
        f"the walls {band:.4f} ({abs(band / 0.5 - 1):.2%} off) | within 3% | {seconds:.1f} |"
    )
    return rows


def _burgers(quick: bool, steps: int) -> list[str]:
    path = SHARED / "burgers.mat"
    if not path.is_file():
        return [f"| Burgers | — | skipped: {path} not found | within 2% | — |"]
    g = read_mat(path, coords=("x", "t"), fields=["usol"])
    u = g.fields["usol"]
    u = u + 0.01 * u.std() * np.random.default_rng(0).standard_normal(u.shape)
    pb = ml.InverseProblem(
        grid=ml.Grid(**g.coords),
        data={"u": u},
        unknowns={"nu": ml.Constant(init=0.1)},
        residual=residuals.burgers,
        width="auto",
        truth={"nu": 0.1},
    )
    return [
        _row("Burgers (PDE-FIND), 1% added", "direct", pb.solve(ml.Direct()), "nu", "within 2%")
    ]


PROBLEMS = {
    "heat": _heat,
    "chromatin": _chromatin,
    "langevin": _langevin,
    "comsol": _comsol,
    "burgers": _burgers,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller grids and budgets")
    parser.add_argument("--network-steps", type=int, default=2500)
    parser.add_argument(
        "--only", nargs="+", choices=sorted(PROBLEMS), default=list(PROBLEMS), metavar="PROBLEM"
    )
    args = parser.parse_args()
    steps = 300 if args.quick else args.network_steps
    rows = [row for name in args.only for row in PROBLEMS[name](args.quick, steps)]

    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    print(
        f"command: python benchmarks/inverse_problems.py{' --quick' if args.quick else ''}"
        f"{' --only ' + ' '.join(args.only) if args.only != list(PROBLEMS) else ''}; "
        f"commit {commit}; torch {torch.__version__}; {platform.machine()} CPU, "
        f"{torch.get_num_threads()} threads"
    )
    print("| problem | solver | result | target | wall time (s) |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
