"""Batches: many nuclei, one or more conditions, one summary table and a comparison figure.

:func:`run_batch` reads each input (:func:`~mollifier.storm.readers.read_storm_input`), finds its
``truth.npz`` sidecar if any, runs :func:`~mollifier.storm.pipeline.analyse_nucleus`, writes the
nucleus' folder, and records one row of ``summary.csv`` per nucleus, with the quality gate's
status (``ok``, ``unreliable`` with reasons, ``failed``). An input that cannot be analysed (an
empty table, wrong units, a nucleus smaller than the kernel, ...) gets a row with
``status = "failed"`` and the message, and the batch goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
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
from mollifier.executor import Executor, Outcome, Task, run_tasks
from mollifier.storm.localisations import Localisations
from mollifier.storm.options import StormConfig
from mollifier.storm.output import nucleus_row, save_nucleus
from mollifier.storm.pipeline import analyse_field
from mollifier.storm.summaries import compare_conditions, write_rows_csv, write_summary_csv
from mollifier.storm.truth import find_truths

__all__ = [
    "COMPARISON_METRICS",
    "ITEMS_DIR",
    "ReadOptions",
    "analyse_input",
    "run_batch",
]

#: Sub-folder of a batch's output that holds one record per finished input (for resuming).
ITEMS_DIR = ".items"

#: Per-nucleus quantities compared between conditions in ``comparison.csv``.
COMPARISON_METRICS = (
    "lambda_median",
    "domain_diameter_nm",
    "domain_density_per_um2",
    "domain_area_fraction",
)


def _unique_name(stem: str, taken: set[str]) -> str:
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    taken.add(name)
    return name


@dataclass(frozen=True)
class ReadOptions:
    """How :func:`~mollifier.storm.readers.read_storm_input` reads each input, and which channels
    are analysed (``channel``) and outline the nuclei (``mask_channel``)."""

    kind: str = "auto"
    unit: str | None = None
    pixel_size: float | None = None
    columns: Mapping[str, str] | None = None
    channel: str | None = None
    mask_channel: str | None = None


def analyse_input(
    path: Path,
    *,
    name: str,
    condition: str,
    out: Path,
    config: StormConfig,
    read: ReadOptions,
    figures: bool,
) -> list[dict[str, Any]]:
    """One batch item: read ``path``, analyse every nucleus in it, write each nucleus folder
    (``out/<name>/`` or ``out/<name>#k/``) atomically, then the item's record
    ``out/.items/<name>.json`` (its ``summary.csv`` rows), which marks it finished.

    Runs on a worker; raises what the analysis raises.
    """
    from mollifier.storm.readers import read_storm_input

    data = read_storm_input(
        path, kind=read.kind, unit=read.unit, pixel_size=read.pixel_size, columns=read.columns
    )
    mask_locs = None
    if isinstance(data, Localisations):
        if read.mask_channel is not None:
            mask_locs = data.select_channel(read.mask_channel)
        data = data.select_channel(read.channel)
    elif read.channel is not None or read.mask_channel is not None:
        raise ValueError(f"{path}: a density map has no channels")
    items = analyse_field(
        data,
        config=config,
        name=name,
        condition=condition,
        truths=find_truths(path),
        mask_channel=mask_locs,
    )
    rows = []
    for a in items:
        staged = staging_dir(out, a.name)
        save_nucleus(a, staged, figures=figures)
        publish_dir(staged, out / a.name)
        rows.append(nucleus_row(a))
    write_record(_record(out, name), key=_key(path, condition, config, read, figures), value=rows)
    return rows


def _record(out: Path, name: str) -> Path:
    return out / ITEMS_DIR / f"{name}.json"


def _key(path: Path, condition: str, config: StormConfig, read: ReadOptions, figures: bool) -> str:
    """What an input's record was made with: a rerun with other settings redoes it."""
    return fingerprint(str(path.resolve()), condition, config, read, figures)


def _failed_row(name: str, condition: str, path: Path, error: str) -> dict[str, Any]:
    return {
        "name": name,
        "condition": condition,
        "status": "failed",
        "source": str(path),
        "error": error,
    }


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str],
    config: StormConfig | None = None,
    conditions: Sequence[str] | None = None,
    kind: str = "auto",
    unit: str | None = None,
    pixel_size: float | None = None,
    columns: Mapping[str, str] | None = None,
    channel: str | None = None,
    mask_channel: str | None = None,
    include_unreliable: bool = False,
    figures: bool = True,
    progress: bool = True,
    stop_on_error: bool = False,
    executor: Executor | None = None,
    resume: bool = True,
) -> list[dict[str, Any]]:
    """Analyse many files; write per-nucleus folders and the batch summary under ``out``.

    Parameters
    ----------
    inputs : sequence of path
        Localisation tables or density maps (:func:`~mollifier.storm.read_storm_input`).
    out : path
        Output directory: ``<name>/`` per nucleus, ``summary.csv``, ``comparison.csv`` and (with
        figures) ``comparison.png``.
    conditions : sequence of str, optional
        One condition for all inputs, or one per input.
    kind, unit, pixel_size, columns
        Passed to the reader.
    channel : str, optional
        The channel to analyse in multi-channel files (required for them).
    mask_channel : str, optional
        A channel that outlines the nuclei (e.g. a nuclear-envelope label); it segments them.
    include_unreliable : bool
        Also compare items that the quality gate marked ``unreliable``.
    stop_on_error : bool
        Re-raise the first failure (serial runs only) instead of recording it in
        ``summary.csv`` (``status`` = ``"failed"``, the message in ``error``; ``error.txt`` and
        ``traceback.txt`` in ``<name>/``) and going on.
    executor : Executor, optional
        Where the inputs are analysed (:mod:`mollifier.executor`; default serially here), one
        task per input.
    resume : bool
        Skip inputs whose record ``.items/<name>.json`` an earlier run wrote with the same
        input, condition and settings (their rows are reused); failed inputs are retried.

    Every nucleus of each input is analysed (:func:`analyse_input`) and written to ``<name>/``
    (``<name>#k/`` for the k-th of several) as soon as it is done; the summary and the
    comparison between conditions are written once every input is.

    Returns
    -------
    list of dict
        The ``summary.csv`` rows.
    """
    cfg = StormConfig() if config is None else config
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ValueError("no input files")
    if stop_on_error and executor is not None and executor.distributed:
        raise ValueError("--stop-on-error applies to serial runs, not to --workers/--scheduler")
    conds = _per_input(conditions, len(paths))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    read = ReadOptions(
        kind=kind,
        unit=unit,
        pixel_size=pixel_size,
        columns=dict(columns) if columns is not None else None,
        channel=channel,
        mask_channel=mask_channel,
    )
    taken: set[str] = set()
    items = [(_unique_name(p.stem, taken), p, c) for p, c in zip(paths, conds, strict=True)]
    done: dict[str, list[dict[str, Any]]] = {}
    if resume:
        done = _finished(items, root, lambda path, cond: _key(path, cond, cfg, read, figures))
        if done and progress:
            print(f"resuming: {len(done)} of {len(items)} inputs already finished, skipped")
    tasks = [
        Task(
            name,
            analyse_input,
            (path,),
            {
                "name": name,
                "condition": cond,
                "out": root,
                "config": cfg,
                "read": read,
                "figures": figures,
            },
        )
        for name, path, cond in items
        if name not in done
    ]

    def record_failure(outcome: Outcome) -> None:
        if not outcome.ok:
            write_error_record(
                root / outcome.name, error=outcome.error or "", traceback=outcome.traceback
            )

    outcomes = run_tasks(
        tasks,
        executor=executor,
        on_done=record_failure,
        progress=progress,
        desc="inputs",
        raise_errors=stop_on_error,
    )
    results = {o.name: o for o in outcomes}
    rows: list[dict[str, Any]] = []
    for name, path, cond in items:
        if name in done:
            rows.extend(done[name])
        elif results[name].ok:
            rows.extend(results[name].value)
        else:
            rows.append(_failed_row(name, cond, path, results[name].error or ""))
    clear_staging(root)
    _write_summary(rows, root, figures=figures, include_unreliable=include_unreliable)
    return rows


def _per_input(conditions: Sequence[str] | None, count: int) -> list[str]:
    """One condition label per input: none given is ``""`` for all, one given is for all."""
    conds = list(conditions) if conditions else [""]
    if len(conds) == 1:
        conds = conds * count
    if len(conds) != count:
        raise ValueError(
            f"give one condition for all inputs or one per input; got "
            f"{len(conds)} conditions for {count} inputs"
        )
    return conds


def _finished(
    items: Sequence[tuple[str, Path, str]], root: Path, key: Callable[[Path, str], Any]
) -> dict[str, list[dict[str, Any]]]:
    """The summary rows of the items an earlier run finished with the same ``key``."""
    done = {}
    for name, path, cond in items:
        rows = read_record(_record(root, name), key=key(path, cond))
        if rows is not None:
            done[name] = rows
    return done


def _write_summary(
    rows: list[dict[str, Any]], root: Path, *, figures: bool, include_unreliable: bool
) -> None:
    """``summary.csv``, ``comparison.csv`` and (with figures) ``comparison.png``."""
    write_summary_csv(rows, root / "summary.csv")
    comparison = []
    for metric in COMPARISON_METRICS:
        comparison.extend(
            compare_conditions(rows, metric=metric, include_unreliable=include_unreliable)
        )
    write_rows_csv(
        comparison,
        root / "comparison.csv",
        columns=[
            "metric",
            "condition",
            "n",
            "mean",
            "sd",
            "median",
            "ratio_to_first",
            "p_mann_whitney",
            "median_difference",
            "difference_low",
            "difference_high",
            "measurement_share",
        ],
    )
    compared = ("ok", "unreliable") if include_unreliable else ("ok",)
    if figures and any(r.get("status") in compared for r in rows):
        from mollifier.storm import figures as fig

        fig.plot_comparison(rows, root / "comparison.png", include_unreliable=include_unreliable)
