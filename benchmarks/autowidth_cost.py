"""Cost and accuracy of ``width="auto"`` against the same fit at the chosen widths given.

Usage: python benchmarks/autowidth_cost.py [--nx 1024] [--nt 251] [--noise 0.01 0.05 0.2]
       [--seed 0] [--boundary interior] [--threads N]

The problem: ``u_t + a u_xx + b u_xxxx = 0`` (a = b = 0.5) on ``x ∈ [0, 32π)`` (``--nx`` points)
and ``t ∈ [0, 10]`` (``--nt`` points), ``u`` three Fourier modes (k = 0.5, 0.75, 1.0625) each
evolving exactly, plus Gaussian noise of ``noise · std(u)`` (seeded), unknown constants ``a, b``,
``Direct()``. For each noise level:

* **auto**: a fresh Python process times ``InverseProblem(width="auto")`` and its ``solve``;
* **given**: another fresh process times ``InverseProblem(width=<the widths auto chose>)`` and its
  ``solve`` — building the stencils and edge kernels included, nothing cached from the search.

Prints one markdown row per noise level: both times, their ratio, the widths, the number of
rungs recorded in ``width_ladder`` and the relative errors of â and b̂. Works on any version of
the library that has ``width="auto"`` (run it with ``PYTHONPATH`` at another checkout's ``src``
to measure that checkout).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

import mollifier as ml

TRUE = {"a": 0.5, "b": 0.5}


def make_problem(
    *, nx: int, nt: int, noise: float, seed: int, width: object, boundary: str
) -> ml.InverseProblem:
    """The fourth-order problem of the module docstring at ``width``."""
    x = np.linspace(0, 32 * np.pi, nx, endpoint=False)
    t = np.linspace(0, 10, nt)
    grid = ml.Grid(t=t, x=x)
    tt, xx = grid.mesh()
    # each mode solves u_t = -a u_xx - b u_xxxx exactly: rate (a k² − b k⁴)
    u = sum(
        np.exp((TRUE["a"] * k**2 - TRUE["b"] * k**4) * tt) * np.sin(k * xx + k)
        for k in (0.5, 0.75, 1.0625)
    )
    u = u + noise * u.std() * np.random.default_rng(seed).standard_normal(u.shape)

    def residual(f, d, p):
        return d(f.u, "t") + p.a * d(f.u, "xx") + p.b * d(f.u, "xxxx")

    return ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns={"a": ml.Constant(), "b": ml.Constant()},
        residual=residual,
        width=width,  # type: ignore[arg-type]
        boundary=boundary,
    )


def one(args: argparse.Namespace) -> dict[str, object]:
    """Build and solve once (in this fresh process); time both."""
    if args.threads:
        torch.set_num_threads(args.threads)
    width = "auto" if args.widths is None else json.loads(args.widths)
    t0 = time.perf_counter()
    problem = make_problem(
        nx=args.nx,
        nt=args.nt,
        noise=args.noise[0],
        seed=args.seed,
        width=width,
        boundary=args.boundary,
    )
    result = problem.solve(ml.Direct())
    elapsed = time.perf_counter() - t0
    return {
        "time": elapsed,
        "widths": problem.width,
        "rule": problem.width_rule,
        "rungs": len(problem.width_ladder),
        "errors": {k: abs(float(result.unknowns[k]) - v) / v for k, v in TRUE.items()},
    }


def run_child(args: argparse.Namespace, noise: float, widths: dict | None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--nx", str(args.nx), "--nt", str(args.nt)]
    cmd += ["--noise", str(noise), "--seed", str(args.seed), "--boundary", args.boundary]
    cmd += ["--threads", str(args.threads)]
    if widths is not None:
        cmd += ["--widths", json.dumps(widths)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nx", type=int, default=1024)
    parser.add_argument("--nt", type=int, default=251)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.01, 0.05, 0.2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boundary", default="interior")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--widths", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args)))
        return
    print(
        f"u_t + a u_xx + b u_xxxx = 0, {args.nt} x {args.nx} (t, x), boundary {args.boundary!r}, "
        f"seed {args.seed}, Direct(); fresh process per fit; torch threads "
        f"{args.threads or torch.get_num_threads()}; library {ml.__file__}"
    )
    print(
        "| noise | auto s | given s | ratio | widths (t, x) | rule | ladder rows | â err | b̂ err |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for noise in args.noise:
        auto = run_child(args, noise, None)
        given = run_child(args, noise, auto["widths"])
        w = ", ".join(f"{v:.4g}" for v in auto["widths"].values())
        err = auto["errors"]
        print(
            f"| {noise:g} | {auto['time']:.2f} | {given['time']:.2f} | "
            f"{auto['time'] / given['time']:.2f} | {w} | {auto['rule']} | {auto['rungs']} | "
            f"{err['a']:.2e} | {err['b']:.2e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
