"""Where the quality gate's density bound lies: Pearson r of λ̂ against localisations per µm².

``python -m mollifier.storm.gate_study --out DIR`` simulates chromatin truths
(:func:`~mollifier.storm.synthetic.simulate_truth`), observes each again and again with fewer
localisations (:func:`~mollifier.storm.synthetic.observe`), analyses every observation
(:func:`~mollifier.storm.pipeline.analyse_nucleus`) and records, per row, the density in the
nucleus, the bound of :func:`~mollifier.storm.quality.density_bound`, the gate's status and
reasons, the fraction of non-positive nodes and r against the truth. Writes
``gate_study.csv`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mollifier.storm.inference import InferenceConfig
from mollifier.storm.options import StormConfig
from mollifier.storm.pipeline import analyse_nucleus
from mollifier.storm.summaries import write_rows_csv
from mollifier.storm.synthetic import SyntheticStorm, observe, simulate_truth

__all__ = ["gate_study", "main"]


def gate_study(
    synthetic: SyntheticStorm,
    *,
    densities: Sequence[float],
    truths: Sequence[int] = (0,),
    observations: int = 2,
    width: float | None = None,
) -> list[dict[str, Any]]:
    """One row per (truth seed, density in localisations/µm² of the nucleus, observation)."""
    cfg = StormConfig(inference=InferenceConfig(width=width))
    rows = []
    for seed in truths:
        truth = simulate_truth(synthetic, seed=seed)
        h = float(truth.x[1] - truth.x[0])
        area_um2 = float(truth.mask.sum()) * h * h * 1e-6
        for density in densities:
            for k in range(observations):
                t0 = time.perf_counter()
                setting = replace(synthetic, localisations=float(density) * area_um2)
                nucleus = observe(truth, setting, seed=1000 * seed + 17 * k + 1)
                row: dict[str, Any] = {
                    "truth_seed": seed,
                    "observation": k,
                    "target_density_per_um2": density,
                    "localisations": len(nucleus.localisations),
                }
                try:
                    a = analyse_nucleus(nucleus.localisations, config=cfg, truth=nucleus.truth)
                except ValueError as exc:
                    row.update({"status": "failed", "reasons": f"{type(exc).__name__}: {exc}"})
                    rows.append(row)
                    continue
                assert a.quality is not None and a.metrics is not None
                row.update(
                    {
                        "width_nm": a.lam.width_nm,
                        "status": a.quality.status,
                        "density_per_um2": a.quality.checks.get("density_per_um2"),
                        "density_bound_per_um2": a.quality.checks.get("density_bound_per_um2"),
                        "nonpositive_fraction": a.quality.checks["nonpositive_fraction"],
                        "pearson": a.metrics["pearson"],
                        "median_error": a.metrics["median_error"],
                        "reasons": "; ".join(a.quality.reasons),
                        "wall_time_s": time.perf_counter() - t0,
                    }
                )
                rows.append(row)
                print(
                    f"truth {seed} ρ={row['density_per_um2']:.3g}/µm² "
                    f"(bound {row['density_bound_per_um2']:.3g}) r={row['pearson']:.3f} "
                    f"{row['status']}",
                    flush=True,
                )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; ``--help`` lists the options."""
    import torch

    p = argparse.ArgumentParser(prog="python -m mollifier.storm.gate_study")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", type=float, nargs=2, default=(3500.0, 2975.0))
    p.add_argument("--width", type=float, default=450.0)
    p.add_argument(
        "--densities",
        type=float,
        nargs="+",
        default=[2e3, 4e3, 8e3, 1.6e4, 2.4e4, 3.2e4, 4.8e4, 6.4e4],
    )
    p.add_argument("--truths", type=int, nargs="+", default=[1, 2])
    p.add_argument("--observations", type=int, default=2)
    args = p.parse_args(argv)
    synthetic = SyntheticStorm(
        size=(args.size[0], args.size[1]),
        nucleolus=False,
        tolerance=1e-4,
        lam_sigma=0.35,
        lam_correlation=900.0,
        margin=400.0,
    )
    t0 = time.perf_counter()
    rows = gate_study(
        synthetic,
        densities=args.densities,
        truths=args.truths,
        observations=args.observations,
        width=args.width,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_rows_csv(rows, args.out / "gate_study.csv")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    summary = {
        "command": "python -m mollifier.storm.gate_study " + " ".join(sys.argv[1:]),
        "commit": commit,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "wall_time_s": time.perf_counter() - t0,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
