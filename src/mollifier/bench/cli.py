"""``mollifier bench``: parse the options, then call :func:`mollifier.bench.harness.run_tier`."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mollifier.bench.config import STUDIES

__all__ = ["add_parser", "main", "run"]


def add_parser(subparsers: Any) -> Any:
    """Add the ``bench`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    from mollifier.bench.tiers import TIERS

    p = subparsers.add_parser(
        "bench",
        help="benchmark time, peak memory and accuracy: autodiff vs mollifier vs direct",
        description="Run a benchmark tier; finished runs are cached in DIR/runs, so re-running "
        "the same command resumes. Writes DIR/bench.json, DIR/bench.md and plots.",
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


def run(args: argparse.Namespace) -> int:
    """Run the ``bench`` subcommand; returns the exit status (0 when every run completed)."""
    from mollifier.bench.harness import run_tier
    from mollifier.bench.tiers import get_tier

    tier = get_tier(args.tier)
    t0 = time.perf_counter()
    command = "mollifier " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if "bench" not in sys.argv[1:]:
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
    print(
        f"bench {tier.name}: {len(outcome.records)} records ({outcome.ran} run, "
        f"{outcome.cached} cached) in {time.perf_counter() - t0:.0f} s; "
        f"{len(bad)} failed. Wrote " + ", ".join(str(f) for f in outcome.files)
    )
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mollifier.bench.cli [options]``: the ``bench`` subcommand on its own."""
    parser = argparse.ArgumentParser(prog="mollifier")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
