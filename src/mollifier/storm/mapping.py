"""From a normalised localisation density to the chromatin model's fractions φ_h, φ_e, φ_w, φ_d.

What one density channel can and cannot tell
--------------------------------------------
The chromatin model has two independent fields (φ_w and φ_d, or φ_h and φ_e); a STORM image of a
histone (H2B) has one. The mapping therefore rests on two assumptions, both explicit parameters:

1. **Forward model of the label.** The localisation density is proportional to the local amount of
   labelled chromatin, heterochromatin carrying ``contrast`` times more label per volume
   fraction than euchromatin::

       ρ(x) = s · (c φ_h(x) + φ_e(x)),     c = contrast = c_h / c_e,

   with an unknown scale ``s`` (labelling, blinking, detection efficiency).
2. **Closure: the nucleoplasm is in local chemical equilibrium.** At the model's steady state the
   nucleoplasm potential ``μ_w = −φ_e − g(φ_h) − l_w²∇²φ_w`` is uniform (φ_w is conserved and
   relaxes). Dropping the small gradient term gives a local relation,
   ``φ_e = C − g(φ_h)`` with ``g(φ_h) = φ_h(φ_max − φ_h)(φ_max − 2φ_h)``: the second field follows
   from the first.

The two constants ``s`` and ``C`` are fixed by a **reference phase**: the decondensed phase that
fills most of the nucleus, whose density ``ρ_ref`` is estimated as the lower mode of the density
histogram inside the nucleus, is assigned the model's dilute-phase values
``(φ_h, φ_e) = (phi_h_reference, phi_e_reference)``. Then ``C = φ_e,ref + g(φ_h,ref)`` and
``s = ρ_ref / (c φ_h,ref + φ_e,ref)``, and at every pixel the monotone cubic

    c φ_h − g(φ_h) = (ρ/ρ_ref)(c φ_h,ref + φ_e,ref) − C

is solved for φ_h (``g`` continued linearly outside ``[0, φ_max]``, where only noise goes, so
the solution is unique for ``contrast > φ_max²``). The defaults (contrast 2, φ_h,ref = 0.044,
φ_e,ref = 0.329) are the dilute-phase values of the model's reference steady state (λ = 0.5,
:mod:`mollifier.sim.chromatin`): the mode of φ_h is 0.043-0.044 over seeds, and
``φ_e,ref = mean(φ_e + g(φ_h)) − g(φ_h,ref)`` makes ``C`` the state's mean closure constant.

**Identifiability.** Spatial *variations* of λ follow from the data; the absolute *level* of λ
follows from the reference constants, because ``φ_h ∝ (ρ − ρ_e)`` is an excess over a background
that the density alone cannot separate from the scale. Errors in ``ρ_ref`` of δ change the λ
level by about 2δ. Comparing conditions is meaningful with the same mapping.
The synthetic generator (:mod:`mollifier.storm.synthetic`) draws localisations through
:meth:`DensityMapping.forward`, so synthetic validation tests the pipeline (density estimation,
segmentation, inference), not these assumptions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from mollifier.sim.chromatin import ChromatinModel
from mollifier.storm.density import DensityMap

__all__ = ["REFERENCE_ESTIMATORS", "ChromatinFields", "DensityMapping", "dilute_mode"]

#: Estimators of the reference (decondensed-phase) density.
REFERENCE_ESTIMATORS = ("mode", "median")


def dilute_mode(values: np.ndarray, *, bins: int = 128, fit: int = 10) -> float:
    """The most common value of the lower part (1st-90th percentile) of ``values``.

    The histogram (``bins`` bins) is smoothed by a Gaussian of 3 bins and a parabola is fitted
    by least squares to the ``2 fit + 1`` bins around its maximum; the vertex is the mode (the
    fit makes it stable to about 1% on 10⁴ noisy pixels, where the bare maximum jitters by 2%).
    For a two-phase nucleus whose decondensed phase covers most of the area this is that
    phase's density, insensitive to the dense phase's tail.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v = np.concatenate([rng.normal(10.0, 1.0, 8000), rng.normal(40.0, 3.0, 2000)])
    >>> round(dilute_mode(v), 0)
    10.0
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 10:
        raise ValueError(f"need at least 10 finite values for a mode, got {v.size}")
    lo, hi = np.percentile(v, [1, 90])
    if not hi > lo:
        return float(np.median(v))
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    smooth = ndimage.gaussian_filter1d(hist.astype(float), 3.0, mode="nearest")
    centres = 0.5 * (edges[1:] + edges[:-1])
    k = int(np.argmax(smooth))
    window = slice(max(k - fit, 0), min(k + fit + 1, bins))
    if window.stop - window.start >= 5:
        a, b, _ = np.polyfit(centres[window], smooth[window], 2)
        if a < 0:
            vertex = -b / (2.0 * a)
            if centres[window][0] <= vertex <= centres[window][-1]:
                return float(vertex)
    return float(centres[k])


@dataclass(frozen=True)
class ChromatinFields:
    """Model fractions on a pixel grid (nm), mapped from a density, with the nucleus mask.

    ``phi_*`` are filled outside ``mask`` by the nearest inside value (so that mollifier stencils
    near the boundary see finite numbers; those nodes are never reported). ``relative_density``
    is ``ρ/ρ_ref`` (NaN outside the mask).
    """

    x: np.ndarray
    y: np.ndarray
    phi_h: np.ndarray
    phi_e: np.ndarray
    mask: np.ndarray
    relative_density: np.ndarray
    reference_density: float
    background: float
    mapping: DensityMapping
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def phi_w(self) -> np.ndarray:
        """Nucleoplasm fraction ``1 − φ_h − φ_e``."""
        return 1.0 - self.phi_h - self.phi_e

    @property
    def phi_d(self) -> np.ndarray:
        """``φ_h − φ_e``."""
        return self.phi_h - self.phi_e

    @property
    def spacing(self) -> float:
        return float(self.x[1] - self.x[0])


@dataclass(frozen=True)
class DensityMapping:
    """Parameters of the density → fractions mapping (see the module docstring).

    Parameters
    ----------
    contrast : float
        ``c_h / c_e``, label per heterochromatin volume fraction over label per euchromatin
        volume fraction; must exceed ``φ_max²`` (0.49) so that the mapping is one-to-one.
    phi_h_reference, phi_e_reference : float
        φ_h and φ_e of the decondensed reference phase.
    reference : {"mode", "median"}
        How ``ρ_ref`` is estimated from the densities inside the nucleus: the lower mode
        (:func:`dilute_mode`, default), or the median (then the reference values should be the
        median phase's, about ``φ_h = 0.06``).
    model : ChromatinModel
        Supplies ``φ_max`` for ``g``.

    Examples
    --------
    >>> m = DensityMapping()
    >>> rel = m.forward(np.array([0.044, 0.6]), np.array([0.329, 0.33]))
    >>> round(float(rel[0]), 12)  # the reference phase has relative density 1
    1.0
    >>> h, e = m.invert(m.forward(np.array(0.3), m.closure_constant - m.g(np.array(0.3))))
    >>> round(float(h), 12)
    0.3
    """

    contrast: float = 2.0
    phi_h_reference: float = 0.044
    phi_e_reference: float = 0.329
    reference: str = "mode"
    model: ChromatinModel = field(default_factory=ChromatinModel)

    def __post_init__(self) -> None:
        pm = self.model.phi_max
        if not (math.isfinite(self.contrast) and self.contrast > pm**2):
            raise ValueError(
                f"contrast must exceed phi_max² = {pm**2:.3g} for a one-to-one mapping, got "
                f"{self.contrast}"
            )
        if not (0 <= self.phi_h_reference < pm):
            raise ValueError(
                f"phi_h_reference must lie in [0, phi_max={pm}), got {self.phi_h_reference}"
            )
        if not (0 < self.phi_e_reference and self.phi_h_reference + self.phi_e_reference < 1):
            raise ValueError(
                "phi_e_reference must be positive with phi_h + phi_e < 1, got "
                f"{self.phi_e_reference}"
            )
        if self.reference not in REFERENCE_ESTIMATORS:
            raise ValueError(
                f"reference must be one of {REFERENCE_ESTIMATORS}, got {self.reference!r}"
            )

    def g(self, phi_h: np.ndarray) -> np.ndarray:
        """``g(φ_h) = φ_h(φ_max − φ_h)(φ_max − 2φ_h)`` of the chromatin model."""
        return self.model.g(phi_h)

    def _g_extended(self, phi_h: np.ndarray) -> np.ndarray:
        pm = self.model.phi_max
        slope = pm**2  # g'(0) = g'(φ_max) = φ_max²
        return np.where(
            phi_h < 0, slope * phi_h, np.where(phi_h > pm, slope * (phi_h - pm), self.g(phi_h))
        )

    @property
    def closure_constant(self) -> float:
        """``C = φ_e,ref + g(φ_h,ref)``: ``φ_e = C − g(φ_h)`` everywhere."""
        return float(self.phi_e_reference + self.g(np.asarray(self.phi_h_reference)))

    @property
    def reference_label(self) -> float:
        """``c φ_h,ref + φ_e,ref``: the label of the reference phase in units of ``c_e``."""
        return self.contrast * self.phi_h_reference + self.phi_e_reference

    def forward(self, phi_h: np.ndarray, phi_e: np.ndarray) -> np.ndarray:
        """Relative density ``ρ/ρ_ref = (c φ_h + φ_e) / (c φ_h,ref + φ_e,ref)`` (label model)."""
        return (self.contrast * np.asarray(phi_h) + np.asarray(phi_e)) / self.reference_label

    def invert(self, relative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(φ_h, φ_e)`` from ``ρ/ρ_ref`` through the closure (exact inverse of :meth:`forward`
        on states that satisfy the closure)."""
        rel = np.asarray(relative, dtype=float)
        target = rel * self.reference_label - self.closure_constant
        pm = self.model.phi_max
        lo = float(np.nanmin(target, initial=0.0)) / (self.contrast - pm**2) - 1.0
        hi = float(np.nanmax(target, initial=0.0)) / (self.contrast - pm**2) + 1.0
        table = np.linspace(min(lo, -0.5), max(hi, 1.5), 20001)
        f = self.contrast * table - self._g_extended(table)
        phi_h = np.interp(target, f, table)
        # One Newton step removes the interpolation error (f is smooth and monotone).
        fp = self.contrast - np.gradient(self._g_extended(table), table)
        resid = self.contrast * phi_h - self._g_extended(phi_h) - target
        phi_h = phi_h - resid / np.interp(phi_h, table, fp)
        phi_e = self.closure_constant - self._g_extended(phi_h)
        return phi_h, phi_e

    def reference_density(self, values: np.ndarray) -> float:
        """``ρ_ref`` from the densities inside the nucleus (``reference`` estimator)."""
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        ref = dilute_mode(v) if self.reference == "mode" else float(np.median(v))
        if not ref > 0:
            raise ValueError(
                f"the reference density is {ref:.3g} (<= 0): after background subtraction the "
                "nucleus is not denser than its surroundings; check the segmentation and units"
            )
        return ref

    def fields(
        self,
        density: DensityMap,
        mask: np.ndarray,
        *,
        background: float = 0.0,
        reference_density: float | None = None,
    ) -> ChromatinFields:
        """Map a density image to model fractions inside ``mask``.

        Parameters
        ----------
        density : DensityMap
        mask : ndarray of bool
            Nucleus pixels.
        background : float
            Density of background (non-chromatin) localisations, subtracted first.
        reference_density : float, optional
            ``ρ_ref`` to use instead of estimating it (e.g. one value for a whole experiment).
        """
        m = np.asarray(mask, dtype=bool)
        if m.shape != density.values.shape:
            raise ValueError(
                f"mask shape {m.shape} differs from the density's {density.values.shape}"
            )
        if m.sum() < 10:
            raise ValueError(f"the nucleus mask has only {int(m.sum())} pixels")
        inside = density.values[m] - background
        ref = (
            self.reference_density(inside)
            if reference_density is None
            else float(reference_density)
        )
        if not ref > 0:
            raise ValueError(f"reference_density must be positive, got {ref}")
        rel = np.full(m.shape, np.nan)
        rel[m] = inside / ref
        phi_h_in, phi_e_in = self.invert(rel[m])
        phi_h = np.zeros(m.shape)
        phi_e = np.zeros(m.shape)
        phi_h[m] = phi_h_in
        phi_e[m] = phi_e_in
        _, (ii, jj) = ndimage.distance_transform_edt(~m, return_indices=True)
        return ChromatinFields(
            x=density.x,
            y=density.y,
            phi_h=phi_h[ii, jj],
            phi_e=phi_e[ii, jj],
            mask=m,
            relative_density=rel,
            reference_density=ref,
            background=float(background),
            mapping=self,
        )
