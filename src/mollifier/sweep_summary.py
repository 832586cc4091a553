"""The summary of a fit sweep: ``summary.csv``, ``summary.md`` and ``comparison.png``.

One row per run: the run's name, its swept values, ``status``, the metrics of each unknown
against the truth (``lam.rel_l2``, ``nu.rel_error`` ...), ``wall_time_s``, ``peak_memory_mb``
and, for a failed run, ``error``. The figure shows each unknown's error (relative L2 for a
field, relative error for a constant) and the wall time of every run.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["error_columns", "write_sweep_summary"]

_TAIL = ("wall_time_s", "peak_memory_mb", "reasons", "error")


def _columns(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[str]:
    metrics: list[str] = []
    for row in rows:
        metrics.extend(c for c in row if "." in c and c not in metrics and c not in keys)
    return ["run", *keys, "status", *metrics, *_TAIL]


def error_columns(columns: Sequence[str]) -> list[str]:
    """The columns the figure shows: each unknown's ``rel_l2`` (field) or ``rel_error``."""
    out = []
    for c in columns:
        unknown, _, metric = c.rpartition(".")
        if metric == "rel_l2" or (metric == "rel_error" and f"{unknown}.rel_l2" not in columns):
            out.append(c)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def write_sweep_summary(
    rows: Sequence[Mapping[str, Any]], out: str | Path, *, keys: Sequence[str]
) -> list[Path]:
    """Write ``summary.csv``, ``summary.md`` and (with matplotlib and a finished run)
    ``comparison.png`` into ``out``; returns the paths written."""
    root = Path(out)
    columns = _columns(rows, keys)
    with open(root / "summary.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    shown = [c for c in columns if c not in ("reasons",)]
    lines = [
        f"# Sweep: {len(rows)} runs, {sum(r.get('status') == 'failed' for r in rows)} failed",
        "",
        "| " + " | ".join(shown) + " |",
        "|" + "---|" * len(shown),
    ]
    for row in rows:
        cells = [_text(row.get(c)).replace("|", "\\|").replace("\n", " ") for c in shown]
        cells[0] = f"[{cells[0]}]({cells[0]}/report.html)"
        lines.append("| " + " | ".join(cells) + " |")
    (root / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written = [root / "summary.csv", root / "summary.md"]
    finished = [r for r in rows if r.get("status") != "failed"]
    if finished:
        try:
            written.append(_figure(rows, error_columns(columns), root / "comparison.png"))
        except ImportError:
            pass
    return written


def _figure(rows: Sequence[Mapping[str, Any]], errors: Sequence[str], path: Path) -> Path:
    """Bars per run: one panel per error column, one for the wall time; failed runs hatched."""
    from mollifier._pyplot import pyplot

    plt = pyplot("the sweep figure")
    names = [str(r["run"]) for r in rows]
    panels = [*errors, "wall_time_s"]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.2 * len(panels) + 1.5, 0.32 * len(rows) + 1.6), squeeze=False
    )
    y = range(len(rows))
    for ax, column in zip(axes[0], panels, strict=True):
        values = [_number(r.get(column)) for r in rows]
        colours = [
            "#bbbbbb"
            if r.get("status") == "failed"
            else ("#e69f00" if r.get("status") == "unreliable" else "#0072b2")
            for r in rows
        ]
        ax.barh(list(y), [0.0 if math.isnan(v) else v for v in values], color=colours)
        ax.set_title(column.replace("_", " "), fontsize=9)
        ax.set_yticks(list(y))
        ax.set_yticklabels(names if ax is axes[0][0] else [], fontsize=7)
        ax.invert_yaxis()
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("sweep: blue ok, orange unreliable, grey failed", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out if math.isfinite(out) else float("nan")
