"""``mollifier storm`` and ``mollifier simulate storm``: parse, build the configs, call the library.

``mollifier storm INPUT... --out DIR [--pixel-size NM] [--length-scale NM] [--condition NAME ...]``
analyses each input (ThunderSTORM/Picasso/plain tables or density maps) into ``DIR/<name>/`` and
writes ``DIR/summary.csv``, ``DIR/comparison.csv`` and ``DIR/comparison.png``.

``mollifier simulate storm --out DIR [--seed S] [--nuclei N] ...`` writes ``DIR/nucleus_000.csv``
(ThunderSTORM) and ``DIR/nucleus_000.truth.npz`` (ground truth) per nucleus.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "add_simulate_storm_parser",
    "add_storm_parser",
    "run_simulate_storm",
    "run_storm",
]


def _positive(value: str) -> float:
    try:
        out = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not out > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return out


def _width(value: str) -> float | str:
    return "auto" if value == "auto" else _positive(value)


def add_storm_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``storm`` command to ``mollifier``'s subparsers."""
    from mollifier._executor_cli import add_executor_options

    p = subparsers.add_parser(
        "storm",
        help="infer λ(x,y) from STORM localisations of chromatin (per nucleus)",
        description="Infer the methylation/acetylation rate ratio λ(x,y) of the chromatin model "
        "from super-resolution localisations (or density maps), one nucleus per "
        "input file; a truth.npz beside an input adds metrics against it.",
    )
    _add_input_options(p)
    _add_density_options(p)
    _add_solver_options(p)
    _add_calibration_options(p)
    _add_run_options(p)
    add_executor_options(p, "inputs")
    return p


def _add_input_options(p: argparse.ArgumentParser) -> None:
    """Inputs, conditions, formats, channels and units."""
    from mollifier.storm.readers import INPUT_KINDS

    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="ThunderSTORM CSV, Picasso HDF5, CSV/npz table, or density map",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--condition",
        nargs="+",
        default=None,
        metavar="NAME",
        help="condition label: one for all inputs, or one per input",
    )
    p.add_argument("--kind", choices=INPUT_KINDS, default="auto", help="input format")
    p.add_argument(
        "--columns",
        nargs="+",
        default=None,
        metavar="ROLE=NAME",
        help="a generic table's columns, e.g. x=pos_x y=pos_y channel=probe (roles: "
        "x, y, frame, uncertainty, channel)",
    )
    p.add_argument(
        "--channel", default=None, help="channel to analyse (required for multi-channel files)"
    )
    p.add_argument(
        "--mask-channel",
        default=None,
        help="channel outlining the nuclei (e.g. a nuclear-envelope label); it segments them",
    )
    p.add_argument(
        "--nucleus",
        type=int,
        default=None,
        metavar="INDEX",
        help="analyse only the INDEX-th nucleus of each field (1-based; default all)",
    )
    p.add_argument(
        "--include-unreliable",
        action="store_true",
        help="compare items the quality gate marked unreliable too",
    )
    p.add_argument(
        "--unit", default=None, help="coordinate unit of plain tables and maps: nm, um or px"
    )
    p.add_argument(
        "--pixel-size",
        type=_positive,
        default=None,
        help="camera pixel size in nm (Picasso, or tables/maps in px)",
    )
    p.add_argument(
        "--length-scale",
        type=_positive,
        default=None,
        help="nm per model length unit (default 300)",
    )


def _add_density_options(p: argparse.ArgumentParser) -> None:
    """The density map: pixel size, estimator and smoothing."""
    from mollifier.storm.density import DENSITY_METHODS

    p.add_argument(
        "--grid-spacing", type=_positive, default=30.0, help="density pixel size in nm (default 30)"
    )
    p.add_argument(
        "--density", choices=DENSITY_METHODS, default="kde", help="density estimator (default kde)"
    )
    p.add_argument(
        "--bandwidth",
        type=float,
        default=15.0,
        help="Gaussian smoothing of the density in nm (default 15)",
    )


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    """Segmentation, the mollifier width and the inverse solver."""
    from mollifier.inverse.network.solver import Network
    from mollifier.storm.segmentation import SEGMENTATION_METHODS

    network = Network()
    p.add_argument("--segmentation", choices=SEGMENTATION_METHODS, default="threshold")
    p.add_argument(
        "--width",
        type=_width,
        default=None,
        help="mollifier support radius in nm, or 'auto' (default: 2 model units)",
    )
    p.add_argument(
        "--method",
        choices=("direct", "network"),
        default="direct",
        help="inverse solver (default direct)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=network.steps,
        help=f"network training steps (default {network.steps})",
    )
    p.add_argument(
        "--device",
        default=network.device,
        help=f"network solver device: cpu or cuda (default {network.device})",
    )


def _add_calibration_options(p: argparse.ArgumentParser) -> None:
    """The reference (decondensed) density and its calibration."""
    p.add_argument(
        "--contrast",
        type=_positive,
        default=None,
        help="label per heterochromatin / per euchromatin volume fraction (default 2)",
    )
    p.add_argument(
        "--reference-density",
        type=_positive,
        default=None,
        help="fixed reference (decondensed) density in localisations/µm²",
    )
    p.add_argument(
        "--blinking",
        type=float,
        default=3.0,
        help="mean detections per fluorophore, for the reference calibration",
    )
    p.add_argument(
        "--merge-blinks",
        action="store_true",
        help="merge detections of one blink in consecutive frames within 3 precisions "
        "(files without a linked column); then give --blinking for what is left",
    )
    p.add_argument(
        "--no-twin",
        action="store_true",
        help="skip the synthetic-twin calibration of the reference density",
    )


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Uncertainty, seeds, figures, progress and error handling."""
    p.add_argument("--uncertainty", choices=("none", "bootstrap", "ensemble"), default="none")
    p.add_argument("--replicates", type=int, default=8, help="bootstrap/ensemble size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--stop-on-error",
        action="store_true",
        help="stop at the first nucleus that fails instead of recording it (serial runs)",
    )


def _config(args: argparse.Namespace) -> Any:
    from mollifier.inverse.network.solver import Network
    from mollifier.storm.inference import DEFAULT_LENGTH_SCALE_NM, InferenceConfig
    from mollifier.storm.mapping import DensityMapping
    from mollifier.storm.options import StormConfig

    mapping = DensityMapping() if args.contrast is None else DensityMapping(contrast=args.contrast)
    inference = InferenceConfig(
        width=args.width,
        method=args.method,
        seed=args.seed,
        network=Network(steps=args.steps, device=args.device, seed=args.seed),
    )
    return StormConfig(
        length_scale=args.length_scale or DEFAULT_LENGTH_SCALE_NM,
        spacing=args.grid_spacing,
        density=args.density,
        bandwidth=args.bandwidth,
        segmentation=args.segmentation,
        mapping=mapping,
        reference_density=args.reference_density,
        blinking=args.blinking,
        twin=not args.no_twin,
        inference=inference,
        uncertainty=args.uncertainty,
        replicates=args.replicates,
        seed=args.seed,
        nucleus=args.nucleus,
        merge_blinks=args.merge_blinks,
    )


def _columns(specs: list[str] | None) -> dict[str, str] | None:
    if specs is None:
        return None
    out = {}
    for spec in specs:
        role, sep, name = spec.partition("=")
        if not sep or not role or not name:
            raise ValueError(f"--columns takes ROLE=NAME pairs, got {spec!r}")
        out[role.strip()] = name.strip()
    return out


def run_storm(args: argparse.Namespace) -> int:
    """Run ``mollifier storm``; 0 when no item failed (``ok`` or ``unreliable``), 1 when some
    did."""
    from mollifier._executor_cli import executor_from
    from mollifier.storm.batch import run_batch

    t0 = time.perf_counter()
    cfg = _config(args)
    rows = run_batch(
        args.inputs,
        out=args.out,
        config=cfg,
        conditions=args.condition,
        kind=args.kind,
        unit=args.unit,
        pixel_size=args.pixel_size,
        columns=_columns(args.columns),
        channel=args.channel,
        mask_channel=args.mask_channel,
        include_unreliable=args.include_unreliable,
        figures=not args.no_figures,
        progress=not args.quiet,
        stop_on_error=args.stop_on_error,
        executor=executor_from(args),
        resume=not args.redo,
    )
    failed = [r for r in rows if r.get("status") == "failed"]
    for r in rows:
        if r.get("error"):
            print(
                f"{r['name']:<24} FAILED: {r['error']} (traceback in "
                f"{args.out / r['name'] / 'traceback.txt'})",
                file=sys.stderr,
            )
            continue
        extra = ""
        if r.get("pearson") is not None and r.get("pearson") == r.get("pearson"):
            extra = (
                f"  vs truth: r = {r['pearson']:.3f}, median error {100 * r['median_error']:+.1f}%"
            )
        print(
            f"{r['name']:<24} {r['condition'] or '-':<12} {r['status']:<10} median λ̂ = "
            f"{r['lambda_median']:.4g}  domains {r['domain_count']:.0f}{extra}"
        )
        if r.get("reasons"):
            print(f"{'':<24} {r['status']}: {r['reasons']}")
    print(
        f"wrote {args.out}/summary.csv, comparison.csv and per-nucleus folders "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    if failed:
        print(
            f"{len(failed)} of {len(rows)} items failed: {', '.join(r['name'] for r in failed)}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def add_simulate_storm_parser(simulate_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``storm`` to the subparsers of ``mollifier simulate``."""
    from mollifier.storm.synthetic import SyntheticStorm

    d = SyntheticStorm()
    p = simulate_subparsers.add_parser(
        "storm",
        help="synthetic STORM nuclei (ThunderSTORM CSV) with ground truth",
        description="Chromatin steady states with a smooth lognormal λ inside nucleus-shaped "
        "masks, observed as STORM localisations (blinking, precision, background, "
        "frames); writes nucleus_NNN.csv and nucleus_NNN.truth.npz.",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0, help="seed of the first nucleus")
    p.add_argument("--nuclei", type=int, default=1, help="number of nuclei (seeds S, S+1, ...)")
    p.add_argument("--prefix", default="nucleus", help="file name prefix (default nucleus)")
    p.add_argument(
        "--size",
        type=_positive,
        nargs=2,
        default=list(d.size),
        metavar=("DX", "DY"),
        help="nucleus diameters in nm (default 8000 6000)",
    )
    p.add_argument(
        "--localisations",
        type=_positive,
        default=d.localisations,
        help="expected chromatin localisations per nucleus (default 4e5)",
    )
    p.add_argument(
        "--precision",
        type=_positive,
        default=d.precision,
        help="median localisation precision in nm (default 15)",
    )
    p.add_argument(
        "--blinking",
        type=float,
        default=d.blinking,
        help="mean detections per fluorophore (default 3)",
    )
    p.add_argument(
        "--background",
        type=float,
        default=d.background,
        help="background localisations as a fraction (default 0.05)",
    )
    p.add_argument("--frames", type=int, default=d.frames, help="camera frames (default 20000)")
    p.add_argument("--lam-median", type=_positive, default=d.lam_median)
    p.add_argument("--lam-sigma", type=float, default=d.lam_sigma)
    p.add_argument(
        "--lam-correlation",
        type=_positive,
        default=d.lam_correlation,
        help="correlation length of λ in nm (default 1200)",
    )
    p.add_argument(
        "--length-scale",
        type=_positive,
        default=d.length_scale,
        help="nm per model length unit (default 300)",
    )
    p.add_argument("--no-nucleolus", action="store_true", help="no nucleolus hole")
    p.add_argument(
        "--field",
        action="store_true",
        help="one field of view holding the --nuclei nuclei side by side, two channels "
        "(chromatin '647', nuclear envelope '561'), as an N-STORM text export "
        "PREFIX_000.txt with PREFIX_000.nucleusK.truth.npz per nucleus",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run_simulate_storm(args: argparse.Namespace) -> int:
    """Run ``mollifier simulate storm``."""
    from tqdm.auto import tqdm

    from mollifier._progress import progress_bar
    from mollifier.storm.synthetic import SyntheticStorm, simulate_storm, write_synthetic

    if args.nuclei < 1:
        raise ValueError(f"--nuclei must be >= 1, got {args.nuclei}")
    cfg = SyntheticStorm(
        size=(float(args.size[0]), float(args.size[1])),
        localisations=args.localisations,
        precision=args.precision,
        blinking=args.blinking,
        background=args.background,
        frames=args.frames,
        lam_median=args.lam_median,
        lam_sigma=args.lam_sigma,
        lam_correlation=args.lam_correlation,
        length_scale=args.length_scale,
        nucleolus=not args.no_nucleolus,
    )
    t0 = time.perf_counter()
    if args.field:
        from mollifier.storm.synthetic import simulate_field, write_field

        fov = simulate_field(cfg, nuclei=args.nuclei, seed=args.seed)
        txt, truths = write_field(fov, args.out, f"{args.prefix}_000")
        print(
            f"wrote {txt} ({len(fov.localisations):,} localisations, channels "
            f"{fov.localisations.channels()}) and {len(truths)} truths "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        return 0
    for k in progress_bar(range(args.nuclei), desc="nuclei", unit="nucleus", disable=args.quiet):
        nucleus = simulate_storm(cfg, seed=args.seed + k)
        csv, npz = write_synthetic(nucleus, args.out, f"{args.prefix}_{k:03d}")
        if args.quiet:
            continue
        tqdm.write(f"{csv.name}: {len(nucleus.localisations):,} localisations; truth in {npz.name}")
    print(f"wrote {args.nuclei} nuclei to {args.out} ({time.perf_counter() - t0:.0f} s)")
    return 0
