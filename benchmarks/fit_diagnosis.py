"""The network fit diagnosis on well- and under-trained fits: where its thresholds come from.

Usage: python benchmarks/fit_diagnosis.py [--cases heat32 warm heat48 clean chromatin] [--quick]

Each row is one network solve (``read_off=False``) and its ``result.diagnostics["fit"]``
(:mod:`mollifier.inverse.network.diagnosis`): per data field the misfit over the estimated noise
variance and the unexplained variance, per equation the final residual RMS over its initial scale
R₀, the dominant loss term with the loss and gradient-norm shares, the status, and Pearson r of λ
against the truth (the direct solver's r on the same problem is printed first for comparison).
Cases:

* ``heat32``: heat 32², 1% noise, width 0.25, default MLP (lr 1e-3), cold, several step counts;
* ``warm``: the same problem, ``Network(start="direct")`` with 500 fitting steps, 0 and 500 steps;
* ``heat48``: the demo's problem (heat 48², 1%, auto width refined, edge kernels) and network
  (MLP, lr 3e-3), 300 and 2 500 steps;
* ``clean``: heat 32² without noise, MLP lr 3e-3, 1 500 steps (the unexplained-variance floor);
* ``chromatin``: chromatin 64² on [0, 6.4]², lognormal λ, 1% noise, auto width: MLP and PirateNet,
  300 steps each.

``--quick`` divides every step count by 20 (a smoke run, for the tests).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import mollifier as ml
from mollifier.inverse.diagnosis import data_diagnosis
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, LognormalLambda, NoNoise, simulate_chromatin, simulate_heat


def _row(case: str, label: str, res: ml.Result, wall: float) -> str:
    fit = res.diagnostics["fit"]
    data = "; ".join(
        f"{k} {d['ratio']:.3g} (1−R² {d['unexplained']:.2g}, noise {d['noise_fraction']:.2g}) "
        f"{d['verdict']}"
        for k, d in fit["data"].items()
    )
    residual = "; ".join(f"{k} {r['ratio']:.3g} {r['verdict']}" for k, r in fit["residual"].items())
    loss = fit["loss"]
    shares = ", ".join(f"{k} {v:.2f}" for k, v in loss["share"].items())
    grads = ", ".join(f"{k} {v:.2f}" for k, v in loss["gradient_share"].items())
    r = res.metrics.get("lam", {}).get("pearson", float("nan"))
    return (
        f"| {case} | {label} | {r:.3f} | {data} | {residual} | {loss['dominant']} ({shares}) | "
        f"{grads} | {res.status} | {wall:.2f} |"
    )


def _solve(problem: ml.InverseProblem, solver: ml.Network) -> tuple[ml.Result, float]:
    t0 = time.perf_counter()
    res = problem.solve(solver)
    return res, time.perf_counter() - t0


def _direct_line(case: str, problem: ml.InverseProblem, direct: ml.Direct | None = None) -> None:
    """The direct solver's r(λ) and, per field, the mollified data's misfit to the data over the
    estimated noise variance (on the interior), which the direct solver does not judge."""
    res = problem.solve(direct or ml.Direct())
    smooth = {
        k: data_diagnosis(res.fields[k], v, noise_std=res.noise_std[k], seen=problem.interior)[
            "ratio"
        ]
        for k, v in problem.data.items()
    }
    print(
        f"{case}: direct r(λ) = {res.metrics['lam']['pearson']:.4f}; mollified data's "
        "misfit / noise variance: " + ", ".join(f"{k} {v:.3g}" for k, v in smooth.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["heat32", "warm", "heat48", "clean", "chromatin"],
        choices=["heat32", "warm", "heat48", "clean", "chromatin"],
    )
    parser.add_argument("--quick", action="store_true", help="step counts / 20 (smoke run)")
    args = parser.parse_args()
    div = 20 if args.quick else 1
    rows = []
    heat32 = problem_from_dataset(
        simulate_heat(n=32, noise=GaussianNoise(0.01), seed=0), width=0.25
    )
    # The classic tanh PINN (no Fourier embedding), as measured in RESULTS.md § 14.
    base = ml.Network(arch=ml.MLP(embedding=0), read_off=False, seed=0)
    if "heat32" in args.cases:
        _direct_line("heat32", heat32)
        for steps in (100, 400, 1500):
            res, wall = _solve(heat32, replace(base, steps=steps // div))
            rows.append(_row("heat 32², 1%", f"MLP cold, {steps // div} steps", res, wall))
    if "warm" in args.cases:
        for steps in (0, 500):
            solver = replace(base, steps=steps // div, start="direct", start_steps=500 // div)
            res, wall = _solve(heat32, solver)
            label = f"MLP warm ({500 // div} fitting), {steps // div} steps"
            rows.append(_row("heat 32², 1%", label, res, wall))
    if "heat48" in args.cases:
        ds = simulate_heat(n=48, noise=GaussianNoise(0.01), seed=0)
        direct = ml.Direct(regularization=ml.Tikhonov(1.0))
        demo = ml.refine_width(
            problem_from_dataset(ds, width="auto", boundary="interior"), solver=direct
        )
        _direct_line("heat48 (demo)", demo, direct)
        for steps in (300, 2500):
            res, wall = _solve(demo, replace(base, steps=steps // div, lr=3e-3))
            rows.append(_row("heat 48² demo, 1%", f"MLP, {steps // div} steps", res, wall))
    if "clean" in args.cases:
        clean = problem_from_dataset(simulate_heat(n=32, noise=NoNoise(), seed=0), width=0.25)
        res, wall = _solve(clean, replace(base, steps=1500 // div, lr=3e-3))
        rows.append(_row("heat 32², no noise", f"MLP, {1500 // div} steps", res, wall))
    if "chromatin" in args.cases:
        lam = LognormalLambda(median=0.5, sigma=0.2, correlation_length=2.0)
        ds = simulate_chromatin(n=64, length=6.4, lam=lam, noise=GaussianNoise(0.01), seed=0)
        chrom = problem_from_dataset(ds, width="auto")
        _direct_line("chromatin", chrom)
        for arch in (ml.MLP(embedding=0), ml.PirateNet()):
            res, wall = _solve(chrom, replace(base, arch=arch, steps=300 // div))
            rows.append(_row("chromatin 64², 1%", f"{arch.name}, {300 // div} steps", res, wall))
    print(
        "| problem | network | r(λ) | data: misfit/noise (1−R², noise share) verdict | "
        "residual: RMS/R₀ verdict | dominant term (loss shares) | gradient-norm shares | "
        "status | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
