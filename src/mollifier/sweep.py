"""Fit sweeps: one config with a ``[sweep]`` table, many fits, one summary.

The ``[sweep]`` table lists values for config keys; the runs are their Cartesian product::

    [sweep]
    noise = [0.0, 0.01, 0.05]          # [data] add_noise
    seed = [0, 1]                      # [data] noise_seed and [solver] seed
    kernel = ["polybump", "gaussian"]  # [mollifier] kernel

or an explicit list, ``runs = [{ noise = 0.01, width = 0.2 }, { name = "wide", width = 0.4 }]``
(each run's keys set together; with list keys as well, each run is combined with each point of
their product). A key is a section and key, ``"mollifier.boundary"``, or one of the short names
of :data:`KEYS`. Every run is validated before any is started.

:func:`run_sweep` fits each run as a task of :func:`mollifier.executor.run_tasks` into
``OUT/<run-name>/`` (the name is built from the swept values, e.g. ``noise-0.01_seed-1``), and
writes ``summary.csv``, ``summary.md`` and ``comparison.png`` (:mod:`mollifier.sweep_summary`).
A finished run's folder appears whole (written in a staging folder, then moved); rerunning skips
finished runs; a run that raises leaves ``error.txt`` and ``traceback.txt`` in its folder.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mollifier._atomic import (
    clear_staging,
    fingerprint,
    publish_dir,
    read_record,
    staging_dir,
    write_error_record,
    write_record,
)
from mollifier.config import ConfigError, FitConfig, config_from_document, read_document
from mollifier.executor import Executor, Outcome, Task, run_tasks

__all__ = ["ITEMS_DIR", "KEYS", "Sweep", "SweepRun", "fit_run", "load_sweep", "run_sweep"]

#: Short names of ``[sweep]`` keys → the config keys (``section.key``) each sets.
KEYS: dict[str, tuple[str, ...]] = {
    "noise": ("data.add_noise",),
    "seed": ("data.noise_seed", "solver.seed"),
    "width": ("mollifier.width",),
    "kernel": ("mollifier.kernel",),
    "boundary": ("mollifier.boundary",),
    "solver": ("solver.method",),
    "arch": ("solver.arch",),
    "architecture": ("solver.arch",),
    "derivatives": ("solver.derivatives",),
    "steps": ("solver.steps",),
    "regularization": ("solver.regularization",),
}

#: Sub-folder of a sweep's output that holds one record per finished run (for resuming).
ITEMS_DIR = ".items"
_SECTIONS = ("data", "problem", "mollifier", "solver")


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its folder name, the swept values and the validated config."""

    name: str
    values: Mapping[str, Any]
    config: FitConfig


@dataclass(frozen=True)
class Sweep:
    """The runs of a config file's ``[sweep]`` table, in order (names unique)."""

    runs: tuple[SweepRun, ...]
    source: str

    def __post_init__(self) -> None:
        names = [r.name for r in self.runs]
        if not names:
            raise ConfigError(f"{self.source}: [sweep] gives no runs")
        if len(set(names)) != len(names):
            raise ConfigError(f"{self.source}: [sweep] run names repeat: {names}")


def _targets(key: str, where: str) -> tuple[str, ...]:
    if key in KEYS:
        return KEYS[key]
    section, dot, name = key.partition(".")
    if dot and section in _SECTIONS and name:
        return (key,)
    raise ConfigError(
        f"{where}: unknown key {key!r}; use 'section.key' (sections {list(_SECTIONS)}) or one "
        f"of {sorted(KEYS)}"
    )


def _label(value: Any) -> str:
    """A value as part of a folder name: numbers short, tables by their kind."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, Mapping):
        text = str(value.get("kind", "")) + "".join(
            f"-{k}{_label(v)}" for k, v in sorted(value.items()) if k != "kind"
        )
    elif isinstance(value, (list, tuple)):
        text = "-".join(_label(v) for v in value)
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-") or "x"


def _run_name(values: Mapping[str, Any]) -> str:
    if not values:
        return "base"
    return "_".join(f"{key.rpartition('.')[2]}-{_label(v)}" for key, v in values.items())


def _points(table: Mapping[str, Any], where: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(name or None, values) of each run the ``[sweep]`` table describes."""
    table = dict(table)
    runs = table.pop("runs", [{}])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs) or not runs:
        raise ConfigError(
            f"{where} runs must be a non-empty list of tables, e.g. [{{ noise = 0 }}]"
        )
    for key, values in table.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"{where} {key} = {values!r}: must be a non-empty list of values "
                f"(e.g. {key} = [{values!r}])"
            )
    grid = [dict(zip(table, combo, strict=True)) for combo in itertools.product(*table.values())]
    out = []
    for run in runs:
        run = dict(run)
        name = run.pop("name", None)
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{where} runs: name = {name!r} must be a string")
        for point in grid:
            both = sorted(set(run) & set(point))
            if both:
                raise ConfigError(f"{where}: {both} given both in runs and as lists")
            values = {**run, **point}
            label = None if name is None else (name + ("_" + _run_name(point) if point else ""))
            out.append((label, values))
    return out


def _apply(doc: Mapping[str, Any], values: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = deepcopy(dict(doc))
    for key, value in values.items():
        for target in _targets(key, where):
            section, _, name = target.partition(".")
            table = out.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"[{section}] must be a table")
            table[name] = deepcopy(value)
    return out


def load_sweep(path: str | Path) -> Sweep | None:
    """The runs of the config file ``path``, or None when it has no ``[sweep]`` table.

    Raises
    ------
    ConfigError
        For a malformed ``[sweep]`` table, an unknown key, or a run whose config is invalid
        (the message names the run).
    """
    p = Path(path)
    doc = read_document(p)
    table = doc.pop("sweep", None)
    if table is None:
        return None
    where = f"{p}: [sweep]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    runs = []
    taken: set[str] = set()
    for label, values in _points(table, where):
        name = label or _run_name(values)
        stem, k = name, 2
        while name in taken:
            name, k = f"{stem}_{k}", k + 1
        taken.add(name)
        try:
            config = config_from_document(_apply(doc, values, where), p)
        except ConfigError as exc:
            raise ConfigError(f"run {name}: {exc}") from None
        runs.append(SweepRun(name=name, values=values, config=config))
    return Sweep(runs=tuple(runs), source=str(p))


def _metrics_row(result: Any) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for unknown, metrics in result.metrics.items():
        for metric, value in metrics.items():
            row[f"{unknown}.{metric}"] = value
    return row


def fit_run(config: FitConfig, *, name: str, values: Mapping[str, Any], out: Path) -> dict:
    """One sweep task: fit ``config`` into ``out/<name>/`` (staged, then moved into place) and
    write the run's record ``out/.items/<name>.json``; returns its ``summary.csv`` row."""
    from mollifier._memory import peak_rss_mb
    from mollifier.study import run_fit

    t0 = time.perf_counter()
    staged = staging_dir(out, name)
    result = run_fit(config, staged, progress=False)
    publish_dir(staged, out / name)
    row = {
        "run": name,
        **{k: _cell(v) for k, v in values.items()},
        "status": result.status,
        "reasons": "; ".join(result.reasons),
        **_metrics_row(result),
        "wall_time_s": time.perf_counter() - t0,
        "peak_memory_mb": peak_rss_mb(),
        "error": "",
    }
    write_record(out / ITEMS_DIR / f"{name}.json", key=fingerprint(config), value=row)
    return row


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    executor: Executor | None = None,
    progress: bool = True,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Fit every run of ``sweep`` into ``out/<run-name>/``; write the summary; return its rows.

    Runs recorded as finished by an earlier call with the same config
    (``out/.items/<name>.json``) are skipped when ``resume`` (their rows are reused); failed
    runs are retried. A run that raises gets ``status = "failed"``, its message in ``error``
    and ``error.txt``/``traceback.txt`` in its folder; the other runs go on.
    """
    from mollifier.sweep_summary import write_sweep_summary

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict[str, Any]] = {}
    if resume:
        for run in sweep.runs:
            row = read_record(root / ITEMS_DIR / f"{run.name}.json", key=fingerprint(run.config))
            if row is not None:
                done[run.name] = row
        if done and progress:
            print(f"resuming: {len(done)} of {len(sweep.runs)} runs already finished, skipped")
    tasks = [
        Task(
            run.name, fit_run, (run.config,), {"name": run.name, "values": run.values, "out": root}
        )
        for run in sweep.runs
        if run.name not in done
    ]

    def record_failure(outcome: Outcome) -> None:
        if not outcome.ok:
            write_error_record(
                root / outcome.name, error=outcome.error or "", traceback=outcome.traceback
            )

    outcomes = {
        o.name: o
        for o in run_tasks(
            tasks, executor=executor, on_done=record_failure, progress=progress, desc="runs"
        )
    }
    rows = []
    for run in sweep.runs:
        if run.name in done:
            rows.append(done[run.name])
            continue
        o = outcomes[run.name]
        if o.ok:
            rows.append(o.value)
            continue
        rows.append(
            {
                "run": run.name,
                **{k: _cell(v) for k, v in run.values.items()},
                "status": "failed",
                "wall_time_s": o.wall_time_s,
                "peak_memory_mb": o.peak_rss_mb if math.isfinite(o.peak_rss_mb) else "",
                "error": o.error,
            }
        )
    clear_staging(root)
    write_sweep_summary(rows, root, keys=_swept_keys(sweep.runs))
    return rows


def _swept_keys(runs: Sequence[SweepRun]) -> list[str]:
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.values if k not in keys)
    return keys
