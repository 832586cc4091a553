"""Deep ensembles of the network solver: ``Network(ensemble=K)``.

Member ``k = 0, …, K−1`` is the solve of ``replace(solver, seed=solver.seed + k)`` (network
initialisation, minibatch draws and everything else the seed drives), so member ``k`` is exactly
what ``Network(seed=seed + k)`` returns on its own. With ``ensemble_noise=True`` member ``k``
trains instead on a parametric bootstrap of the data (:mod:`~mollifier.inverse.bootstrap`, the
direct solver's bootstrap): ``u*_f = η∗u_f + σ̂_f ξ_k``, the order-0 mollified data plus fresh
white noise at the level :func:`~mollifier.inverse.noise.estimate_noise` reads off the data,
``ξ_k`` from ``numpy.random.default_rng((seed, k))``.

The result reports, per unknown, the members' mean as the estimate (a field node without an
estimate in any member is NaN) and their sample standard deviation (``ddof=1``) as
``unknowns_std``, with ``uncertainty_method = "ensemble"``. Its intervals are
``mean ± t_{K−1}((1+level)/2) · std``: the spread of a single member, widened by Student's t for
a spread estimated from ``K`` members (``Result.interval_dof = K − 1``). They measure how much
the answer moves with the seed (and, with ``ensemble_noise``, with the noise); a bias that every
member shares — the mollifier's smoothing, a network that cannot represent the data — is not in
them. The fields and residual are those of the mean network fields and mean unknowns; ``history``
is the first member's; ``diagnostics["ensemble"]`` holds the seeds, each member's constants,
status and training facts, and ``extras["ensemble_members"]`` each field unknown's member maps
(saved as ``<name>_members`` in ``unknowns.npz``).

Checkpoints: member ``k`` saves to ``<stem>.member<k><suffix>`` beside the given path and
resumes from it, so an interrupted ensemble continues member by member.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mollifier.inverse.bootstrap import mollified_data, resample_data
from mollifier.inverse.network.callbacks import Callback
from mollifier.inverse.network.trainer import _read_off, run_config, solve_network
from mollifier.inverse.noise import estimate_noise
from mollifier.inverse.result import Result, peak_memory_mb

if TYPE_CHECKING:
    from mollifier.inverse.network.solver import Network
    from mollifier.inverse.problem import InverseProblem

__all__ = ["member_checkpoint", "member_problems", "solve_ensemble"]


def member_checkpoint(checkpoint: Path, k: int) -> Path:
    """The checkpoint file of member ``k``: ``run.pt`` → ``run.member<k>.pt``."""
    return checkpoint.with_name(f"{checkpoint.stem}.member{k}{checkpoint.suffix}")


def member_problems(problem: InverseProblem, solver: Network) -> list[InverseProblem]:
    """The problem each member trains on: ``problem`` itself, or with ``ensemble_noise`` a
    parametric bootstrap replicate of its data per member (module docstring)."""
    members = solver.ensemble or 1
    if not solver.ensemble_noise:
        return [problem] * members
    base = mollified_data(problem)
    noise = {k: estimate_noise(v) for k, v in problem.observed.items()}
    return [
        problem.with_data(
            resample_data(problem, base, noise, np.random.default_rng((solver.seed, k)))
        )
        for k in range(members)
    ]


def _stack(values: list[Any]) -> tuple[Any, Any, np.ndarray]:
    """Mean, standard deviation (ddof 1) and the stacked members of one unknown."""
    arr = np.asarray(values, dtype=float)
    mean, std = np.mean(arr, axis=0), np.std(arr, axis=0, ddof=1)
    if arr.ndim == 1:
        return float(mean), float(std), arr
    return mean, std, arr


def solve_ensemble(
    problem: InverseProblem,
    solver: Network,
    *,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> Result:
    """Train ``solver.ensemble`` members and combine them (module docstring).

    The run-time options are those of :func:`~mollifier.inverse.network.trainer.solve_network`,
    passed to every member (a checkpoint path becomes one file per member).
    """
    t0 = time.perf_counter()
    if solver.ensemble is None or solver.ensemble < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got ensemble={solver.ensemble}")
    members: list[Result] = []
    for k, sub in enumerate(member_problems(problem, solver)):
        member = replace(solver, ensemble=None, ensemble_noise=False, seed=solver.seed + k)
        path = None if checkpoint is None else member_checkpoint(Path(checkpoint), k)
        members.append(
            solve_network(
                sub,
                member,
                checkpoint=path,
                checkpoint_every=checkpoint_every,
                resume=resume,
                progress=progress,
                callbacks=callbacks,
            )
        )
    result = _combine(problem, solver, members)
    if solver.read_off:
        _read_off(problem, result)
    result.wall_time_s = time.perf_counter() - t0
    result.peak_memory_mb = max(peak_memory_mb(solver.device), *(m.peak_memory_mb for m in members))
    return result


def _combine(problem: InverseProblem, solver: Network, members: list[Result]) -> Result:
    """The ensemble's result from its members' (module docstring)."""
    k = len(members)
    unknowns: dict[str, Any] = {}
    std: dict[str, Any] = {}
    maps: dict[str, np.ndarray] = {}
    per_member: dict[str, list[float]] = {}
    for name in problem.unknowns:
        unknowns[name], std[name], stacked = _stack([m.unknowns[name] for m in members])
        if stacked.ndim == 1:
            per_member[name] = [float(v) for v in stacked]
        else:
            maps[name] = stacked
    fields = {f: np.mean([m.fields[f] for m in members], axis=0) for f in members[0].fields}
    with torch.no_grad():
        params = {
            n: problem.broadcast_unknown(n, torch.as_tensor(np.nan_to_num(np.asarray(v, float))))
            for n, v in unknowns.items()
        }
        r = problem.mollifier_residual({f: torch.as_tensor(v) for f, v in fields.items()}, params)
    residual, equations = problem.residual_maps(r.numpy())
    first = members[0]
    result = Result(
        method="network",
        grid=problem.grid,
        unknowns=unknowns,
        unknown_axes=problem.unknown_axes,
        fields=fields,
        residual=residual,
        equations=equations,
        interior=problem.interior,
        data=problem.data,
        truth=problem.truth,
        history=first.history,
        widths=first.widths,
        config=run_config(problem, solver),
    )
    result.blank_unconstrained()
    result.noise_std = {f: estimate_noise(v) for f, v in problem.observed.items()}
    result.diagnostics["data_misfit"] = result.data_misfit(problem.mask)
    result.diagnostics["ensemble"] = {
        "members": k,
        "seeds": [solver.seed + i for i in range(k)],
        "noise": solver.ensemble_noise,
        "interval": f"mean ± t_{k - 1} quantile × member std",
        "constants": per_member,
        "status": [m.status for m in members],
        "steps_done": [m.diagnostics.get("steps_done") for m in members],
        "adam_time_s": [m.diagnostics.get("adam_time_s") for m in members],
        "wall_time_s": [m.wall_time_s for m in members],
    }
    result.extras["ensemble_members"] = maps
    for i, m in enumerate(members):
        for reason in m.reasons:
            result.mark_unreliable(f"ensemble member {i} (seed {solver.seed + i}): {reason}")
    result.compute_metrics()
    result.set_uncertainty(std, method="ensemble", level=solver.level, dof=k - 1)
    return result
