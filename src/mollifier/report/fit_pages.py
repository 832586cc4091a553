"""The page of an inverse-problem result (``mollifier fit``, each of ``demo``'s solvers):
``result.json``, ``unknowns.npz`` and the figures; the fit diagnosis of a network result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.report._files import (
    KINDS,
    add_equation,
    add_figures,
    add_provenance,
    add_status,
    to_float,
)
from mollifier.report._model import Cell, Page, Table, fmt, number
from mollifier.report.provenance import read_provenance

__all__ = ["fit_page"]

#: A network result without a fit diagnosis (written before it existed) leaving more of a data
#: field's variance unexplained did not fit the data.
_UNDERFIT = 0.25

_FIT_FIGURES = (
    ("data.png", "Data"),
    ("fit.png", "Fit: mollified data or network fields, and their difference from the data"),
    ("unknowns.png", "Recovered unknowns (against the truth where known)"),
    ("residual.png", "Residual map at the solution"),
    ("loss.png", "Loss curves"),
)


def _grid_rows(d: Path, unknowns: dict[str, Any]) -> list[tuple[str, str]]:
    """The grid's axes read from ``unknowns.npz``: its 1-D coordinate arrays."""
    path = d / "unknowns.npz"
    if not path.is_file():
        return []
    skip = ("field_", "residual", "interior", "history_")
    try:
        with np.load(path, allow_pickle=False) as z:
            shape = z["interior"].shape if "interior" in z.files else None
            axes = [
                k
                for k in z.files
                if k not in unknowns and not k.startswith(skip) and z[k].ndim == 1
            ]
            rows = []
            for a in axes:
                c = z[a]
                step = float(c[1] - c[0]) if c.size > 1 else float("nan")
                rows.append(
                    (
                        f"axis {a}",
                        f"{c.size} nodes on [{fmt(float(c[0]))}, {fmt(float(c[-1]))}], "
                        f"spacing {fmt(step)}",
                    )
                )
            if shape is not None:
                interior = int(np.count_nonzero(z["interior"]))
                rows.append(
                    (
                        "grid",
                        " × ".join(str(s) for s in shape)
                        + f" nodes, {interior} interior (residual evaluated)",
                    )
                )
            return rows
    except (OSError, ValueError, KeyError):
        return []


def _fit_spec(doc: dict[str, Any]) -> tuple[str | None, Path | None, str | None]:
    """(residual spec, its base folder, the config's text) from the config file a fit names."""
    source = (doc.get("config") or {}).get("source")
    if not source:
        return None, None, None
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None, None
    try:
        table = _toml().loads(text).get("problem", {})
    except ValueError:  # tomllib.TOMLDecodeError
        return None, path.parent, text
    spec = table.get("builtin") or table.get("residual")
    return (str(spec) if spec else None), path.parent, text


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def _truth_cell(t: Any, has_metrics: bool) -> Cell:
    """The "true" cell: a constant, or a field's median; why there is none otherwise."""
    if isinstance(t, dict):
        v = to_float(t.get("median"))
        return Cell(f"median {fmt(v)}", v)
    if t is not None:
        return number(t)
    return Cell("not recorded" if has_metrics else "unknown")


def fit_page(d: Path, doc: dict[str, Any]) -> Page:
    """The page of an inverse-problem result (``result.json`` + ``unknowns.npz`` + figures)."""
    prov = read_provenance(d)
    method = str(doc.get("method", "?"))
    config = doc.get("config") or {}
    diag = doc.get("diagnostics") or {}
    page = Page(title=d.name, kind=f"{KINDS['fit']} ({method} solver)", directory=str(d))
    add_status(page, doc)
    spec, base, text = _fit_spec(doc)
    add_equation(page, prov, spec, base)
    page.problem.extend(_grid_rows(d, doc.get("unknowns") or {}))
    page.problem.extend(_setup_rows(doc, method))
    page.tables.append(_metrics_table(doc, (prov or {}).get("truth") or {}))
    diagnosis = _diagnosis_table(diag.get("fit"))
    if diagnosis is not None:
        page.tables.append(diagnosis)
    page.tables.append(_run_table(doc))
    _fit_warnings(page, method, diag, doc.get("metrics") or {})
    settings = Table(
        "Solver settings (result.json config)", ["setting", "value"], css_id="settings"
    )
    for k, v in config.items():
        settings.add(Cell(k), Cell(json.dumps(v) if isinstance(v, (dict, list)) else fmt(v)))
    page.tables.append(settings)
    add_figures(page, d, _FIT_FIGURES, optional=() if method == "network" else ("loss.png",))
    if not (d / "unknowns.npz").is_file():
        page.missing.append("unknowns.npz (the recovered arrays; the grid is not shown)")
    fallback = {
        "versions": doc.get("versions"),
        "wall_time_s": doc.get("wall_time_s"),
        "peak_memory_mb": doc.get("peak_memory_mb"),
        "seeds": {k: v for k, v in config.items() if "seed" in k},
    }
    add_provenance(page, d, prov, fallback)
    if text and not any(t.startswith("config file") for t, _ in page.texts):
        page.texts.append((f"config file {config.get('source')}", text))
    return page


def _setup_rows(doc: dict[str, Any], method: str) -> list[tuple[str, str]]:
    """The widths, kernel, boundary and solver of a fit, as (label, text) rows."""
    config = doc.get("config") or {}
    diag = doc.get("diagnostics") or {}
    rows = []
    widths = doc.get("widths") or {}
    wtext = ", ".join(f"{a} = {fmt(w)}" for a, w in widths.items() if a != "rule")
    if wtext:
        rows.append(("widths", wtext + (f" (rule: {widths['rule']})" if "rule" in widths else "")))
    for key, label in (("kernel", "kernel"), ("boundary", "boundary")):
        if key in config:
            rows.append((label, str(config[key]).strip("'")))
    solver = [method]
    for key in ("arch", "derivatives", "steps", "lr", "device", "dtype", "regularization"):
        if key in config:
            solver.append(f"{key} = {config[key]}")
    if "solver" in diag:
        solver.append(str(diag["solver"]))
    rows.append(("solver", ", ".join(solver)))
    return rows


def _metrics_table(doc: dict[str, Any], truth: dict[str, Any]) -> Table:
    """The headline table: each unknown, its range, the truth and the errors against it."""
    metrics = doc.get("metrics") or {}
    columns = ["unknown", "recovered", "min", "max", "true", "Pearson r", "rel. L2 error"]
    columns += ["median rel. error", "rel. error"]
    table = Table("Recovered unknowns", columns, css_id="metrics")
    dash = Cell("—")
    for name, est in (doc.get("unknowns") or {}).items():
        m = metrics.get(name) or {}
        true = _truth_cell(truth.get(name), bool(m))
        if isinstance(est, dict):
            median = Cell(f"median {fmt(est.get('median'))}", to_float(est.get("median")))
            table.add(
                Cell(name),
                median,
                est.get("min"),
                est.get("max"),
                true,
                m.get("pearson"),
                m.get("rel_l2"),
                m.get("median_rel_error"),
                dash,
            )
        else:
            table.add(Cell(name), est, dash, dash, true, dash, dash, dash, m.get("rel_error"))
    if not metrics:
        table.note = "No truth was given, so there are no errors to report."
    elif not truth:
        table.note = (
            "The true values were not recorded with this result (no provenance.json); the errors "
            "come from result.json."
        )
    return table


def _run_table(doc: dict[str, Any]) -> Table:
    """Wall time, memory, the scalar diagnostics and the final loss terms."""
    run = Table("Run", ["quantity", "value"], css_id="run")
    run.add(Cell("wall time (s)"), doc.get("wall_time_s"))
    run.add(Cell("peak memory (MiB)"), doc.get("peak_memory_mb"))
    for k, v in (doc.get("diagnostics") or {}).items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            run.add(Cell(k.replace("_", " ")), v)
        elif isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
            run.add(
                Cell(k.replace("_", " ")), Cell(", ".join(f"{a} {fmt(b)}" for a, b in v.items()))
            )
    for k, v in (doc.get("history_final") or {}).items():
        run.add(Cell(f"final {k}"), v)
    return run


def _diagnosis_table(fit: Any) -> Table | None:
    """A network's fit diagnosis (``diagnostics["fit"]``): per data field its misfit over the
    estimated noise variance, per equation its final residual RMS over ``R₀``, per loss term its
    share of the final loss and of the gradient norm. None for a result without one."""
    if not isinstance(fit, dict):
        return None
    t = Table("Fit diagnosis", ["part", "name", "ratio", "the ratio is", "verdict"], css_id="fit")
    for name, d in (fit.get("data") or {}).items():
        what = (
            f"misfit / estimated noise variance (1 − R² = {fmt(d.get('unexplained'))}; noise "
            f"{fmt(d.get('noise_fraction'))} of the data's variance"
        )
        judged, ratio = d.get("judged_ratio"), d.get("ratio")
        if isinstance(judged, float) and isinstance(ratio, float) and judged < ratio:
            what += f"; judged against 1% noise: {fmt(judged)}"
        what += ")"
        t.add(Cell("data"), Cell(name), d.get("ratio"), Cell(what), Cell(str(d.get("verdict"))))
    for name, r in (fit.get("residual") or {}).items():
        what = "final RMS / initial scale R₀ (the RMS at zero unknowns)"
        t.add(Cell("residual"), Cell(name), r.get("ratio"), Cell(what), Cell(str(r.get("verdict"))))
    loss = fit.get("loss") or {}
    for name, share in (loss.get("share") or {}).items():
        verdict = "dominant" if name == loss.get("dominant") else ""
        t.add(Cell("loss"), Cell(name), share, Cell("share of the final loss"), Cell(verdict))
    for name, share in (loss.get("gradient_share") or {}).items():
        what = "share of the loss gradient's norm (trained parameters)"
        t.add(Cell("gradient"), Cell(name), share, Cell(what), Cell(""))
    th = fit.get("thresholds") or {}
    if th:
        t.note = (
            f"Data fitted when misfit/noise ≤ {fmt(th.get('data_fitted'))}, partly fitted up to "
            f"{fmt(th.get('data_not_fitted'))}, not fitted above (the noise variance taken as at "
            f"least {fmt(th.get('noise_floor'))} of the data's); over-fitted (following the "
            f"noise) below {fmt(th.get('data_over_fitted'))}. Residual fitted when RMS/R₀ ≤ "
            f"{fmt(th.get('residual_not_fitted'))}."
        )
    return t


def _fit_warnings(page: Page, method: str, diag: dict[str, Any], metrics: dict[str, Any]) -> None:
    fit = diag.get("fit")
    misfit = diag.get("data_misfit") or {}
    if isinstance(fit, dict):
        # not-fitted fields and equations made the result unreliable: its reasons say so
        for k, d in (fit.get("data") or {}).items():
            verdict = d.get("verdict") if isinstance(d, dict) else None
            if verdict == "over-fitted":
                page.warn(
                    f"data field {k!r} over-fitted: its misfit is {fmt(d.get('ratio'))} of the "
                    "estimated noise variance, so the network's field follows the noise"
                )
            elif verdict == "partly fitted":
                page.warn(
                    f"data field {k!r} partly fitted: its misfit is {fmt(d.get('judged_ratio'))}x "
                    "the noise variance, more than the noise explains"
                )
    elif method == "network" and isinstance(misfit, dict):  # a result older than the diagnosis
        for k, v in misfit.items():
            if isinstance(v, (int, float)) and v > _UNDERFIT:
                page.warn(
                    f"the network did not fit the data ({k}: {v:.0%} of its variance "
                    "unexplained); the unknowns describe a smoothed state, not the measured "
                    "pattern"
                )
    for key, what in (
        ("unidentifiable_nodes", "nodes where the unknown is not identifiable"),
        ("nonpositive_nodes", "nodes where a positive unknown came out ≤ 0"),
    ):
        for k, n in (diag.get(key) or {}).items():
            if n:
                page.warn(f"{k}: {n} {what}")
    for name, m in metrics.items():
        if isinstance(m, dict) and any(v is None for v in m.values()):
            page.warn(f"{name}: some metrics are not finite (too few nodes or a constant truth)")
