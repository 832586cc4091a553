"""``mollifier fit`` across processes: the process group, the launcher and the fit of one rank.

``torchrun --nproc-per-node N -m mollifier fit CONFIG --out DIR`` starts N copies of the
command; torch's launcher tells each its rank through the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), which
:func:`launched` detects and :func:`init_process_group` reads. ``mollifier fit --nproc N``
starts the same through torch's own launcher API (:func:`launch`: ``torch.distributed.run``
with a standalone rendezvous on this machine). Each rank then runs :func:`run_fit_distributed`:
the network solver trained on its slab of the grid
(:func:`~mollifier.inverse.network.distributed.solve_distributed`); rank 0 writes the result,
figures and checkpoints.

Backends: gloo on the CPU; NCCL with ``[solver] device = "cuda"``, one GPU per rank (the rank's
``LOCAL_RANK``-th device). The group's timeout (``[distributed] timeout_s``) bounds how long a
rank waits for one that died; the launcher stops the others as soon as one exits with an error.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from mollifier.inverse import Network
from mollifier.inverse.problem import constant_fields

if TYPE_CHECKING:
    from mollifier.config import FitConfig
    from mollifier.inverse.result import Result

__all__ = [
    "check_distributable",
    "init_process_group",
    "launch",
    "launched",
    "run_fit_distributed",
]

#: What torch's launcher sets in every worker's environment.
_LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether this process is a worker started by ``torchrun`` (or :func:`launch`)."""
    return all(v in os.environ for v in _LAUNCH_VARIABLES)


def init_process_group(*, device: str, timeout_s: float) -> tuple[int, int]:
    """Join the launcher's process group: gloo for ``device="cpu"``, NCCL for CUDA (after
    selecting the ``LOCAL_RANK``-th GPU). Returns ``(rank, world_size)``.

    Raises
    ------
    ValueError
        For CUDA with fewer visible GPUs than local ranks.
    """
    if device.startswith("cuda"):
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"local rank {local} needs GPU {local}, but {torch.cuda.device_count()} are "
                "visible; start at most one rank per GPU"
            )
        torch.cuda.set_device(local)
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return dist.get_rank(), dist.get_world_size()


def launch(argv: Sequence[str], *, nproc: int) -> int:
    """Run ``python -m mollifier ARGV`` as ``nproc`` ranks on this machine through torch's
    launcher (``torch.distributed.run``, standalone rendezvous). Returns 0, or the largest exit
    status of the ranks that did not end with 0 (each printed its own error, and the failed
    ranks are named; the launcher stops the others when one fails)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(
        ["--standalone", "--nproc-per-node", str(nproc), "-m", "mollifier", *argv]
    )
    try:
        run(args)
    except ChildFailedError as exc:
        codes = {rank: f.exitcode for rank, f in exc.failures.items()}
        if set(codes.values()) != {1}:  # 1 alone: results written, some not ok (docs/cli.md)
            named = ", ".join(f"rank {rank} (exit {code})" for rank, code in sorted(codes.items()))
            print(f"mollifier fit --nproc {nproc}: failed: {named}", file=sys.stderr, flush=True)
        return max((c for c in codes.values() if c > 0), default=1)
    return 0


def check_distributable(config: FitConfig) -> Network:
    """The config's network solver; refuse another solver (only the network solver is split
    across processes).

    Raises
    ------
    ValueError
        Naming the solver.
    """
    if not isinstance(config.solver, Network):
        raise ValueError(
            "a distributed fit trains the network solver ([solver] method = 'network'); "
            f"{type(config.solver).__name__} runs in one process: run mollifier fit without "
            "torchrun or --nproc"
        )
    return config.solver


def run_fit_distributed(
    config: FitConfig, out: str | Path, *, progress: bool = True, resume: bool = False
) -> Result | None:
    """This rank's part of ``mollifier fit`` under a launcher (module docstring): rank 0
    returns the saved :class:`Result`, the others ``None``.

    Every rank reads the data and builds the problem (the dataset format is read whole, see
    ``docs/distributed.md``), keeps its slab and frees the rest before training.

    Raises
    ------
    ValueError
        For a solver other than the network, or a problem the decomposition cannot serve.
    """
    from mollifier.inverse import refine_width
    from mollifier.inverse.network.distributed import solve_distributed
    from mollifier.study import build_problem, load_study_data

    solver = check_distributable(config)
    t0 = time.perf_counter()

    def build() -> Any:
        ds = load_study_data(config)
        constant = constant_fields(ds.fields)
        if constant:
            raise ValueError(f"{config.data.path}: data {constant} are constant")
        return refine_width(build_problem(config, ds))

    result = solve_distributed(
        build,
        solver,
        options=config.distributed,
        checkpoint=Path(out) / "checkpoint.pt",
        resume=resume,
        progress=progress,
    )
    if result is None:
        return None
    result.config["source"] = config.source
    result.wall_time_s = max(result.wall_time_s, time.perf_counter() - t0)
    result.save(out)
    return result
