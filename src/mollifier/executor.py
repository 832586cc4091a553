"""Run independent work items serially or on a Dask cluster: one place for every batch command.

An :class:`Executor` says where the items run:

* serially in this process (the default; nothing beyond the core install is imported);
* on a local ``dask.distributed`` cluster of ``workers`` processes, one thread each, with
  torch limited to ``threads`` threads per process so that the processes do not oversubscribe
  the cores;
* on an existing cluster, through its scheduler's address (``tcp://host:8786``). Its workers
  must see the same file system as this process: each item writes its own results.

:func:`run_tasks` runs a list of :class:`Task` and returns one :class:`Outcome` per task, in
order. A task that raises becomes an outcome with the message and the traceback; the others go
on. A worker that dies has its tasks rerun elsewhere (Dask reschedules them, and ``retries``
reruns a task whose exception escaped), so a task must be idempotent: it writes its results
atomically, and writing them twice leaves one copy.

Examples
--------
>>> outcomes = run_tasks([Task("a", abs, (-2,)), Task("b", int, ("x",))], progress=False)
>>> [(o.name, o.value, o.ok) for o in outcomes]
[('a', 2, True), ('b', None, False)]
>>> outcomes[1].error
"ValueError: invalid literal for int() with base 10: 'x'"
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mollifier._tasks import Outcome, Task, call_task

__all__ = ["CLUSTER_EXTRA", "Executor", "Outcome", "Task", "run_tasks"]

#: How to install the optional Dask dependency.
CLUSTER_EXTRA = "pip install 'mollifier[cluster]'"


@dataclass(frozen=True)
class Executor:
    """Where :func:`run_tasks` runs its items.

    Parameters
    ----------
    workers : int, optional
        Start a local Dask cluster of this many worker processes (one thread each).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://127.0.0.1:8786``); exclusive with
        ``workers``.
    threads : int
        Torch threads per worker process (``torch.set_num_threads``).
    retries : int
        Times Dask reruns a task whose exception escaped the task's own error handling.

    With neither ``workers`` nor ``scheduler`` the items run serially in this process.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads: int = 1
    retries: int = 2

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give --workers or --scheduler, not both")
        if self.workers is not None and (
            not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 1
        ):
            raise ValueError(f"--workers must be an integer >= 1, got {self.workers!r}")
        if self.scheduler is not None and (
            not isinstance(self.scheduler, str) or not self.scheduler.strip()
        ):
            raise ValueError(f"--scheduler must be an address, got {self.scheduler!r}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {self.threads!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {self.retries!r}")

    @property
    def distributed(self) -> bool:
        """Whether the items run on a Dask cluster."""
        return self.workers is not None or self.scheduler is not None


def _require_distributed() -> None:
    """Raise ``ImportError`` naming the ``cluster`` extra when ``dask.distributed`` is missing."""
    if importlib.util.find_spec("distributed") is None:
        raise ImportError(f"--workers and --scheduler need dask.distributed: {CLUSTER_EXTRA}")


class _Bar:
    """One progress bar over the items: finished, failed and running counts."""

    def __init__(self, total: int, *, desc: str, progress: bool) -> None:
        from mollifier._progress import progress_bar

        self.bar = progress_bar(total=total, desc=desc, unit="item", disable=not progress)
        self.failed = 0

    def running(self, count: int) -> None:
        self.bar.set_postfix(failed=self.failed, running=count, refresh=False)

    def done(self, outcome: Outcome, running: int) -> None:
        self.failed += not outcome.ok
        self.bar.set_postfix(failed=self.failed, running=running, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_tasks(
    tasks: Sequence[Task],
    *,
    executor: Executor | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    progress: bool = True,
    desc: str = "items",
    raise_errors: bool = False,
) -> list[Outcome]:
    """Run ``tasks`` where ``executor`` says; one :class:`Outcome` per task, in task order.

    ``on_done(outcome)`` is called in this process as each task finishes (in completion order),
    e.g. to write an error record or print a line. A progress bar counts finished, failed and
    running items. Task names must be unique. ``raise_errors`` (serial runs only) lets the first
    exception of a task propagate instead of recording it.

    Raises
    ------
    ImportError
        A cluster was asked for without ``dask.distributed`` installed (names the extra).
    ValueError
        Duplicate task names, or ``raise_errors`` with a cluster.
    """
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    ex = Executor() if executor is None else executor
    if raise_errors and ex.distributed:
        raise ValueError("stopping at the first error applies to serial runs only")
    bar = _Bar(len(tasks), desc=desc, progress=progress)
    outcomes: dict[str, Outcome] = {}

    def finish(outcome: Outcome, running: int) -> None:
        outcomes[outcome.name] = outcome
        bar.done(outcome, running)
        if on_done is not None:
            on_done(outcome)

    try:
        if ex.distributed:
            _require_distributed()
            from mollifier._cluster import run_on_cluster

            run_on_cluster(tasks, executor=ex, finish=finish, running=bar.running)
        else:
            for task in tasks:
                bar.running(1)
                finish(call_task(task, reraise=raise_errors), 0)
    finally:
        bar.close()
    return [outcomes[n] for n in names]
