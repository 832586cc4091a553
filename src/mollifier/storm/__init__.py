"""STORM chromatin application: λ(x, y) of the chromatin model from super-resolution images.

The pipeline, one module per step::

    readers       ThunderSTORM / Picasso / plain tables / density maps → Localisations (nm)
    formats       N-STORM, Zeiss ZEN/Elyra, SMAP, DECODE exports (unit fixed by the format)
    density       localisations → DensityMap (Voronoi or kernel estimate, per µm²)
    segmentation  DensityMap → nucleus mask (threshold or alpha shape; holes kept)
    mapping       normalised density → φ_h, φ_e (→ φ_w, φ_d) through a label model + closure
    calibration   the reference density, corrected for resolution and noise by a synthetic twin
    inference     φ_w, φ_d on the mask → λ̂ (direct or network solver, cropped by the kernel)
    summaries     lognormal fits, heterochromatin domains, batch tables
    synthetic     simulated nuclei with ground truth (truth.npz)
    options       StormConfig: every setting of the analysis
    pipeline      one nucleus end to end
    output        its summary row and folder (result.json, npz arrays, domains.csv, PNGs)
    batch         many nuclei and conditions: summary.csv, comparison table and figure
    figures, cli  PNGs; ``mollifier storm`` and ``mollifier simulate storm``

Lengths are nanometres throughout; ``length_scale`` (nm per model unit, default 300) converts to
the model's units at the inference step only.
"""

from mollifier.storm.batch import run_batch
from mollifier.storm.calibration import Acquisition, calibrate_reference, calibrated_reference
from mollifier.storm.density import DensityMap, estimate_density, kernel_density, voronoi_density
from mollifier.storm.formats import (
    TableFormat,
    read_decode,
    read_smap_mat,
    read_text_localisations,
    write_decode,
    write_text_localisations,
)
from mollifier.storm.inference import (
    DEFAULT_LENGTH_SCALE_NM,
    DEFAULT_WIDTH_UNITS,
    InferenceConfig,
    LambdaMap,
    NucleusTooSmallError,
    infer_lambda,
    smooth_to_kernel,
)
from mollifier.storm.localisations import (
    LocalisationError,
    Localisations,
    UnitError,
    merge_blinks,
)
from mollifier.storm.mapping import ChromatinFields, DensityMapping, dilute_mode
from mollifier.storm.options import StormConfig
from mollifier.storm.output import nucleus_row, save_nucleus
from mollifier.storm.pipeline import NucleusAnalysis, analyse_field, analyse_nucleus
from mollifier.storm.quality import Quality, QualityGate, assess, density_bound
from mollifier.storm.readers import (
    read_density_map,
    read_localisation_table,
    read_picasso,
    read_storm_input,
    read_thunderstorm,
    write_picasso,
    write_thunderstorm,
)
from mollifier.storm.segmentation import Segmentation, segment_nuclei, segment_nucleus
from mollifier.storm.summaries import (
    DomainStatistics,
    LognormalFit,
    compare_conditions,
    domain_statistics,
    fit_lognormal,
)
from mollifier.storm.synthetic import (
    SyntheticField,
    SyntheticNucleus,
    SyntheticStorm,
    simulate_field,
    simulate_storm,
    write_field,
)
from mollifier.storm.truth import Truth, find_truth, truth_metrics

__all__ = [
    "DEFAULT_LENGTH_SCALE_NM",
    "DEFAULT_WIDTH_UNITS",
    "Acquisition",
    "ChromatinFields",
    "DensityMap",
    "DensityMapping",
    "DomainStatistics",
    "InferenceConfig",
    "LambdaMap",
    "LocalisationError",
    "Localisations",
    "LognormalFit",
    "NucleusAnalysis",
    "NucleusTooSmallError",
    "Quality",
    "QualityGate",
    "Segmentation",
    "StormConfig",
    "SyntheticField",
    "SyntheticNucleus",
    "SyntheticStorm",
    "TableFormat",
    "Truth",
    "UnitError",
    "analyse_field",
    "analyse_nucleus",
    "assess",
    "calibrate_reference",
    "calibrated_reference",
    "compare_conditions",
    "density_bound",
    "dilute_mode",
    "domain_statistics",
    "estimate_density",
    "find_truth",
    "fit_lognormal",
    "infer_lambda",
    "kernel_density",
    "merge_blinks",
    "nucleus_row",
    "read_decode",
    "read_density_map",
    "read_localisation_table",
    "read_picasso",
    "read_smap_mat",
    "read_storm_input",
    "read_text_localisations",
    "read_thunderstorm",
    "run_batch",
    "save_nucleus",
    "segment_nuclei",
    "segment_nucleus",
    "simulate_field",
    "simulate_storm",
    "smooth_to_kernel",
    "truth_metrics",
    "voronoi_density",
    "write_decode",
    "write_field",
    "write_picasso",
    "write_text_localisations",
    "write_thunderstorm",
]
