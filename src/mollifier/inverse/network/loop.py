"""The optimisation loop: Adam with a cosine schedule and optional early stopping, then an
optional L-BFGS polish.

:class:`Optimisation` holds everything a checkpoint must restore to continue a run exactly
(network and optimiser states, schedule, history, early-stopping state, the times spent so far)
and runs the loop, saving through a :class:`~mollifier.inverse.network.checkpoint.Checkpointer`
and calling :class:`~mollifier.inverse.network.callbacks.Callback` hooks. A run that stopped
early or ran its L-BFGS polish is finished: continuing it trains nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch

from mollifier.inverse.network.callbacks import Callback
from mollifier.inverse.network.checkpoint import Checkpointer
from mollifier.inverse.network.model import FieldModel

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network

__all__ = ["Optimisation", "Synchronisation", "TrainingDivergedError", "TrainingLoss"]


class TrainingLoss(Protocol):
    """What the loop trains on: :class:`~mollifier.inverse.network.loss.PhysicsLoss`, a tiled
    or a slab loss. ``loss(step=s)`` returns the loss of Adam step ``s`` (``None``: the L-BFGS
    polish) and its terms; ``coords`` says the device."""

    coords: torch.Tensor
    scales: list[float]

    def __call__(self, step: int | None = None) -> tuple[torch.Tensor, dict[str, float]]: ...


class Synchronisation(Protocol):
    """How the ranks of a distributed fit agree (:mod:`~mollifier.inverse.network.distributed`):
    ``terms`` sums each rank's loss terms, ``grads`` each rank's parameter gradients."""

    def terms(self, terms: dict[str, float]) -> dict[str, float]: ...

    def grads(self, params: Iterable[torch.nn.Parameter]) -> None: ...


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, message: str, *, step: int, history: dict[str, list[float]]) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


class Optimisation:
    """Optimise ``model`` on ``loss`` as ``solver`` says (``steps``, ``lr``, ``lr_final``,
    ``patience``, ``min_delta``, ``lbfgs_steps``, ``log_every``).

    ``sync`` (a distributed fit): ``loss`` is one rank's part; the terms and gradients are
    summed over ranks before they are used, so every rank takes the single-process step.

    Attributes
    ----------
    step : int
        Adam steps done, by this call and the runs it continues.
    history : dict of lists
        Every ``log_every`` steps (and the last): ``step``, the loss terms, the constants.
    stopped_early, polished : bool
        Whether early stopping ended the Adam loop; whether L-BFGS has run.
    resumed_at : int
        The step this call continued from (0 for a new run).
    continued : bool
        Whether this run continues a checkpoint's.
    prior_times : dict
        ``adam_time_s`` and ``wall_time_s`` spent by the runs this one continues.
    """

    def __init__(
        self,
        model: FieldModel,
        loss: TrainingLoss,
        solver: Network,
        *,
        sync: Synchronisation | None = None,
    ) -> None:
        self.model, self.loss, self.solver, self.sync = model, loss, solver, sync
        self.opt = torch.optim.Adam(model.parameters(), lr=solver.lr)
        final = solver.lr / 100 if solver.lr_final is None else solver.lr_final
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.opt, T_max=max(solver.steps, 1), eta_min=final
        )
        self.history: dict[str, list[float]] = {"step": []}
        self.step = self.resumed_at = 0
        self.best, self.since_best = math.inf, 0
        self.stopped_early = self.polished = False
        self.prior_times = {"adam_time_s": 0.0, "wall_time_s": 0.0}
        self.continued = False

    def state_dict(self, *, adam_time_s: float, wall_time_s: float) -> dict[str, Any]:
        """What a checkpoint holds; the times are those of this call, added to the prior ones."""
        return {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "history": self.history,
            "step": self.step,
            "stopping": {
                "best": self.best,
                "since_best": self.since_best,
                "stopped_early": self.stopped_early,
                "lbfgs_done": self.polished,
            },
            "times": {
                "adam_time_s": self.prior_times["adam_time_s"] + adam_time_s,
                "wall_time_s": self.prior_times["wall_time_s"] + wall_time_s,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the run ``state`` (:meth:`state_dict`) describes."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.history = state["history"]
        self.step = self.resumed_at = int(state["step"])
        stopping = state["stopping"]
        self.best, self.since_best = stopping["best"], stopping["since_best"]
        self.stopped_early, self.polished = stopping["stopped_early"], stopping["lbfgs_done"]
        self.prior_times = dict(state["times"])
        self.continued = True

    def _record(self, step: int, terms: dict[str, float]) -> None:
        self.history["step"].append(float(step))
        for k, v in terms.items():
            self.history.setdefault(k, []).append(v)
        for n, v in self.model.constant_values().items():
            self.history.setdefault(n, []).append(v)

    def _early_stop(self, loss: float) -> bool:
        if self.solver.patience is None:
            return False
        if loss < self.best * (1 - self.solver.min_delta):
            self.best, self.since_best = loss, 0
        else:
            self.since_best += 1
        self.stopped_early = self.since_best >= self.solver.patience
        return self.stopped_early

    def run(
        self,
        *,
        checkpointer: Checkpointer | None = None,
        callbacks: Sequence[Callback] = (),
        started: float | None = None,
    ) -> float:
        """Train what is left of the run; return this call's Adam loop time in seconds
        (checkpoint saves left out). ``started`` (a :func:`time.perf_counter` value, default
        now) is when this call's solve began, for the wall time a checkpoint records.

        Raises
        ------
        TrainingDivergedError
            If the loss becomes NaN or infinite.
        """
        started = time.perf_counter() if started is None else started
        solver, dev = self.solver, self.loss.coords.device
        end = self.step if self.stopped_early or self.polished else solver.steps
        trained = end > self.step
        for cb in callbacks:
            cb.begin(start=self.step, steps=solver.steps, device=dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t_loop, saving = time.perf_counter(), 0.0
        try:
            while self.step < end:
                step = self.step
                for cb in callbacks:
                    cb.before_step(step)
                terms = self._adam_step(step)
                self.step += 1
                if step % solver.log_every == 0 or step == solver.steps - 1:
                    self._record(step, terms)
                constants = self.model.constant_values()
                for cb in callbacks:
                    cb.step(step, terms, constants)
                if self._early_stop(terms["loss"]):
                    break
                if checkpointer is not None and checkpointer.due(self.step):
                    loop = time.perf_counter() - t_loop - saving
                    saving += checkpointer.save(
                        self.state_dict(adam_time_s=loop, wall_time_s=time.perf_counter() - started)
                    )
        finally:
            for cb in callbacks:
                cb.end()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        loop_time = time.perf_counter() - t_loop - saving if trained else 0.0
        if solver.lbfgs_steps and not self.polished:
            self._polish()
            trained = True
        if checkpointer is not None and (trained or not self.continued):
            # a finished run continued saves nothing: its times do not grow
            checkpointer.save(
                self.state_dict(adam_time_s=loop_time, wall_time_s=time.perf_counter() - started)
            )
        return loop_time

    def _adam_step(self, step: int) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        loss, terms = self.loss(step=step)
        if self.sync is not None:
            terms = self.sync.terms(terms)
        if not math.isfinite(terms["loss"]):
            raise TrainingDivergedError(
                f"training diverged at step {step}: loss is {terms['loss']} (terms {terms}); "
                "lower the learning rate or the residual weight",
                step=step,
                history=self.history,
            )
        loss.backward()
        if self.sync is not None:
            self.sync.grads(self.model.parameters())
        self.opt.step()
        self.sched.step()
        return terms

    def _polish(self) -> None:
        lbfgs = torch.optim.LBFGS(
            self.model.parameters(), max_iter=self.solver.lbfgs_steps, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            lbfgs.zero_grad(set_to_none=True)
            loss, terms = self.loss()
            loss.backward()
            if self.sync is None:
                return loss
            self.sync.grads(self.model.parameters())
            return torch.as_tensor(self.sync.terms(terms)["loss"], dtype=loss.dtype)

        lbfgs.step(closure)  # the full-batch loss, also for a minibatch run
        _, terms = self.loss()
        if self.sync is not None:
            terms = self.sync.terms(terms)
        if not math.isfinite(terms["loss"]):
            raise TrainingDivergedError("L-BFGS diverged", step=self.step, history=self.history)
        self._record(self.step + self.solver.lbfgs_steps, terms)
        self.polished = True
