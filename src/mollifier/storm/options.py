"""Settings of the STORM analysis of one nucleus: :class:`StormConfig` (lengths in nm).

:func:`~mollifier.storm.pipeline.analyse_nucleus` and :func:`~mollifier.storm.batch.run_batch`
read every setting from this one object; the ``mollifier storm`` command builds it from its flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mollifier.storm.density import DENSITY_METHODS
from mollifier.storm.inference import DEFAULT_LENGTH_SCALE_NM, InferenceConfig
from mollifier.storm.localisations import MIN_LOCALISATIONS
from mollifier.storm.mapping import DensityMapping
from mollifier.storm.quality import QualityGate
from mollifier.storm.segmentation import MIN_NUCLEUS_AREA_NM2, SEGMENTATION_METHODS

__all__ = ["UNCERTAINTY_METHODS", "StormConfig"]

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
    quality : QualityGate
        Thresholds of the quality gate (:mod:`mollifier.storm.quality`).
    nucleus : int, optional
        Analyse only this nucleus of a field of view (1-based, in
        :func:`~mollifier.storm.segmentation.segment_nuclei`'s order); default all.
    min_nucleus_area : float
        Smallest nucleus of a field, nm².
    merge_blinks : bool
        Merge repeated detections of one blink first
        (:func:`~mollifier.storm.localisations.merge_blinks`), for files without a linked or
        grouped column; then set ``blinking`` to the detections left per fluorophore.
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
    quality: QualityGate = field(default_factory=QualityGate)
    nucleus: int | None = None
    min_nucleus_area: float = MIN_NUCLEUS_AREA_NM2
    merge_blinks: bool = False

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
        if self.nucleus is not None and self.nucleus < 1:
            raise ValueError(f"nucleus is a 1-based index, got {self.nucleus}")
        if not self.min_nucleus_area > 0:
            raise ValueError(f"min_nucleus_area must be positive, got {self.min_nucleus_area}")
        if self.min_localisations < 3:
            raise ValueError("min_localisations must be >= 3")
