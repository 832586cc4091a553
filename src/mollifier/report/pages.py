"""Read a result directory into a :class:`~mollifier.report._model.Page`.

Each kind of directory a command writes has one reader; :func:`detect` names the kind from the
files present, and :func:`read_page` dispatches. Readers use only the files (never the run), say
which expected files are missing, and never fail on an optional one.

Kinds, the files that mark them, and the command that writes them:

* ``bench``: ``bench.json`` (``mollifier bench``);
* ``storm-batch``: ``summary.csv`` and ``comparison.csv`` (``mollifier storm``);
* ``storm-nucleus``: ``result.json`` with ``lambda`` and ``domains`` (each nucleus of a batch);
* ``fit``: ``result.json`` with ``unknowns`` and ``method`` (``fit``, each of ``demo``'s solvers);
* ``dataset``: ``meta.json`` of format ``mollifier-dataset`` (``simulate``, ``demo``'s data);
* ``storm-simulation``: ``*.truth.npz`` beside localisation tables (``simulate storm``);
* ``collection``: sub-directories of the kinds above (``demo``, a sweep of fits).
"""

from __future__ import annotations

import base64
import csv
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.report._model import Cell, Figure, Item, Page, Table, fmt, number
from mollifier.report.provenance import BUILTIN_RESIDUALS, read_provenance, residual_source

__all__ = ["KINDS", "NotAResultError", "detect", "read_page", "sub_results"]

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

#: Figures a page embeds, in order, with their titles.
_FIT_FIGURES = (
    ("data.png", "Data"),
    ("fit.png", "Fit: mollified data or network fields, and their difference from the data"),
    ("unknowns.png", "Recovered unknowns (against the truth where known)"),
    ("residual.png", "Residual map at the solution"),
    ("loss.png", "Loss curves"),
)
_NUCLEUS_FIGURES = (
    ("overview.png", "Pipeline overview: localisations, density, mask, φ_h, λ̂"),
    ("lambda.png", "λ̂ map (and the truth where known)"),
    ("histogram.png", "Distribution of λ̂"),
    ("fields.png", "Mapped fractions and domains"),
)
_BENCH_FIGURES = (
    ("time_vs_order.png", "Step time against derivative order"),
    ("memory_vs_order.png", "Peak memory against derivative order"),
    ("scaling_grid.png", "Scaling with the grid"),
    ("accuracy_vs_noise.png", "Accuracy against noise"),
    ("fields.png", "Recovered against true fields"),
)

#: Network results leaving more of a data field's variance unexplained did not fit the data.
_UNDERFIT = 0.25


class NotAResultError(ValueError):
    """The directory holds no result a mollifier command writes."""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _csv(path: Path) -> list[dict[str, str]] | None:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


def _float(text: Any) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def detect(directory: str | Path) -> str | None:
    """The kind of result in ``directory`` (a key of :data:`KINDS`), or None."""
    d = Path(directory)
    if not d.is_dir():
        return None
    if (d / "bench.json").is_file():
        return "bench"
    if (d / "summary.csv").is_file() and (d / "comparison.csv").is_file():
        return "storm-batch"
    doc = _json(d / "result.json") if (d / "result.json").is_file() else None
    if isinstance(doc, dict):
        if "lambda" in doc and "domains" in doc:
            return "storm-nucleus"
        if "unknowns" in doc and "method" in doc:
            return "fit"
    meta = _json(d / "meta.json") if (d / "meta.json").is_file() else None
    if isinstance(meta, dict) and meta.get("format") == "mollifier-dataset":
        return "dataset"
    if any(d.glob("*.truth.npz")):
        return "storm-simulation"
    if sub_results(d):
        return "collection"
    return None


def sub_results(directory: str | Path) -> list[Path]:
    """The immediate sub-directories of ``directory`` that hold a result, sorted by name."""
    d = Path(directory)
    subs = []
    for p in sorted(d.iterdir()) if d.is_dir() else []:
        if p.is_dir() and not p.name.startswith(".") and p.name not in ("runs", "datasets"):
            if detect(p) not in (None, "collection"):
                subs.append(p)
    return subs


def embed(path: Path, title: str, caption: str = "") -> Figure:
    """A PNG or SVG file as a :class:`Figure` with a base64 ``data:`` URI."""
    mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(title=title, uri=f"data:{mime};base64,{data}", file=path.name, caption=caption)


def _figures(page: Page, d: Path, figures: tuple[tuple[str, str], ...], optional=()) -> None:
    for name, title in figures:
        path = d / name
        if path.is_file():
            page.figures.append(embed(path, title))
        elif name not in optional:
            page.missing.append(f"{name} ({title.lower()}); figures need the plot extra")


# -- provenance ---------------------------------------------------------------------------------


def _provenance(page: Page, d: Path, prov: dict[str, Any] | None, fallback: dict[str, Any]) -> None:
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


def _equation(page: Page, prov: dict[str, Any] | None, spec: str | None, base: Path | None) -> None:
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


# -- fit ------------------------------------------------------------------------------------------


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
        v = _float(t.get("median"))
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
    _status(page, doc)

    # problem
    spec, base, text = _fit_spec(doc)
    _equation(page, prov, spec, base)
    page.problem.extend(_grid_rows(d, doc.get("unknowns") or {}))
    widths = doc.get("widths") or {}
    wtext = ", ".join(f"{a} = {fmt(w)}" for a, w in widths.items() if a != "rule")
    if wtext:
        page.problem.append(
            ("widths", wtext + (f" (rule: {widths['rule']})" if "rule" in widths else ""))
        )
    for key, label in (("kernel", "kernel"), ("boundary", "boundary")):
        if key in config:
            page.problem.append((label, str(config[key]).strip("'")))
    solver = [method]
    for key in ("arch", "derivatives", "steps", "lr", "device", "dtype", "regularization"):
        if key in config:
            solver.append(f"{key} = {config[key]}")
    if "solver" in diag:
        solver.append(str(diag["solver"]))
    page.problem.append(("solver", ", ".join(solver)))

    # headline metrics
    truth = (prov or {}).get("truth") or {}
    metrics = doc.get("metrics") or {}
    table = Table(
        "Recovered unknowns",
        [
            "unknown",
            "recovered",
            "min",
            "max",
            "true",
            "Pearson r",
            "rel. L2 error",
            "median rel. error",
            "rel. error",
        ],
        css_id="metrics",
    )
    for name, est in (doc.get("unknowns") or {}).items():
        m = metrics.get(name) or {}
        true = _truth_cell(truth.get(name), bool(m))
        if isinstance(est, dict):
            table.add(
                Cell(name),
                Cell(f"median {fmt(est.get('median'))}", _float(est.get("median"))),
                est.get("min"),
                est.get("max"),
                true,
                m.get("pearson"),
                m.get("rel_l2"),
                m.get("median_rel_error"),
                Cell("—"),
            )
        else:
            table.add(
                Cell(name),
                est,
                Cell("—"),
                Cell("—"),
                true,
                Cell("—"),
                Cell("—"),
                Cell("—"),
                m.get("rel_error"),
            )
    if not metrics:
        table.note = "No truth was given, so there are no errors to report."
    elif not truth:
        table.note = (
            "The true values were not recorded with this result (no provenance.json); the errors "
            "come from result.json."
        )
    page.tables.append(table)

    run = Table("Run", ["quantity", "value"], css_id="run")
    run.add(Cell("wall time (s)"), doc.get("wall_time_s"))
    run.add(Cell("peak memory (MiB)"), doc.get("peak_memory_mb"))
    for k, v in diag.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            run.add(Cell(k.replace("_", " ")), v)
        elif isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
            run.add(
                Cell(k.replace("_", " ")), Cell(", ".join(f"{a} {fmt(b)}" for a, b in v.items()))
            )
    for k, v in (doc.get("history_final") or {}).items():
        run.add(Cell(f"final {k}"), v)
    page.tables.append(run)
    _fit_warnings(page, method, diag, metrics)

    settings = Table(
        "Solver settings (result.json config)", ["setting", "value"], css_id="settings"
    )
    for k, v in config.items():
        settings.add(Cell(k), Cell(json.dumps(v) if isinstance(v, (dict, list)) else fmt(v)))
    page.tables.append(settings)

    _figures(page, d, _FIT_FIGURES, optional=() if method == "network" else ("loss.png",))
    if not (d / "unknowns.npz").is_file():
        page.missing.append("unknowns.npz (the recovered arrays; the grid is not shown)")
    fallback = {
        "versions": doc.get("versions"),
        "wall_time_s": doc.get("wall_time_s"),
        "peak_memory_mb": doc.get("peak_memory_mb"),
        "seeds": {k: v for k, v in config.items() if "seed" in k},
    }
    _provenance(page, d, prov, fallback)
    if text and not any(t.startswith("config file") for t, _ in page.texts):
        page.texts.append((f"config file {config.get('source')}", text))
    return page


def _status(page: Page, doc: dict[str, Any]) -> None:
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


def _fit_warnings(page: Page, method: str, diag: dict[str, Any], metrics: dict[str, Any]) -> None:
    misfit = diag.get("data_misfit") or {}
    if method == "network" and isinstance(misfit, dict):
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


# -- dataset ------------------------------------------------------------------------------------


def dataset_page(d: Path, meta: dict[str, Any]) -> Page:
    """The page of a simulated (or saved) dataset: ``meta.json`` + ``data.npz`` + preview."""
    prov = read_provenance(d)
    page = Page(title=d.name, kind=KINDS["dataset"], directory=str(d))
    params = meta.get("params") or {}
    equation = str(meta.get("equation", "?"))
    name = equation
    if equation == "heat" and params.get("form") in ("divergence", "transient"):
        name = f"heat-{params['form']}"
    page.problem.append(("equation", name))
    _equation(page, prov, name if name in BUILTIN_RESIDUALS else None, None)
    noise = meta.get("noise")
    if noise:
        page.problem.append(("noise", ", ".join(f"{k} = {v}" for k, v in noise.items())))
    if meta.get("seed") is not None:
        page.problem.append(("seed", str(meta["seed"])))
    fields = Table("Arrays", ["array", "role", "shape", "min", "median", "max"], css_id="metrics")
    data = d / "data.npz"
    roles = {
        **{k: "observed" for k in meta.get("fields", [])},
        **{k: "known" for k in meta.get("known", [])},
        **{k: "true" for k in (meta.get("truth") or {})},
    }
    if data.is_file():
        try:
            with np.load(data, allow_pickle=False) as z:
                for a in meta.get("axes", []):
                    if a in z.files:
                        c = z[a]
                        page.problem.append(
                            (
                                f"axis {a}",
                                f"{c.size} nodes on [{fmt(float(c[0]))}, {fmt(float(c[-1]))}]",
                            )
                        )
                for k in z.files:
                    if k in meta.get("axes", []):
                        continue
                    v = np.asarray(z[k], dtype=float)
                    fin = v[np.isfinite(v)]
                    role = roles.get(k, "clean" if k.endswith("_clean") else "")
                    stats = (
                        (float(fin.min()), float(np.median(fin)), float(fin.max()))
                        if fin.size
                        else (None, None, None)
                    )
                    fields.add(
                        Cell(k), Cell(role), Cell(" × ".join(map(str, v.shape)) or "scalar"), *stats
                    )
        except (OSError, ValueError) as exc:
            page.warn(f"data.npz could not be read: {exc}")
    else:
        page.missing.append("data.npz (the arrays)")
    page.tables.append(fields)
    if params:
        t = Table("Simulation parameters", ["parameter", "value"], css_id="params")
        for k, v in params.items():
            t.add(Cell(k), Cell(json.dumps(v)) if isinstance(v, (dict, list)) else number(v))
        page.tables.append(t)
    _figures(page, d, (("preview.png", "Preview: observed fields and true parameters"),))
    _provenance(page, d, prov, {"seeds": {"seed": meta["seed"]} if "seed" in meta else {}})
    return page


# -- STORM ----------------------------------------------------------------------------------------


def nucleus_page(d: Path, doc: dict[str, Any]) -> Page:
    """The page of one analysed nucleus (``mollifier storm``'s per-nucleus folder)."""
    prov = read_provenance(d) or read_provenance(d.parent)
    summary = doc.get("summary") or {}
    lam = doc.get("lambda") or {}
    cfg = doc.get("config") or {}
    title = str(doc.get("name") or d.name)
    page = Page(title=title, kind=KINDS["storm-nucleus"], directory=str(d))
    _status(page, summary if summary.get("status") not in (None, "ok") else doc)
    _equation(page, prov, "chromatin", None)
    page.problem.append(("source", str(doc.get("source", "?"))))
    if doc.get("condition"):
        page.problem.append(("condition", str(doc["condition"])))
    for key, label, unit in (
        ("spacing", "pixel size", " nm"),
        ("length_scale", "length scale", " nm per model unit"),
    ):
        if key in cfg:
            page.problem.append((label, f"{fmt(cfg[key])}{unit}"))
    if lam.get("width_nm") is not None:
        page.problem.append(
            (
                "width",
                f"{fmt(lam['width_nm'])} nm "
                f"(stencil radius {lam.get('stencil_radius_nodes')} nodes)",
            )
        )
    if lam.get("boundary"):
        page.problem.append(("boundary", str(lam["boundary"])))
    page.problem.append(("solver", str(summary.get("method", cfg.get("method", "?")))))
    page.problem.append(("reported nodes", fmt(lam.get("reported_nodes"))))

    metrics = doc.get("metrics") or {}
    t = Table("λ̂ and domains", ["quantity", "recovered", "true"], css_id="metrics")
    t.add(Cell("median λ̂"), lam.get("median"), metrics.get("true_median", Cell("unknown")))
    t.add(Cell("median of smoothed λ̂"), lam.get("smoothed_median"), Cell("—"))
    logn = lam.get("lognormal") or {}
    for k in ("median", "sigma"):
        if k in logn:
            t.add(Cell(f"lognormal fit: {k}"), logn[k], Cell("—"))
    for k in ("pearson", "median_rel_error", "median_error"):
        if k in metrics:
            t.add(Cell(f"against the truth: {k.replace('_', ' ')}"), metrics[k], Cell("—"))
    for k in (
        "domain_count",
        "domain_density_per_um2",
        "domain_diameter_nm",
        "domain_spacing_nm",
        "domain_area_fraction",
        "area_um2",
        "reported_area_um2",
        "reference_density",
    ):
        if k in summary:
            t.add(Cell(k.replace("_", " ")), summary[k], Cell("—"))
    if not metrics:
        t.note = "No truth.npz was beside the input, so there is no comparison with a truth."
    page.tables.append(t)
    timings = doc.get("timings_s") or {}
    if timings:
        tt = Table("Timings", ["step", "seconds"], css_id="timings")
        for k, v in timings.items():
            tt.add(Cell(k), v)
        page.tables.append(tt)
    settings = Table("Settings", ["setting", "value"], css_id="settings")
    for k, v in cfg.items():
        settings.add(Cell(k), Cell(json.dumps(v) if isinstance(v, (dict, list)) else fmt(v)))
    page.tables.append(settings)
    nonpos = (lam.get("diagnostics") or {}).get("nonpositive_reported")
    if nonpos:
        page.warn(f"{nonpos} reported nodes have λ̂ ≤ 0")
    _figures(page, d, _NUCLEUS_FIGURES)
    fallback = {
        "versions": doc.get("versions"),
        "wall_time_s": summary.get("wall_time_s"),
        "seeds": {k: v for k, v in cfg.items() if "seed" in k},
    }
    _provenance(page, d, prov, fallback)
    return page


_BATCH_COLUMNS = (
    ("lambda_median", "median λ̂"),
    ("lambda_true_median", "true median"),
    ("pearson", "r"),
    ("domain_diameter_nm", "domain diameter (nm)"),
    ("domain_density_per_um2", "domains/µm²"),
    ("domain_area_fraction", "area fraction"),
)


def batch_page(d: Path) -> Page:
    """The page of a STORM batch: the nuclei (linked), the comparison between conditions."""
    prov = read_provenance(d)
    page = Page(title=d.name, kind=KINDS["storm-batch"], directory=str(d))
    rows = _csv(d / "summary.csv") or []
    nuclei = Table(
        "Nuclei",
        ["nucleus", "condition", "status", *(label for _, label in _BATCH_COLUMNS), "why"],
        css_id="metrics",
    )
    for r in rows:
        name = r.get("name", "?")
        folder = d / name
        href = f"{name}/report.html" if name and (folder / "result.json").is_file() else None
        status = r.get("status", "?")
        why = r.get("error") or r.get("reasons") or ""  # a failure's error, the gate's reasons
        nuclei.add(
            Cell(name, href=href),
            Cell(r.get("condition", "")),
            Cell(status),
            *(
                number(_float(r.get(k))) if r.get(k) not in (None, "") else Cell("—")
                for k, _ in _BATCH_COLUMNS
            ),
            Cell(why),
        )
        if status != "ok":
            page.warn(f"{name}: {status}: {why}" if why else f"{name}: {status}")
            failed = all(x.get("status") in ("failed", "error") for x in rows)
            page.status = "error" if failed else page.status
        page.items.append(
            Item(
                name=name,
                href=href,
                kind=KINDS["storm-nucleus"],
                status=status,
                summary=why,
            )
        )
    page.tables.append(nuclei)
    comp = _csv(d / "comparison.csv") or []
    if comp:
        cols = list(comp[0])
        t = Table("Comparison between conditions", cols, css_id="comparison")
        for r in comp:
            t.add(
                *(
                    number(_float(r[c])) if _float(r[c]) is not None else Cell(r[c] or "")
                    for c in cols
                )
            )
        page.tables.append(t)
    _figures(page, d, (("comparison.png", "Per-nucleus values by condition"),))
    _equation(page, prov, "chromatin", None)
    _provenance(page, d, prov, {})
    return page


def simulation_page(d: Path) -> Page:
    """The page of ``simulate storm``'s output: the nuclei's tables and their truths."""
    prov = read_provenance(d)
    page = Page(title=d.name, kind=KINDS["storm-simulation"], directory=str(d))
    t = Table("Nuclei", ["table", "localisations", "true median λ", "truth file"], css_id="metrics")
    for truth in sorted(d.glob("*.truth.npz")):
        stem = truth.name[: -len(".truth.npz")]
        table = d / f"{stem}.csv"
        count: Any = Cell("missing")
        if table.is_file():
            with table.open("rb") as fh:
                count = max(sum(1 for _ in fh) - 1, 0)
        try:
            with np.load(truth, allow_pickle=False) as z:
                lam = np.asarray(z["lam"], dtype=float)
                mask = np.asarray(z["mask"], dtype=bool) if "mask" in z.files else np.isfinite(lam)
                med: Any = float(np.median(lam[mask])) if mask.any() else None
        except (OSError, ValueError, KeyError) as exc:
            med = Cell(f"unreadable: {exc}")
        t.add(Cell(table.name), count, med, Cell(truth.name))
    page.tables.append(t)
    _equation(page, prov, "chromatin", None)
    _provenance(page, d, prov, {})
    return page


# -- bench ----------------------------------------------------------------------------------------


def _markdown_blocks(text: str) -> list[tuple[str, Any]]:
    """``bench.md`` as blocks: ("h", (level, text)), ("table", rows), ("list", items), ("p", text).

    Only the constructs ``bench.md`` uses; every block is rendered as text by the template.
    """
    blocks: list[tuple[str, Any]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            blocks.append(("h", (min(level + 1, 6), line.lstrip("#").strip())))
            i += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(set(c) <= set("-: ") for c in cells):
                    rows.append(cells)
                i += 1
            blocks.append(("table", rows))
        elif line.lstrip().startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].strip():
                s = lines[i].strip()
                if s.startswith(("- ", "* ")):
                    items.append(s[2:])
                elif items:
                    items[-1] += " " + s
                i += 1
            blocks.append(("list", items))
        else:
            para = []
            while (
                i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith(("|", "#"))
            ):
                para.append(lines[i].strip())
                i += 1
            blocks.append(("p", " ".join(para)))
    return blocks


def bench_page(d: Path) -> Page:
    """The page of a benchmark tier: ``bench.md``'s tables, failures and the plots."""
    prov = read_provenance(d)
    records = _json(d / "bench.json")
    page = Page(title=d.name, kind=KINDS["bench"], directory=str(d))
    if not isinstance(records, list):
        page.warn("bench.json could not be read")
        records = []
    counts: dict[str, int] = {}
    for r in records:
        s = str(r.get("status", "?"))
        counts[s] = counts.get(s, 0) + 1
        if s in ("error", "killed"):
            label = r.get("label") or " ".join(
                str(r[k]) for k in ("study", "task", "arch", "derivatives", "n") if k in r
            )
            page.warn(f"{label}: {s}: {r.get('error') or ''}".rstrip(": "))
        elif s not in ("ok", "cached"):
            page.notes.append(f"{r.get('label') or r.get('study', '?')}: {s}")
    t = Table("Runs by status", ["status", "records"], css_id="metrics")
    for s, n in sorted(counts.items()):
        t.add(Cell(s), n)
    page.tables.append(t)
    md = d / "bench.md"
    if md.is_file():
        page.texts.append(("bench.md", md.read_text(encoding="utf-8")))
        heading = ""
        for kind, body in _markdown_blocks(md.read_text(encoding="utf-8")):
            if kind == "h":
                heading = body[1]
            elif kind == "table" and len(body) > 1:
                width = len(body[0])
                tb = Table(heading, body[0])
                for row in body[1:]:
                    row = (row + [""] * width)[:width]
                    tb.add(*(Cell(c) for c in row))
                    if "verdict" in body[0] and row[body[0].index("verdict")].startswith("FAIL"):
                        page.warn(f"{heading}: {row[0]}: " + " · ".join(row[1:]))
                page.tables.append(tb)
                heading = ""
        page.tables = [tb for tb in page.tables if tb.rows]
    else:
        page.missing.append("bench.md (the tables)")
    _figures(page, d, _BENCH_FIGURES, optional=tuple(n for n, _ in _BENCH_FIGURES))
    first = records[0] if records else {}
    fallback = {
        "commit": first.get("commit"),
        "dirty": first.get("dirty"),
        "versions": {k: first[k] for k in ("torch", "python", "device") if k in first},
    }
    _provenance(page, d, prov, fallback)
    return page


# -- collection -----------------------------------------------------------------------------------


def _headline(page: Page) -> str:
    """One line for a batch page: the first numbers of an item's headline table."""
    if not page.tables or not page.tables[0].rows:
        return ""
    t = page.tables[0]
    parts = []
    for row in t.rows[:3]:
        cells = [
            f"{c}: {v.text}"
            for c, v in zip(t.columns[1:], row[1:], strict=False)
            if v.value is not None
        ]
        parts.append(f"{row[0].text} — " + ", ".join(cells[:4]))
    return "; ".join(parts)


def collection_page(d: Path, items: list[tuple[Path, Page]]) -> Page:
    """The page of a directory of results (``demo``, a sweep): one row and link per item, and
    each fit's headline numbers side by side; a sweep's ``comparison.png`` and its failed runs
    (folders with an ``error.txt``)."""
    prov = read_provenance(d)
    page = Page(title=d.name, kind=KINDS["collection"], directory=str(d))
    if prov is None:
        page.notes.append(
            "This folder was gathered by `mollifier report`; each item's page has its own "
            "provenance."
        )
    compare = Table(
        "Headline metrics of each result",
        [
            "result",
            "unknown",
            "recovered",
            "Pearson r",
            "rel. L2 error",
            "median rel. error",
            "rel. error",
        ],
        css_id="metrics",
    )
    for path, item in items:
        href = f"{path.name}/report.html"
        page.items.append(
            Item(
                name=path.name,
                href=href,
                kind=item.kind,
                status=item.status,
                summary=_headline(item),
            )
        )
        for a in item.alerts:
            page.warn(f"{path.name}: {a}")
        if (
            item.tables
            and item.tables[0].css_id == "metrics"
            and item.kind.startswith(KINDS["fit"])
        ):
            cols = item.tables[0].columns
            for row in item.tables[0].rows:
                by = dict(zip(cols, row, strict=True))
                compare.add(
                    Cell(path.name, href=href),
                    by["unknown"],
                    by["recovered"],
                    by["Pearson r"],
                    by["rel. L2 error"],
                    by["median rel. error"],
                    by["rel. error"],
                )
    for failed in sorted(d.glob("*/error.txt")):
        page.warn(f"{failed.parent.name} failed: {failed.read_text(encoding='utf-8').strip()}")
    _figures(page, d, (("comparison.png", "Each run's error and wall time"),), ("comparison.png",))
    if compare.rows:
        page.tables.append(compare)
    else:
        page.tables.append(Table("Results", ["result"], css_id="metrics"))
        for path, _ in items:
            page.tables[-1].add(Cell(path.name, href=f"{path.name}/report.html"))
    if prov is not None:
        if prov.get("residual"):
            _equation(page, prov, None, None)
        _provenance(page, d, prov, {})
    return page


Reader = Callable[[Path], Page]


def read_page(directory: str | Path) -> Page:
    """The page of a single result directory (a collection's items are read by
    :func:`mollifier.report.write_report`).

    Raises
    ------
    NotAResultError
        If ``directory`` does not exist or holds no result of a known kind.
    """
    d = Path(directory)
    kind = detect(d)
    if kind is None:
        if not d.is_dir():
            what = "is a file, not a result directory" if d.exists() else "no such directory"
            raise NotAResultError(f"{d}: {what}")
        for name in ("result.json", "meta.json"):
            if (d / name).is_file():
                try:
                    json.loads((d / name).read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise NotAResultError(f"{d / name}: not readable JSON ({exc})") from None
                raise NotAResultError(f"{d / name}: not a mollifier {name} (unexpected layout)")
        raise NotAResultError(
            f"{d}: not a mollifier result directory (no result.json, meta.json, bench.json, "
            "summary.csv or *.truth.npz, and no sub-directory holding one)"
        )
    try:
        return _READERS[kind](d)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        raise NotAResultError(
            f"{d}: looks like a {KINDS[kind]}, but its files do not have the expected layout "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _read_collection(d: Path) -> Page:
    return collection_page(d, [(p, read_page(p)) for p in sub_results(d)])


_READERS: dict[str, Reader] = {
    "bench": bench_page,
    "storm-batch": batch_page,
    "storm-nucleus": lambda d: nucleus_page(d, _json(d / "result.json")),
    "fit": lambda d: fit_page(d, _json(d / "result.json")),
    "dataset": lambda d: dataset_page(d, _json(d / "meta.json")),
    "storm-simulation": simulation_page,
    "collection": _read_collection,
}
