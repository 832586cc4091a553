"""The chromatin inverse problem on a segmented nucleus: λ̂(x, y) with no boundary leakage.

Boundary handling: **crop by the kernel radius**
------------------------------------------------
The mollified residual at a node uses the data within ``radius`` nodes along each axis (the
stencils are tensor products of 1-D stencils of ``radius = ceil(width/spacing) + 3`` taps per
side, :func:`mollifier.kernels.stencil_radius`), and the direct solver's λ̂ at a node uses only
that node's residual (the chromatin residual is pointwise in λ). So λ̂ is reported only on the
nucleus mask **eroded by a (2·radius+1)² square**: there it is exactly independent of anything
outside the nucleus (the fields' fill-in outside the mask, the image edge, a nucleolus). The
test suite checks this by changing the data outside the mask. Nodes closer to the edge are NaN.

Scales
------
Grid coordinates are converted from nm to the model's units with ``length_scale`` (nm per model
unit). The mollifier ``width`` (support radius) defaults to :data:`DEFAULT_WIDTH_UNITS` model
units, about two heterochromatin domain spacings: wide enough that the estimate averages over
domains and gaps (where the fourth derivatives of noisy data would dominate), narrow enough to
follow a λ that varies over micrometres. ``smoothed`` is λ̂ averaged by the same kernel
(normalised over the reported nodes), the scale at which λ̂ is meant to be compared with a
truth.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from mollifier.inverse.network.solver import Network
from mollifier.kernels import get_kernel, stencil, stencil_radius
from mollifier.storm.mapping import ChromatinFields

__all__ = [
    "DEFAULT_LENGTH_SCALE_NM",
    "DEFAULT_WIDTH_UNITS",
    "INFERENCE_METHODS",
    "InferenceConfig",
    "LambdaMap",
    "NucleusTooSmallError",
    "infer_lambda",
    "smooth_to_kernel",
    "valid_region",
]

#: nm per model length unit: the model's domains (diameter 0.55, spacing 1.1 units) become
#: 165 nm domains 330 nm apart, the size of chromatin packing domains in super-resolution and
#: ChromSTEM data (mean radius about 80 nm; about 200 nm diameter).
DEFAULT_LENGTH_SCALE_NM = 300.0
#: Default mollifier support radius in model units (about two domain spacings).
DEFAULT_WIDTH_UNITS = 2.0
INFERENCE_METHODS = ("direct", "network")


class NucleusTooSmallError(ValueError):
    """The nucleus has (almost) no nodes farther than the kernel radius from its edge."""


@dataclass(frozen=True)
class InferenceConfig:
    """How λ is inferred.

    Parameters
    ----------
    width : float, "auto" or None
        Mollifier support radius in nm; ``None`` is :data:`DEFAULT_WIDTH_UNITS` model units;
        ``"auto"`` lets :class:`~mollifier.InverseProblem` choose it from the data (slow, and it
        may pick narrow widths on noisy maps).
    method : {"direct", "network"}
        Weak-form least squares (seconds) or a coordinate network (minutes).
    kernel : str
        Mollifier family.
    network : mollifier.Network
        The network solver (architecture, steps, learning rate, device, ``read_off``, its own
        ``seed``), used when ``method="network"``. With ``read_off=True`` λ̂ is read off the
        trained fields by the direct formula (the paper's practice), else it is the network's
        own λ channel.
    seed : int
        Seed of the direct solver's probes.
    min_nodes : int
        Fewest reported nodes before the nucleus counts as too small for the kernel.
    """

    width: float | str | None = None
    method: str = "direct"
    kernel: str = "polybump"
    network: Network = field(default_factory=Network)
    seed: int = 0
    min_nodes: int = 25

    def __post_init__(self) -> None:
        if self.method not in INFERENCE_METHODS:
            raise ValueError(f"method must be one of {INFERENCE_METHODS}, got {self.method!r}")
        if isinstance(self.width, str):
            if self.width != "auto":
                raise ValueError(
                    f"width must be a number of nm, 'auto' or None, got {self.width!r}"
                )
        elif self.width is not None and not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"width must be a positive number of nm, got {self.width}")
        if self.min_nodes < 1:
            raise ValueError("min_nodes must be >= 1")
        get_kernel(self.kernel)


@dataclass(frozen=True)
class LambdaMap:
    """λ̂ over a nucleus.

    Attributes
    ----------
    x, y : ndarray
        Pixel centres in nm.
    lam : ndarray
        Pointwise λ̂ on ``valid`` nodes, NaN elsewhere.
    smoothed : ndarray
        λ̂ averaged by the mollifier kernel over valid nodes (NaN elsewhere).
    valid : ndarray of bool
        Reported nodes: the nucleus eroded by the stencil radius, where λ̂ is finite.
    width_nm : float
        Mollifier support radius.
    radius : int
        Stencil radius in nodes.
    method : str
    wall_time_s : float
    diagnostics : dict
    """

    x: np.ndarray
    y: np.ndarray
    lam: np.ndarray
    smoothed: np.ndarray
    valid: np.ndarray
    width_nm: float
    radius: int
    method: str
    wall_time_s: float
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def values(self, *, smoothed: bool = True) -> np.ndarray:
        """The reported values as a flat vector."""
        arr = self.smoothed if smoothed else self.lam
        return arr[self.valid]


def valid_region(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` eroded by a ``(2 radius + 1)²`` square, treating the image outside as not-mask."""
    if radius <= 0:
        return np.asarray(mask, dtype=bool).copy()
    return ndimage.binary_erosion(
        mask, structure=np.ones((2 * radius + 1,) * 2, dtype=bool), border_value=0
    )


def smooth_to_kernel(
    values: np.ndarray, valid: np.ndarray, *, spacing: float, width: float, kernel: str = "polybump"
) -> np.ndarray:
    """Average ``values`` over ``valid`` nodes with the mollifier kernel of support ``width``.

    ``(η ∗ (v·1_valid)) / (η ∗ 1_valid)`` with the separable order-0 stencils; NaN outside
    ``valid``. ``spacing`` and ``width`` in the same unit.
    """
    k = np.asarray(stencil(get_kernel(kernel), 0, spacing=spacing, width=width, check=False))
    ok = np.asarray(valid, dtype=bool) & np.isfinite(values)
    v = np.where(ok, values, 0.0)
    w = ok.astype(float)
    for axis in (0, 1):
        v = ndimage.convolve1d(v, k, axis=axis, mode="constant")
        w = ndimage.convolve1d(w, k, axis=axis, mode="constant")
    out = np.full(np.shape(values), np.nan)
    good = ok & (w > 1e-9)
    out[good] = v[good] / w[good]
    return out


def _width_units(config: InferenceConfig, length_scale: float) -> float | str:
    if config.width is None:
        return DEFAULT_WIDTH_UNITS
    if isinstance(config.width, str):
        return "auto"
    return float(config.width) / length_scale


def infer_lambda(
    fields: ChromatinFields,
    *,
    length_scale: float = DEFAULT_LENGTH_SCALE_NM,
    config: InferenceConfig | None = None,
    progress: bool = False,
) -> LambdaMap:
    """Infer λ(x, y) = methylation/acetylation rate ratio over the nucleus.

    Parameters
    ----------
    fields : ChromatinFields
        Mapped fractions and the nucleus mask (:meth:`DensityMapping.fields`).
    length_scale : float
        nm per model length unit.
    config : InferenceConfig, optional
    progress : bool
        Progress bar for the network solver.

    Raises
    ------
    NucleusTooSmallError
        If fewer than ``config.min_nodes`` nodes of the nucleus lie farther than the kernel
        radius from its edge.
    """
    import mollifier as ml
    from mollifier.pdes import residuals

    cfg = InferenceConfig() if config is None else config
    if not (math.isfinite(length_scale) and length_scale > 0):
        raise ValueError(f"length_scale must be a positive number of nm, got {length_scale}")
    t0 = time.perf_counter()
    h_nm = fields.spacing
    h = h_nm / length_scale
    width: float | str = _width_units(cfg, length_scale)
    kernel = get_kernel(cfg.kernel)
    if isinstance(width, float):
        need = kernel.min_points(4) * h
        if width < need:
            raise ValueError(
                f"width {width * length_scale:.4g} nm is below the kernel's minimum "
                f"{need * length_scale:.4g} nm for 4th derivatives at {h_nm:g} nm pixels"
            )
        radius = stencil_radius(spacing=h, width=width)
        _check_size(fields.mask, radius, h_nm, width * length_scale, cfg.min_nodes)
    mask = fields.mask
    ii, jj = np.nonzero(mask)
    pad = max(radius + 1, 8) if isinstance(width, float) else 8
    i0, i1 = max(int(ii.min()) - pad, 0), min(int(ii.max()) + pad + 1, mask.shape[0])
    j0, j1 = max(int(jj.min()) - pad, 0), min(int(jj.max()) + pad + 1, mask.shape[1])
    crop = (slice(i0, i1), slice(j0, j1))
    grid = ml.Grid(x=fields.x[i0:i1] / length_scale, y=fields.y[j0:j1] / length_scale)
    problem = ml.InverseProblem(
        grid=grid,
        data={"phi_w": fields.phi_w[crop], "phi_d": fields.phi_d[crop]},
        unknowns={"lam": ml.Field(axes=("x", "y"), positive=True, init=0.5)},
        residual=residuals.chromatin(fields.mapping.model),
        width=width,
        kernel=kernel,
        boundary="reflect",
        crop=True,
        mask=mask[crop],
    )
    problem = ml.refine_width(problem)
    radius = max(problem.layer.radius.values())
    width_used = float(max(problem.width.values()))
    _check_size(mask, radius, h_nm, width_used * length_scale, cfg.min_nodes)
    diagnostics: dict[str, Any] = {"width_rule": problem.width_rule}
    if cfg.method == "direct":
        result = problem.solve(ml.Direct(seed=cfg.seed))
        lam_crop = np.asarray(result.unknowns["lam"], dtype=float)
    else:
        opts = cfg.network
        result = problem.solve(opts, progress=progress)
        channel = np.asarray(result.unknowns["lam"], dtype=float)
        read = result.extras.get("algebraic_unknowns", {}).get("lam")
        lam_crop = np.asarray(read, dtype=float) if opts.read_off and read is not None else channel
        diagnostics["network_history_final"] = {k: v[-1] for k, v in result.history.items() if v}
    diagnostics.update(
        {
            k: v
            for k, v in result.diagnostics.items()
            if k in ("solver", "steps_done", "stopped_early")
        }
    )
    lam = np.full(mask.shape, np.nan)
    lam[crop] = lam_crop
    valid = valid_region(mask, radius) & np.isfinite(lam)
    lam[~valid] = np.nan
    smoothed = smooth_to_kernel(
        lam, valid, spacing=h_nm, width=width_used * length_scale, kernel=cfg.kernel
    )
    diagnostics["nonpositive_reported"] = int(np.sum(lam[valid] <= 0))
    return LambdaMap(
        x=fields.x,
        y=fields.y,
        lam=lam,
        smoothed=smoothed,
        valid=valid,
        width_nm=round(width_used * length_scale, 3),
        radius=int(radius),
        method=cfg.method,
        wall_time_s=time.perf_counter() - t0,
        diagnostics=diagnostics,
    )


def _check_size(
    mask: np.ndarray, radius: int, h_nm: float, width_nm: float, min_nodes: int
) -> None:
    kept = int(valid_region(mask, radius).sum())
    if kept >= min_nodes:
        return
    depth = float(ndimage.distance_transform_edt(np.pad(mask, 1)).max()) * h_nm
    raise NucleusTooSmallError(
        f"the nucleus is too small for the kernel: its largest inscribed radius is about "
        f"{depth:.0f} nm, but the stencil reaches {radius * h_nm:.0f} nm (width {width_nm:.0f} "
        f"nm + 3 pixels); only {kept} nodes (< {min_nodes}) would be free of boundary effects. "
        "Use a smaller width, finer pixels or a larger nucleus"
    )
