"""Work items and their outcomes (:mod:`mollifier.executor`): what runs in a worker process.

:func:`call_task` runs one :class:`Task` and turns an exception into an error :class:`Outcome`,
with the task's wall time and the peak resident memory of the process while it ran.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "Task", "call_task"]


@dataclass(frozen=True)
class Task:
    """One independent work item: ``fn(*args, **kwargs)``, named for messages and records.

    ``fn`` and its arguments must be picklable (a module-level function, plain data and frozen
    configs) to run on a cluster.
    """

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What became of a :class:`Task`: its value, or the error that stopped it.

    ``wall_time_s`` is the task's own time; ``peak_rss_mb`` the peak resident memory of the
    process that ran it, measured from the task's start on Linux (the high-water mark is reset
    there), else since that process started.
    """

    name: str
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    wall_time_s: float = 0.0
    peak_rss_mb: float = float("nan")

    @property
    def ok(self) -> bool:
        """True when the task returned."""
        return self.error is None


def _reset_peak_rss() -> None:
    """Reset this process's peak resident memory (Linux: ``clear_refs`` 5); else nothing."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def call_task(task: Task, *, reraise: bool = False) -> Outcome:
    """Run one task here and now, turning an exception into an error :class:`Outcome` (or
    letting it propagate, with ``reraise``)."""
    from mollifier._memory import peak_rss_mb

    _reset_peak_rss()
    t0 = time.perf_counter()
    try:
        value = task.fn(*task.args, **dict(task.kwargs))
    except Exception as exc:
        if reraise:
            raise
        return Outcome(
            name=task.name,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            wall_time_s=time.perf_counter() - t0,
            peak_rss_mb=peak_rss_mb(),
        )
    return Outcome(
        name=task.name,
        value=value,
        wall_time_s=time.perf_counter() - t0,
        peak_rss_mb=peak_rss_mb(),
    )
