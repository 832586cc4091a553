"""The page of a benchmark tier (``mollifier bench``): ``bench.md``'s tables, the failures and
the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mollifier.report._files import KINDS, add_figures, add_provenance, read_json
from mollifier.report._model import Cell, Page, Table
from mollifier.report.provenance import read_provenance

__all__ = ["bench_page", "markdown_blocks"]

_BENCH_FIGURES = (
    ("time_vs_order.png", "Step time against derivative order"),
    ("memory_vs_order.png", "Peak memory against derivative order"),
    ("scaling_grid.png", "Scaling with the grid"),
    ("accuracy_vs_noise.png", "Accuracy against noise"),
    ("fields.png", "Recovered against true fields"),
)


def markdown_blocks(text: str) -> list[tuple[str, Any]]:
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
    records = read_json(d / "bench.json")
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
        for kind, body in markdown_blocks(md.read_text(encoding="utf-8")):
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
    add_figures(page, d, _BENCH_FIGURES, optional=tuple(n for n, _ in _BENCH_FIGURES))
    first = records[0] if records else {}
    fallback = {
        "commit": first.get("commit"),
        "dirty": first.get("dirty"),
        "versions": {k: first[k] for k in ("torch", "python", "device") if k in first},
    }
    add_provenance(page, d, prov, fallback)
    return page
