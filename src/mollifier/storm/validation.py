"""Full-size synthetic validation and the degradation study (``python -m ...validation``).

* :func:`validate`: nuclei from :func:`~mollifier.storm.synthetic.simulate_storm`, analysed by
  :func:`~mollifier.storm.pipeline.analyse_nucleus`, with metrics against their truth.
* :func:`degradation`: one chromatin truth per seed, observed again and again with fewer
  localisations or worse precision (:func:`~mollifier.storm.synthetic.observe`), each analysed.

The command writes ``validation.csv``, ``degradation.csv``, ``degradation.png`` and
``summary.json`` under ``--out``, plus the analysis folder of the first validation nucleus.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.storm.options import StormConfig
from mollifier.storm.output import save_nucleus
from mollifier.storm.pipeline import analyse_nucleus
from mollifier.storm.summaries import write_rows_csv
from mollifier.storm.synthetic import SyntheticStorm, observe, simulate_truth

__all__ = ["degradation", "main", "validate"]

_METRICS = ("pearson", "median_error", "median_rel_error", "pearson_raw", "nodes")


def _row(extra: dict[str, Any], analysis: Any, t_total: float) -> dict[str, Any]:
    row = dict(extra)
    row.update({k: analysis.metrics[k] for k in _METRICS})
    row["lambda_median"] = float(np.median(analysis.lam.values(smoothed=False)))
    row["true_median"] = float(
        np.median(analysis.truth.lam_at(analysis.lam.x, analysis.lam.y)[analysis.lam.valid])
    )
    row["reference_factor"] = (
        analysis.reference.calibration.factor
        if analysis.reference is not None and analysis.reference.calibration is not None
        else float("nan")
    )
    row["analysis_s"] = float(sum(analysis.timings.values()))
    row["total_s"] = t_total
    return row


def validate(
    synthetic: SyntheticStorm,
    *,
    seeds: Sequence[int] = (0,),
    config: StormConfig | None = None,
    out: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Simulate and analyse one nucleus per seed; rows of metrics (``out``: save the first)."""
    cfg = StormConfig() if config is None else config
    rows = []
    for k, seed in enumerate(seeds):
        t0 = time.perf_counter()
        truth = simulate_truth(synthetic, seed=seed)
        t_sim = time.perf_counter() - t0
        nucleus = observe(truth, synthetic, seed=seed)
        a = analyse_nucleus(
            nucleus.localisations, config=cfg, name=f"seed_{seed}", truth=nucleus.truth
        )
        if out is not None and k == 0:
            save_nucleus(a, Path(out) / f"nucleus_seed_{seed}")
        row = _row(
            {"seed": seed, "localisations": len(nucleus.localisations), "simulation_s": t_sim},
            a,
            time.perf_counter() - t0,
        )
        rows.append(row)
    return rows


def degradation(
    synthetic: SyntheticStorm,
    *,
    counts: Sequence[float],
    precisions: Sequence[float],
    seeds: Sequence[int] = (0,),
    config: StormConfig | None = None,
) -> list[dict[str, Any]]:
    """Recovery against localisation count (at ``synthetic.precision``) and against precision
    (at ``synthetic.localisations``); rows with ``study`` = ``"count"`` or ``"precision"``."""
    cfg = StormConfig() if config is None else config
    rows = []
    for seed in seeds:
        truth = simulate_truth(synthetic, seed=seed)
        settings = [("count", replace(synthetic, localisations=float(c))) for c in counts]
        settings += [("precision", replace(synthetic, precision=float(p))) for p in precisions]
        for study, setting in settings:
            t0 = time.perf_counter()
            nucleus = observe(truth, setting, seed=seed + 1000)
            info = {
                "study": study,
                "seed": seed,
                "localisations": len(nucleus.localisations),
                "expected": setting.localisations,
                "precision": setting.precision,
            }
            try:
                a = analyse_nucleus(nucleus.localisations, config=cfg, truth=nucleus.truth)
            except ValueError as exc:  # recovery failed outright: record it, go on
                info.update({k: float("nan") for k in _METRICS})
                info["error"] = f"{type(exc).__name__}: {exc}"
                rows.append(info)
                continue
            rows.append(_row(info, a, time.perf_counter() - t0))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m mollifier.storm.validation --out DIR [options]``."""
    import torch

    p = argparse.ArgumentParser(prog="python -m mollifier.storm.validation")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", type=float, nargs=2, default=(10000.0, 8000.0))
    p.add_argument("--localisations", type=float, default=1.0e6)
    p.add_argument("--precision", type=float, default=15.0)
    p.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[0, 1, 2],
        help="validation seeds (none: skip the validation)",
    )
    p.add_argument("--density", choices=("kde", "voronoi"), default="kde")
    p.add_argument("--counts", type=float, nargs="*", default=[3e4, 1e5, 3e5, 1e6, 3e6])
    p.add_argument("--precisions", type=float, nargs="*", default=[5, 10, 15, 20, 30, 40])
    p.add_argument("--degradation-seeds", type=int, nargs="*", default=[0])
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    synthetic = SyntheticStorm(
        size=(args.size[0], args.size[1]),
        localisations=args.localisations,
        precision=args.precision,
    )
    cfg = StormConfig(density=args.density)
    t0 = time.perf_counter()
    rows = validate(synthetic, seeds=args.seeds, config=cfg, out=args.out)
    if rows:
        write_rows_csv(rows, args.out / "validation.csv")
    deg: list[dict[str, Any]] = []
    if args.degradation_seeds and (args.counts or args.precisions):
        deg = degradation(
            synthetic,
            counts=args.counts,
            precisions=args.precisions,
            seeds=args.degradation_seeds,
            config=cfg,
        )
        write_rows_csv(deg, args.out / "degradation.csv")
        from mollifier.storm.figures import plot_degradation

        plot_degradation(deg, args.out / "degradation.png")
    summary = {
        "command": "python -m mollifier.storm.validation "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "synthetic": {
            "size_nm": list(args.size),
            "localisations": args.localisations,
            "precision_nm": args.precision,
        },
        "density": args.density,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "pearson": [r["pearson"] for r in rows],
        "median_error": [r["median_error"] for r in rows],
        "wall_time_s": time.perf_counter() - t0,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for r in rows:
        print(
            f"seed {r['seed']}: {r['localisations']:,} localisations, r = {r['pearson']:.3f}, "
            f"median error {100 * r['median_error']:+.1f}%, analysis {r['analysis_s']:.0f} s"
        )
    for r in deg:
        print(
            f"{r['study']:>9}: {r['localisations']:>9,} locs, precision {r['precision']:>4.0f} nm:"
            f" r = {r['pearson']:.3f}, median error {100 * r['median_error']:+.1f}%"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
