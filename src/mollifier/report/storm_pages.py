"""Pages of ``mollifier storm``'s output: one analysed nucleus, and a batch of nuclei with the
comparison between conditions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mollifier.report._files import (
    KINDS,
    add_equation,
    add_figures,
    add_provenance,
    add_status,
    read_csv,
    to_float,
)
from mollifier.report._model import Cell, Item, Page, Table, fmt, number
from mollifier.report.provenance import read_provenance

__all__ = ["batch_page", "nucleus_page"]

_NUCLEUS_FIGURES = (
    ("overview.png", "Pipeline overview: localisations, density, mask, φ_h, λ̂"),
    ("lambda.png", "λ̂ map (and the truth where known)"),
    ("histogram.png", "Distribution of λ̂"),
    ("fields.png", "Mapped fractions and domains"),
)


def nucleus_page(d: Path, doc: dict[str, Any]) -> Page:
    """The page of one analysed nucleus (``mollifier storm``'s per-nucleus folder)."""
    prov = read_provenance(d) or read_provenance(d.parent)
    summary = doc.get("summary") or {}
    lam = doc.get("lambda") or {}
    cfg = doc.get("config") or {}
    title = str(doc.get("name") or d.name)
    page = Page(title=title, kind=KINDS["storm-nucleus"], directory=str(d))
    add_status(page, summary if summary.get("status") not in (None, "ok") else doc)
    add_equation(page, prov, "chromatin", None)
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
    add_figures(page, d, _NUCLEUS_FIGURES)
    fallback = {
        "versions": doc.get("versions"),
        "wall_time_s": summary.get("wall_time_s"),
        "seeds": {k: v for k, v in cfg.items() if "seed" in k},
    }
    add_provenance(page, d, prov, fallback)
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
    rows = read_csv(d / "summary.csv") or []
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
                number(to_float(r.get(k))) if r.get(k) not in (None, "") else Cell("—")
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
    comp = read_csv(d / "comparison.csv") or []
    if comp:
        cols = list(comp[0])
        t = Table("Comparison between conditions", cols, css_id="comparison")
        for r in comp:
            t.add(
                *(
                    number(to_float(r[c])) if to_float(r[c]) is not None else Cell(r[c] or "")
                    for c in cols
                )
            )
        page.tables.append(t)
    add_figures(page, d, (("comparison.png", "Per-nucleus values by condition"),))
    add_equation(page, prov, "chromatin", None)
    add_provenance(page, d, prov, {})
    return page
