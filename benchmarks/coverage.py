"""Empirical coverage of the direct solver's intervals over repeated noise draws.

Usage: python benchmarks/coverage.py [--draws 200] [--boot-draws 40] [--replicates 40]
       [--levels 0.01 0.05] [--cases heat_nu burgers_nu heat_lambda]

For each case and noise level the clean data get ``draws`` independent white-noise draws
(``level · std(clean) · ξ``); each draw is solved with ``Direct(uncertainty="analytic")`` at widths
fixed from the first draw, and its 95% interval is checked against the truth. The naive OLS
interval (``diagnostics["naive_ols_std"]``, rows treated as independent) is scored on the same
draws. The bootstrap (``uncertainty="bootstrap"``) is scored on the first ``boot_draws`` draws.

Cases:

* ``heat_nu``: ``u_t = ν u_xx`` on 31 × 41 nodes (two decaying modes, ν = 0.3);
* ``burgers_nu``: ν of the shared PDE-FIND Burgers data (``/work/shared/data/burgers.mat``,
  skipped if absent), conservative residual, ν = 0.1;
* ``heat_lambda``: λ(x, y) of the steady heat problem ``0 = λ ∇²u + m`` (``simulate_heat``,
  48 × 48 or ``--heat-n``), pointwise closed form; interior nodes are scored against the true λ
  and against the noise-free estimate (the solver on the clean data at the same widths), which
  is what the intervals are about when the smoothing bias is set aside.

Prints one Markdown row per case and level: coverage and mean width of each interval.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

import mollifier as ml
from mollifier.pdes import problem_from_dataset, residuals
from mollifier.sim import NoNoise, simulate_heat

BURGERS = Path("/work/shared/data/burgers.mat")
Z = float(norm.ppf(0.975))


def _heat_nu() -> tuple[np.ndarray, Callable[[np.ndarray], ml.InverseProblem], dict[str, Any]]:
    grid = ml.Grid(t=np.linspace(0, 1, 31), x=np.linspace(0, 2, 41))
    t, x = grid.mesh()
    clean = np.exp(-0.3 * np.pi**2 * t) * np.sin(np.pi * x)
    clean = clean + 0.5 * np.exp(-1.2 * np.pi**2 * t) * np.sin(2 * np.pi * x)

    def make(u: np.ndarray) -> ml.InverseProblem:
        return ml.InverseProblem(
            grid=grid,
            data={"u": u},
            unknowns={"nu": ml.Constant()},
            residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx"),
            width={"t": 0.15, "x": 0.3},
        )

    return clean, make, {"nu": 0.3}


def _burgers_nu() -> tuple[np.ndarray, Callable[[np.ndarray], ml.InverseProblem], dict[str, Any]]:
    from mollifier.io import read_mat

    g = read_mat(BURGERS, coords=("x", "t"), fields=["usol"])
    clean = g.fields["usol"]
    grid = ml.Grid(**g.coords)
    width: dict[str, float] = {}

    def make(u: np.ndarray) -> ml.InverseProblem:
        pb = ml.InverseProblem(
            grid=grid,
            data={"u": u},
            unknowns={"nu": ml.Constant(init=0.1)},
            residual=residuals.burgers,
            width=width or "auto",
        )
        width.update(pb.width)
        return pb

    return clean, make, {"nu": 0.1}


HEAT_N = [48]


def _heat_lambda() -> tuple[np.ndarray, Callable[[np.ndarray], ml.InverseProblem], dict[str, Any]]:
    ds = simulate_heat(n=HEAT_N[0], noise=NoNoise(), seed=0)
    clean = ds.fields["u"]
    width: dict[str, float] = {}

    def make(u: np.ndarray) -> ml.InverseProblem:
        pb = problem_from_dataset(ds, width=width or "auto").with_data({"u": u})
        width.update(pb.width)
        return pb

    return clean, make, {"lam": np.asarray(ds.truth["lam"], dtype=float)}


CASES = {"heat_nu": _heat_nu, "burgers_nu": _burgers_nu, "heat_lambda": _heat_lambda}


def _score(est: Any, sd: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    est, sd, target = (np.asarray(v, dtype=float) for v in (est, sd, target))
    keep = np.isfinite(est) & np.isfinite(sd)
    hit = np.abs(est - target) <= Z * sd
    return np.where(keep, hit, np.nan), np.where(keep, 2 * Z * sd, np.nan)


def run_case(name: str, level: float, draws: int, boot_draws: int, replicates: int) -> str:
    clean, make, truth = CASES[name]()
    rng = np.random.default_rng(12345)
    scale = level * float(np.std(clean))
    first = make(clean + scale * rng.standard_normal(clean.shape))  # fixes the widths
    key = next(iter(truth))
    reference = make(clean).solve(ml.Direct()).unknowns[key]  # the noise-free estimate
    hits: dict[str, list[Any]] = {"analytic": [], "naive": [], "bootstrap": [], "analytic_ref": []}
    widths: dict[str, list[Any]] = {k: [] for k in hits}
    cost: dict[str, list[float]] = {"solve": [], "analytic": [], "bootstrap": []}
    del first
    for i in range(draws):
        pb = make(clean + scale * rng.standard_normal(clean.shape))
        if i < 10:  # the cost of a plain solve, for the ratios
            t0 = time.perf_counter()
            pb.solve(ml.Direct())
            cost["solve"].append(time.perf_counter() - t0)
        res = pb.solve(ml.Direct(uncertainty="analytic"))
        cost["analytic"].append(float(res.diagnostics["uncertainty_time_s"]))
        est, sd = res.unknowns[key], res.unknowns_std[key]
        for label, target in (("analytic", truth[key]), ("analytic_ref", reference)):
            h, w = _score(est, sd, target)
            hits[label].append(h)
            widths[label].append(w)
        if key in res.diagnostics.get("naive_ols_std", {}):
            h, w = _score(est, res.diagnostics["naive_ols_std"][key], truth[key])
            hits["naive"].append(h)
            widths["naive"].append(w)
        if i < boot_draws:
            boot = pb.solve(ml.Direct(uncertainty="bootstrap", replicates=replicates, seed=i))
            cost["bootstrap"].append(float(boot.diagnostics["uncertainty_time_s"]) / replicates)
            h, w = _score(boot.unknowns[key], boot.unknowns_std[key], truth[key])
            hits["bootstrap"].append(h)
            widths["bootstrap"].append(w)

    def cell(label: str) -> str:
        if not hits[label]:
            return "–"
        return f"{np.nanmean(hits[label]):.1%} (w {np.nanmedian(widths[label]):.3g})"

    solve = float(np.median(cost["solve"]))
    analytic = float(np.median(cost["analytic"]))
    boot = float(np.median(cost["bootstrap"])) if cost["bootstrap"] else float("nan")
    ref = cell("analytic_ref")
    return (
        f"| {name} | {level:.0%} | {draws} | {cell('analytic')} | {ref} | {cell('naive')} | "
        f"{cell('bootstrap')} ({len(cost['bootstrap'])}×{replicates}) | {solve:.3f} | "
        f"{analytic / solve:.2f}× | {boot / solve:.2f}× |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--boot-draws", type=int, default=40)
    parser.add_argument("--replicates", type=int, default=40)
    parser.add_argument("--levels", type=float, nargs="+", default=[0.01, 0.05])
    parser.add_argument("--heat-n", type=int, default=48, help="heat_lambda grid size")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    HEAT_N[0] = args.heat_n
    print(
        "| case | noise | draws | analytic: coverage of truth (median width) | analytic: of the "
        "noise-free estimate | naive OLS | bootstrap (draws×replicates) | solve (s) | "
        "analytic cost / solve | bootstrap cost per replicate / solve |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.cases:
        if name == "burgers_nu" and not BURGERS.exists():
            print(f"| {name} | skipped: {BURGERS} absent |")
            continue
        for level in args.levels:
            print(run_case(name, level, args.draws, args.boot_draws, args.replicates), flush=True)


if __name__ == "__main__":
    main()
