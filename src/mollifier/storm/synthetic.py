"""Synthetic STORM nuclei with ground truth, for validating the whole pipeline.

Generative model
----------------
1. **Chromatin.** A steady state of the chromatin model (:func:`mollifier.sim.simulate_chromatin`,
   periodic square box) with a smooth lognormal λ(x, y), on a grid of ``spacing`` model units,
   scaled to nm by ``length_scale``.
2. **Nucleus.** A superellipse (exponent ``squareness``) with diameters ``size``, a random
   orientation and a smooth random boundary perturbation (Fourier modes 2-6 of relative amplitude
   ``roughness``), optionally with an elliptical nucleolus hole; only chromatin inside it is
   labelled.
3. **Fluorophores.** A Poisson process with intensity proportional to the label density of
   :meth:`~mollifier.storm.mapping.DensityMapping.forward`, ``c φ_h + φ_e`` (the same forward model
   the analysis inverts), uniform within each simulation pixel, with ``localisations / blinking``
   fluorophores expected.
4. **Blinking.** Each fluorophore is detected a geometric number of times (mean ``blinking``) in
   a burst of nearby frames starting at a uniform frame in ``1..frames``.
5. **Precision.** Each detection is displaced by an isotropic Gaussian of standard deviation
   ``u`` = ``precision · exp(precision_spread · ξ)``, ξ standard normal (so ``precision`` is the
   median); ``u`` is the ``uncertainty [nm]`` column. Photon counts are the ones that give ``u``
   by the Mortensen et al. (2010) formula with a 130 nm PSF, 100 nm camera pixels and 100
   background photons per pixel.
6. **Background.** ``background × localisations`` (expected) uniform localisations over the
   field of view (nucleus box plus ``margin``), with the same precision model.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.sim.chromatin import Stepping, simulate_chromatin
from mollifier.sim.random_fields import LognormalLambda
from mollifier.storm.inference import DEFAULT_LENGTH_SCALE_NM
from mollifier.storm.localisations import Localisations
from mollifier.storm.mapping import DensityMapping
from mollifier.storm.readers import write_thunderstorm
from mollifier.storm.truth import Truth

__all__ = [
    "CHROMATIN_CHANNEL",
    "ENVELOPE_CHANNEL",
    "SyntheticField",
    "SyntheticNucleus",
    "SyntheticStorm",
    "envelope_localisations",
    "nucleus_shape",
    "observe",
    "sample_localisations",
    "simulate_field",
    "simulate_storm",
    "simulate_truth",
    "write_field",
    "write_synthetic",
]


@dataclass(frozen=True)
class SyntheticStorm:
    """Settings of :func:`simulate_storm` (lengths in nm; see the module docstring).

    Parameters
    ----------
    size : (float, float)
        Nucleus diameters (before rotation), nm.
    length_scale : float
        nm per model length unit.
    spacing : float
        Simulation grid step in model units (0.104 resolves the model's interfaces).
    lam_median, lam_sigma, lam_correlation : float
        The true λ: lognormal with this median and log-standard deviation, correlation length
        ``lam_correlation`` nm.
    localisations : float
        Expected chromatin localisations (detections, blinking included), before background.
    blinking : float
        Mean detections per fluorophore (>= 1).
    precision, precision_spread : float
        Median localisation precision (nm) and the log-spread of per-detection precision.
    background : float
        Expected background localisations as a fraction of ``localisations``.
    frames : int
        Number of camera frames.
    nucleolus : bool
        Cut an elliptical nucleolus out of the nucleus.
    roughness, squareness : float
        Boundary perturbation amplitude and superellipse exponent.
    margin : float
        Field of view around the nucleus, nm.
    mapping : DensityMapping
        The label model (its ``forward``).
    tolerance : float
        Steady-state tolerance of the chromatin simulation.
    """

    size: tuple[float, float] = (8000.0, 6000.0)
    length_scale: float = DEFAULT_LENGTH_SCALE_NM
    spacing: float = 0.104
    lam_median: float = 0.5
    lam_sigma: float = 0.25
    lam_correlation: float = 1200.0
    localisations: float = 4.0e5
    blinking: float = 3.0
    precision: float = 15.0
    precision_spread: float = 0.25
    background: float = 0.05
    frames: int = 20000
    nucleolus: bool = True
    roughness: float = 0.04
    squareness: float = 2.4
    margin: float = 600.0
    mapping: DensityMapping = field(default_factory=DensityMapping)
    tolerance: float = 1e-5

    def __post_init__(self) -> None:
        positive = {
            "length_scale": self.length_scale,
            "spacing": self.spacing,
            "lam_median": self.lam_median,
            "lam_correlation": self.lam_correlation,
            "localisations": self.localisations,
            "precision": self.precision,
            "tolerance": self.tolerance,
            "size[0]": self.size[0],
            "size[1]": self.size[1],
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        non_negative = {
            "lam_sigma": self.lam_sigma,
            "precision_spread": self.precision_spread,
            "background": self.background,
            "roughness": self.roughness,
            "margin": self.margin,
        }
        for name, value in non_negative.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value}")
        if not self.blinking >= 1:
            raise ValueError(
                f"blinking (mean detections per fluorophore) must be >= 1, got {self.blinking}"
            )
        if int(self.frames) != self.frames or self.frames < 1:
            raise ValueError(f"frames must be a positive integer, got {self.frames}")
        if not self.squareness >= 1:
            raise ValueError(f"squareness must be >= 1, got {self.squareness}")
        if self.roughness >= 0.3:
            raise ValueError(f"roughness must be below 0.3, got {self.roughness}")


@dataclass(frozen=True)
class SyntheticNucleus:
    """Localisations, their ThunderSTORM extra columns, and the ground truth."""

    localisations: Localisations
    columns: dict[str, np.ndarray]
    truth: Truth


def nucleus_shape(
    x: np.ndarray,
    y: np.ndarray,
    *,
    size: tuple[float, float],
    rng: np.random.Generator,
    squareness: float = 2.4,
    roughness: float = 0.04,
    nucleolus: bool = True,
) -> np.ndarray:
    """A random nucleus-shaped mask on pixel centres ``x[:, None], y[None, :]`` (nm), centred.

    Inside means ``(|u/a|^p + |v/b|^p)^(1/p) < 1 + δ(θ)`` in coordinates ``(u, v)`` rotated by a
    random angle, ``a, b`` the semi-axes, ``p = squareness`` and
    ``δ(θ) = roughness · Σ_{k=2..6} (α_k cos kθ + β_k sin kθ)/k`` (α, β standard normal, then
    scaled so the standard deviation of δ over θ is ``roughness``). The nucleolus is an ellipse
    of semi-axes 0.1-0.16 × the smaller diameter at a random point within 40% of the semi-axes.
    """
    cx, cy = 0.5 * (x[0] + x[-1]), 0.5 * (y[0] + y[-1])
    a, b = 0.5 * size[0], 0.5 * size[1]
    angle = rng.uniform(0, np.pi)
    X, Y = np.meshgrid(x - cx, y - cy, indexing="ij")
    u = X * np.cos(angle) + Y * np.sin(angle)
    v = -X * np.sin(angle) + Y * np.cos(angle)
    theta = np.arctan2(v / b, u / a)
    k = np.arange(2, 7)
    coef = rng.normal(size=(2, k.size)) / k
    probe = np.linspace(0, 2 * np.pi, 720, endpoint=False)

    def delta(t: np.ndarray) -> np.ndarray:
        return (
            coef[0] * np.cos(np.multiply.outer(t, k)) + coef[1] * np.sin(np.multiply.outer(t, k))
        ).sum(axis=-1)

    spread = float(np.std(delta(probe))) or 1.0
    boundary = 1.0 + roughness * delta(theta) / spread
    r = (np.abs(u / a) ** squareness + np.abs(v / b) ** squareness) ** (1.0 / squareness)
    mask = r < boundary
    if nucleolus:
        small = min(size)
        ra, rb = rng.uniform(0.10, 0.16, size=2) * small
        ox, oy = rng.uniform(-0.4, 0.4, size=2) * np.array([a, b])
        phi = rng.uniform(0, np.pi)
        du, dv = u - ox, v - oy
        pu = du * np.cos(phi) + dv * np.sin(phi)
        pv = -du * np.sin(phi) + dv * np.cos(phi)
        mask &= (pu / ra) ** 2 + (pv / rb) ** 2 > 1.0
    return mask


def _photons(
    u: np.ndarray, sigma_psf: np.ndarray, *, pixel: float = 100.0, background: float = 100.0
) -> np.ndarray:
    """Photon count giving precision ``u`` by Mortensen's formula (EMCCD-free form)."""
    sa2 = sigma_psf**2 + pixel**2 / 12.0
    lin = 16.0 / 9.0 * sa2
    const = 8.0 * np.pi * sa2**2 * background / pixel**2
    return (lin + np.sqrt(lin**2 + 4.0 * u**2 * const)) / (2.0 * u**2)


def sample_localisations(
    label: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    expected: float,
    blinking: float = 3.0,
    precision: float = 15.0,
    precision_spread: float = 0.25,
    background: float = 0.0,
    frames: int = 20000,
    rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator] | None = None,
    seed: int = 0,
) -> tuple[Localisations, dict[str, np.ndarray]]:
    """Localisations drawn from a label density on pixel centres ``x``, ``y`` (nm), steps 3-6 of
    the module docstring.

    ``expected`` localisations (blinking included) from the label, ``background × expected``
    uniform ones over the image. Returns the localisations (sorted by frame) and the extra
    ThunderSTORM columns. ``rngs`` are the (position, blinking/precision, background) streams;
    default three streams from ``seed``.
    """
    if rngs is None:
        rngs = tuple(
            np.random.default_rng(s)  # type: ignore[assignment]
            for s in np.random.SeedSequence(seed).spawn(3)
        )
    assert rngs is not None
    loc_rng, blink_rng, bg_rng = rngs
    lab = np.asarray(label, dtype=float)
    if not (np.all(np.isfinite(lab)) and np.all(lab >= 0) and lab.sum() > 0):
        raise ValueError("label must be finite, non-negative and not all zero")
    h = float(x[1] - x[0])
    counts = loc_rng.poisson(expected / blinking * lab / lab.sum())
    ii, jj = np.nonzero(counts)
    reps = counts[ii, jj]
    fx = np.repeat(x[ii], reps) + loc_rng.uniform(-0.5, 0.5, reps.sum()) * h
    fy = np.repeat(y[jj], reps) + loc_rng.uniform(-0.5, 0.5, reps.sum()) * h
    nf = fx.size
    k = (
        blink_rng.geometric(1.0 / blinking, size=nf)
        if blinking > 1
        else np.ones(nf, dtype=np.int64)
    )
    start = blink_rng.integers(1, frames + 1, size=nf)
    owner = np.repeat(np.arange(nf), k)
    first = np.r_[0, np.cumsum(k)[:-1]].astype(np.int64)
    gaps = blink_rng.geometric(0.5, size=owner.size)
    gaps[first] = 0
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], k)
    frame = np.minimum(start[owner] + offset, frames)
    px, py = fx[owner], fy[owner]
    n_bg = int(bg_rng.poisson(background * expected))
    bx = bg_rng.uniform(x[0] - 0.5 * h, x[-1] + 0.5 * h, n_bg)
    by = bg_rng.uniform(y[0] - 0.5 * h, y[-1] + 0.5 * h, n_bg)
    px = np.concatenate([px, bx])
    py = np.concatenate([py, by])
    frame = np.concatenate([frame, bg_rng.integers(1, frames + 1, size=n_bg)])
    total = px.size
    u = precision * np.exp(precision_spread * blink_rng.normal(size=total))
    px = px + u * blink_rng.normal(size=total)
    py = py + u * blink_rng.normal(size=total)
    order = np.argsort(frame, kind="stable")
    sigma = np.clip(blink_rng.normal(130.0, 8.0, size=total), 90.0, None)
    columns = {
        "sigma": sigma[order],
        "intensity": _photons(u, sigma)[order],
        "offset": np.full(total, 100.0),
        "bkgstd": np.full(total, 10.0),
    }
    locs = Localisations(
        x=px[order],
        y=py[order],
        frame=frame[order].astype(float),
        uncertainty=u[order],
        source="synthetic",
        meta={"format": "synthetic", "fluorophores": int(nf), "background": n_bg},
    )
    return locs, columns


def simulate_truth(config: SyntheticStorm | None = None, *, seed: int = 0) -> Truth:
    """Steps 1-2 of the module docstring: the chromatin steady state and the nucleus mask.

    The expensive part (the chromatin simulation, seconds to minutes); :func:`observe` draws
    localisations from it as often as wanted.
    """
    cfg = SyntheticStorm() if config is None else config
    shape_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[0])
    side_nm = max(cfg.size) * (1.0 + 3.0 * cfg.roughness) + 2.0 * cfg.margin
    n = max(math.ceil(side_nm / cfg.length_scale / cfg.spacing), 16)
    ds = simulate_chromatin(
        n=n,
        length=n * cfg.spacing,
        boundary="periodic",
        seed=seed,
        stepping=Stepping(tolerance=cfg.tolerance),
        lam=LognormalLambda(
            median=cfg.lam_median,
            sigma=cfg.lam_sigma,
            correlation_length=cfg.lam_correlation / cfg.length_scale,
        ),
    )
    x = np.asarray(ds.coords["x"]) * cfg.length_scale
    y = np.asarray(ds.coords["y"]) * cfg.length_scale
    phi_w, phi_d = ds.clean["phi_w"], ds.clean["phi_d"]
    lam = np.broadcast_to(np.asarray(ds.truth["lam"], dtype=float), phi_w.shape).copy()
    mask = nucleus_shape(
        x,
        y,
        size=cfg.size,
        rng=shape_rng,
        squareness=cfg.squareness,
        roughness=cfg.roughness,
        nucleolus=cfg.nucleolus,
    )
    params: dict[str, Any] = {
        "generator": "mollifier.storm.synthetic.simulate_storm",
        "seed": int(seed),
        "config": {k: v for k, v in asdict(cfg).items() if k != "mapping"},
        "mapping": {k: v for k, v in asdict(cfg.mapping).items() if k != "model"},
        "model": asdict(cfg.mapping.model),
        "simulation": {
            k: ds.params[k] for k in ("n", "length", "spacing", "steps", "converged", "residual")
        },
    }
    return Truth(x=x, y=y, lam=lam, phi_w=phi_w, phi_d=phi_d, mask=mask, params=params)


def observe(
    truth: Truth, config: SyntheticStorm | None = None, *, seed: int = 0
) -> SyntheticNucleus:
    """Steps 3-6 of the module docstring: localisations of ``truth`` under ``config``'s
    acquisition settings (count, blinking, precision, background, frames, label model)."""
    cfg = SyntheticStorm() if config is None else config
    _, loc_rng, blink_rng, bg_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    phi_h, phi_e = cfg.mapping.model.fractions(truth.phi_w, truth.phi_d)
    label = np.where(truth.mask, np.maximum(cfg.mapping.forward(phi_h, phi_e), 0.0), 0.0)
    locs, columns = sample_localisations(
        label,
        truth.x,
        truth.y,
        expected=cfg.localisations,
        blinking=cfg.blinking,
        precision=cfg.precision,
        precision_spread=cfg.precision_spread,
        background=cfg.background,
        frames=cfg.frames,
        rngs=(loc_rng, blink_rng, bg_rng),
    )
    params = dict(truth.params)
    params.update(
        {
            "observation_seed": int(seed),
            "fluorophores": int(locs.meta["fluorophores"]),
            "localisations": len(locs),
            "background_localisations": int(locs.meta["background"]),
        }
    )
    out = Truth(
        x=truth.x,
        y=truth.y,
        lam=truth.lam,
        phi_w=truth.phi_w,
        phi_d=truth.phi_d,
        mask=truth.mask,
        params=params,
    )
    return SyntheticNucleus(localisations=locs, columns=columns, truth=out)


def simulate_storm(config: SyntheticStorm | None = None, *, seed: int = 0) -> SyntheticNucleus:
    """Draw one synthetic STORM nucleus (see the module docstring): :func:`simulate_truth`, then
    :func:`observe`, both from ``seed``.

    Returns
    -------
    SyntheticNucleus
        ``localisations`` (nm; frames 1..F; uncertainties), ThunderSTORM ``columns``
        (``sigma``, ``intensity``, ``offset``, ``bkgstd``) and the ``truth`` on the simulation
        grid in nm.
    """
    cfg = SyntheticStorm() if config is None else config
    return observe(simulate_truth(cfg, seed=seed), cfg, seed=seed)


def write_synthetic(
    nucleus: SyntheticNucleus, directory: str | os.PathLike[str], name: str
) -> tuple[Path, Path]:
    """Write ``DIR/<name>.csv`` (ThunderSTORM) and ``DIR/<name>.truth.npz``; return both paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    csv = write_thunderstorm(out / f"{name}.csv", nucleus.localisations, columns=nucleus.columns)
    params = dict(nucleus.truth.params)
    params["localisation_file"] = csv.name
    truth = Truth(
        x=nucleus.truth.x,
        y=nucleus.truth.y,
        lam=nucleus.truth.lam,
        phi_w=nucleus.truth.phi_w,
        phi_d=nucleus.truth.phi_d,
        mask=nucleus.truth.mask,
        params=params,
    )
    npz = truth.save(out / f"{name}.truth.npz")
    return csv, npz


#: Channel names of :func:`simulate_field` (N-STORM exports name channels by laser line).
CHROMATIN_CHANNEL = "647"
ENVELOPE_CHANNEL = "561"


@dataclass(frozen=True)
class SyntheticField:
    """A field of view with several nuclei: two-channel localisations and one truth per
    nucleus (in the field's coordinates)."""

    localisations: Localisations
    truths: tuple[Truth, ...]


def envelope_localisations(
    truth: Truth,
    *,
    expected: float,
    precision: float = 15.0,
    frames: int = 20000,
    seed: int = 0,
) -> Localisations:
    """Localisations of a nuclear-envelope label: ``expected`` points uniform over the rim
    pixels of ``truth.mask`` (the outer boundary; a nucleolus has no envelope), displaced by
    the precision, at uniform frames."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    filled = ndimage.binary_fill_holes(truth.mask)
    rim = filled & ~ndimage.binary_erosion(filled)
    ii, jj = np.nonzero(rim)
    n = int(rng.poisson(expected))
    pick = rng.integers(0, ii.size, n)
    h = float(truth.x[1] - truth.x[0])
    x = truth.x[ii[pick]] + rng.uniform(-0.5, 0.5, n) * h + precision * rng.normal(size=n)
    y = truth.y[jj[pick]] + rng.uniform(-0.5, 0.5, n) * h + precision * rng.normal(size=n)
    return Localisations(
        x=x,
        y=y,
        frame=rng.integers(1, frames + 1, n).astype(float),
        uncertainty=np.full(n, float(precision)),
        source="synthetic",
    )


def _shifted(truth: Truth, dx: float, dy: float, index: int) -> Truth:
    params = dict(truth.params)
    params.update({"field_offset_nm": [dx, dy], "field_nucleus": index})
    return Truth(
        x=truth.x + dx,
        y=truth.y + dy,
        lam=truth.lam,
        phi_w=truth.phi_w,
        phi_d=truth.phi_d,
        mask=truth.mask,
        params=params,
    )


def simulate_field(
    config: SyntheticStorm | None = None,
    *,
    nuclei: int = 3,
    seed: int = 0,
    gap: float = 1500.0,
    envelope_fraction: float = 0.05,
) -> SyntheticField:
    """A field of view with ``nuclei`` synthetic nuclei side by side along ``x`` (``gap`` nm
    between their simulation boxes), each :func:`simulate_truth` with seed ``seed + k`` and
    observed by :func:`observe`, in two channels: chromatin (:data:`CHROMATIN_CHANNEL`) and a
    nuclear-envelope label (:data:`ENVELOPE_CHANNEL`, ``envelope_fraction`` × the chromatin
    localisations, :func:`envelope_localisations`). Localisations are sorted by frame."""
    cfg = SyntheticStorm() if config is None else config
    if nuclei < 1:
        raise ValueError(f"nuclei must be >= 1, got {nuclei}")
    if not (math.isfinite(gap) and gap >= 0):
        raise ValueError(f"gap must be a non-negative number of nm, got {gap}")
    parts: list[Localisations] = []
    channels: list[np.ndarray] = []
    truths = []
    offset = 0.0
    for k in range(nuclei):
        base = simulate_truth(cfg, seed=seed + k)
        truth = _shifted(base, offset - float(base.x[0]), -float(base.y[0]), k + 1)
        offset = float(truth.x[-1]) + gap
        nucleus = observe(truth, cfg, seed=seed + k)
        env = envelope_localisations(
            truth,
            expected=envelope_fraction * len(nucleus.localisations),
            precision=cfg.precision,
            frames=cfg.frames,
            seed=seed + 7919 * (k + 1),
        )
        for locs, name in ((nucleus.localisations, CHROMATIN_CHANNEL), (env, ENVELOPE_CHANNEL)):
            parts.append(locs)
            channels.append(np.full(len(locs), name))
        truths.append(nucleus.truth)
    frame = np.concatenate([p.frame for p in parts])
    order = np.argsort(frame, kind="stable")
    locs = Localisations(
        x=np.concatenate([p.x for p in parts])[order],
        y=np.concatenate([p.y for p in parts])[order],
        frame=frame[order],
        uncertainty=np.concatenate([p.uncertainty for p in parts])[order],
        channel=np.concatenate(channels)[order],
        source="synthetic",
        meta={"format": "synthetic", "nuclei": nuclei},
    )
    return SyntheticField(localisations=locs, truths=tuple(truths))


def write_field(
    field_: SyntheticField, directory: str | os.PathLike[str], name: str
) -> tuple[Path, list[Path]]:
    """Write ``DIR/<name>.txt`` (an N-STORM text export with both channels) and
    ``DIR/<name>.nucleus<k>.truth.npz`` per nucleus (k from 1, the order along x)."""
    from mollifier.storm.formats import NSTORM, write_text_localisations

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    txt = write_text_localisations(out / f"{name}.txt", field_.localisations, NSTORM)
    paths = []
    for k, truth in enumerate(field_.truths, start=1):
        params = dict(truth.params)
        params["localisation_file"] = txt.name
        paths.append(replace(truth, params=params).save(out / f"{name}.nucleus{k}.truth.npz"))
    return txt, paths
