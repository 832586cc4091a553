"""The Dask side of :func:`mollifier.executor.run_tasks`: imported only when a cluster is asked for
(:mod:`mollifier.executor` checks first that ``dask.distributed`` is installed).

A local cluster is ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)``; a
worker plugin sets torch's thread count in each worker process. The dashboard address is printed
when the local cluster starts.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import distributed

from mollifier._tasks import Outcome, Task, call_task

if TYPE_CHECKING:
    from mollifier.executor import Executor

__all__ = ["run_on_cluster"]


class _TorchThreads(distributed.WorkerPlugin):
    """Worker plugin: ``torch.set_num_threads(threads)`` in each worker process."""

    name = "mollifier-torch-threads"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        import torch

        torch.set_num_threads(self.threads)

    def teardown(self, worker: Any) -> None:
        """Nothing to undo."""


def _client(executor: Executor) -> tuple[Any, Any]:
    """A client (and the local cluster it owns, or None) for ``executor``."""
    if executor.scheduler is not None:
        try:
            return distributed.Client(executor.scheduler, timeout="10s"), None
        except OSError as exc:
            raise OSError(
                f"--scheduler {executor.scheduler}: cannot connect to a Dask scheduler ({exc})"
            ) from None
    cluster = distributed.LocalCluster(
        n_workers=executor.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        host="127.0.0.1",
    )
    client = distributed.Client(cluster)
    print(
        f"local Dask cluster: {executor.workers} worker processes, dashboard "
        f"{client.dashboard_link}",
        file=sys.stderr,
    )
    return client, cluster


def run_on_cluster(
    tasks: Sequence[Task],
    *,
    executor: Executor,
    finish: Callable[[Outcome, int], None],
    running: Callable[[int], None],
) -> None:
    """Submit every task, call ``finish(outcome, still_running)`` as each completes.

    Each task runs as :func:`~mollifier._tasks.call_task` (which turns an exception into an
    error outcome); Dask reruns a task whose worker died, and ``executor.retries`` times one
    whose exception escaped. A task that still fails (e.g. ``KilledWorker`` after repeated
    worker deaths) becomes an error outcome here.
    """
    client, cluster = _client(executor)
    try:
        client.register_plugin(_TorchThreads(executor.threads))
        futures = {
            client.submit(call_task, task, retries=executor.retries, pure=False): task
            for task in tasks
        }
        left = len(futures)
        running(left)
        for future in distributed.as_completed(futures):
            task = futures[future]
            left -= 1
            try:
                outcome = future.result()
            except Exception as exc:
                outcome = Outcome(
                    name=task.name,
                    error=f"{type(exc).__name__}: {exc}",
                    traceback="".join(traceback.format_exception(exc)),
                )
            finish(outcome, left)
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
