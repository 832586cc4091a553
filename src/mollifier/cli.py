"""The ``mollifier`` command line: thin wrappers that parse arguments and call the library.

Commands: ``demo``, ``simulate {langevin,heat,heat3d,nonlinear-diffusion,chromatin,storm}``,
``fit CONFIG.toml``, ``bench``, ``storm``, ``report DIR``. Run ``mollifier COMMAND --help``
for the options of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_NOT_OK", "EXIT_OK", "EXIT_USAGE", "main"]

#: Exit statuses (``docs/cli.md``): done and every result ``ok``; done, results written, but some
#: result is not ``ok`` (a fit marked unreliable, a STORM nucleus that failed); the input was
#: refused (nothing written to ``--out``) or the run stopped on a problem the input caused; an
#: internal error (a bug: the traceback is printed); interrupted (Ctrl-C).
EXIT_OK, EXIT_NOT_OK, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors a command reports as one line with exit status 2: bad input (values, files, the
    user's residual), a missing optional package, a solver or simulation that the chosen options
    made diverge, a request larger than the machine's memory."""
    from mollifier._options import OptionTypeError
    from mollifier.inverse import TrainingDivergedError
    from mollifier.sim import SimulationDivergedError, SteadyStateNotReachedError

    return (
        ValueError,
        OptionTypeError,
        OSError,
        ImportError,
        MemoryError,
        TrainingDivergedError,
        SimulationDivergedError,
        SteadyStateNotReachedError,
    )


def _non_negative(option: str) -> Any:
    """An argparse type: a finite number >= 0 (exit status 2 with the option's name otherwise)."""

    def parse(value: str) -> float:
        try:
            out = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be a number, got {value!r}") from None
        if not (math.isfinite(out) and out >= 0):
            raise argparse.ArgumentTypeError(f"{option} must be a finite number >= 0, got {value}")
        return out

    return parse


def _positive_int(option: str) -> Any:
    """An argparse type: an integer >= 1."""

    def parse(value: str) -> int:
        try:
            out = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} must be an integer, got {value!r}"
            ) from None
        if out < 1:
            raise argparse.ArgumentTypeError(f"{option} must be >= 1, got {value}")
        return out

    return parse


def check_out(out: Path) -> None:
    """Refuse an output directory that cannot be written, before any work is done.

    ``out`` may exist (as a directory) or not; it must not be a file, lie under a file, or sit
    in a directory this process cannot write. Nothing is created here.

    Raises
    ------
    ValueError
        Naming ``--out`` and what is wrong.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a directory")
    parent = out
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent != out and parent.exists() and not parent.is_dir():
        raise ValueError(f"--out {out} lies under {parent}, which is a file, not a directory")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        where = "" if parent == out else f" (in {parent})"
        raise ValueError(f"--out {out}: this process may not write there{where}")


def _lam_argument(value: str) -> float | str:
    if value == "grf":
        return value
    try:
        out = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--lam must be a number or 'grf', got {value!r}"
        ) from None
    if not out > 0:
        raise argparse.ArgumentTypeError(f"--lam must be positive, got {value}")
    return out


#: ``--lam-*`` options of ``simulate heat``/``chromatin`` → fields of ``LognormalLambda``.
_LAMBDA_OPTIONS = {
    "lam_median": "median",
    "lam_sigma": "sigma",
    "correlation_length": "correlation_length",
}


def _add_lambda_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """``--lam`` and the ``--lam-*`` options of a random λ; ``default`` (a ``LognormalLambda``)
    is the simulator's own default, shown in ``--help`` and filled in for options not given."""
    parser.add_argument(
        "--lam",
        type=_lam_argument,
        default="grf",
        help="true parameter: a positive constant, or 'grf' for a smooth lognormal "
        "random field (default)",
    )
    parser.add_argument(
        "--lam-median",
        type=float,
        default=None,
        help=f"median of the 'grf' field (default {default.median})",
    )
    parser.add_argument(
        "--lam-sigma",
        type=float,
        default=None,
        help=f"std of log λ for 'grf'; 0 gives the constant median (default {default.sigma})",
    )
    parser.add_argument(
        "--correlation-length",
        type=float,
        default=None,
        help="correlation length of the 'grf' field, in axis units "
        f"(default {default.correlation_length})",
    )


def _lambda(args: argparse.Namespace, default: Any) -> Any:
    """The λ that ``--lam`` and the ``--lam-*`` options given describe: a constant, or
    ``default`` with the given fields replaced."""
    from dataclasses import replace

    given = {
        field: getattr(args, option)
        for option, field in _LAMBDA_OPTIONS.items()
        if getattr(args, option) is not None
    }
    if args.lam != "grf":
        if given:
            flags = ", ".join(
                "--" + o.replace("_", "-") for o, f in _LAMBDA_OPTIONS.items() if f in given
            )
            raise ValueError(f"{flags}: options of the random field, given with a constant --lam")
        return args.lam
    return replace(default, **given)


def _add_grid_options(parser: argparse.ArgumentParser, *, grid: int, refine: int) -> None:
    """``--grid`` (observation nodes per axis) and ``--refine`` of the heat simulators."""
    parser.add_argument(
        "--grid", type=_positive_int("--grid"), default=grid, help="observation nodes per axis"
    )
    parser.add_argument(
        "--refine",
        type=_positive_int("--refine"),
        default=refine,
        help="fine-to-observation grid factor",
    )


def _add_simulate(sub: Any) -> None:
    from mollifier.sim import (
        HEAT3D_LAMBDA,
        HEAT_LAMBDA,
        ExponentialDiffusivity,
        LognormalLambda,
        Stepping,
    )

    sim = sub.add_parser("simulate", help="generate data with known ground truth")
    systems = sim.add_subparsers(dest="system", required=True, metavar="SYSTEM")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, type=Path, help="output directory")
    common.add_argument(
        "--noise",
        type=_non_negative("--noise"),
        default=0.01,
        help="Gaussian noise level relative to each field's std (default 0.01)",
    )
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG)
    p = systems.add_parser("langevin", parents=[common], help="ensemble mean of Langevin particles")
    p.add_argument(
        "--grid", type=_positive_int("--grid"), default=201, help="number of output times"
    )
    p.add_argument("--forcing", choices=["sines", "step", "random"], default="sines")
    p.add_argument("--particles", type=_positive_int("--particles"), default=10_000)
    p = systems.add_parser("heat", parents=[common], help="2-D heat conduction, varying λ")
    _add_lambda_options(p, HEAT_LAMBDA)
    _add_grid_options(p, grid=64, refine=4)
    p.add_argument("--form", choices=["steady", "divergence", "transient"], default="steady")
    p.add_argument("--boundary", choices=["dirichlet", "neumann"], default="dirichlet")
    p = systems.add_parser("heat3d", parents=[common], help="3-D steady heat, varying λ(x, y, z)")
    _add_lambda_options(p, HEAT3D_LAMBDA)
    _add_grid_options(p, grid=24, refine=2)
    p.add_argument("--form", choices=["steady", "divergence"], default="steady")
    p = systems.add_parser(
        "chromatin", parents=[common], help="4th-order chromatin phase field at steady state"
    )
    _add_lambda_options(p, LognormalLambda())
    p.add_argument("--grid", type=_positive_int("--grid"), default=128, help="nodes per axis")
    p.add_argument("--length", type=float, default=10.0, help="domain side (model units)")
    p.add_argument("--boundary", choices=["periodic", "noflux"], default="periodic")
    p.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"steady-state tolerance (default {Stepping().tolerance})",
    )
    p = systems.add_parser(
        "nonlinear-diffusion", parents=[common], help="1-D u_t = (D0 exp(βu) u_x)_x, zero flux"
    )
    _add_grid_options(p, grid=64, refine=4)
    p.add_argument("--times", type=_positive_int("--times"), default=50, help="output times")
    p.add_argument("--d0", type=float, default=ExponentialDiffusivity().d0, help="true D0")
    p.add_argument("--beta", type=float, default=ExponentialDiffusivity().beta, help="true β")
    from mollifier.storm.cli import add_simulate_storm_parser

    add_simulate_storm_parser(systems)


def _run_simulate(args: argparse.Namespace) -> int:
    from mollifier import sim
    from mollifier.io.dataset import save_dataset
    from mollifier.plot import plot_dataset

    if args.system == "storm":
        from mollifier.storm.cli import run_simulate_storm

        status = run_simulate_storm(args)
        _write_report(args, residual="chromatin")
        return status
    noise = sim.GaussianNoise(args.noise) if args.noise > 0 else sim.NoNoise()
    t0 = time.perf_counter()
    if args.system == "langevin":
        forcing = {
            "sines": sim.SineForcing(),
            "step": sim.StepForcing(),
            "random": sim.RandomForcing(seed=args.seed),
        }[args.forcing]
        ds = sim.simulate_langevin(
            n_times=args.grid,
            forcing=forcing,
            n_particles=args.particles,
            noise=noise,
            seed=args.seed,
        )
    elif args.system == "heat":
        ds = sim.simulate_heat(
            n=args.grid,
            form=args.form,
            boundary=args.boundary,
            refine=args.refine,
            lam=_lambda(args, sim.HEAT_LAMBDA),
            noise=noise,
            seed=args.seed,
        )
    elif args.system == "heat3d":
        ds = sim.simulate_heat3d(
            n=args.grid,
            form=args.form,
            refine=args.refine,
            lam=_lambda(args, sim.HEAT3D_LAMBDA),
            noise=noise,
            seed=args.seed,
        )
    elif args.system == "nonlinear-diffusion":
        ds = sim.simulate_nonlinear_diffusion(
            n=args.grid,
            n_times=args.times,
            refine=args.refine,
            diffusivity=sim.ExponentialDiffusivity(d0=args.d0, beta=args.beta),
            noise=noise,
            seed=args.seed,
        )
    else:
        ds = sim.simulate_chromatin(
            n=args.grid,
            length=args.length,
            lam=_lambda(args, sim.LognormalLambda()),
            boundary=args.boundary,
            stepping=sim.Stepping()
            if args.tolerance is None
            else sim.Stepping(tolerance=args.tolerance),
            noise=noise,
            seed=args.seed,
            progress=True,
        )
    save_dataset(ds, args.out)
    plot_dataset(ds, args.out / "preview.png")
    print(
        f"wrote {args.out / 'data.npz'}, {args.out / 'meta.json'} and "
        f"{args.out / 'preview.png'} ({time.perf_counter() - t0:.1f} s)"
    )
    _write_report(args)
    return 0


def _write_report(args: argparse.Namespace, **record: Any) -> None:
    """Record the command's provenance in ``args.out`` and write its ``report.html`` pages
    (:func:`mollifier.report.write_run_report`); without Jinja2, say so and go on."""
    from mollifier.report import write_run_report

    options = {k: v for k, v in vars(args).items() if k not in ("command", "argv", "started")}
    try:
        pages = write_run_report(
            args.out, argv=args.argv, started=args.started, options=options, **record
        )
    except ImportError as exc:
        print(f"report.html not written: {exc}", file=sys.stderr)
        return
    print(f"report: {pages[-1]}")


def _run_report(args: argparse.Namespace) -> int:
    from mollifier.report import write_report

    for page in write_report(args.dir):
        print(f"wrote {page}")
    return 0


def _run_fit(args: argparse.Namespace) -> int:
    from mollifier._distributed import check_distributable, launch, launched
    from mollifier.config import load_config
    from mollifier.study import run_fit
    from mollifier.sweep import load_sweep

    if args.nproc is not None:
        if launched():
            raise ValueError("--nproc starts the ranks itself; under torchrun leave it out")
        check_distributable(load_config(args.config))  # refuse once, before starting ranks
        return launch(_without_nproc(args.argv), nproc=args.nproc)
    sweep = load_sweep(args.config)
    if sweep is not None:
        if launched():
            raise ValueError("a [sweep] is not split across ranks; run it without torchrun")
        return _run_sweep(args, sweep)
    if args.workers is not None or args.scheduler is not None:
        raise ValueError(
            f"--workers/--scheduler run the runs of a [sweep]; {args.config} has no [sweep] table"
        )
    config = load_config(args.config)
    if launched():
        return _run_fit_rank(args, config)
    result = run_fit(config, args.out, progress=not args.quiet, resume=args.resume)
    print(result.summary())
    print(f"wrote {args.out / 'result.json'}, {args.out / 'unknowns.npz'} and figures")
    _write_report(
        args, config_file=args.config, residual=_residual_spec(config), results={"": result}
    )
    return EXIT_OK if result.status == "ok" else EXIT_NOT_OK


def _without_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` (or ``--nproc=N``)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _run_fit_rank(args: argparse.Namespace, config: Any) -> int:
    """``mollifier fit`` as one rank of a launched job (``torchrun``, ``--nproc``): errors
    name the rank; rank 0 prints the summary and writes the report."""
    import torch.distributed as dist

    from mollifier._distributed import init_process_group, run_fit_distributed

    device = getattr(config.solver, "device", "cpu")
    rank, world = init_process_group(device=device, timeout_s=config.distributed.timeout_s)
    args.command = f"fit (rank {rank} of {world})"  # how main() names this process's errors
    try:
        result = run_fit_distributed(
            config, args.out, progress=not args.quiet and rank == 0, resume=args.resume
        )
    finally:
        dist.destroy_process_group()
    if result is None:
        return EXIT_OK
    print(result.summary())
    print(
        f"wrote {args.out / 'result.json'}, {args.out / 'unknowns.npz'} and figures ({world} ranks)"
    )
    _write_report(
        args, config_file=args.config, residual=_residual_spec(config), results={"": result}
    )
    return EXIT_OK if result.status == "ok" else EXIT_NOT_OK


def _run_sweep(args: argparse.Namespace, sweep: Any) -> int:
    """``mollifier fit`` of a config with a ``[sweep]`` table: every run into OUT/<run>/."""
    from mollifier._executor_cli import executor_from
    from mollifier.sweep import run_sweep

    if args.resume:
        raise ValueError("--resume continues one network fit; a sweep skips finished runs itself")
    t0 = time.perf_counter()
    print(f"sweep: {len(sweep.runs)} runs from {args.config}")
    rows = run_sweep(
        sweep,
        args.out,
        executor=executor_from(args),
        progress=not args.quiet,
        resume=not args.redo,
    )
    failed = [r["run"] for r in rows if r["status"] == "failed"]
    for r in rows:
        note = f"FAILED: {r['error']}" if r["status"] == "failed" else r["status"]
        print(f"{r['run']:<40} {note}")
    print(
        f"wrote {args.out}/summary.csv, summary.md (and comparison.png) and a folder per run "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    from mollifier.report import NotAResultError

    try:
        _write_report(args, config_file=args.config, residual=_residual_spec(sweep.runs[0].config))
    except NotAResultError:  # every run failed: no result to show
        print("report.html not written: no run finished", file=sys.stderr)
    if failed:
        print(
            f"{len(failed)} of {len(rows)} runs failed (error.txt and traceback.txt in each "
            f"folder): {', '.join(failed)}",
            file=sys.stderr,
        )
        return EXIT_NOT_OK
    return EXIT_OK if all(r["status"] == "ok" for r in rows) else EXIT_NOT_OK


def _residual_spec(config: Any) -> str | None:
    """A fit config's ``[problem]`` as a residual spec: a built-in name or ``file:function``."""
    return config.problem.builtin or config.problem.residual


def _run_demo(args: argparse.Namespace) -> int:
    from mollifier.study import run_demo

    t0 = time.perf_counter()
    print("mollifier demo: steady heat 0 = λ(x,y) ∇²u + m on a 48 × 48 grid, 1% noise")
    results = run_demo(args.out, steps=args.steps, progress=not args.quiet)
    print(f"\n{'solver':<22} {'Pearson r':>10} {'rel. L2':>9} {'median rel.':>12} {'time (s)':>9}")
    for name, res in results.items():
        m = res.metrics["lam"]
        label = "direct (weak form)" if name == "direct" else "MLP + mollifier"
        print(
            f"{label:<22} {m['pearson']:>10.4f} {m['rel_l2']:>9.4f} "
            f"{m['median_rel_error']:>12.4f} {res.wall_time_s:>9.1f}"
        )
    direct = results["direct"]
    lam, interval = direct.unknowns["lam"], direct.intervals().get("lam")
    if interval is not None:
        centre = tuple(n // 2 for n in lam.shape)
        print(
            f"direct λ at the centre node: {lam[centre]:.4g}, {direct.level:.0%} interval "
            f"[{interval[0][centre]:.4g}, {interval[1][centre]:.4g}] ({direct.uncertainty_method}"
            f"; noise estimate σ(u) = {direct.noise_std['u']:.3g})"
        )
    widths = results["direct"].widths
    print(
        f"widths ({widths['rule']}): "
        + ", ".join(f"{a} = {w:.4g}" for a, w in widths.items() if a != "rule")
    )
    print(f"figures and results in {args.out}/ (total {time.perf_counter() - t0:.0f} s)")
    _write_report(args, residual="heat", results=results)
    return 0


def _parser() -> argparse.ArgumentParser:
    from mollifier import __version__
    from mollifier._executor_cli import add_executor_options

    parser = argparse.ArgumentParser(
        prog="mollifier",
        description="Inverse PDE learning with Mollifier Layers: recover PDE parameters from "
        "noisy gridded data.",
    )
    parser.add_argument("--version", action="version", version=f"mollifier {__version__}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo", parents=[debug], help="recover λ(x,y) of a small heat problem (built-in data)"
    )
    demo.add_argument("--out", type=Path, default=Path("out/demo"))
    demo.add_argument("--steps", type=int, default=2500, help="network training steps")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    fit = sub.add_parser("fit", parents=[debug], help="run a study from a TOML config")
    fit.add_argument("config", type=Path)
    fit.add_argument("--out", type=Path, required=True)
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.add_argument(
        "--resume",
        action="store_true",
        help="continue the network solver from OUT/checkpoint.pt if there is one (same [solver] "
        "settings)",
    )
    fit.add_argument(
        "--nproc",
        type=_positive_int("--nproc"),
        default=None,
        help="train the network solver in N processes on this machine, the grid split into N "
        "slabs (the same as torchrun --nproc-per-node N -m mollifier fit ...; "
        "docs/distributed.md)",
    )
    add_executor_options(fit, "runs of a [sweep]")
    _add_simulate(sub)
    # Listed for --help only: main() hands `mollifier bench ...` to the harness before parsing.
    sub.add_parser(
        "bench",
        help="benchmark time, peak memory and accuracy (the separate mollifier-bench package; "
        "mollifier bench --help lists its options)",
    )
    from mollifier.storm.cli import add_storm_parser

    storm = add_storm_parser(sub)
    storm.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG)
    report = sub.add_parser(
        "report",
        help="(re)build DIR/report.html from the files of a result directory",
        description="Write DIR/report.html, one self-contained page (figures embedded, no "
        "network requests), from the files any mollifier command wrote to DIR; for a batch "
        "(a STORM batch, a directory of results) also each item's page, linked from it.",
    )
    report.add_argument("dir", type=Path, metavar="DIR", help="a result directory")
    report.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG)
    return parser


def _run_bench(argv: Sequence[str]) -> int:
    """``mollifier bench ARGS``: the benchmark harness, a separate distribution (``benchmarks/``).

    This is the only place the library imports ``mollifier_bench``.
    """
    if importlib.util.find_spec("mollifier_bench") is None:
        print(
            "mollifier bench: the benchmark harness is not installed; from the repository run "
            "`pip install ./benchmarks`",
            file=sys.stderr,
        )
        return 2
    from mollifier_bench.cli import main as bench_main

    try:
        return bench_main(argv, prog="mollifier bench")
    except _user_errors() as exc:
        print(f"mollifier bench: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


_DEBUG = "on an error, print the whole traceback as well as the one-line message"


def _one_line(exc: BaseException) -> str:
    """The message of a refused input, for one line of the terminal."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, MemoryError):
        return f"not enough memory ({exc or 'the allocation failed'})"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split("\n")) if len(text) < 400 else text


def _check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output directory that cannot be written and input files that
    do not exist."""
    if getattr(args, "out", None) is not None:
        check_out(Path(args.out))
    if args.command == "fit" and not Path(args.config).is_file():
        raise FileNotFoundError(f"config file {args.config} not found")
    if args.command == "storm":
        missing = [str(p) for p in args.inputs if not Path(p).exists()]
        if missing:
            raise FileNotFoundError(f"input {', '.join(missing)} not found")
        if args.unit is not None:
            from mollifier.storm.localisations import length_unit_nm

            try:
                length_unit_nm(args.unit, pixel_size=args.pixel_size)
            except ValueError as exc:
                raise ValueError(f"--unit {args.unit}: {exc}") from None
        if args.method == "network":
            from mollifier._device import check_device

            try:
                check_device(args.device)
            except ValueError as exc:
                raise ValueError(f"--device {args.device}: {exc}; pass --device cpu") from None


def _dispatch(args: argparse.Namespace) -> int:
    _check_inputs(args)
    if args.command == "demo":
        return _run_demo(args)
    if args.command == "fit":
        return _run_fit(args)
    if args.command == "simulate":
        return _run_simulate(args)
    if args.command == "storm":
        from mollifier.storm.cli import run_storm

        status = run_storm(args)
        _write_report(args, residual="chromatin")
        return status
    if args.command == "report":
        return _run_report(args)
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mollifier`` command; returns the exit status (``docs/cli.md``).

    A refused input prints one line, ``mollifier COMMAND: error: ...``, and returns 2 (with
    ``--debug``, after the traceback); an unexpected error returns 3 after the traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _run_bench(argv[1:])
    args = _parser().parse_args(argv)
    args.argv, args.started = argv, time.time()  # the report's provenance
    try:
        return _dispatch(args)
    except _user_errors() as exc:
        if args.debug:
            traceback.print_exception(exc)
        from mollifier.inverse import ResidualError

        hint = " (--debug shows the traceback)" if isinstance(exc, ResidualError) else ""
        print(f"mollifier {args.command}: error: {_one_line(exc)}{hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mollifier {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        traceback.print_exception(exc)
        print(
            f"mollifier {args.command}: internal error: {type(exc).__name__}: {exc}. This is a "
            "bug in mollifier; please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
