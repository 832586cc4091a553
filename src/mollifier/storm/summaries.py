"""What a biologist reads off an analysis: λ distributions, heterochromatin domains, batch tables.

* :func:`fit_lognormal`: maximum-likelihood lognormal fit of a nucleus' λ̂ values.
* :func:`domain_statistics`: heterochromatin domains (``φ_h > threshold``) with size, spacing and
  mean λ̂.
* :func:`write_summary_csv`, :func:`compare_conditions`: one row per nucleus; per-condition
  statistics with a two-sided Mann-Whitney test between two conditions.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, stats
from scipy.spatial import cKDTree

__all__ = [
    "QUALITY_CHECKS",
    "SUMMARY_COLUMNS",
    "Domain",
    "DomainStatistics",
    "LognormalFit",
    "compare_conditions",
    "domain_statistics",
    "fit_lognormal",
    "median_difference_interval",
    "write_rows_csv",
    "write_summary_csv",
]

#: The quality gate's measurements in ``summary.csv`` (:mod:`mollifier.storm.quality`).
QUALITY_CHECKS = (
    "nonpositive_fraction",
    "reported_fraction",
    "density_per_um2",
    "density_bound_per_um2",
    "density_contrast",
    "density_contrast_needed",
    "precision_nm",
)
#: Columns of ``summary.csv`` (one row per nucleus), in order.
SUMMARY_COLUMNS = (
    "name",
    "condition",
    "status",
    "reasons",
    "source",
    "localisations",
    "area_um2",
    "reported_area_um2",
    "lambda_median",
    "lambda_median_sd",
    "lambda_mean",
    "lambda_p10",
    "lambda_p90",
    "lognormal_median",
    "lognormal_sigma",
    "lognormal_ks",
    "domain_count",
    "domain_density_per_um2",
    "domain_diameter_nm",
    "domain_spacing_nm",
    "domain_area_fraction",
    "lambda_in_domains",
    "lambda_outside_domains",
    "uncertainty_median",
    "reference_density",
    "background",
    "width_nm",
    "length_scale_nm",
    "method",
    "lambda_true_median",
    "pearson",
    "median_rel_error",
    "median_error",
    *QUALITY_CHECKS,
    "wall_time_s",
    "error",
)


@dataclass(frozen=True)
class LognormalFit:
    """``log λ ~ N(log median, sigma²)`` fitted by maximum likelihood to the positive values.

    ``ks`` is the Kolmogorov-Smirnov distance between the values and the fit (its p-value is not
    reported: neighbouring λ̂ values are strongly correlated, so the effective sample is much
    smaller than the node count). ``excluded`` counts non-positive values left out.
    """

    median: float
    sigma: float
    n: int
    ks: float
    excluded: int

    def pdf(self, lam: np.ndarray) -> np.ndarray:
        """Density of the fitted lognormal at ``lam``."""
        return stats.lognorm.pdf(lam, s=self.sigma, scale=self.median)


def fit_lognormal(values: np.ndarray) -> LognormalFit:
    """Fit a lognormal to ``values`` (NaN ignored, non-positive excluded and counted).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = fit_lognormal(0.5 * np.exp(0.3 * rng.normal(size=20000)))
    >>> round(f.median, 2), round(f.sigma, 2)
    (0.5, 0.3)
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    if pos.size < 2:
        raise ValueError(f"a lognormal fit needs at least 2 positive values, got {pos.size}")
    logs = np.log(pos)
    mu, sigma = float(np.mean(logs)), float(np.std(logs))
    ks = float(stats.kstest(logs, "norm", args=(mu, sigma)).statistic) if sigma > 0 else 1.0
    return LognormalFit(
        median=math.exp(mu), sigma=sigma, n=int(pos.size), ks=ks, excluded=int(v.size - pos.size)
    )


@dataclass(frozen=True)
class Domain:
    """One heterochromatin domain: area (nm²), equivalent diameter (nm), centroid (nm), mean λ̂."""

    label: int
    area_nm2: float
    diameter_nm: float
    x_nm: float
    y_nm: float
    mean_lambda: float


@dataclass(frozen=True)
class DomainStatistics:
    """Heterochromatin domains of a nucleus' reported region.

    Attributes
    ----------
    domains : list of Domain
        Domains whose centroid lies in the region.
    count, density_per_um2 : float
        Number of domains and per µm² of the region.
    diameter_nm : float
        Median equivalent diameter ``2√(area/π)``.
    spacing_nm : float
        Median distance from each domain's centroid to its nearest neighbour's.
    area_fraction : float
        Fraction of the region with ``φ_h > threshold``.
    lambda_in_domains, lambda_outside : float
        Median λ̂ over domain pixels and over the rest of the region.
    region_area_um2 : float
    threshold : float
    """

    domains: list[Domain] = field(default_factory=list)
    count: float = 0.0
    density_per_um2: float = float("nan")
    diameter_nm: float = float("nan")
    spacing_nm: float = float("nan")
    area_fraction: float = float("nan")
    lambda_in_domains: float = float("nan")
    lambda_outside: float = float("nan")
    region_area_um2: float = 0.0
    threshold: float = 0.35

    def rows(self) -> list[dict[str, Any]]:
        """One dict per domain (for ``domains.csv``)."""
        return [asdict(d) for d in self.domains]


def domain_statistics(
    phi_h: np.ndarray,
    region: np.ndarray,
    lam: np.ndarray,
    *,
    x: np.ndarray,
    y: np.ndarray,
    threshold: float = 0.35,
) -> DomainStatistics:
    """Segment heterochromatin domains, the 4-connected components of ``φ_h > threshold``.

    Components are labelled over the whole image and a domain is kept when its centroid lies in
    ``region`` (so domains cut by the region's edge are neither lost nor double-counted); areas
    count all of a kept domain's pixels.

    Parameters
    ----------
    phi_h : ndarray
        Heterochromatin fraction on pixels ``x[:, None], y[None, :]`` (nm).
    region : ndarray of bool
        Where the analysis is reported (the nucleus eroded by the kernel radius).
    lam : ndarray
        λ̂ on the same pixels (NaN where not estimated).
    threshold : float
        ``φ_h`` level of a domain (default ``φ_max / 2``).

    Examples
    --------
    >>> x = np.arange(40) * 10.0
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> phi = 0.7 * ((np.hypot(X - 100, Y - 100) < 50) | (np.hypot(X - 300, Y - 300) < 50))
    >>> s = domain_statistics(phi, np.ones_like(phi, bool), np.ones_like(phi), x=x, y=x)
    >>> s.count, round(s.spacing_nm)
    (2.0, 283)
    """
    h = float(x[1] - x[0])
    reg = np.asarray(region, dtype=bool)
    area_um2 = float(reg.sum()) * (h * 1e-3) ** 2
    if not reg.any():
        return DomainStatistics(threshold=threshold)
    dense = np.asarray(phi_h) > threshold
    labels, count = ndimage.label(dense)
    domains: list[Domain] = []
    if count:
        index = np.arange(1, count + 1)
        sizes = ndimage.sum_labels(np.ones_like(phi_h), labels, index)
        cx = ndimage.mean(np.broadcast_to(x[:, None], labels.shape), labels, index)
        cy = ndimage.mean(np.broadcast_to(y[None, :], labels.shape), labels, index)
        lam_f = np.where(np.isfinite(lam), lam, 0.0)
        lam_n = ndimage.sum_labels(np.isfinite(lam).astype(float), labels, index)
        lam_s = ndimage.sum_labels(lam_f, labels, index)
        ix = np.clip(np.round((cx - x[0]) / h).astype(int), 0, x.size - 1)
        iy = np.clip(np.round((cy - y[0]) / h).astype(int), 0, y.size - 1)
        for k in np.flatnonzero(reg[ix, iy]):
            area = float(sizes[k]) * h * h
            domains.append(
                Domain(
                    label=int(index[k]),
                    area_nm2=area,
                    diameter_nm=2.0 * math.sqrt(area / math.pi),
                    x_nm=float(cx[k]),
                    y_nm=float(cy[k]),
                    mean_lambda=float(lam_s[k] / lam_n[k]) if lam_n[k] > 0 else float("nan"),
                )
            )
    spacing = float("nan")
    if len(domains) >= 2:
        pts = np.array([[d.x_nm, d.y_nm] for d in domains])
        dist, _ = cKDTree(pts).query(pts, k=2)
        spacing = float(np.median(dist[:, 1]))
    lam_in = lam[reg & dense & np.isfinite(lam)]
    lam_out = lam[reg & ~dense & np.isfinite(lam)]
    return DomainStatistics(
        domains=domains,
        count=float(len(domains)),
        density_per_um2=len(domains) / area_um2 if area_um2 > 0 else float("nan"),
        diameter_nm=float(np.median([d.diameter_nm for d in domains])) if domains else float("nan"),
        spacing_nm=spacing,
        area_fraction=float(dense[reg].mean()),
        lambda_in_domains=float(np.median(lam_in)) if lam_in.size else float("nan"),
        lambda_outside=float(np.median(lam_out)) if lam_out.size else float("nan"),
        region_area_um2=area_um2,
        threshold=threshold,
    )


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return "" if value is None else value


def write_rows_csv(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
) -> Path:
    """Write dict rows as CSV (columns: ``columns`` or the first row's keys; NaN → empty)."""
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in cols})
    return out


def write_summary_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """``summary.csv``: one row per nucleus with the :data:`SUMMARY_COLUMNS`."""
    return write_rows_csv(rows, path, SUMMARY_COLUMNS)


def compare_conditions(
    rows: Sequence[Mapping[str, Any]],
    *,
    metric: str = "lambda_median",
    include_unreliable: bool = False,
    level: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per-condition statistics of ``metric`` over the nuclei with status ``ok`` (and
    ``unreliable`` with ``include_unreliable``; ``failed`` ones never).

    Returns one dict per condition (in order of appearance): ``condition``, ``metric``, ``n``,
    ``mean``, ``sd``, ``median``, ``ratio_to_first`` (mean over the first condition's mean) and,
    for every condition after the first, ``p_mann_whitney`` against the first (two-sided; NaN
    with fewer than 2 nuclei in either), the difference of medians from the first condition,
    ``median_difference``, and its ``level`` confidence interval ``difference_low`` /
    ``difference_high`` (:func:`median_difference_interval`; NaN with fewer than 2 nuclei in
    either). Where rows carry ``<metric>_sd`` (e.g. ``lambda_median_sd``, the bootstrap spread
    of a nucleus's own median), ``measurement_share`` is the mean of their squares over the
    variance of the values: the part of the nucleus-to-nucleus spread that is the nuclei's own
    measurement error (near 1: more localisations per nucleus would narrow the interval; near 0:
    more nuclei would).
    """
    groups: dict[str, list[tuple[float, float]]] = {}
    allowed = ("ok", "unreliable") if include_unreliable else ("ok",)
    for row in rows:
        if row.get("status", "ok") not in allowed:
            continue
        value = row.get(metric)
        if value is None or not np.isfinite(float(value)):
            continue
        sd = row.get(f"{metric}_sd")
        sd = float(sd) if sd not in (None, "") else float("nan")
        groups.setdefault(str(row.get("condition", "")), []).append((float(value), sd))
    out: list[dict[str, Any]] = []
    first: np.ndarray | None = None  # the first condition's values
    for k, (cond, pairs) in enumerate(groups.items()):
        arr, err = np.asarray(pairs).T
        entry: dict[str, Any] = {
            "condition": cond,
            "metric": metric,
            "n": int(arr.size),
            "mean": float(arr.mean()),
            "sd": float(arr.std(ddof=1)) if arr.size > 1 else float("nan"),
            "median": float(np.median(arr)),
            "measurement_share": float(np.mean(err**2) / np.var(arr, ddof=1))
            if arr.size > 1 and np.isfinite(err).all() and np.var(arr) > 0
            else float("nan"),
        }
        if first is None:
            first = arr
            entry.update(ratio_to_first=1.0, p_mann_whitney=float("nan"))
        else:
            entry["ratio_to_first"] = float(arr.mean() / first.mean())
            enough = first.size >= 2 and arr.size >= 2
            entry["p_mann_whitney"] = (
                float(stats.mannwhitneyu(first, arr, alternative="two-sided").pvalue)
                if enough
                else float("nan")
            )
            entry["median_difference"] = float(np.median(arr) - np.median(first))
            low, high = (
                median_difference_interval(
                    first,
                    arr,
                    level=level,
                    resamples=resamples,
                    seed=seed + k,
                )
                if enough
                else (float("nan"), float("nan"))
            )
            entry.update(difference_low=low, difference_high=high)
        out.append(entry)
    return out


def median_difference_interval(
    reference: np.ndarray,
    other: np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float]:
    """Confidence interval of ``median(other) − median(reference)``, one value per nucleus.

    The percentile interval of the difference of medians over ``resamples`` bootstrap draws that
    resample the nuclei of each group with replacement (seeded). Each nucleus's value carries its
    own measurement error, so the spread of the values, and so the interval, holds both the
    nucleus-to-nucleus variation and the measurement error; adding the nuclei's own error again
    would count it twice.

    Examples
    --------
    >>> a = np.array([1.0, 1.1, 0.9, 1.05, 0.95])
    >>> low, high = median_difference_interval(a, a + 0.5)
    >>> bool(low <= 0.5 <= high), bool(low > 0.2)
    (True, True)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)

    def medians(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return np.median(values[rng.integers(0, values.size, (resamples, values.size))], axis=1)

    diff = medians(other) - medians(reference)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diff, [tail, 100 - tail])
    return float(low), float(high)
