"""The command-line options that choose an :class:`~mollifier.executor.Executor`, shared by
``mollifier storm`` and ``mollifier fit`` (a ``[sweep]``)."""

from __future__ import annotations

import argparse

from mollifier.executor import CLUSTER_EXTRA, Executor

__all__ = ["add_executor_options", "executor_from"]


def add_executor_options(parser: argparse.ArgumentParser, items: str) -> None:
    """Add ``--workers N`` | ``--scheduler ADDRESS`` and ``--redo`` to ``parser``; ``items``
    names what runs (``"inputs"``)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"run the {items} on a local Dask cluster of N worker processes, one torch thread "
        f"each (needs {CLUSTER_EXTRA}); default: one after the other in this process",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"run the {items} on a running Dask cluster, e.g. tcp://host:8786 (its workers "
        "must see the inputs and --out at the same paths)",
    )
    parser.add_argument(
        "--redo",
        action="store_true",
        help=f"redo the {items} an earlier run into --out finished (default: skip them)",
    )


def executor_from(args: argparse.Namespace) -> Executor:
    """The executor that ``--workers``/``--scheduler`` ask for (serial when neither is given);
    a bad value is a ``ValueError`` naming the option."""
    return Executor(workers=args.workers, scheduler=args.scheduler)
