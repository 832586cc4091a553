"""One nucleus end to end.

``localisations → density → nucleus mask → reference density → (φ_h, φ_e) → λ̂ → summaries``

:func:`analyse_nucleus` runs the chain on a :class:`~mollifier.storm.Localisations` table or a
:class:`~mollifier.storm.DensityMap` with the settings of a
:class:`~mollifier.storm.options.StormConfig`; :func:`~mollifier.storm.output.save_nucleus`
writes its folder (``result.json``, ``fields.npz``, ``lambda.npz``, ``domains.csv``, PNG
figures). Batches over many files live in :mod:`mollifier.storm.batch`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from mollifier.storm.calibration import ReferenceEstimate, calibrated_reference
from mollifier.storm.density import DensityMap, estimate_density
from mollifier.storm.inference import LambdaMap, infer_lambda
from mollifier.storm.localisations import Localisations
from mollifier.storm.mapping import ChromatinFields
from mollifier.storm.options import StormConfig
from mollifier.storm.segmentation import Segmentation, segment_nucleus
from mollifier.storm.summaries import (
    DomainStatistics,
    LognormalFit,
    domain_statistics,
    fit_lognormal,
)
from mollifier.storm.truth import Truth, truth_metrics

__all__ = ["NucleusAnalysis", "analyse_nucleus"]


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
            dens_b = replace(density, values=_on_grid(dens_b, density))
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
            net = cfg.inference.network
            inf = replace(cfg.inference, network=replace(net, seed=net.seed + 1 + b))
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
