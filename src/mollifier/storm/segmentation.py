"""Nucleus segmentation: a density threshold or an alpha shape, holes (nucleoli) allowed.

Both methods return a :class:`Segmentation` whose ``mask`` lives on the density map's pixels:

* ``"threshold"``: the density, smoothed by a Gaussian of ``smoothing`` nm (larger than the
  chromatin pattern, so domains and gaps merge), above ``threshold_fraction`` (default ½) times
  the nucleus level (the median smoothed density over the pixels above a quarter of its 90th
  percentile), or above an absolute ``threshold``. Half the level is where a blurred step
  crosses, so the mask edge sits on the nuclear envelope and on the rim of a nucleolus, not a
  blur width outside them; background localisations are far sparser and do not matter.
* ``"alpha"``: the union of Delaunay triangles of the localisations whose circumradius is below
  ``alpha`` (nm), rasterised as the pixels it covers at least half (3 × 3 pixel average). By
  default ``alpha`` is 1.5 mean spacings at the threshold density above, so background points,
  being sparser, are left out.

Either way only the largest connected component is kept, holes smaller than ``min_hole_area``
are filled and larger ones (nucleoli) kept, and the edge is smoothed by a morphological opening.
The background density (for subtraction before the mapping) is the mean density of the pixels
farther than ``smoothing`` from the mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mollifier.storm.density import DensityMap
from mollifier.storm.localisations import LocalisationError, Localisations

__all__ = [
    "SEGMENTATION_METHODS",
    "Segmentation",
    "alpha_shape_mask",
    "segment_nuclei",
    "segment_nucleus",
]

SEGMENTATION_METHODS = ("threshold", "alpha")


@dataclass(frozen=True)
class Segmentation:
    """A nucleus mask and how it was found.

    Attributes
    ----------
    mask : ndarray of bool
        Nucleus pixels on the density map's grid.
    method : str
    threshold : float
        Density threshold used (map units), also for ``"alpha"`` (it sets ``alpha``).
    background : float
        Mean density outside the nucleus (0 when the image has fewer than 50 such pixels).
    components : int
        Connected components above threshold before keeping the largest.
    holes : int
        Holes kept (e.g. nucleoli).
    alpha : float
        Alpha radius in nm (NaN for ``"threshold"``).
    """

    mask: np.ndarray
    method: str
    threshold: float
    background: float
    components: int
    holes: int
    alpha: float = float("nan")

    @property
    def area_pixels(self) -> int:
        return int(self.mask.sum())


def _disk(radius: int) -> np.ndarray:
    r = max(int(radius), 0)
    g = np.arange(-r, r + 1)
    return (g[:, None] ** 2 + g[None, :] ** 2) <= r * r


def _clean(
    mask: np.ndarray, *, min_hole_pixels: int, open_radius: int
) -> tuple[np.ndarray, int, int]:
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask, 0, 0
    sizes = np.bincount(labels.ravel())[1:]
    keep = labels == (int(np.argmax(sizes)) + 1)
    if open_radius > 0:
        opened = ndimage.binary_opening(keep, structure=_disk(open_radius))
        lab2, n2 = ndimage.label(opened)
        if n2:
            s2 = np.bincount(lab2.ravel())[1:]
            keep = lab2 == (int(np.argmax(s2)) + 1)
    holes = ndimage.binary_fill_holes(keep) & ~keep
    hl, nh = ndimage.label(holes)
    kept = 0
    if nh:
        hsizes = np.bincount(hl.ravel())[1:]
        small = np.isin(hl, np.flatnonzero(hsizes < min_hole_pixels) + 1)
        keep = keep | small
        kept = int(np.sum(hsizes >= min_hole_pixels))
    return keep, count, kept


def alpha_shape_mask(
    locs: Localisations,
    x: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float,
    max_points: int = 200_000,
    seed: int = 0,
) -> np.ndarray:
    """Pixels (centres ``x``, ``y`` in nm) at least half covered by the Delaunay triangles of
    circumradius below ``alpha`` (the alpha shape).

    At most ``max_points`` localisations (a seeded random subset) are triangulated; ``alpha``
    should then be judged at the subset's density.
    """
    from scipy.spatial import Delaunay

    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive number of nm, got {alpha}")
    n = len(locs)
    if n < 3:
        raise LocalisationError("an alpha shape needs at least 3 localisations")
    idx = (
        np.arange(n)
        if n <= max_points
        else np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    )
    pts = np.column_stack([locs.x[idx], locs.y[idx]])
    tri = Delaunay(pts)
    p = pts[tri.simplices]
    a = np.linalg.norm(p[:, 1] - p[:, 2], axis=1)
    b = np.linalg.norm(p[:, 0] - p[:, 2], axis=1)
    c = np.linalg.norm(p[:, 0] - p[:, 1], axis=1)
    area = 0.5 * np.abs(
        (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
        - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = np.where(area > 0, a * b * c / (4.0 * np.maximum(area, 1e-300)), np.inf)
    good = radius < alpha
    # Rasterise by coverage: each kept triangle's area goes to the pixel of its centroid;
    # triangles are much smaller than pixels inside a nucleus, so the covered fraction of a
    # pixel is its kept area over the pixel area (smoothed over one pixel).
    h = float(x[1] - x[0])
    cx = p[good, :, 0].mean(axis=1)
    cy = p[good, :, 1].mean(axis=1)
    ix = np.floor((cx - x[0]) / h + 0.5).astype(np.int64)
    iy = np.floor((cy - y[0]) / h + 0.5).astype(np.int64)
    ok = (ix >= 0) & (ix < x.size) & (iy >= 0) & (iy < y.size)
    cover = np.bincount(
        ix[ok] * y.size + iy[ok], weights=area[good][ok], minlength=x.size * y.size
    ).reshape(x.size, y.size) / (h * h)
    cover = ndimage.uniform_filter(cover, size=3, mode="constant")
    return cover > 0.5


def segment_nucleus(
    density: DensityMap,
    *,
    method: str = "threshold",
    locs: Localisations | None = None,
    smoothing: float = 150.0,
    threshold: float | None = None,
    threshold_fraction: float = 0.5,
    alpha: float | None = None,
    min_hole_area: float = 250_000.0,
) -> Segmentation:
    """Segment the nucleus on the density map's grid.

    Parameters
    ----------
    density : DensityMap
        Localisation density (NaN = no data).
    method : {"threshold", "alpha"}
        See the module docstring; ``"alpha"`` needs ``locs``.
    locs : Localisations, optional
        The localisations (for ``"alpha"``).
    smoothing : float
        Gaussian smoothing (nm) before thresholding; also the opening radius is a third of it.
    threshold : float, optional
        Absolute density threshold (map units); default ``threshold_fraction`` × the nucleus
        level, the median smoothed density over pixels above a quarter of its 90th percentile.
    threshold_fraction : float
        See ``threshold``.
    alpha : float, optional
        Alpha radius (nm) for ``"alpha"``.
    min_hole_area : float
        Holes smaller than this (nm²) are filled; larger ones are kept as non-nucleus.

    Raises
    ------
    ValueError
        If nothing is above the threshold, or the method is unknown.
    """
    if method not in SEGMENTATION_METHODS:
        raise ValueError(f"method must be one of {SEGMENTATION_METHODS}, got {method!r}")
    h = density.spacing
    vals = np.nan_to_num(density.values, nan=0.0)
    sm = ndimage.gaussian_filter(vals, smoothing / h, mode="nearest") if smoothing > 0 else vals
    if threshold is None:
        p90 = float(np.percentile(sm, 90))
        bulk = sm[sm > 0.25 * p90]
        level = float(np.median(bulk)) if bulk.size else p90
        thr = threshold_fraction * level
    else:
        thr = float(threshold)
    if not thr > 0:
        raise ValueError(
            f"{density.source or 'density'}: the density is zero almost everywhere; there is no "
            "nucleus to segment"
        )
    min_hole_pixels = max(1, round(min_hole_area / (h * h)))
    open_radius = max(1, round(smoothing / (3 * h)))
    a_used = float("nan")
    if method == "threshold":
        raw = sm > thr
    else:
        if locs is None:
            raise ValueError("the alpha-shape segmentation needs the localisations (locs=...)")
        n_used = min(len(locs), 200_000)
        frac = n_used / max(len(locs), 1)
        a_used = alpha if alpha is not None else 1.5 / math.sqrt(frac * thr * 1e-6)
        raw = alpha_shape_mask(locs, density.x, density.y, alpha=a_used)
    raw &= np.isfinite(density.values)
    if not raw.any():
        raise ValueError(
            f"{density.source or 'density'}: no pixel is above the segmentation threshold "
            f"{thr:.4g}; the nucleus may be empty or the threshold wrong"
        )
    mask, count, holes = _clean(raw, min_hole_pixels=min_hole_pixels, open_radius=open_radius)
    if not mask.any():
        raise ValueError(
            f"{density.source or 'density'}: the nucleus vanished after removing features "
            f"smaller than {smoothing:g} nm; it is smaller than the segmentation smoothing"
        )
    far = ndimage.distance_transform_edt(~mask) * h > max(smoothing, 3 * h)
    far &= np.isfinite(density.values)
    background = float(np.mean(density.values[far])) if far.sum() >= 50 else 0.0
    return Segmentation(
        mask=mask,
        method=method,
        threshold=thr,
        background=background,
        components=count,
        holes=holes,
        alpha=a_used,
    )


#: Defaults of :func:`segment_nuclei`'s criteria.
MIN_NUCLEUS_AREA_NM2 = 2.0e6
MIN_SOLIDITY = 0.8
MIN_RELATIVE_DENSITY = 0.3


def _solidity(mask: np.ndarray) -> float:
    """Area over convex-hull area of a pixel mask (holes filled)."""
    from scipy.spatial import ConvexHull, QhullError

    filled = ndimage.binary_fill_holes(mask)
    ii, jj = np.nonzero(filled)
    if ii.size < 3:
        return 0.0
    corners = np.concatenate(
        [np.column_stack([ii + di, jj + dj]) for di in (-0.5, 0.5) for dj in (-0.5, 0.5)]
    )
    try:
        hull = ConvexHull(corners)
    except QhullError:
        return 0.0
    return float(filled.sum()) / float(hull.volume)


def _inside_rim(ring: np.ndarray) -> np.ndarray:
    """The region a rim (an envelope label's ring) encloses, up to the rim's middle: the
    enclosed pixels plus the ring pixels nearer to them than to the outside."""
    filled = ndimage.binary_fill_holes(ring)
    interior = filled & ~ring
    if not interior.any():
        return np.zeros_like(ring)
    d_in = ndimage.distance_transform_edt(~interior)
    d_out = ndimage.distance_transform_edt(filled)
    return np.asarray(interior | (ring & (d_in <= d_out)))


def segment_nuclei(
    density: DensityMap,
    *,
    method: str = "threshold",
    locs: Localisations | None = None,
    smoothing: float = 150.0,
    threshold: float | None = None,
    threshold_fraction: float = 0.5,
    alpha: float | None = None,
    min_hole_area: float = 250_000.0,
    min_area: float = MIN_NUCLEUS_AREA_NM2,
    min_solidity: float = MIN_SOLIDITY,
    min_relative_density: float = MIN_RELATIVE_DENSITY,
    fill_holes: bool = False,
) -> list[Segmentation]:
    """Every nucleus of a field of view, in the order of their first pixel (scanning ``x``,
    then ``y``).

    The pixels above the threshold (as :func:`segment_nucleus`) are split into connected
    components; each is opened and its small holes filled; with ``fill_holes`` (a
    nuclear-envelope mask channel) each component is a rim and the nucleus is what it
    encloses, up to the rim's middle. A component is kept as a nucleus if

    * its area is at least ``min_area`` nm² (default 2 µm², smaller blobs are debris or
      fragments);
    * its solidity (area over convex-hull area, holes filled) is at least ``min_solidity``
      (default 0.8; touching nuclei or irregular clusters are rejected rather than analysed as
      one);
    * its mean density is at least ``min_relative_density`` (default 0.3) times that of the
      densest kept component (dim debris, out-of-focus cells).

    Each :class:`Segmentation` has the field's background (the mean density farther than
    ``smoothing`` from every nucleus) and ``components`` = the number of candidate components.

    Raises
    ------
    ValueError
        If no component passes (the message gives each candidate's area and solidity).
    """
    base = segment_nucleus(
        density,
        method=method,
        locs=locs,
        smoothing=smoothing,
        threshold=threshold,
        threshold_fraction=threshold_fraction,
        alpha=alpha,
        min_hole_area=min_hole_area,
    )
    h = density.spacing
    vals = np.nan_to_num(density.values, nan=0.0)
    sm = ndimage.gaussian_filter(vals, smoothing / h, mode="nearest") if smoothing > 0 else vals
    if method == "threshold":
        raw = sm > base.threshold
    else:
        assert locs is not None
        raw = alpha_shape_mask(locs, density.x, density.y, alpha=base.alpha)
    raw &= np.isfinite(density.values)
    labels, count = ndimage.label(raw)
    min_hole_pixels = max(1, round(min_hole_area / (h * h)))
    open_radius = max(1, round(smoothing / (3 * h)))
    candidates = []
    described = []
    for k in range(1, count + 1):
        comp = labels == k
        if comp.sum() * h * h < 0.25 * min_area:
            continue
        if fill_holes:
            mask, holes = _inside_rim(comp), 0
        else:
            mask, _, holes = _clean(comp, min_hole_pixels=min_hole_pixels, open_radius=open_radius)
        area = float(mask.sum()) * h * h
        solidity = _solidity(mask)
        level = float(np.mean(sm[mask])) if mask.any() else 0.0
        described.append(f"{area / 1e6:.2f} µm² (solidity {solidity:.2f})")
        if area >= min_area and solidity >= min_solidity:
            candidates.append((mask, holes, level))
    if not candidates:
        raise ValueError(
            f"{density.source or 'density'}: no nucleus passes the criteria (area >= "
            f"{min_area / 1e6:g} µm², solidity >= {min_solidity:g}); candidates: "
            f"{', '.join(described) or 'none'}"
        )
    top = max(level for _, _, level in candidates)
    kept = [(m, holes) for m, holes, level in candidates if level >= min_relative_density * top]
    union = np.zeros_like(raw)
    for m, _ in kept:
        union |= m
    far = ndimage.distance_transform_edt(~union) * h > max(smoothing, 3 * h)
    far &= np.isfinite(density.values)
    background = float(np.mean(density.values[far])) if far.sum() >= 50 else 0.0
    return [
        Segmentation(
            mask=m,
            method=method,
            threshold=base.threshold,
            background=background,
            components=count,
            holes=holes,
            alpha=base.alpha,
        )
        for m, holes in kept
    ]
