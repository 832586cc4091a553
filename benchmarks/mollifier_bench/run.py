"""One benchmark run in its own process: ``python -m mollifier_bench.run --config JSON ...``.

The process loads the cached dataset, builds the built-in problem with the explicit widths of the
:class:`~mollifier_bench.config.RunConfig`, and solves it (network solver with the configured
backend, or the direct solver). It writes a JSON document with what it measured:

* ``step_time_s``: the training loop's wall time divided by the steps done (set-up and read-off
  not included); ``total_time_s``: wall time of the whole solve to the fixed step budget, set-up
  and read-off included, as the paper's times are;
* ``probe_step_time_s``: time per step from a short probe run before the main one: the median
  of the steps after the first of a ``1 + probe_steps``-step solve (the first steps pay one-off
  costs: memory first touched, kernels chosen; :func:`probe_step_time`), whose step times are in
  ``probe_step_times_s``;
* ``peak_memory_mb``: on CUDA ``torch.cuda.max_memory_allocated`` of the main solve; on CPU the
  process's peak resident set size minus ``--baseline-mb`` (the peak of a process that only
  imports torch);
* ``metrics`` (as in ``result.json``), ``metrics_read_off`` (unknowns read off the network's fields
  by the direct solver), ``data_misfit`` (per data field, the fraction of its variance the
  network's field leaves unexplained: near 1, the network did not fit the data), ``steps``,
  ``diverged`` and ``status``. For the direct solver ``data_misfit`` is what the mollifier
  smooths away.

With ``--checkpoint FILE`` the training state is saved as the run goes and a run that was
stopped (killed at a lease's end, say) resumes from it when started again with the same config;
``resumed_at_step`` says where the last process started, and the times cover every step.

``status`` is ``"ok"``, ``"diverged"`` (:class:`~mollifier.TrainingDivergedError`),
``"out_of_memory"`` (an allocation failed, e.g. past ``memory_limit_mb``) or ``"over_budget"``
(the probe projects the run past ``time_limit_s``; it is not started). The document is first
written after the probe with ``status="running"``, so a parent that kills the process at its time
limit still has the probe's numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mollifier as ml
from mollifier_bench._process import is_out_of_memory, limit_memory, peak_rss_mb
from mollifier_bench.config import MAX_PROBE_STEPS, RunConfig

__all__ = ["CHECKPOINT_EVERY", "execute", "probe_step_time", "train"]

CHECKPOINT_EVERY = 100
"""Default steps between two saves of a run's training state (``--checkpoint``)."""


def _write(path: Path | None, doc: dict[str, Any]) -> None:
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, allow_nan=False, default=_clean))
    os.replace(tmp, path)


def _clean(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_or_none(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {str(k): _finite_or_none(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_finite_or_none(v) for v in doc]
    if isinstance(doc, (float, np.floating)):
        return float(doc) if math.isfinite(doc) else None
    return doc


def _memory(config: RunConfig, baseline_mb: float, cuda_peak: float | None) -> float:
    if config.device.startswith("cuda") and cuda_peak is not None:
        return cuda_peak
    return peak_rss_mb() - baseline_mb


def _save_arrays(path: Path | None, result: Any) -> None:
    if path is None:
        return
    arrays: dict[str, np.ndarray] = {}
    for name, est in result.unknowns.items():
        if isinstance(est, float):
            continue
        arrays[f"{name}_estimate"] = np.asarray(est, dtype=float)
        if name in result.truth and np.ndim(result.truth[name]):
            arrays[f"{name}_truth"] = np.asarray(result.truth[name], dtype=float)
        arrays[f"{name}_mask"] = result.unknown_mask(name)
    if arrays:
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def probe_step_time(times: Sequence[float], probe_steps: int) -> float:
    """Seconds per step of a ``1 + probe_steps``-step solve: the median of its steps after the
    first.

    ``times`` are the solve's step times one by one (:class:`~mollifier.inverse.network.
    StepTimer`, which :func:`train` passes as a callback). The first step pays one-off costs and is
    left out; the median keeps a second step that still pays some from moving the estimate (a
    4th-order autodiff PINNsFormer at 32² on CPU: 6–10 s, then 6–8 s, then 2.8–5.7 s per step).
    The earlier estimate, the difference of separate 1-step and ``1 + probe_steps``-step
    solves, subtracted once-per-process costs paid by the first solve from the second: it read
    that step at 1.1 s.
    """
    if not 1 <= probe_steps <= MAX_PROBE_STEPS:
        raise ValueError(f"probe_steps must be in 1..{MAX_PROBE_STEPS}, got {probe_steps}")
    times = list(times)
    if len(times) != 1 + probe_steps:
        raise ValueError(f"the probe timed {len(times)} steps, expected {1 + probe_steps}")
    return statistics.median(times[1:])


def train(
    problem: Any,
    config: RunConfig,
    *,
    steps: int,
    read_off: bool,
    checkpoint: Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train ``config``'s network on ``problem`` for ``steps`` steps; returns the solver's result.

    The one place the harness calls the network solver, so the mapping from :class:`RunConfig`
    to the solver's options lives here only. Both backends get the same options (early stopping
    off); the seed is the dataset's. ``checkpoint`` (resumed if it exists),
    ``checkpoint_every`` and ``callbacks`` (:mod:`mollifier.inverse.network.callbacks`) are the
    run's own, not training options.
    """
    from mollifier.inverse.network.trainer import solve_network

    solver = config.solver(steps=steps, read_off=read_off)
    return solve_network(
        problem,
        solver,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=checkpoint is not None,
        progress=False,
        callbacks=callbacks,
    )


def _probe(
    problem: Any,
    config: RunConfig,
    doc: dict[str, Any],
    status_path: Path | None,
    baseline_mb: float,
    t_start: float,
    done: int,
    left: int,
) -> bool:
    """Time ``config.probe_steps`` steps and record the projection in ``doc``; ``True`` when
    the run must not start (the probe diverged, or the projection exceeds the time limit)."""
    from mollifier.inverse.network import TrainingDivergedError

    try:
        timer = ml.inverse.network.StepTimer(1 + config.probe_steps)
        probe = train(
            problem,
            config,
            steps=1 + config.probe_steps,
            read_off=False,
            callbacks=[timer],
        )
    except TrainingDivergedError as exc:  # the run, same seed, would diverge alike
        doc.update(status="diverged", diverged=True, error=f"probe: {exc}")
        doc["peak_memory_mb"] = _memory(config, baseline_mb, None)
        return True
    per_step = probe_step_time(timer.times, config.probe_steps)
    doc["probe_step_time_s"] = per_step
    doc["probe_step_times_s"] = timer.times
    doc["projected_total_time_s"] = per_step * config.steps
    doc["peak_memory_mb"] = _memory(config, baseline_mb, probe.peak_memory_mb)
    _write(status_path, _finite_or_none(doc))
    elapsed = time.perf_counter() - t_start
    if elapsed + 1.1 * per_step * left > config.time_limit_s:
        doc["status"] = "over_budget"
        doc["error"] = (
            f"projected {per_step * left:.0f} s for {left} steps"
            + (f" (of {config.steps}; {done} done)" if done else "")
            + f" exceeds the run's time limit of {config.time_limit_s:.0f} s; not started"
        )
        return True
    return False


def _record_trained(
    doc: dict[str, Any], result: Any, config: RunConfig, baseline_mb: float, done: int
) -> None:
    """Steps, times, memory and metrics of a finished network run, into ``doc``."""
    steps_done = int(result.diagnostics.get("steps_done", config.steps))
    doc["steps"] = steps_done
    doc["total_time_s"] = result.wall_time_s
    loop_s = float(result.diagnostics.get("adam_time_s", result.wall_time_s))
    doc["step_time_s"] = loop_s / max(steps_done, 1)
    trained = steps_done > done or done == 0
    # a process that only reloaded a finished run measured no training memory
    doc["peak_memory_mb"] = _memory(config, baseline_mb, result.peak_memory_mb) if trained else None
    doc["metrics"] = result.metrics
    doc["data_misfit"] = result.diagnostics["data_misfit"]
    algebraic = result.diagnostics.get("algebraic")
    if isinstance(algebraic, dict):
        doc["metrics_read_off"] = algebraic.get("metrics", {})
    doc["status"] = "ok"


def execute(
    config: RunConfig,
    dataset_path: str | Path,
    *,
    baseline_mb: float = 0.0,
    status_file: str | Path | None = None,
    arrays_file: str | Path | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> dict[str, Any]:
    """Run ``config`` in this process and return the measurements (see the module docstring).

    Parameters
    ----------
    config : RunConfig
    dataset_path : path
        The cached dataset (:func:`mollifier_bench.datasets.ensure_dataset`).
    baseline_mb : float
        Subtracted from the peak RSS on CPU.
    status_file : path, optional
        Where the document is written (after the probe and at the end).
    arrays_file : path, optional
        ``.npz`` for the estimated and true field unknowns (for the field panels).
    checkpoint : path, optional
        Training state saved every ``checkpoint_every`` steps; if it exists, the run resumes
        from it (:func:`~mollifier.inverse.network.solve_network`, which checks that it was made
        with the same training options), the probe's projection covers the steps left, and the times
        reported cover every step, those of earlier processes included.
    """
    from mollifier.inverse.network import CheckpointMismatchError, TrainingDivergedError
    from mollifier.pdes import problem_from_dataset
    from mollifier_bench.datasets import load

    t_start = time.perf_counter()
    status_path = Path(status_file) if status_file is not None else None
    arrays_path = Path(arrays_file) if arrays_file is not None else None
    if config.threads:
        torch.set_num_threads(config.threads)
    cuda = config.device.startswith("cuda")
    if config.memory_limit_mb is not None and not cuda:
        limit_memory(config.memory_limit_mb, trains=config.derivatives != "direct")
    doc: dict[str, Any] = {
        "status": "running",
        "steps": 0,
        "step_time_s": None,
        "total_time_s": None,
        "probe_step_time_s": None,
        "probe_step_times_s": None,
        "resumed_at_step": 0,
        "projected_total_time_s": None,
        "peak_memory_mb": None,
        "memory_kind": "cuda_max_allocated"
        if cuda and config.derivatives != "direct"
        else "peak_rss_above_idle_torch",
        "diverged": False,
        "metrics": {},
        "metrics_read_off": {},
        "data_misfit": {},
        "widths": dict(config.width),
        "threads": torch.get_num_threads(),
        "error": None,
    }
    ds = load(dataset_path)
    problem = problem_from_dataset(ds, width=dict(config.width))
    try:
        if config.derivatives == "direct":
            t0 = time.perf_counter()
            result = problem.solve(ml.Direct())
            doc["total_time_s"] = time.perf_counter() - t0
            doc["peak_memory_mb"] = peak_rss_mb() - baseline_mb
            doc["metrics"] = result.metrics
            doc["data_misfit"] = result.data_misfit()
            doc["status"] = "ok"
            _save_arrays(arrays_path, result)
            return _finish(doc, status_path)
        ckpt = Path(checkpoint) if checkpoint is not None else None
        done = 0
        if ckpt is not None and ckpt.is_file():
            done = int(torch.load(ckpt, map_location="cpu", weights_only=False)["step"])
        left = max(config.steps - done, 0)
        doc["resumed_at_step"] = done
        if config.probe_steps and left:
            stop = _probe(problem, config, doc, status_path, baseline_mb, t_start, done, left)
            if stop:
                return _finish(doc, status_path)
        try:
            result = train(
                problem,
                config,
                steps=config.steps,
                read_off=True,
                checkpoint=ckpt,
                checkpoint_every=checkpoint_every,
            )
        except TrainingDivergedError as exc:
            doc.update(status="diverged", diverged=True, steps=int(exc.step), error=str(exc))
            doc["peak_memory_mb"] = _memory(config, baseline_mb, None)
            return _finish(doc, status_path)
        except CheckpointMismatchError as exc:
            doc.update(status="error", error=str(exc), resumed_at_step=0)
            return _finish(doc, status_path)
        _record_trained(doc, result, config, baseline_mb, done)
        _save_arrays(arrays_path, result)
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        doc.update(status="out_of_memory", error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return _finish(doc, status_path)


def _finish(doc: dict[str, Any], path: Path | None) -> dict[str, Any]:
    clean = _finite_or_none(doc)
    _write(path, clean)
    return dict(clean)


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one isolated benchmark run (JSON out)")
    parser.add_argument("--config", required=True, help="RunConfig as JSON")
    parser.add_argument("--dataset", required=True, help="cached dataset directory")
    parser.add_argument("--result", required=True, help="where to write the measurements")
    parser.add_argument("--arrays", default=None, help="npz for the estimated fields")
    parser.add_argument("--baseline-mb", type=float, default=0.0)
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="training state file: saved as it trains, resumed if it exists",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=CHECKPOINT_EVERY, help="steps between saves"
    )
    args = parser.parse_args(argv)
    config = RunConfig.from_dict(json.loads(args.config))
    execute(
        config,
        args.dataset,
        baseline_mb=args.baseline_mb,
        status_file=args.result,
        arrays_file=args.arrays,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
    )


if __name__ == "__main__":
    _main()
