"""Figures of every pipeline step (matplotlib, the optional ``[plot]`` extra).

Images are drawn with ``x`` to the right and ``y`` up, in µm. Each function writes one PNG and
returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mollifier._pyplot import pyplot

if TYPE_CHECKING:
    from mollifier.storm.pipeline import NucleusAnalysis

__all__ = [
    "plot_comparison",
    "plot_degradation",
    "plot_fields",
    "plot_histogram",
    "plot_lambda",
    "plot_overview",
]


def _pyplot() -> Any:
    return pyplot(
        "STORM figures",
        rc={
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 8,
            "axes.titlesize": 9,
            "image.cmap": "viridis",
        },
    )


def _image(
    ax: Any,
    arr: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    title: str,
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    label: str = "",
) -> Any:
    extent = (x[0] * 1e-3, x[-1] * 1e-3, y[0] * 1e-3, y[-1] * 1e-3)
    im = ax.imshow(
        np.asarray(arr, dtype=float).T,
        origin="lower",
        extent=extent,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
    )
    ax.set_title(title)
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.8)
    if label:
        cb.set_label(label)
    return im


def _contour(
    ax: Any, mask: np.ndarray, x: np.ndarray, y: np.ndarray, color: str = "w", style: str = "-"
) -> None:
    if mask.any() and not mask.all():
        ax.contour(
            x * 1e-3,
            y * 1e-3,
            mask.T.astype(float),
            levels=[0.5],
            colors=color,
            linewidths=0.8,
            linestyles=style,
        )


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def _robust(arr: np.ndarray, lo: float = 1, hi: float = 99) -> tuple[float, float]:
    v = np.asarray(arr, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    a, b = np.percentile(v, [lo, hi])
    return float(a), float(b if b > a else a + 1e-12)


def plot_overview(a: NucleusAnalysis, path: str | os.PathLike[str]) -> Path:
    """Six panels, one per step: localisations, density + mask, relative density, φ_h, λ̂
    (smoothed, reported region) and the λ̂ histogram with its lognormal fit."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(11.5, 6.8))
    f, lam, x, y = a.fields, a.lam, a.fields.x, a.fields.y
    ax = axes[0, 0]
    if a.localisations is not None and len(a.localisations):
        locs = a.localisations
        idx = np.random.default_rng(0).choice(len(locs), min(len(locs), 30_000), replace=False)
        ax.scatter(
            locs.x[idx] * 1e-3, locs.y[idx] * 1e-3, s=0.05, c="k", alpha=0.4, rasterized=True
        )
        ax.set_aspect("equal")
        ax.set_title(f"1. localisations ({len(locs):,}; 30k shown)")
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    else:
        ax.axis("off")
        ax.set_title("1. (density map input)")
    ax = axes[0, 1]
    if a.field_density is not None and a.field_mask is not None:
        fd = a.field_density
        _image(
            ax,
            fd.values,
            fd.x,
            fd.y,
            "2. field: nuclei found (this one white)",
            vmax=_robust(fd.values)[1],
            label="loc/µm²",
            cmap="magma",
        )
        _contour(ax, a.field_mask, fd.x, fd.y, color="c")
        on_field = np.zeros(fd.shape, dtype=bool)
        i0 = round((x[0] - fd.x[0]) / fd.spacing)
        j0 = round((y[0] - fd.y[0]) / fd.spacing)
        on_field[i0 : i0 + x.size, j0 : j0 + y.size] = f.mask
        _contour(ax, on_field, fd.x, fd.y, color="w")
    else:
        _image(
            ax,
            a.density.values,
            x,
            y,
            f"2. density ({a.density.method}) + mask",
            vmax=_robust(a.density.values)[1],
            label="loc/µm²",
            cmap="magma",
        )
        _contour(ax, f.mask, x, y)
    ax = axes[0, 2]
    _image(
        ax,
        f.relative_density,
        x,
        y,
        f"3. ρ/ρ_ref (ρ_ref = {f.reference_density:.3g})",
        vmin=0,
        vmax=_robust(f.relative_density)[1],
        cmap="magma",
    )
    ax = axes[1, 0]
    _image(ax, np.where(f.mask, f.phi_h, np.nan), x, y, "4. φ_h (mapped)", vmin=0, vmax=0.8)
    ax = axes[1, 1]
    lo, hi = _robust(lam.smoothed)
    _image(
        ax,
        lam.smoothed,
        x,
        y,
        f"5. λ̂ (smoothed, width {lam.width_nm:.0f} nm)",
        vmin=lo,
        vmax=hi,
        cmap="coolwarm",
    )
    _contour(ax, f.mask, x, y, color="k")
    _histogram_axes(axes[1, 2], a, "6. λ̂ distribution")
    fig.suptitle(_title(a, a.name + (f"  [{a.condition}]" if a.condition else "")), fontsize=9)
    return _save(fig, path)


def _title(a: NucleusAnalysis, text: str) -> str:
    """``text`` with the quality status and, unless ``ok``, its reasons (wrapped)."""
    import textwrap

    q = a.quality
    if q is None or q.status == "ok":
        return text
    reasons = textwrap.fill("; ".join(q.reasons), 110)
    return f"{text}: {q.status.upper()}\n{reasons}"


def _histogram_axes(ax: Any, a: NucleusAnalysis, title: str) -> None:
    raw = a.lam.values(smoothed=False)
    sm = a.lam.values()
    lo, hi = _robust(raw, 0.5, 99.5)
    bins = np.linspace(lo if lo <= 0 else max(lo, 1e-6), hi, 50)
    ax.hist(raw, bins=bins, density=True, alpha=0.5, label="λ̂ (nodes)")
    median = float(np.median(raw))  # the summary row's (and the console's) lambda_median
    ax.axvline(median, color="k", lw=1.2, label=f"median λ̂ = {median:.4g}")
    ax.hist(sm, bins=bins, density=True, histtype="step", lw=1.2, label="λ̂ smoothed")
    if a.lognormal is not None:
        grid = np.linspace(bins[0], bins[-1], 300)
        ax.plot(
            grid,
            a.lognormal.pdf(grid),
            "k--",
            lw=1,
            label=f"lognormal fit to λ̂ > 0: median {a.lognormal.median:.3g}, "
            f"σ {a.lognormal.sigma:.2f}",
        )
    if a.truth is not None:
        t = a.truth.lam_at(a.lam.x, a.lam.y)[a.lam.valid]
        ax.hist(
            t[np.isfinite(t)],
            bins=bins,
            density=True,
            histtype="step",
            color="C3",
            lw=1.2,
            label="true λ",
        )
    ax.set_xlabel("λ (methylation / acetylation)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=7)


def plot_histogram(a: NucleusAnalysis, path: str | os.PathLike[str]) -> Path:
    """The λ̂ histogram (pointwise and smoothed) with the lognormal fit (and the truth)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    _histogram_axes(ax, a, _title(a, f"{a.name}: λ̂ distribution"))
    return _save(fig, path)


def plot_lambda(a: NucleusAnalysis, path: str | os.PathLike[str]) -> Path:
    """λ̂ pointwise and smoothed, plus the truth and the uncertainty when known."""
    plt = _pyplot()
    panels = 2 + (a.truth is not None) + (a.uncertainty is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6))
    lam, x, y = a.lam, a.lam.x, a.lam.y
    lo, hi = _robust(lam.smoothed)
    if a.truth is not None:
        t = a.truth.lam_at(x, y)
        lo, hi = _robust(np.concatenate([lam.smoothed[lam.valid], t[lam.valid]]))
    _image(axes[0], lam.lam, x, y, "λ̂ (pointwise)", vmin=lo, vmax=hi, cmap="coolwarm")
    _image(
        axes[1],
        lam.smoothed,
        x,
        y,
        "λ̂ smoothed to the kernel scale",
        vmin=lo,
        vmax=hi,
        cmap="coolwarm",
    )
    k = 2
    for ax in axes[:2]:
        _contour(ax, a.fields.mask, x, y, color="k")
    if a.truth is not None:
        t = np.where(a.fields.mask, a.truth.lam_at(x, y), np.nan)
        title = "true λ"
        if a.metrics:
            title += f" (r = {a.metrics['pearson']:.3f})"
        _image(axes[k], t, x, y, title, vmin=lo, vmax=hi, cmap="coolwarm")
        _contour(axes[k], lam.valid, x, y, color="k", style="--")
        k += 1
    if a.uncertainty is not None:
        _image(
            axes[k],
            a.uncertainty,
            x,
            y,
            f"uncertainty ({a.config.uncertainty})",
            cmap="viridis",
            label="sd of λ̂",
        )
    if a.quality is not None and a.quality.status != "ok":
        fig.suptitle(_title(a, a.name), fontsize=9)
    return _save(fig, path)


def plot_fields(a: NucleusAnalysis, path: str | os.PathLike[str]) -> Path:
    """The mapped fractions φ_w, φ_d, φ_h, φ_e inside the nucleus."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    f = a.fields
    for ax, (name, arr) in zip(
        axes, (("φ_w", f.phi_w), ("φ_d", f.phi_d), ("φ_h", f.phi_h), ("φ_e", f.phi_e)), strict=True
    ):
        lo, hi = _robust(np.where(f.mask, arr, np.nan))
        _image(ax, np.where(f.mask, arr, np.nan), f.x, f.y, name, vmin=lo, vmax=hi)
    if a.quality is not None and a.quality.status != "ok":
        fig.suptitle(_title(a, a.name), fontsize=9)
    return _save(fig, path)


def plot_comparison(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    include_unreliable: bool = False,
) -> Path:
    """Per-condition comparison of per-nucleus λ̂ medians and domain statistics (box + points)
    over the ``ok`` items (and the ``unreliable`` ones with ``include_unreliable``)."""
    plt = _pyplot()
    allowed = ("ok", "unreliable") if include_unreliable else ("ok",)
    ok = [r for r in rows if r.get("status", "ok") in allowed]
    conds = list(dict.fromkeys(str(r.get("condition", "")) for r in ok))
    metrics = [
        ("lambda_median", "median λ̂ per nucleus"),
        ("domain_diameter_nm", "domain diameter (nm)"),
        ("domain_density_per_um2", "domains per µm²"),
    ]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.0 * len(metrics), 3.4))
    rng = np.random.default_rng(0)
    for ax, (key, label) in zip(axes, metrics, strict=True):
        data = [
            [
                float(r[key])
                for r in ok
                if str(r.get("condition", "")) == c
                and r.get(key) not in (None, "")
                and np.isfinite(float(r[key]))
            ]
            for c in conds
        ]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(conds) + 1), [c or "(none)" for c in conds])
        for i, vals in enumerate(data, start=1):
            ax.plot(i + rng.uniform(-0.12, 0.12, len(vals)), vals, "o", ms=4, alpha=0.7)
        if key == "lambda_median":
            for i, c in enumerate(conds, start=1):
                true = [
                    _number(r.get("lambda_true_median"))
                    for r in ok
                    if str(r.get("condition", "")) == c
                ]
                true = [t for t in true if np.isfinite(t)]
                if true:
                    ax.plot(
                        np.full(len(true), i + 0.3),
                        true,
                        "x",
                        color="C3",
                        ms=6,
                        label="true median" if i == 1 else None,
                    )
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        ax.set_title(label)
    return _save(fig, path)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def plot_degradation(table: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Recovery against localisation count and precision: ``table`` rows hold ``study``
    (``"count"`` or ``"precision"``), ``expected`` (or ``localisations``), ``precision``,
    ``pearson`` and ``median_error``; several seeds per setting are averaged, with their range as
    error bars."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, study, key, xlabel in (
        (axes[0], "count", "localisations", "expected localisations per nucleus"),
        (axes[1], "precision", "precision", "localisation precision (nm)"),
    ):
        rows = [r for r in table if r.get("study") == study]
        if study == "count" and rows and "expected" in rows[0]:
            key = "expected"  # the setting, not each draw's realised count
        xs = sorted({float(r[key]) for r in rows})
        for metric, style, label in (
            ("pearson", "o-", "Pearson r (smoothed λ̂)"),
            ("median_error", "s--", "|median error|"),
        ):
            vals = [
                [
                    abs(float(r[metric]))
                    for r in rows
                    if float(r[key]) == xv and np.isfinite(float(r[metric]))
                ]
                or [float("nan")]
                for xv in xs
            ]
            mean = [float(np.mean(v)) for v in vals]
            lo = [m - float(np.min(v)) for m, v in zip(mean, vals, strict=True)]
            hi = [float(np.max(v)) - m for m, v in zip(mean, vals, strict=True)]
            ax.errorbar(xs, mean, yerr=[lo, hi], fmt=style, capsize=3, label=label)
        ax.axhline(0.8, color="C0", lw=0.6, ls=":")
        ax.axhline(0.1, color="C1", lw=0.6, ls=":")
        if study == "count":
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7)
    axes[0].set_title("fewer localisations")
    axes[1].set_title("worse precision")
    return _save(fig, path)
