"""The outputs of one analysed nucleus: its ``summary.csv`` row and its folder.

:func:`nucleus_row` is the row :func:`~mollifier.storm.batch.run_batch` collects into
``summary.csv``; :func:`save_nucleus` writes ``result.json``, ``fields.npz``, ``lambda.npz``,
``domains.csv`` and the PNG figures of a :class:`~mollifier.storm.pipeline.NucleusAnalysis`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mollifier._json import to_jsonable
from mollifier.storm.pipeline import NucleusAnalysis
from mollifier.storm.summaries import QUALITY_CHECKS, write_rows_csv

__all__ = ["nucleus_row", "save_nucleus"]


def nucleus_row(analysis: NucleusAnalysis) -> dict[str, Any]:
    """The ``summary.csv`` row of an analysis."""
    a = analysis
    raw = a.lam.values(smoothed=False)
    h_um = a.fields.spacing * 1e-3
    q = a.quality
    row: dict[str, Any] = {
        "name": a.name,
        "condition": a.condition,
        "status": q.status if q is not None else "ok",
        "reasons": "; ".join(q.reasons) if q is not None else "",
        "source": a.source,
        "localisations": len(a.localisations) if a.localisations is not None else "",
        "area_um2": float(a.segmentation.mask.sum()) * h_um**2,
        "reported_area_um2": float(a.lam.valid.sum()) * h_um**2,
        "lambda_median": float(np.median(raw)),
        "lambda_median_sd": _spread(a.median_replicates),
        "lambda_mean": float(np.mean(raw)),
        "lambda_p10": float(np.percentile(raw, 10)),
        "lambda_p90": float(np.percentile(raw, 90)),
        "lognormal_median": a.lognormal.median if a.lognormal else float("nan"),
        "lognormal_sigma": a.lognormal.sigma if a.lognormal else float("nan"),
        "lognormal_ks": a.lognormal.ks if a.lognormal else float("nan"),
        "domain_count": a.domains.count,
        "domain_density_per_um2": a.domains.density_per_um2,
        "domain_diameter_nm": a.domains.diameter_nm,
        "domain_spacing_nm": a.domains.spacing_nm,
        "domain_area_fraction": a.domains.area_fraction,
        "lambda_in_domains": a.domains.lambda_in_domains,
        "lambda_outside_domains": a.domains.lambda_outside,
        "uncertainty_median": float(np.nanmedian(a.uncertainty[a.lam.valid]))
        if a.uncertainty is not None
        else float("nan"),
        "reference_density": a.fields.reference_density,
        "background": a.fields.background,
        "width_nm": a.lam.width_nm,
        "length_scale_nm": a.config.length_scale,
        "method": a.lam.method,
        "wall_time_s": float(sum(a.timings.values())),
        "error": "",
    }
    for key in QUALITY_CHECKS:
        row[key] = q.checks.get(key, float("nan")) if q is not None else float("nan")
    for key in ("pearson", "median_rel_error", "median_error"):
        row[key] = a.metrics[key] if a.metrics else float("nan")
    row["lambda_true_median"] = a.metrics["true_median"] if a.metrics else float("nan")
    return row


def _result_json(a: NucleusAnalysis) -> dict[str, Any]:
    from mollifier.inverse.result import versions

    cfg = asdict(a.config)
    doc: dict[str, Any] = {
        "name": a.name,
        "condition": a.condition,
        "source": a.source,
        "summary": nucleus_row(a),
        "lambda": {
            "median": float(np.median(a.lam.values(smoothed=False))),
            "smoothed_median": float(np.median(a.lam.values())),
            "lognormal": asdict(a.lognormal) if a.lognormal else None,
            "reported_nodes": int(a.lam.valid.sum()),
            "width_nm": a.lam.width_nm,
            "stencil_radius_nodes": a.lam.radius,
            "boundary": "nucleus mask eroded by the stencil radius (exactly independent of the "
            "data outside the nucleus)",
            "diagnostics": a.lam.diagnostics,
        },
        "quality": None if a.quality is None else asdict(a.quality),
        "segmentation": {k: v for k, v in asdict(a.segmentation).items() if k != "mask"},
        "reference": None if a.reference is None else asdict(a.reference),
        "domains": {k: v for k, v in asdict(a.domains).items() if k != "domains"},
        "timings_s": a.timings,
        "config": cfg,
        "versions": versions(),
    }
    if a.metrics is not None:
        doc["metrics"] = a.metrics
    return to_jsonable(doc)


def save_nucleus(
    analysis: NucleusAnalysis, directory: str | os.PathLike[str], *, figures: bool = True
) -> Path:
    """Write an analysis to ``directory``: ``result.json`` (summary, settings, metrics against a
    truth if known), ``fields.npz`` (density, mask and fractions), ``lambda.npz`` (λ̂, smoothed
    λ̂, reported nodes, uncertainty), ``domains.csv`` and, with ``figures``, PNGs."""
    a = analysis
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(_result_json(a), indent=2) + "\n", encoding="utf-8")
    f = a.fields
    np.savez_compressed(
        out / "fields.npz",
        x=f.x,
        y=f.y,
        density=a.density.values,
        mask=f.mask,
        relative_density=f.relative_density,
        phi_h=f.phi_h,
        phi_e=f.phi_e,
        phi_w=f.phi_w,
        phi_d=f.phi_d,
    )
    arrays = {
        "x": a.lam.x,
        "y": a.lam.y,
        "lam": a.lam.lam,
        "smoothed": a.lam.smoothed,
        "valid": a.lam.valid,
    }
    if a.uncertainty is not None:
        arrays["uncertainty"] = a.uncertainty
    np.savez_compressed(out / "lambda.npz", **arrays)  # type: ignore[arg-type]
    rows = a.domains.rows()
    write_rows_csv(
        rows,
        out / "domains.csv",
        columns=["label", "area_nm2", "diameter_nm", "x_nm", "y_nm", "mean_lambda"],
    )
    if figures:
        from mollifier.storm import figures as fig

        fig.plot_overview(a, out / "overview.png")
        fig.plot_lambda(a, out / "lambda.png")
        fig.plot_histogram(a, out / "histogram.png")
        fig.plot_fields(a, out / "fields.png")
    return out


def _spread(replicates: np.ndarray | None) -> float:
    """Standard deviation of the replicates' medians (NaN without two finite replicates)."""
    if replicates is None:
        return float("nan")
    finite = replicates[np.isfinite(replicates)]
    return float(np.std(finite, ddof=1)) if finite.size >= 2 else float("nan")
