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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from mollifier.storm.calibration import ReferenceEstimate, calibrated_reference
from mollifier.storm.density import DensityMap, estimate_density
from mollifier.storm.inference import LambdaMap, infer_lambda
from mollifier.storm.localisations import Localisations, merge_blinks
from mollifier.storm.mapping import ChromatinFields
from mollifier.storm.options import StormConfig
from mollifier.storm.quality import Quality, assess
from mollifier.storm.segmentation import Segmentation, segment_nuclei, segment_nucleus
from mollifier.storm.summaries import (
    DomainStatistics,
    LognormalFit,
    domain_statistics,
    fit_lognormal,
)
from mollifier.storm.truth import Truth, truth_metrics

__all__ = ["FIELD_MARGIN_NM", "NucleusAnalysis", "analyse_field", "analyse_nucleus"]


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
    median_replicates: np.ndarray | None = None
    truth: Truth | None = None
    metrics: dict[str, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    quality: Quality | None = None
    field_mask: np.ndarray | None = None
    field_density: DensityMap | None = None


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
    locs, density = _density(data, cfg)
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
    return _analyse_segmented(
        locs,
        density,
        seg,
        cfg,
        name=name,
        condition=condition,
        truth=truth,
        progress=progress,
        times=times,
    )


def _density(
    data: Localisations | DensityMap, cfg: StormConfig
) -> tuple[Localisations | None, DensityMap]:
    if isinstance(data, Localisations):
        if cfg.merge_blinks:
            data = merge_blinks(data)
        data.check_analysable(min_count=cfg.min_localisations)
        density = estimate_density(
            data, method=cfg.density, spacing=cfg.spacing, bandwidth=cfg.bandwidth
        )
        return data, density
    if isinstance(data, DensityMap):
        if not np.any(np.nan_to_num(data.values) > 0):
            raise ValueError(
                f"{data.source or 'density map'}: the map is empty (no positive values)"
            )
        if cfg.segmentation == "alpha":
            raise ValueError("the alpha-shape segmentation needs localisations, not a density map")
        if cfg.uncertainty == "bootstrap":
            raise ValueError(
                "bootstrap uncertainty resamples localisations; a density map has none"
            )
        return None, data
    raise TypeError(f"data must be Localisations or a DensityMap, got {type(data).__name__}")


def _analyse_segmented(
    locs: Localisations | None,
    density: DensityMap,
    seg: Segmentation,
    cfg: StormConfig,
    *,
    name: str,
    condition: str,
    truth: Truth | None,
    progress: bool,
    times: dict[str, float],
) -> NucleusAnalysis:
    t = time.perf_counter()
    fields, ref = _fields_from(density, seg, cfg, locs, None)
    times["mapping_s"] = time.perf_counter() - t
    lam = infer_lambda(
        fields, length_scale=cfg.length_scale, config=cfg.inference, progress=progress
    )
    times["inference_s"] = lam.wall_time_s
    t = time.perf_counter()
    unc, medians = _uncertainty(cfg, locs, density, seg, fields, lam, ref, progress)
    times["uncertainty_s"] = time.perf_counter() - t
    domains = domain_statistics(
        fields.phi_h, lam.valid, lam.lam, x=fields.x, y=fields.y, threshold=cfg.domain_threshold
    )
    values = lam.values(smoothed=False)
    positive = values[values > 0]
    lognormal = fit_lognormal(positive) if positive.size >= 2 else None
    metrics = truth_metrics(lam, truth) if truth is not None else None
    a = NucleusAnalysis(
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
        median_replicates=medians,
        truth=truth,
        metrics=metrics,
        timings=times,
    )
    a.quality = assess(a, cfg.quality)
    return a


def analyse_field(
    data: Localisations | DensityMap,
    *,
    config: StormConfig | None = None,
    name: str = "field",
    condition: str = "",
    truths: Sequence[Truth] = (),
    mask_channel: Localisations | None = None,
    progress: bool = False,
) -> list[NucleusAnalysis]:
    """Analyse every nucleus of a field of view (:func:`~mollifier.storm.segment_nuclei`).

    Each nucleus is analysed on its own crop (its bounding box plus
    :data:`FIELD_MARGIN_NM`) as :func:`analyse_nucleus` would, and named ``name#1``,
    ``name#2``, … (just ``name`` when the field holds one nucleus). ``config.nucleus``
    keeps only that one (1-based). ``mask_channel`` (e.g. a nuclear-envelope label)
    segments the nuclei instead of ``data``: its density, on the same pixels, with the
    regions its rims enclose filled. Each truth in ``truths`` goes to the nucleus nearest its
    mask's centroid.

    Raises
    ------
    ValueError
        No nucleus passes the criteria, or ``config.nucleus`` is larger than their number.
    """
    cfg = StormConfig() if config is None else config
    t = time.perf_counter()
    locs, density = _density(data, cfg)
    times0 = {"density_s": time.perf_counter() - t}
    t = time.perf_counter()
    target = density
    if mask_channel is not None:
        md = estimate_density(
            mask_channel, method=cfg.density, spacing=density.spacing, bandwidth=cfg.bandwidth
        )
        target = replace(density, values=_on_grid(md, density))
    segs = segment_nuclei(
        target,
        method=cfg.segmentation if mask_channel is None else "threshold",
        locs=locs if mask_channel is None else mask_channel,
        smoothing=cfg.segmentation_smoothing,
        threshold=cfg.threshold if mask_channel is None else None,
        alpha=cfg.alpha,
        min_hole_area=cfg.min_hole_area,
        min_area=cfg.min_nucleus_area,
        fill_holes=mask_channel is not None,
    )
    union = np.zeros(density.shape, dtype=bool)
    for sg in segs:
        union |= sg.mask
    if mask_channel is not None:
        far = ndimage.distance_transform_edt(~union) * density.spacing > cfg.segmentation_smoothing
        far &= np.isfinite(density.values)
        bg = float(np.mean(density.values[far])) if far.sum() >= 50 else 0.0
        segs = [replace(sg, background=bg) for sg in segs]
    times0["segmentation_s"] = time.perf_counter() - t
    chosen = list(enumerate(segs, start=1))
    if cfg.nucleus is not None:
        if cfg.nucleus > len(segs):
            raise ValueError(
                f"{density.source or name}: --nucleus {cfg.nucleus} asked, but the field has "
                f"{len(segs)} nuclei"
            )
        chosen = [chosen[cfg.nucleus - 1]]
    out = []
    for k, sg in chosen:
        sub_locs, sub_density, sub_seg = _crop(locs, density, sg)
        item = name if len(segs) == 1 else f"{name}#{k}"
        a = _analyse_segmented(
            sub_locs,
            sub_density,
            sub_seg,
            cfg,
            name=item,
            condition=condition,
            truth=_nearest_truth(truths, sub_density, sub_seg.mask),
            progress=progress,
            times=dict(times0),
        )
        a.field_mask = union
        a.field_density = density
        out.append(a)
    return out


#: Margin around a nucleus' bounding box in :func:`analyse_field`'s crops, nm.
FIELD_MARGIN_NM = 1500.0


def _crop(
    locs: Localisations | None, density: DensityMap, seg: Segmentation
) -> tuple[Localisations | None, DensityMap, Segmentation]:
    h = density.spacing
    pad = int(np.ceil(FIELD_MARGIN_NM / h))
    ii, jj = np.nonzero(seg.mask)
    i0, i1 = max(int(ii.min()) - pad, 0), min(int(ii.max()) + pad + 1, density.shape[0])
    j0, j1 = max(int(jj.min()) - pad, 0), min(int(jj.max()) + pad + 1, density.shape[1])
    box = (slice(i0, i1), slice(j0, j1))
    sub = replace(density, x=density.x[i0:i1], y=density.y[j0:j1], values=density.values[box])
    sub_seg = replace(seg, mask=seg.mask[box])
    if locs is None:
        return None, sub, sub_seg
    keep = (
        (locs.x >= sub.x[0] - 0.5 * h)
        & (locs.x < sub.x[-1] + 0.5 * h)
        & (locs.y >= sub.y[0] - 0.5 * h)
        & (locs.y < sub.y[-1] + 0.5 * h)
    )
    return locs.subset(keep), sub, sub_seg


def _nearest_truth(truths: Sequence[Truth], density: DensityMap, mask: np.ndarray) -> Truth | None:
    if not truths:
        return None
    X, Y = np.meshgrid(density.x, density.y, indexing="ij")
    cx, cy = float(X[mask].mean()), float(Y[mask].mean())
    radius = float(np.sqrt(mask.sum() / np.pi)) * density.spacing
    best, dist = None, np.inf
    for tr in truths:
        TX, TY = np.meshgrid(tr.x, tr.y, indexing="ij")
        d = float(np.hypot(TX[tr.mask].mean() - cx, TY[tr.mask].mean() - cy))
        if d < dist:
            best, dist = tr, d
    return best if dist < radius else None


def _uncertainty(
    cfg: StormConfig,
    locs: Localisations | None,
    density: DensityMap,
    seg: Segmentation,
    fields: ChromatinFields,
    lam: LambdaMap,
    reference: ReferenceEstimate | None,
    progress: bool,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The per-pixel standard deviation of the smoothed λ̂ over the replicates, and each
    replicate's median of the raw λ̂ (the spread of the nucleus's own median)."""
    if cfg.uncertainty == "none":
        return None, None
    from mollifier._progress import progress_bar

    rng = np.random.default_rng(cfg.seed + 1)
    draws, medians = [], []
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
        raw_b = lam_b.values(smoothed=False)
        medians.append(float(np.median(raw_b)) if raw_b.size else float("nan"))
    stack = np.stack(draws)
    enough = np.sum(np.isfinite(stack), axis=0) >= 2
    sd = np.full(lam.lam.shape, np.nan)
    sd[enough] = np.nanstd(stack[:, enough], axis=0, ddof=1)
    return np.where(lam.valid, sd, np.nan), np.asarray(medians)


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
