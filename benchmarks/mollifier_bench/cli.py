"""The bench command line: parse the options, then call :func:`mollifier_bench.harness.run_tier`.

Run as ``python -m mollifier_bench [options]`` or, through the core's thin dispatch,
``mollifier bench [options]``.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mollifier_bench.config import STUDIES

__all__ = ["build_parser", "main", "run"]


def build_parser(prog: str = "python -m mollifier_bench") -> argparse.ArgumentParser:
    """The argument parser of the bench command, named ``prog`` in its usage line."""
    from mollifier_bench.tiers import TIERS

    p = argparse.ArgumentParser(
        prog=prog,
        description="Benchmark time, peak memory and accuracy: autodiff vs mollifier vs direct. "
        "Runs a benchmark tier; finished runs are cached in DIR/runs, so re-running the same "
        "command resumes. Writes DIR/bench.json, DIR/bench.md and plots.",
    )
    p.add_argument(
        "--tier",
        choices=sorted(TIERS),
        default="smoke",
        help="smoke (CI, ~1 min), cpu (2 cores, ~45 min), cpu-fit (the chromatin MLP pair at "
        "10 000 steps, ~1.8 h) or full (a GPU, ~9 min)",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the tier's)")
    p.add_argument("--force", action="store_true", help="re-run cached runs")
    p.add_argument(
        "--only",
        nargs="+",
        choices=STUDIES,
        default=None,
        metavar="STUDY",
        help=f"run only these studies ({', '.join(STUDIES)})",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per run (default: the tier's; 0 = torch's default)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop starting runs after this long (they are resumed next time)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace, *, command: str | None = None) -> int:
    """Run the parsed bench options; returns the exit status (0 when every run completed).

    ``command`` is recorded in the report as the command that made it (default: the
    ``mollifier bench`` command for the tier and output directory).
    """
    from mollifier_bench.harness import run_tier
    from mollifier_bench.tiers import get_tier

    tier = get_tier(args.tier)
    if args.device not in (None, "auto"):
        from mollifier._device import check_device

        try:
            check_device(args.device)
        except ValueError as exc:
            raise ValueError(f"--device {args.device}: {exc}; pass --device cpu") from None
    t0 = time.perf_counter()
    if command is None:
        command = f"mollifier bench --tier {args.tier} --out {shlex.quote(str(args.out))}"

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        outcome = run_tier(
            tier,
            args.out,
            device=args.device,
            force=args.force,
            only=tuple(args.only) if args.only else tier.studies,
            threads=args.threads,
            time_budget_s=args.time_budget,
            plots=not args.no_plots,
            progress=not args.quiet,
            command=command,
        )
    except KeyboardInterrupt as exc:
        print(f"bench {tier.name}: {exc}; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    bad = [r for r in outcome.records if r.get("status") in ("error", "killed")]
    _write_page(args, command)
    print(
        f"bench {tier.name}: {len(outcome.records)} records ({outcome.ran} run, "
        f"{outcome.cached} cached) in {time.perf_counter() - t0:.0f} s; "
        f"{len(bad)} failed. Wrote " + ", ".join(str(f) for f in outcome.files)
    )
    return 1 if bad else 0


def _write_page(args: argparse.Namespace, command: str) -> None:
    """``DIR/report.html`` from the tier's files (:func:`mollifier.report.write_run_report`);
    without Jinja2 (the ``report`` extra), say so and go on."""
    from mollifier.report import write_run_report

    try:
        page = write_run_report(args.out, command=command, options=vars(args))[-1]
    except ImportError as exc:
        print(f"report.html not written: {exc}", file=sys.stderr)
        return
    print(f"report: {page}")


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m mollifier_bench") -> int:
    """The bench command on its own: parse ``argv`` (default ``sys.argv[1:]``) and run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(argv)
    return run(args, command=" ".join([prog, *(shlex.quote(a) for a in argv)]))
