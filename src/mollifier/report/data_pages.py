"""Pages of simulated inputs: a dataset with ground truth (``simulate``, ``demo``'s data) and
synthetic STORM nuclei (``simulate storm``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.report._files import KINDS, add_equation, add_figures, add_provenance
from mollifier.report._model import Cell, Page, Table, fmt, number
from mollifier.report.provenance import BUILTIN_RESIDUALS, read_provenance

__all__ = ["dataset_page", "simulation_page"]


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
    add_equation(page, prov, name if name in BUILTIN_RESIDUALS else None, None)
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
    add_figures(page, d, (("preview.png", "Preview: observed fields and true parameters"),))
    add_provenance(page, d, prov, {"seeds": {"seed": meta["seed"]} if "seed" in meta else {}})
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
    add_equation(page, prov, "chromatin", None)
    add_provenance(page, d, prov, {})
    return page
