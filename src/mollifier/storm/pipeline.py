"""One nucleus end to end, and a batch over nuclei and conditions.

``localisations → density → nucleus mask → reference density → (φ_h, φ_e) → λ̂ → summaries``

:func:`analyse_nucleus` runs the chain on a :class:`~mollifier.storm.Localisations` table or a
:class:`~mollifier.storm.DensityMap`; :func:`save_nucleus` writes its folder (``result.json``,
``fields.npz``, ``lambda.npz``, ``domains.csv``, PNG figures). Batches over many files live in
:mod:`mollifier.storm.batch`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.storm.calibration import ReferenceEstimate, calibrated_reference
from mollifier.storm.density import DENSITY_METHODS, DensityMap, estimate_density
from mollifier.storm.inference import (
    DEFAULT_LENGTH_SCALE_NM,
    InferenceConfig,
    LambdaMap,
    infer_lambda,
)
from mollifier.storm.localisations import MIN_LOCALISATIONS, Localisations
from mollifier.storm.mapping import ChromatinFields, DensityMapping
from mollifier.storm.segmentation import SEGMENTATION_METHODS, Segmentation, segment_nucleus
from mollifier.storm.summaries import (
    DomainStatistics,
    LognormalFit,
    domain_statistics,
    fit_lognormal,
    write_rows_csv,
)
from mollifier.storm.truth import Truth, truth_metrics

__all__ = [
    "UNCERTAINTY_METHODS",
    "NucleusAnalysis",
    "StormConfig",
    "analyse_nucleus",
    "nucleus_row",
    "save_nucleus",
]

UNCERTAINTY_METHODS = ("none", "bootstrap", "ensemble")


@dataclass(frozen=True)
class StormConfig:
    """Every setting of the STORM pipeline (lengths in nm).

    Parameters
    ----------
    length_scale : float
        nm per model length unit (:data:`~mollifier.storm.inference.DEFAULT_LENGTH_SCALE_NM`).
    spacing : float
        Pixel size of the density grid.
    density : {"kde", "voronoi"}
        Density estimator; ``bandwidth`` is its Gaussian smoothing.
    segmentation : {"threshold", "alpha"}
        Nucleus segmentation; see :func:`~mollifier.storm.segment_nucleus` for the others.
    mapping : DensityMapping
        Density → fractions.
    reference_bandwidth, twin, blinking : float, bool, float
        Reference-density estimate and its synthetic-twin calibration
        (:func:`~mollifier.storm.calibration.calibrated_reference`).
    reference_density : float, optional
        Fixed ``ρ_ref`` (localisations per µm²), e.g. shared by all nuclei of an experiment.
    inference : InferenceConfig
    uncertainty : {"none", "bootstrap", "ensemble"}
        ``bootstrap``: standard deviation of the smoothed λ̂ over ``replicates`` resamplings of the
        localisations (with replacement; blinking repeats are resampled independently, so this is
        a lower bound); ``ensemble``: over network seeds (``inference.method="network"``).
    domain_threshold : float
        ``φ_h`` level of a heterochromatin domain.
    min_localisations : int
        Fewest localisations accepted for a nucleus.
    seed : int
    """

    length_scale: float = DEFAULT_LENGTH_SCALE_NM
    spacing: float = 30.0
    density: str = "kde"
    bandwidth: float = 15.0
    segmentation: str = "threshold"
    segmentation_smoothing: float = 150.0
    threshold: float | None = None
    alpha: float | None = None
    min_hole_area: float = 250_000.0
    mapping: DensityMapping = field(default_factory=DensityMapping)
    reference_bandwidth: float = 30.0
    twin: bool = True
    blinking: float = 3.0
    reference_density: float | None = None
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    uncertainty: str = "none"
    replicates: int = 8
    domain_threshold: float = 0.35
    min_localisations: int = MIN_LOCALISATIONS
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("length_scale", "spacing", "segmentation_smoothing", "reference_bandwidth"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not (math.isfinite(self.bandwidth) and self.bandwidth >= 0):
            raise ValueError(f"bandwidth must be >= 0 nm, got {self.bandwidth}")
        if self.density not in DENSITY_METHODS:
            raise ValueError(f"density must be one of {DENSITY_METHODS}, got {self.density!r}")
        if self.segmentation not in SEGMENTATION_METHODS:
            raise ValueError(
                f"segmentation must be one of {SEGMENTATION_METHODS}, got {self.segmentation!r}"
            )
        if self.uncertainty not in UNCERTAINTY_METHODS:
            raise ValueError(
                f"uncertainty must be one of {UNCERTAINTY_METHODS}, got {self.uncertainty!r}"
            )
        if self.uncertainty == "ensemble" and self.inference.method != "network":
            raise ValueError(
                "an ensemble over seeds needs the network solver "
                "(inference.method='network'); the direct solver is deterministic; "
                "use uncertainty='bootstrap'"
            )
        if self.replicates < 2:
            raise ValueError(f"replicates must be >= 2, got {self.replicates}")
        if self.reference_density is not None and not self.reference_density > 0:
            raise ValueError(f"reference_density must be positive, got {self.reference_density}")
        if self.min_localisations < 3:
            raise ValueError("min_localisations must be >= 3")


@dataclass
class NucleusAnalysis:
    """Everything :func:`analyse_nucleus` computed for one nucleus."""

    name: str
    condition: str
    source: str
    config: StormConfig
    density: DensityMap
    segmentation: Segmentation
    reference: ReferenceEstimate | None
    fields: ChromatinFields
    lam: LambdaMap
    domains: DomainStatistics
    lognormal: LognormalFit | None
    localisations: Localisations | None = None
    uncertainty: np.ndarray | None = None
    truth: Truth | None = None
    metrics: dict[str, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _fields_from(
    density: DensityMap,
    seg: Segmentation,
    cfg: StormConfig,
    locs: Localisations | None,
    reference: float | None,
) -> tuple[ChromatinFields, ReferenceEstimate | None]:
    est = None
    if reference is None and cfg.reference_density is None and locs is not None:
        est = calibrated_reference(
            locs,
            density,
            seg.mask,
            mapping=cfg.mapping,
            length_scale=cfg.length_scale,
            bandwidth=cfg.reference_bandwidth,
            blinking=cfg.blinking,
            twin=cfg.twin,
            seed=cfg.seed,
        )
        reference = est.reference
    elif reference is None:
        reference = cfg.reference_density
    fields = cfg.mapping.fields(
        density, seg.mask, background=seg.background, reference_density=reference
    )
    return fields, est


def analyse_nucleus(
    data: Localisations | DensityMap,
    *,
    config: StormConfig | None = None,
    name: str = "nucleus",
    condition: str = "",
    truth: Truth | None = None,
    progress: bool = False,
) -> NucleusAnalysis:
    """Run the pipeline on one nucleus (see the module docstring).

    Parameters
    ----------
    data : Localisations or DensityMap
        Localisations in nm, or a density image (then no bootstrap, no alpha shape, and the
        reference density is the uncalibrated mode unless ``config.reference_density`` is set).
    config : StormConfig, optional
    name, condition : str
        Labels for summaries.
    truth : Truth, optional
        Ground truth; adds ``metrics`` (:func:`~mollifier.storm.truth.truth_metrics`).
    progress : bool
        Progress bars of the network solver and the uncertainty replicates.

    Raises
    ------
    LocalisationError, UnitError
        Empty or tiny localisation sets, implausible coordinate spans.
    NucleusTooSmallError
        A nucleus smaller than the kernel.
    ValueError
        Other inconsistent inputs (nothing to segment, ...).
    """
    cfg = StormConfig() if config is None else config
    times: dict[str, float] = {}
    t = time.perf_counter()
    locs: Localisations | None = None
    if isinstance(data, Localisations):
        locs = data
        locs.check_analysable(min_count=cfg.min_localisations)
        density = estimate_density(
            locs, method=cfg.density, spacing=cfg.spacing, bandwidth=cfg.bandwidth
        )
    elif isinstance(data, DensityMap):
        density = data
        if not np.any(np.nan_to_num(density.values) > 0):
            raise ValueError(
                f"{density.source or 'density map'}: the map is empty (no positive values)"
            )
        if cfg.segmentation == "alpha":
            raise ValueError("the alpha-shape segmentation needs localisations, not a density map")
        if cfg.uncertainty == "bootstrap":
            raise ValueError(
                "bootstrap uncertainty resamples localisations; a density map has none"
            )
    else:
        raise TypeError(f"data must be Localisations or a DensityMap, got {type(data).__name__}")
    times["density_s"] = time.perf_counter() - t
    t = time.perf_counter()
    seg = segment_nucleus(
        density,
        method=cfg.segmentation,
        locs=locs,
        smoothing=cfg.segmentation_smoothing,
        threshold=cfg.threshold,
        alpha=cfg.alpha,
        min_hole_area=cfg.min_hole_area,
    )
    times["segmentation_s"] = time.perf_counter() - t
    t = time.perf_counter()
    fields, ref = _fields_from(density, seg, cfg, locs, None)
    times["mapping_s"] = time.perf_counter() - t
    lam = infer_lambda(
        fields, length_scale=cfg.length_scale, config=cfg.inference, progress=progress
    )
    times["inference_s"] = lam.wall_time_s
    t = time.perf_counter()
    unc = _uncertainty(cfg, locs, density, seg, fields, lam, ref, progress)
    times["uncertainty_s"] = time.perf_counter() - t
    domains = domain_statistics(
        fields.phi_h, lam.valid, lam.lam, x=fields.x, y=fields.y, threshold=cfg.domain_threshold
    )
    values = lam.values(smoothed=False)
    lognormal = fit_lognormal(values) if np.sum(values > 0) >= 2 else None
    metrics = truth_metrics(lam, truth) if truth is not None else None
    return NucleusAnalysis(
        name=name,
        condition=condition,
        source=locs.source if locs is not None else density.source,
        config=cfg,
        density=density,
        segmentation=seg,
        reference=ref,
        fields=fields,
        lam=lam,
        domains=domains,
        lognormal=lognormal,
        localisations=locs,
        uncertainty=unc,
        truth=truth,
        metrics=metrics,
        timings=times,
    )


def _uncertainty(
    cfg: StormConfig,
    locs: Localisations | None,
    density: DensityMap,
    seg: Segmentation,
    fields: ChromatinFields,
    lam: LambdaMap,
    reference: ReferenceEstimate | None,
    progress: bool,
) -> np.ndarray | None:
    if cfg.uncertainty == "none":
        return None
    from mollifier._progress import progress_bar

    rng = np.random.default_rng(cfg.seed + 1)
    draws = []
    for b in progress_bar(
        range(cfg.replicates), desc="uncertainty", disable=not progress, leave=False
    ):
        if cfg.uncertainty == "bootstrap":
            assert locs is not None
            sample = locs.subset(rng.integers(0, len(locs), size=len(locs)))
            dens_b = estimate_density(
                sample, method=cfg.density, spacing=cfg.spacing, bandwidth=cfg.bandwidth
            )
            dens_b = replace(dens_b, values=_on_grid(dens_b, density))
            ref_b = fields.reference_density
            if reference is not None:
                again = calibrated_reference(
                    sample,
                    density,
                    seg.mask,
                    mapping=cfg.mapping,
                    length_scale=cfg.length_scale,
                    bandwidth=cfg.reference_bandwidth,
                    twin=False,
                )
                factor = reference.calibration.factor if reference.calibration else 1.0
                ref_b = again.mode / factor
            f_b = cfg.mapping.fields(
                dens_b, seg.mask, background=seg.background, reference_density=ref_b
            )
            lam_b = infer_lambda(f_b, length_scale=cfg.length_scale, config=cfg.inference)
        else:
            inf = replace(cfg.inference, seed=cfg.inference.seed + 1 + b)
            lam_b = infer_lambda(fields, length_scale=cfg.length_scale, config=inf)
        draws.append(np.where(lam.valid, lam_b.smoothed, np.nan))
    stack = np.stack(draws)
    enough = np.sum(np.isfinite(stack), axis=0) >= 2
    sd = np.full(lam.lam.shape, np.nan)
    sd[enough] = np.nanstd(stack[:, enough], axis=0, ddof=1)
    return np.where(lam.valid, sd, np.nan)


def _on_grid(sample: DensityMap, target: DensityMap) -> np.ndarray:
    """``sample``'s values placed on ``target``'s pixels (same spacing and anchor)."""
    out = np.zeros(target.values.shape)
    h = target.spacing
    i0 = round((sample.x[0] - target.x[0]) / h)
    j0 = round((sample.y[0] - target.y[0]) / h)
    si = slice(max(i0, 0), min(i0 + sample.x.size, target.x.size))
    sj = slice(max(j0, 0), min(j0 + sample.y.size, target.y.size))
    out[si, sj] = sample.values[si.start - i0 : si.stop - i0, sj.start - j0 : sj.stop - j0]
    return out


def nucleus_row(analysis: NucleusAnalysis) -> dict[str, Any]:
    """The ``summary.csv`` row of an analysis."""
    a = analysis
    raw = a.lam.values(smoothed=False)
    h_um = a.fields.spacing * 1e-3
    row: dict[str, Any] = {
        "name": a.name,
        "condition": a.condition,
        "status": "ok",
        "source": a.source,
        "localisations": len(a.localisations) if a.localisations is not None else "",
        "area_um2": float(a.segmentation.mask.sum()) * h_um**2,
        "reported_area_um2": float(a.lam.valid.sum()) * h_um**2,
        "lambda_median": float(np.median(raw)),
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
    for key in ("pearson", "median_rel_error", "median_error"):
        row[key] = a.metrics[key] if a.metrics else float("nan")
    row["lambda_true_median"] = a.metrics["true_median"] if a.metrics else float("nan")
    return row


def _json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _json(obj.tolist())
    return obj


def _result_json(a: NucleusAnalysis) -> dict[str, Any]:
    from mollifier.result import versions

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
        "segmentation": {k: v for k, v in asdict(a.segmentation).items() if k != "mask"},
        "reference": None if a.reference is None else asdict(a.reference),
        "domains": {k: v for k, v in asdict(a.domains).items() if k != "domains"},
        "timings_s": a.timings,
        "config": cfg,
        "versions": versions(),
    }
    if a.metrics is not None:
        doc["metrics"] = a.metrics
    return _json(doc)


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
