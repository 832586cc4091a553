"""What the data can support: a status ``ok``, ``unreliable`` (with reasons) or ``failed`` per item.

Checks (thresholds are fields of :class:`QualityGate`):

* **Localisation density** against :func:`density_bound`, the density at which the counting
  noise of λ̂, propagated from the density estimator's variance through the mapping and the
  direct solver's formula, is ``tolerance`` × λ (the derivation is in ``docs/storm.md`` §
  Quality gate). Below it: ``unreliable``.
* **Non-positive λ̂.** λ is a positive rate ratio. A median λ̂ ≤ 0, or a majority of
  non-positive nodes: ``failed``; more than ``max_nonpositive_fraction`` of them: ``unreliable``.
* **Reported area.** Less than ``min_reported_fraction`` of the nucleus reported (the kernel
  is too wide for the nucleus): ``unreliable``.
* **Density contrast.** The mapping needs density variation: the noise-corrected coefficient
  of variation of the density inside the nucleus below ``min_contrast`` times that of the
  model's reference state: ``unreliable``.
* **Localisation precision** (when the file has it): a median above ``max_precision_fraction``
  of the kernel width: ``unreliable``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from mollifier.kernels import get_kernel, stencil
from mollifier.storm.calibration import reference_state
from mollifier.storm.mapping import DensityMapping

if TYPE_CHECKING:
    from mollifier.storm.pipeline import NucleusAnalysis

__all__ = [
    "STATUSES",
    "Quality",
    "QualityGate",
    "assess",
    "density_bound",
    "operator_stencils",
    "reference_contrast",
]

STATUSES = ("ok", "unreliable", "failed")


@dataclass(frozen=True)
class QualityGate:
    """Thresholds of the quality gate (see the module docstring).

    Parameters
    ----------
    tolerance : float
        Largest relative counting noise of λ̂ at a node, sd(λ̂)/λ (sets :func:`density_bound`).
    max_nonpositive_fraction : float
        Largest fraction of non-positive λ̂ nodes of an ``ok`` item.
    min_reported_fraction : float
        Smallest reported area / nucleus area of an ``ok`` item.
    min_contrast : float
        Smallest noise-corrected density coefficient of variation, relative to the model's
        reference state, of an ``ok`` item.
    max_precision_fraction : float
        Largest median localisation precision, as a fraction of the kernel width.
    """

    tolerance: float = 0.25
    max_nonpositive_fraction: float = 0.05
    min_reported_fraction: float = 0.2
    min_contrast: float = 0.5
    max_precision_fraction: float = 0.1

    def __post_init__(self) -> None:
        for name in ("tolerance", "min_contrast", "max_precision_fraction"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"QualityGate.{name} must be positive, got {value}")
        for name in ("max_nonpositive_fraction", "min_reported_fraction"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"QualityGate.{name} must be in [0, 1), got {value}")


@dataclass(frozen=True)
class Quality:
    """The gate's verdict on one item: ``status`` in :data:`STATUSES`, the ``reasons`` for a
    status other than ``ok``, and the measured ``checks``."""

    status: str
    reasons: tuple[str, ...] = ()
    checks: dict[str, float] = field(default_factory=dict)


def operator_stencils(
    *, spacing: float, width: float, kernel: str = "polybump"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D weights of the mollifier ``η_w``, its Laplacian ``Δη_w`` and its biharmonic
    ``Δ²η_w`` on a grid of ``spacing`` (tensor products of the 1-D stencils), so that
    ``Σ_j W_j f_j`` ≈ ``(W ∗ f)`` at a node (``spacing`` and ``width`` in one unit)."""
    k = get_kernel(kernel)
    s0, s2, s4 = (
        np.asarray(stencil(k, order, spacing=spacing, width=width, check=False))
        for order in (0, 2, 4)
    )
    eta = np.outer(s0, s0)
    lap = np.outer(s2, s0) + np.outer(s0, s2)
    bilap = np.outer(s4, s0) + 2.0 * np.outer(s2, s2) + np.outer(s0, s4)
    return eta, lap, bilap


@lru_cache(maxsize=32)
def _noise_factor(width_units: float, kernel: str, mapping: DensityMapping) -> tuple[float, float]:
    """``(q, r̄)``: the median over the model's reference state of ``q`` in
    ``Var(λ̂)/λ² = F q / (ρ_ref A)`` (``A`` the pixel area), and its mean relative density."""
    phi_h, phi_e, x = reference_state(mapping.model)
    rel = mapping.forward(phi_h, phi_e)
    h = float(x[1] - x[0])
    eta, lap, bilap = operator_stencils(spacing=h, width=width_units, kernel=kernel)
    model = mapping.model
    lam = 0.5  # the reference state's λ

    def terms(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ph, pe = mapping.invert(r)
        g = -pe + ph * (model.phi_max - ph) * (model.phi_max - 2 * ph)
        return ph - lam * pe, g, ph - pe

    dr = 1e-4
    up, down = terms(rel + dr), terms(rel - dr)
    a, dg, dd = ((u - d) / (2 * dr) for u, d in zip(up, down, strict=True))
    b = -0.5 * dg
    c = 0.5 * model.l**2 * dd

    def conv(f: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(ndimage.convolve(f, w[::-1, ::-1], mode="wrap"))

    var = (
        conv(rel * a * a, eta * eta)
        + conv(rel * b * b, lap * lap)
        + conv(rel * c * c, bilap * bilap)
        + 2 * conv(rel * a * b, eta * lap)
        + 2 * conv(rel * a * c, eta * bilap)
        + 2 * conv(rel * b * c, lap * bilap)
    )
    denom = conv(phi_e, eta)
    q = var / (lam * denom) ** 2
    return float(np.median(q)), float(np.mean(rel))


def density_bound(
    *,
    width: float,
    spacing: float,
    length_scale: float,
    mapping: DensityMapping | None = None,
    kernel: str = "polybump",
    blinking: float = 3.0,
    tolerance: float = 0.25,
) -> float:
    """Fewest localisations per µm² in a nucleus for which the counting noise of λ̂ at a node
    is at most ``tolerance`` × λ (lengths in nm; ``spacing`` only names the caller's grid,
    the bound does not depend on it).

    Derivation (``docs/storm.md`` § Quality gate): counts per pixel of area ``A`` are compound
    Poisson, mean ``ρ_ref r A`` and variance ``F ρ_ref r A`` with ``F = 2b − 1`` for a geometric
    number of detections per fluorophore of mean ``b`` (``blinking``), so the relative density
    ``r`` of a pixel has variance ``F r / (ρ_ref A)``. The direct solver's
    ``λ̂ = N / D``, ``N = η∗φ_h − ½ Δ(η∗g) + ½ l² Δ²(η∗φ_d)``, ``D = η∗φ_e`` with the fields
    pointwise functions of ``r`` (the mapping), so to first order
    ``δλ̂ = Σ_j (a_j η + b_j Δη + c_j Δ²η)(x − x_j) δr_j / D`` with ``a = φ_h' − λ φ_e'``,
    ``b = −½ g'``, ``c = ½ l² φ_d'``, and ``Var(λ̂)/λ² = F q / (ρ_ref A)`` where
    ``q = Σ_j r_j (a_j η + b_j Δη + c_j Δ²η)² / (λ D)²``. ``q`` is evaluated on the model's
    reference state (median over nodes); ``Var/λ² ≤ tolerance²`` gives
    ``ρ_ref ≥ F q / (A tolerance²)``, returned as the nucleus mean ``r̄ ρ_ref``.
    With ``tolerance = 0.5`` about Φ(−2) ≈ 2 % of the nodes fall at or below zero by noise.

    Examples
    --------
    >>> b = density_bound(width=600.0, spacing=30.0, length_scale=300.0)
    >>> b < density_bound(width=450.0, spacing=30.0, length_scale=300.0)  # wider: less noise
    True
    """
    del spacing
    m = DensityMapping() if mapping is None else mapping
    q, rbar = _noise_factor(round(width / length_scale, 9), kernel, m)
    _, _, x = reference_state(m.model)
    area_nm2 = (float(x[1] - x[0]) * length_scale) ** 2
    fano = 2.0 * blinking - 1.0
    return rbar * fano * q / (area_nm2 * tolerance**2) * 1e6


@lru_cache(maxsize=8)
def reference_contrast(mapping: DensityMapping | None = None) -> float:
    """Coefficient of variation of the label density of the model's reference state."""
    m = DensityMapping() if mapping is None else mapping
    phi_h, phi_e, _ = reference_state(m.model)
    label = m.forward(phi_h, phi_e)
    return float(np.std(label) / np.mean(label))


def assess(a: NucleusAnalysis, gate: QualityGate | None = None) -> Quality:
    """Run the checks of the module docstring on an analysed item."""
    g = QualityGate() if gate is None else gate
    cfg = a.config
    failed: list[str] = []
    unreliable: list[str] = []
    raw = a.lam.values(smoothed=False)
    checks: dict[str, float] = {}
    median = float(np.median(raw)) if raw.size else float("nan")
    nonpos = float(np.mean(raw <= 0)) if raw.size else 1.0
    checks["lambda_median"] = median
    checks["nonpositive_fraction"] = nonpos
    if not median > 0:
        failed.append(f"median λ̂ = {median:.3g} is not positive (λ is a positive rate ratio)")
    if nonpos >= 0.5:
        failed.append(f"{100 * nonpos:.0f}% of the reported λ̂ nodes are non-positive")
    elif nonpos > g.max_nonpositive_fraction:
        unreliable.append(
            f"{100 * nonpos:.1f}% of the λ̂ nodes are non-positive "
            f"(> {100 * g.max_nonpositive_fraction:g}%)"
        )
    mask = a.segmentation.mask
    reported = float(a.lam.valid.sum()) / max(float(mask.sum()), 1.0)
    checks["reported_fraction"] = reported
    if reported < g.min_reported_fraction:
        unreliable.append(
            f"only {100 * reported:.0f}% of the nucleus is reported (< "
            f"{100 * g.min_reported_fraction:g}%): the kernel is wide for this nucleus"
        )
    h_um = a.density.spacing * 1e-3
    area_um2 = float(mask.sum()) * h_um**2
    if a.localisations is not None:
        locs = a.localisations
        inside = _inside(locs.x, locs.y, a.density.x, a.density.y, mask)
        n_in = float(inside.sum()) - a.segmentation.background * area_um2
        rho = max(n_in, 0.0) / max(area_um2, 1e-12)
        bound = density_bound(
            width=a.lam.width_nm,
            spacing=a.density.spacing,
            length_scale=cfg.length_scale,
            mapping=cfg.mapping,
            kernel=cfg.inference.kernel,
            blinking=cfg.blinking,
            tolerance=g.tolerance,
        )
        checks["localisations_in_nucleus"] = float(inside.sum())
        checks["density_per_um2"] = rho
        checks["density_bound_per_um2"] = bound
        if rho < bound:
            unreliable.append(
                f"{rho:.3g} localisations/µm² in the nucleus, below the {bound:.3g} at which "
                f"a {a.lam.width_nm:.0f} nm kernel keeps the counting noise of λ̂ under "
                f"{100 * g.tolerance:g}% of λ"
            )
        if locs.uncertainty is not None and inside.any():
            prec = float(np.median(locs.uncertainty[inside]))
            checks["precision_nm"] = prec
            if prec > g.max_precision_fraction * a.lam.width_nm:
                unreliable.append(
                    f"median localisation precision {prec:.0f} nm exceeds "
                    f"{g.max_precision_fraction:g} × the kernel width ({a.lam.width_nm:.0f} nm)"
                )
        contrast = _contrast(a, rho)
        need = g.min_contrast * reference_contrast(cfg.mapping)
        checks["density_contrast"] = contrast
        checks["density_contrast_needed"] = need
        if not contrast >= need:
            unreliable.append(
                f"density contrast {contrast:.3g} (noise-corrected coefficient of variation) "
                f"below the {need:.3g} the mapping needs"
            )
    if failed:
        return Quality("failed", tuple(failed + unreliable), checks)
    if unreliable:
        return Quality("unreliable", tuple(unreliable), checks)
    return Quality("ok", (), checks)


def _inside(
    x: np.ndarray, y: np.ndarray, gx: np.ndarray, gy: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    h = float(gx[1] - gx[0])
    i = np.floor((x - gx[0]) / h + 0.5).astype(np.int64)
    j = np.floor((y - gy[0]) / h + 0.5).astype(np.int64)
    ok = (i >= 0) & (i < gx.size) & (j >= 0) & (j < gy.size)
    out = np.zeros(x.size, dtype=bool)
    out[ok] = mask[i[ok], j[ok]]
    return out


def _contrast(a: NucleusAnalysis, rho: float) -> float:
    """Coefficient of variation of the density inside the nucleus minus its counting-noise
    part ``F / (ρ · 4π σ²)`` (Gaussian smoothing of standard deviation σ = bandwidth)."""
    vals = a.density.values[a.segmentation.mask]
    vals = vals[np.isfinite(vals)]
    if vals.size < 10 or not np.mean(vals) > 0:
        return float("nan")
    cv2 = float(np.var(vals) / np.mean(vals) ** 2)
    sigma_um = max(a.density.bandwidth_nm, 0.5 * a.density.spacing) * 1e-3
    fano = 2.0 * a.config.blinking - 1.0
    noise = fano / (max(rho, 1e-12) * 4.0 * math.pi * sigma_um**2)
    return math.sqrt(max(cv2 - noise, 0.0))


def quality_row(q: Quality) -> dict[str, Any]:
    """The quality columns of a ``summary.csv`` row."""
    return {"status": q.status, "reasons": "; ".join(q.reasons), **q.checks}
