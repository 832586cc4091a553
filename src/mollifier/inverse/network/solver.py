"""The network solver object: :class:`Network` describes a training run; ``solve`` runs it.

Every option that changes the answer is a field here, declared once; the TOML configuration,
the STORM pipeline and the benchmark harness build this object. Run-time options that do not
change the answer (progress bar, checkpoint file, resuming, callbacks) are keyword arguments of
:meth:`Network.solve` (``problem.solve(network, progress=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mollifier._device import check_device
from mollifier._options import check_fields
from mollifier.inverse.network.arch import MLP, AbstractArchitecture
from mollifier.inverse.network.callbacks import Callback
from mollifier.inverse.network.trainer import solve_network
from mollifier.inverse.solver import AbstractSolver

if TYPE_CHECKING:
    from mollifier.inverse.problem import InverseProblem
    from mollifier.inverse.result import Result

__all__ = ["Network"]


@dataclass(frozen=True)
class Network(AbstractSolver):
    """Train a coordinate network on the data plus the weighted PDE residual
    (:mod:`mollifier.inverse.network.trainer` states the loss).

    Parameters
    ----------
    arch : MLP, PirateNet or PINNsFormer
        The network's architecture and its options.
    derivatives : {"mollifier", "autodiff"}
        Derivative backend of the residual; the same residual function serves both.
    steps : int
        Adam steps.
    lr, lr_final : float
        Adam learning rate, decayed by a cosine schedule to ``lr_final`` (``None``: ``lr / 100``).
    lbfgs_steps : int
        L-BFGS iterations after Adam (0 to skip).
    residual_weight : float
        Weight of the residual term in the loss.
    equation_weights : tuple of float, optional
        For a system of equations, one weight per equation (default: all 1).
    field_regularization : float
        Weight of the squared first differences of field unknowns.
    seed : int
        Seeds the network initialisation.
    dtype : {"float32", "float64"}
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    patience, min_delta : int or None, float
        Early stopping: stop when the loss has not improved by a relative ``min_delta`` over
        ``patience`` steps (``None`` disables it).
    data_loss : {"pointwise", "mollified"}
        Misfit on the samples, or between mollified network fields and mollified data.
    read_off : bool
        Also read the unknowns off the trained fields with the direct solver (affine residuals).
    log_every : int
        Record the history every this many steps.
    start : {"cold", "direct"}
        ``"direct"``: begin where the direct solver ends, for residuals affine in the unknowns
        (:mod:`~mollifier.inverse.network.warmstart`; a non-affine residual starts cold, and
        the diagnostics say so). ``"cold"``: from the initial values and a random network.
    start_steps : int
        Adam steps of the warm start's fit of the network to the data and the direct fields
        (not counted in ``steps``).
    batch : int or None
        Tiles per Adam step (:mod:`~mollifier.inverse.network.tiles`). ``None``: every step
        evaluates the network on every node. An integer ``B``: the grid is split into tiles of
        ``tile`` nodes per axis, each step draws ``B`` distinct tiles at random (seeded by
        ``seed`` and the step), evaluates the network on them plus a halo wide enough for the
        residual's derivatives, and descends an unbiased estimate of the full loss. At most the
        number of tiles (checked when training starts). The L-BFGS polish, the warm start and
        the reported fields use the full grid.
    tile : int or None
        Core length of a tile in nodes along every axis (``None``: twice the halo, at least 4;
        the last tile along an axis is shorter). Only with ``batch``.
    ensemble : int or None
        A deep ensemble of this many members (:mod:`~mollifier.inverse.network.ensemble`):
        member ``k`` trains with ``seed + k``; the result is their mean, their spread its
        ``unknowns_std`` (``uncertainty_method = "ensemble"``). ``None`` or 1: one network.
    ensemble_noise : bool
        Train each member on its own parametric bootstrap of the data (fresh noise at the
        estimated level around the mollified data). Only with ``ensemble``.
    level : float
        Coverage of an ensemble's intervals (Student's t with ``ensemble − 1`` degrees of
        freedom).

    Examples
    --------
    >>> Network(steps="ten")
    Traceback (most recent call last):
    ...
    mollifier._options.OptionTypeError: Network.steps must be an integer, got 'ten'
    """

    arch: AbstractArchitecture = field(default_factory=MLP)
    derivatives: Literal["mollifier", "autodiff"] = "mollifier"
    steps: int = 5000
    lr: float = 1e-3
    lr_final: float | None = None
    lbfgs_steps: int = 0
    residual_weight: float = 1.0
    equation_weights: tuple[float, ...] | None = None
    field_regularization: float = 0.0
    seed: int = 0
    dtype: Literal["float32", "float64"] = "float32"
    device: str = "cpu"
    patience: int | None = None
    min_delta: float = 1e-4
    data_loss: Literal["pointwise", "mollified"] = "pointwise"
    read_off: bool = True
    log_every: int = 10
    start: Literal["cold", "direct"] = "cold"
    start_steps: int = 500
    batch: int | None = None
    tile: int | None = None
    ensemble: int | None = None
    ensemble_noise: bool = False
    level: float = 0.95

    def __post_init__(self) -> None:
        if isinstance(self.equation_weights, list):
            object.__setattr__(self, "equation_weights", tuple(self.equation_weights))
        check_fields(self)
        if self.steps < 0 or self.lbfgs_steps < 0 or self.start_steps < 0:
            raise ValueError(
                "Network.steps, Network.lbfgs_steps and Network.start_steps must be non-negative"
            )
        if not self.lr > 0:
            raise ValueError(f"Network.lr must be positive, got {self.lr}")
        if self.lr_final is not None and not self.lr_final >= 0:
            raise ValueError(f"Network.lr_final must be non-negative, got {self.lr_final}")
        if self.residual_weight < 0 or self.field_regularization < 0:
            raise ValueError("Network.residual_weight and field_regularization must be >= 0")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"Network.patience must be >= 1 or None, got {self.patience}")
        if self.log_every < 1:
            raise ValueError(f"Network.log_every must be >= 1, got {self.log_every}")
        for name in ("batch", "tile"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"Network.{name} must be >= 1 or None, got {value}")
        if self.tile is not None and self.batch is None:
            raise ValueError("Network.tile sets the tiles of a minibatch; set Network.batch too")
        if self.ensemble is not None and self.ensemble < 1:
            raise ValueError(f"Network.ensemble must be >= 1 or None, got {self.ensemble}")
        if self.ensemble_noise and (self.ensemble or 1) < 2:
            raise ValueError(
                "Network.ensemble_noise resamples each member's data; set ensemble >= 2"
            )
        if not 0 < self.level < 1:
            raise ValueError(f"Network.level must lie in (0, 1), got {self.level}")

    def options(self) -> dict[str, Any]:
        """The fields as plain values (the architecture as ``{"name": ..., **options}``)."""
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["arch"] = {"name": self.arch.name, **asdict(self.arch)}  # type: ignore[call-overload]
        return out

    def solve(  # type: ignore[override]  # the run-time options are named here
        self,
        problem: InverseProblem,
        *,
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 500,
        resume: bool = False,
        progress: bool = False,
        callbacks: Sequence[Callback] = (),
    ) -> Result:
        """Train on ``problem``; see :func:`~mollifier.inverse.network.trainer.solve_network`
        for the run-time options."""
        try:
            check_device(self.device)
        except ValueError as exc:
            raise ValueError(f"Network(device={self.device!r}): {exc}; use device='cpu'") from None
        train = solve_network
        if (self.ensemble or 1) > 1:
            from mollifier.inverse.network.ensemble import solve_ensemble as train
        return train(
            problem,
            self,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            resume=resume,
            progress=progress,
            callbacks=callbacks,
        )
