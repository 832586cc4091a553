"""Localisations to a density on a regular grid: Voronoi (Delaunay dual) and kernel estimates.

Both estimators return a :class:`DensityMap` in localisations per µm² on pixel centres in nm.

* **Voronoi** (the chromatin-imaging literature's choice, e.g. SR-Tesseler): every localisation
  gets the area ``A_i`` of its Voronoi cell (:func:`voronoi_areas`, exact; unbounded cells on the
  convex hull are left out). The pixel value is the ratio estimator
  ``ρ = (G ∗ n) / (G ∗ ΣA)``: the number of localisations over the total cell area of those
  localisations, both smoothed by the same Gaussian ``G`` (standard deviation ``smoothing``).
  Averaging ``1/A_i`` instead would be biased (``E[1/A] ≈ 1.4 ρ`` for a Poisson process).
* **Kernel** (KDE): the 2-D histogram of positions divided by the pixel area, smoothed by a
  Gaussian of standard deviation ``bandwidth``.

Either way the map is the true density blurred by the localisation precision and the estimator's
own smoothing: ``σ_eff² ≈ precision² + smoothing²``; :attr:`DensityMap.bandwidth_nm` records the
estimator's part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from mollifier.grid import Grid
from mollifier.storm.localisations import LocalisationError, Localisations

__all__ = [
    "DENSITY_METHODS",
    "DensityMap",
    "estimate_density",
    "kernel_density",
    "pixel_grid",
    "voronoi_areas",
    "voronoi_density",
]

#: Density estimators by name (for configuration files and the CLI).
DENSITY_METHODS = ("kde", "voronoi")


@dataclass(frozen=True)
class DensityMap:
    """A density (or intensity) image on square pixels: ``values[i, j]`` at ``(x[i], y[j])``.

    Parameters
    ----------
    x, y : ndarray
        Uniform pixel-centre coordinates in nm, increasing, with equal spacing on both axes.
    values : ndarray, shape (len(x), len(y))
        Density, localisations per µm² for estimates (any non-negative unit for images read from
        files). NaN marks pixels without data, which segmentation treats as outside the nucleus.
    method : str
        ``"kde"``, ``"voronoi"`` or ``"file"``.
    bandwidth_nm : float
        Standard deviation of the smoothing the estimator added (0 for files).
    source : str
        Origin (file name), for messages.
    meta : dict
        Estimator facts (localisations used, timings).

    Raises
    ------
    ValueError
        If the coordinates are not uniform, the pixels are not square, or the shape is wrong.
    """

    x: np.ndarray
    y: np.ndarray
    values: np.ndarray
    method: str = "file"
    bandwidth_nm: float = 0.0
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grid = Grid(x=np.asarray(self.x, dtype=float), y=np.asarray(self.y, dtype=float))
        values = np.asarray(self.values, dtype=np.float64)
        grid.check_array("density values", values)
        hx, hy = grid.spacing["x"], grid.spacing["y"]
        if abs(hx - hy) > 1e-6 * max(hx, hy):
            raise ValueError(
                f"{self.source or 'density map'}: pixels must be square, got spacing {hx:g} nm "
                f"along x and {hy:g} nm along y; resample the image first"
            )
        object.__setattr__(self, "x", grid["x"])
        object.__setattr__(self, "y", grid["y"])
        object.__setattr__(self, "values", values)

    @property
    def spacing(self) -> float:
        """Pixel size in nm."""
        return float(self.x[1] - self.x[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.x.size), int(self.y.size))

    def grid(self, *, length_scale: float = 1.0) -> Grid:
        """The pixel grid with coordinates divided by ``length_scale`` (nm per model unit)."""
        return Grid(x=self.x / length_scale, y=self.y / length_scale)


def pixel_grid(
    locs: Localisations, *, spacing: float, margin: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres (nm) covering the localisations plus ``margin`` (default 4 pixels) per side.

    The grid is anchored at a multiple of ``spacing``, so tables that share a frame share pixels.
    """
    if not (math.isfinite(spacing) and spacing > 0):
        raise ValueError(f"spacing must be a positive number of nm, got {spacing}")
    if len(locs) == 0:
        raise LocalisationError(f"{locs.source or 'localisations'}: the table is empty")
    pad = 4 * spacing if margin is None else float(margin)
    axes = []
    for v in (locs.x, locs.y):
        lo = math.floor((float(v.min()) - pad) / spacing)
        hi = math.ceil((float(v.max()) + pad) / spacing)
        axes.append(np.arange(lo, hi + 1) * spacing)
    n_pixels = axes[0].size * axes[1].size
    if n_pixels > 40_000_000:
        raise ValueError(
            f"a {spacing:g} nm grid over the localisations would have {n_pixels} pixels; the "
            "coordinates span too much (wrong unit?) or the spacing is too fine"
        )
    return axes[0], axes[1]


def _bin_index(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    h = axis[1] - axis[0]
    return np.floor((v - axis[0]) / h + 0.5).astype(np.int64)


def _counts(
    locs: Localisations, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    ix, iy = _bin_index(locs.x, x), _bin_index(locs.y, y)
    keep = (ix >= 0) & (ix < x.size) & (iy >= 0) & (iy < y.size)
    flat = ix[keep] * y.size + iy[keep]
    w = None if weights is None else weights[keep]
    counts = np.bincount(flat, weights=w, minlength=x.size * y.size)
    return counts.astype(np.float64).reshape(x.size, y.size)


def kernel_density(
    locs: Localisations,
    *,
    spacing: float = 30.0,
    bandwidth: float = 15.0,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> DensityMap:
    """Histogram-plus-Gaussian kernel density, in localisations per µm².

    ``ρ = G_b ∗ (counts / spacing²)`` with ``G_b`` a Gaussian of standard deviation
    ``bandwidth`` (nm; 0 for the bare histogram), zero outside the image. The integral of ``ρ``
    over the image equals the number of localisations (up to mass smoothed over the edge).

    Parameters
    ----------
    locs : Localisations
    spacing : float
        Pixel size in nm.
    bandwidth : float
        Gaussian smoothing in nm (>= 0).
    x, y : ndarray, optional
        Pixel centres (nm) to use instead of :func:`pixel_grid`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> locs = Localisations(x=rng.uniform(0, 2000, 40000), y=rng.uniform(0, 2000, 40000))
    >>> d = kernel_density(locs, spacing=50.0, bandwidth=50.0)
    >>> round(float(np.median(d.values[10:-10, 10:-10])) / 10000, 1)  # 40000 / 4 µm²
    1.0
    """
    if not (math.isfinite(bandwidth) and bandwidth >= 0):
        raise ValueError(f"bandwidth must be a non-negative number of nm, got {bandwidth}")
    if x is None or y is None:
        x, y = pixel_grid(locs, spacing=spacing)
    h = float(x[1] - x[0])
    dens = _counts(locs, x, y) / (h * 1e-3) ** 2
    if bandwidth > 0:
        dens = ndimage.gaussian_filter(dens, bandwidth / h, mode="constant", truncate=4.0)
    return DensityMap(
        x=x,
        y=y,
        values=dens,
        method="kde",
        bandwidth_nm=float(bandwidth),
        source=locs.source,
        meta={"localisations": len(locs)},
    )


def voronoi_areas(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Area (nm²) of each point's Voronoi cell; ``inf`` for cells that are unbounded or reach
    outside the points' bounding box (along the hull).

    Vectorised over ridges: a bounded cell is the union of the triangles spanned by its point and
    each of its ridges (the Voronoi edges it shares with a neighbour), so every finite ridge
    ``(v₁, v₂)`` between points ``p`` and ``q`` adds ``|(v₁ − p) × (v₂ − p)|/2`` to ``p``'s
    area and the same with ``q`` to ``q``'s. Cells with an infinite ridge are unbounded. Exact
    duplicates share one cell (Qhull keeps one); the others get ``inf`` too.

    Examples
    --------
    >>> i, j = np.meshgrid(np.arange(12), np.arange(12))
    >>> px, py = (i + 0.5 * (j % 2)).ravel(), (j * np.sqrt(3) / 2).ravel()
    >>> a = voronoi_areas(px, py)
    >>> bool(np.allclose(a[np.isfinite(a)], np.sqrt(3) / 2))  # hexagonal lattice, spacing 1
    True
    """
    from scipy.spatial import QhullError, Voronoi

    pts = np.column_stack([px, py])
    try:
        vor = Voronoi(pts)
    except QhullError as exc:
        raise LocalisationError(
            f"cannot tessellate the localisations (all collinear or too few): {exc}"
        ) from None
    ridge_p = np.asarray(vor.ridge_points)
    ridge_v = np.asarray(vor.ridge_vertices)
    finite = np.all(ridge_v >= 0, axis=1)
    n = len(pts)
    area = np.zeros(n)
    v1 = vor.vertices[ridge_v[finite, 0]]
    v2 = vor.vertices[ridge_v[finite, 1]]
    for side in (0, 1):
        p = pts[ridge_p[finite, side]]
        tri = 0.5 * np.abs(
            (v1[:, 0] - p[:, 0]) * (v2[:, 1] - p[:, 1])
            - (v2[:, 0] - p[:, 0]) * (v1[:, 1] - p[:, 1])
        )
        area += np.bincount(ridge_p[finite, side], weights=tri, minlength=n)
    # Cells that are unbounded, or reach beyond the points' bounding box (the huge cells along
    # the hull), are not density estimates of anything inside the image.
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    outside = np.any((vor.vertices < lo) | (vor.vertices > hi), axis=1)
    escapes = ~finite | np.any(outside[np.where(ridge_v >= 0, ridge_v, 0)], axis=1)
    unbounded = np.zeros(n, dtype=bool)
    unbounded[ridge_p[escapes].ravel()] = True
    unbounded |= area <= 0
    area[unbounded] = np.inf
    return area


def voronoi_density(
    locs: Localisations,
    *,
    spacing: float = 30.0,
    smoothing: float = 15.0,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> DensityMap:
    """Voronoi-tessellation density rasterised by the ratio estimator, localisations per µm².

    ``ρ = (G ∗ n) / (G ∗ ΣA)`` per pixel, with ``n`` the localisations in the pixel and ``ΣA``
    their summed Voronoi cell areas (see the module docstring); pixels whose smoothed area is
    negligible (no localisations nearby) are 0. ``smoothing`` = 0 keeps the raw per-pixel ratio.

    Parameters
    ----------
    locs : Localisations
    spacing : float
        Pixel size in nm.
    smoothing : float
        Gaussian standard deviation (nm) applied to both ``n`` and ``ΣA``.
    x, y : ndarray, optional
        Pixel centres (nm) to use instead of :func:`pixel_grid`.
    """
    if not (math.isfinite(smoothing) and smoothing >= 0):
        raise ValueError(f"smoothing must be a non-negative number of nm, got {smoothing}")
    if len(locs) < 3:
        raise LocalisationError(
            f"{locs.source or 'localisations'}: a tessellation needs at least 3 points, "
            f"got {len(locs)}"
        )
    if x is None or y is None:
        x, y = pixel_grid(locs, spacing=spacing)
    h = float(x[1] - x[0])
    area = voronoi_areas(locs.x, locs.y)
    bounded = np.isfinite(area)
    inside = locs.subset(bounded)
    n = _counts(inside, x, y)
    a = _counts(inside, x, y, weights=area[bounded])
    if smoothing > 0:
        sig = smoothing / h
        n = ndimage.gaussian_filter(n, sig, mode="constant", truncate=4.0)
        a = ndimage.gaussian_filter(a, sig, mode="constant", truncate=4.0)
    floor = 1e-6 * (h * h)
    dens = np.where(a > floor, n / np.maximum(a, floor), 0.0) * 1e6  # per nm² → per µm²
    return DensityMap(
        x=x,
        y=y,
        values=dens,
        method="voronoi",
        bandwidth_nm=float(smoothing),
        source=locs.source,
        meta={
            "localisations": len(locs),
            "median_cell_area_nm2": float(np.median(area[bounded])) if bounded.any() else 0.0,
        },
    )


def estimate_density(
    locs: Localisations, *, method: str = "kde", spacing: float = 30.0, bandwidth: float = 15.0
) -> DensityMap:
    """Dispatch to :func:`kernel_density` (``"kde"``) or :func:`voronoi_density` (``"voronoi"``);
    ``bandwidth`` is the Gaussian smoothing of either (nm)."""
    if method == "kde":
        return kernel_density(locs, spacing=spacing, bandwidth=bandwidth)
    if method == "voronoi":
        return voronoi_density(locs, spacing=spacing, smoothing=bandwidth)
    raise ValueError(f"unknown density method {method!r}; choose one of {DENSITY_METHODS}")
