"""Callbacks: code that watches a network training run without changing it.

``problem.solve(ml.Network(...), callbacks=[...])`` calls each callback's hooks from the
optimisation loop (:func:`~mollifier.inverse.network.loop.optimise`): :meth:`Callback.begin`
once before the first Adam step of this call, :meth:`Callback.before_step` and
:meth:`Callback.step` around every Adam step, and
:meth:`Callback.end` once after the loop (also when it raises). The progress bar is one;
:class:`StepTimer`, which times the first steps one by one for step-time probes, is another.
"""

from __future__ import annotations

import time
from typing import Any

import torch

__all__ = ["Callback", "ProgressBar", "StepTimer"]


class Callback:
    """Hooks of the Adam loop; each does nothing unless overridden."""

    def begin(self, *, start: int, steps: int, device: torch.device) -> None:
        """Before the first step of this call; ``start`` is the step it resumes at (0 for a new
        run) and ``steps`` the run's Adam budget."""

    def before_step(self, step: int) -> None:
        """Before Adam step ``step`` (0-based)."""

    def step(self, step: int, terms: dict[str, float], constants: dict[str, float]) -> None:
        """After Adam step ``step`` (0-based), with the loss ``terms`` evaluated before it and
        the constant unknowns' values after it."""

    def end(self) -> None:
        """After the loop, whether it finished, stopped early or raised."""


class ProgressBar(Callback):
    """A progress bar (:func:`mollifier._progress.progress_bar`) with the loss terms and the
    constant unknowns, refreshed every ``every`` steps."""

    def __init__(self, *, desc: str, every: int = 10) -> None:
        self.desc, self.every = desc, every
        self._bar: Any = None

    def begin(self, *, start: int, steps: int, device: torch.device) -> None:
        from mollifier._progress import progress_bar

        self._bar = progress_bar(total=steps, initial=start, desc=self.desc, dynamic_ncols=True)

    def step(self, step: int, terms: dict[str, float], constants: dict[str, float]) -> None:
        if step % self.every == 0:
            post = {k: f"{v:.3e}" for k, v in terms.items()}
            post.update({n: f"{v:.4g}" for n, v in constants.items()})
            self._bar.set_postfix(post, refresh=False)
        self._bar.update(1)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()


class StepTimer(Callback):
    """Wall time of each of the first ``count`` Adam steps of a call, in :attr:`times` (seconds).

    The first step or two pay one-off costs (memory first touched, kernels chosen), which a
    step-time probe leaves out. On CUDA the device is synchronised around each timed step, so a
    time covers the step's kernels, not just their launch; later steps are not synchronised.
    """

    def __init__(self, count: int = 16) -> None:
        if count < 1:
            raise ValueError(f"StepTimer needs count >= 1, got {count}")
        self.count = count
        self.times: list[float] = []
        self._device: torch.device | None = None
        self._began = 0.0

    def _now(self) -> float:
        if self._device is not None and self._device.type == "cuda":
            torch.cuda.synchronize(self._device)
        return time.perf_counter()

    def begin(self, *, start: int, steps: int, device: torch.device) -> None:
        self.times, self._device = [], device

    def before_step(self, step: int) -> None:
        if len(self.times) < self.count:
            self._began = self._now()

    def step(self, step: int, terms: dict[str, float], constants: dict[str, float]) -> None:
        if len(self.times) < self.count:
            self.times.append(self._now() - self._began)
