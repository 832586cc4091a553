"""Summary statistics of a chromatin pattern, to compare simulations with each other and with data.

:func:`pattern_statistics` reads any pair ``(φ_w, φ_d)`` on a uniform grid: the output of
:func:`~mollifier.sim.simulate_chromatin`, a COMSOL export or fractions mapped from an image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from mollifier.sim._chromatin_model import (
    dominant_wavelength,
    fractions,
    label_centroids,
    merge_periodic_labels,
)

__all__ = ["pattern_statistics"]


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def pattern_statistics(
    phi_w: np.ndarray,
    phi_d: np.ndarray,
    spacing: float | Sequence[float],
    *,
    threshold: float = 0.35,
    margin: int = 0,
    periodic: bool = False,
) -> dict[str, float]:
    """Summary statistics of a heterochromatin pattern, for comparing simulations and data.

    Heterochromatin domains are the 4-connected components of ``φ_h > threshold`` with
    ``φ_h = (1 - φ_w + φ_d)/2`` (default: half of the model's ``φ_max = 0.7``). Components are
    labelled on the whole field (merged across opposite edges if ``periodic``) and a domain is
    counted when its centroid lies inside the window left after removing ``margin`` nodes at
    every edge, so cut-off domains at the window edge are neither lost nor double-counted. All
    other statistics use the window only.

    Parameters
    ----------
    phi_w, phi_d : ndarray
        Fields of shape ``(nx, ny)`` indexed ``[x, y]``.
    spacing : float or (float, float)
        Node spacing per axis, in length units.
    threshold : float
        ``φ_h`` level that defines a heterochromatin domain.
    margin : int
        Nodes excluded at every edge (e.g. boundary layers of a non-periodic solver).
    periodic : bool
        Treat the fields as periodic (label across edges, no spectral window).

    Returns
    -------
    dict
        ``mean_phi_w``; ``area_fraction`` (of ``φ_h > threshold``); ``domain_count`` and
        ``domain_density`` (per unit area); ``dominant_wavelength``, ``2π/k*`` with ``k*`` the
        peak of the radially averaged power spectrum of ``φ_d``: the shell (width ``2π/L``) of
        largest mean power is found, and ``k*`` is the power-weighted mean ``|k|`` over it and
        its two neighbours (a Hann window is applied when not periodic; NaN for a flat field);
        robust ranges ``phi_w_p01``, ``phi_w_p99``, ``phi_d_p01``, ``phi_d_p99`` (1st/99th
        percentiles) and ``phi_w_range``, ``phi_d_range`` (their differences).

    Examples
    --------
    >>> x = np.arange(64) * 0.1
    >>> d = 0.3 * np.cos(2 * np.pi * x[:, None] / 1.6) + 0 * x[None, :]
    >>> s = pattern_statistics(0.5 - d, d, 0.1, periodic=True)
    >>> round(s["dominant_wavelength"], 6), s["domain_count"]
    (1.6, 4.0)
    """
    w = np.asarray(phi_w, dtype=float)
    d = np.asarray(phi_d, dtype=float)
    if w.ndim != 2 or w.shape != d.shape:
        raise ValueError(f"phi_w and phi_d must be 2-D of equal shape, got {w.shape}, {d.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(d))):
        raise ValueError("phi_w and phi_d must be finite")
    steps = np.broadcast_to(np.asarray(spacing, dtype=float), (2,))
    hx, hy = float(steps[0]), float(steps[1])
    _positive("spacing", hx)
    _positive("spacing", hy)
    m = int(margin)
    nx, ny = w.shape
    if m < 0 or nx - 2 * m < 8 or ny - 2 * m < 8:
        raise ValueError(f"margin {margin} leaves fewer than 8 nodes of the {w.shape} grid")
    phi_h = fractions(w, d)[0]
    mask = phi_h > threshold
    labels, count = ndimage.label(mask)
    if periodic and count:
        labels = merge_periodic_labels(labels, count)
        count = int(labels.max())
    inside = 0
    if count:
        cen = label_centroids(labels, count, periodic)
        ok = (cen >= m - 0.5) & (cen < np.array([nx - m, ny - m]) - 0.5)
        inside = int(np.sum(ok.all(axis=1)))
    win = (slice(m, nx - m), slice(m, ny - m))
    area = (nx - 2 * m) * hx * (ny - 2 * m) * hy
    wc, dc = w[win], d[win]
    pw = np.percentile(wc, [1, 99])
    pd = np.percentile(dc, [1, 99])
    return {
        "mean_phi_w": float(wc.mean()),
        "area_fraction": float(mask[win].mean()),
        "domain_count": float(inside),
        "domain_density": inside / area,
        "dominant_wavelength": dominant_wavelength(dc, (hx, hy), window=not periodic),
        "phi_w_p01": float(pw[0]),
        "phi_w_p99": float(pw[1]),
        "phi_d_p01": float(pd[0]),
        "phi_d_p99": float(pd[1]),
        "phi_w_range": float(pw[1] - pw[0]),
        "phi_d_range": float(pd[1] - pd[0]),
    }
