"""The page of a directory of results (``demo``, a sweep of fits): a link and a summary line per
item, and the fits' headline numbers side by side."""

from __future__ import annotations

from pathlib import Path

from mollifier.report._files import KINDS, add_equation, add_figures, add_provenance
from mollifier.report._model import Cell, Item, Page, Table
from mollifier.report.provenance import read_provenance

__all__ = ["collection_page"]


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
    add_figures(
        page, d, (("comparison.png", "Each run's error and wall time"),), ("comparison.png",)
    )
    if compare.rows:
        page.tables.append(compare)
    else:
        page.tables.append(Table("Results", ["result"], css_id="metrics"))
        for path, _ in items:
            page.tables[-1].add(Cell(path.name, href=f"{path.name}/report.html"))
    if prov is not None:
        if prov.get("residual"):
            add_equation(page, prov, None, None)
        add_provenance(page, d, prov, {})
    return page
