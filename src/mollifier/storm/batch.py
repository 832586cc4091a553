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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mollifier.storm.localisations import LocalisationError, Localisations
from mollifier.storm.options import StormConfig
from mollifier.storm.output import nucleus_row, save_nucleus
from mollifier.storm.pipeline import analyse_field
from mollifier.storm.summaries import compare_conditions, write_rows_csv, write_summary_csv
from mollifier.storm.truth import find_truths

__all__ = ["COMPARISON_METRICS", "run_batch"]

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
        Re-raise the first failure instead of recording it in ``summary.csv`` (``status`` =
        ``"failed"``, the message in ``error``) and going on.

    Every nucleus of each input is analysed (:func:`~mollifier.storm.pipeline.analyse_field`)
    and written to ``<name>/`` (``<name>#k/`` for the k-th of several).

    Returns
    -------
    list of dict
        The ``summary.csv`` rows.
    """
    from mollifier._progress import progress_bar
    from mollifier.io._gridding import FileFormatError
    from mollifier.storm.readers import read_storm_input

    cfg = StormConfig() if config is None else config
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ValueError("no input files")
    conds = list(conditions) if conditions else [""]
    if len(conds) == 1:
        conds = conds * len(paths)
    if len(conds) != len(paths):
        raise ValueError(
            f"give one condition for all inputs or one per input; got "
            f"{len(conds)} conditions for {len(paths)} inputs"
        )
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    taken: set[str] = set()
    for path, cond in progress_bar(
        list(zip(paths, conds, strict=True)), desc="nuclei", unit="nucleus", disable=not progress
    ):
        name = _unique_name(path.stem, taken)
        try:
            data = read_storm_input(
                path, kind=kind, unit=unit, pixel_size=pixel_size, columns=columns
            )
            mask_locs = None
            if isinstance(data, Localisations):
                if mask_channel is not None:
                    mask_locs = data.select_channel(mask_channel)
                data = data.select_channel(channel)
            elif channel is not None or mask_channel is not None:
                raise ValueError(f"{path}: a density map has no channels")
            items = analyse_field(
                data,
                config=cfg,
                name=name,
                condition=cond,
                truths=find_truths(path),
                mask_channel=mask_locs,
            )
            for a in items:
                save_nucleus(a, root / a.name, figures=figures)
                rows.append(nucleus_row(a))
        except (LocalisationError, FileFormatError, ValueError, ImportError) as exc:
            if stop_on_error:
                raise
            rows.append(
                {
                    "name": name,
                    "condition": cond,
                    "status": "failed",
                    "source": str(path),
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
    write_summary_csv(rows, root / "summary.csv")
    comparison = []
    for metric in (
        "lambda_median",
        "domain_diameter_nm",
        "domain_density_per_um2",
        "domain_area_fraction",
    ):
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
        ],
    )
    compared = ("ok", "unreliable") if include_unreliable else ("ok",)
    if figures and any(r.get("status") in compared for r in rows):
        from mollifier.storm import figures as fig

        fig.plot_comparison(rows, root / "comparison.png", include_unreliable=include_unreliable)
    return rows
