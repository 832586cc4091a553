"""What every report page shares: the kinds of result, reading files that may be absent or
malformed, embedding figures, and the provenance, residual and status blocks.

Readers use only the files (never the run) and never fail on an optional one: a missing or
unreadable file gives ``None`` here and a line under "Not in this directory" on the page.
"""

from __future__ import annotations

import base64
import csv
import json
import math
from pathlib import Path
from typing import Any

from mollifier.report._model import Figure, Page, fmt
from mollifier.report.provenance import residual_source

__all__ = [
    "KINDS",
    "add_equation",
    "add_figures",
    "add_provenance",
    "add_status",
    "embed",
    "read_csv",
    "read_json",
    "to_float",
]

#: Each kind's label on the page.
KINDS = {
    "bench": "benchmark tier",
    "storm-batch": "STORM batch",
    "storm-nucleus": "STORM nucleus",
    "fit": "inverse-problem result",
    "dataset": "dataset with ground truth",
    "storm-simulation": "synthetic STORM nuclei",
    "collection": "collection of results",
}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_csv(path: Path) -> list[dict[str, str]] | None:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


def to_float(text: Any) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def embed(path: Path, title: str, caption: str = "") -> Figure:
    """A PNG or SVG file as a :class:`Figure` with a base64 ``data:`` URI."""
    mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(title=title, uri=f"data:{mime};base64,{data}", file=path.name, caption=caption)


def add_figures(page: Page, d: Path, figures: tuple[tuple[str, str], ...], optional=()) -> None:
    for name, title in figures:
        path = d / name
        if path.is_file():
            page.figures.append(embed(path, title))
        elif name not in optional:
            page.missing.append(f"{name} ({title.lower()}); figures need the plot extra")


def add_provenance(
    page: Page, d: Path, prov: dict[str, Any] | None, fallback: dict[str, Any]
) -> None:
    """Fill ``page.provenance`` from ``provenance.json`` and, where it lacks a fact, from the
    result's own record (``fallback``: versions, wall time, peak memory, seeds, commit)."""
    rows: list[tuple[str, str]] = []
    p = prov or {}
    if prov is None:
        page.missing.append(
            "provenance.json (the command line, commit, config text and times were not recorded: "
            "this result predates the report, or was written through the Python API)"
        )
    if p.get("command"):
        rows.append(("command line", str(p["command"])))
    if p.get("cwd"):
        rows.append(("working directory", str(p["cwd"])))
    commit = p.get("commit") or fallback.get("commit")
    dirty = p.get("dirty", fallback.get("dirty"))
    if commit:
        rows.append(("commit", str(commit) + (" (uncommitted changes)" if dirty else "")))
    elif prov is not None:
        rows.append(("commit", "not a git checkout"))
    if p.get("started_at"):
        rows.append(("started", str(p["started_at"])))
    if p.get("finished_at"):
        rows.append(("finished", str(p["finished_at"])))
    wall = fallback.get("wall_time_s")
    if wall is not None:
        rows.append(("wall time (this result)", f"{fmt(float(wall))} s"))
    if p.get("wall_time_s") is not None:
        rows.append(("wall time (whole command)", f"{fmt(float(p['wall_time_s']))} s"))
    peak = fallback.get("peak_memory_mb")
    if peak is not None:
        rows.append(("peak memory (this result)", f"{fmt(float(peak))} MiB"))
    if p.get("peak_memory_mb") is not None:
        rows.append(("peak memory (process)", f"{fmt(float(p['peak_memory_mb']))} MiB"))
    seeds = {**fallback.get("seeds", {}), **(p.get("seeds") or {})}
    if seeds:
        rows.append(("seeds", ", ".join(f"{k} = {v}" for k, v in seeds.items())))
    versions = p.get("versions") or fallback.get("versions") or {}
    for k, v in versions.items():
        rows.append((f"version: {k}", str(v)))
    options = p.get("options") or {}
    if options:
        rows.append(
            ("options", ", ".join(f"{k} = {v}" for k, v in options.items() if v is not None))
        )
    page.provenance = rows
    if p.get("config_text"):
        page.texts.append((f"config file {p.get('config_file', '')}".strip(), p["config_text"]))


def add_equation(
    page: Page, prov: dict[str, Any] | None, spec: str | None, base: Path | None
) -> None:
    """The residual's source: as recorded at run time, else read from ``spec`` now."""
    rec = (prov or {}).get("residual")
    if not (isinstance(rec, dict) and rec.get("source")) and spec is not None:
        rec = residual_source(spec, base)
    if isinstance(rec, dict) and rec.get("source"):
        page.equation = str(rec["source"])
        summary = str(rec.get("summary", "")).replace("``", "")  # reST literals, as plain text
        page.equation_origin = f"{rec.get('spec', '')}: {summary}".strip(": ")
    else:
        page.missing.append("the residual's source (not recorded and not found)")


def add_status(page: Page, doc: dict[str, Any]) -> None:
    """A quality gate's verdict, where the result records one (``status`` and ``reasons``)."""
    status = doc.get("status")
    reasons = doc.get("reasons") or []
    if isinstance(reasons, str):
        reasons = [reasons]
    if status in (None, "ok"):
        for r in reasons:
            page.notes.append(str(r))
        return
    if status in ("error", "failed", "fail"):
        page.status = "error"
        page.alerts.extend(str(r) for r in reasons)
        if not reasons:
            page.alerts.append(f"status: {status}")
    else:
        for r in reasons or [f"status: {status}"]:
            page.warn(str(r))
