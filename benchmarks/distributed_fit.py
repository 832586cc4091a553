"""Per-rank memory and step time of a distributed 3-D network fit (``mollifier fit --nproc N``).

Runs the 3-D steady heat problem (``mollifier simulate heat3d`` data) with the network solver in
one plain process and under torch's launcher with each number of ranks given, and prints per
run: the nodes each rank evaluates (slab + halo), each rank's peak RSS after setup (which builds
the whole problem) and after training (``getrusage``, the largest rank), the Adam step time, the
time and size of the all-reduces; then a scaling model: a step costs
``t_node · L(N) + t_allreduce``, ``L(N)`` the largest rank's nodes, ``t_node`` measured on one
rank, so the speedup of N devices is at most ``L(1) / L(N)`` (the halo's cost).

    python benchmarks/distributed_fit.py --data out/heat3d64 --ranks 1 2 4 --steps 5

``--smoke`` runs a 16³ problem with 1 and 2 ranks for 2 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CONFIG = """[data]
path = "{data}"
[problem]
builtin = "heat3d"
[mollifier]
width = {width}
boundary = "interior"
[solver]
method = "network"
arch = {{ kind = "mlp", hidden = {hidden}, depth = 4 }}
derivatives = "{derivatives}"
steps = {steps}
lr = 3e-3
read_off = false
log_every = 1
[distributed]
split_axis = "x"
"""


def _fit(config: Path, out: Path, nproc: int | None) -> tuple[dict, float]:
    cmd = [sys.executable, "-m", "mollifier", "fit", str(config), "--out", str(out), "--quiet"]
    if nproc is not None:
        cmd += ["--nproc", str(nproc)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as the launcher sets for every rank
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "result.json").read_text()), elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a heat3d dataset directory")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--width-spacings", type=float, default=3.6)
    parser.add_argument("--derivatives", choices=["mollifier", "autodiff"], default="mollifier")
    parser.add_argument("--out", type=Path, default=Path("out/bench-distributed"))
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.ranks, args.steps, args.data = [1, 2], 2, args.out / "data16"
        from mollifier.cli import main as cli

        cli(["simulate", "heat3d", "--grid", "16", "--out", str(args.data)])
    x = np.load(args.data / "data.npz")["x"]
    n, spacing = len(x), float(x[1] - x[0])
    width = args.width_spacings * spacing
    args.out.mkdir(parents=True, exist_ok=True)
    config = args.out / "heat3d.toml"
    config.write_text(
        CONFIG.format(
            data=args.data.resolve(),
            width=width,
            hidden=args.hidden,
            derivatives=args.derivatives,
            steps=args.steps,
        )
    )
    print(
        f"heat3d {n}³, width {width:.4g} ({args.width_spacings} spacings), MLP 4×{args.hidden}, "
        f"{args.derivatives} derivatives, {args.steps} Adam steps, float32"
    )
    plain, wall = _fit(config, args.out / "plain", None)
    print(
        f"plain process: peak {plain['peak_memory_mb']:.0f} MB, "
        f"{plain['diagnostics']['adam_time_s'] / args.steps:.3f} s/step, {wall:.0f} s in all"
    )
    print(
        "| ranks | nodes per rank (max) | setup peak RSS MB (max) | train peak RSS MB (max) "
        "| train − setup MB (max) | s / step | all-reduce s / step | floats per all-reduce |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = {}
    for world in args.ranks:
        res, wall = _fit(config, args.out / f"ranks{world}", world)
        per = res["diagnostics"]["distributed"]["per_rank"]
        row = {
            "nodes": max(r["local_nodes"] for r in per),
            "setup": max(r["setup_peak_rss_mb"] for r in per),
            "train": max(r["train_peak_rss_mb"] for r in per),
            "delta": max(r["train_peak_rss_mb"] - r["setup_peak_rss_mb"] for r in per),
            "step": max(r["loop_s"] for r in per) / args.steps,
            "allreduce": max(r["allreduce_s"] for r in per) / args.steps,
            "floats": per[0]["allreduce_floats"] / max(per[0]["allreduce_calls"], 1),
            "whole_run_peak": res["peak_memory_mb"],
        }
        rows[world] = row
        print(
            f"| {world} | {row['nodes']} | {row['setup']:.0f} | {row['train']:.0f} | "
            f"{row['delta']:.0f} | {row['step']:.3f} | {row['allreduce']:.4f} | "
            f"{row['floats']:.0f} |"
        )
    if 1 in rows:
        base = rows[1]
        t_node = (base["step"] - base["allreduce"]) / base["nodes"]
        print(f"\nscaling model: t_node = {t_node * 1e6:.3f} µs per node-step (1 rank)")
        for world, row in rows.items():
            model = t_node * row["nodes"] + row["allreduce"]
            print(
                f"  {world} ranks: L = {row['nodes']}, model {model:.3f} s/step, measured "
                f"{row['step']:.3f}; halo-bound speedup on {world} devices "
                f"L(1)/L(N) = {base['nodes'] / row['nodes']:.2f}; rank 0 whole-run peak "
                f"{row['whole_run_peak']:.0f} MB"
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
