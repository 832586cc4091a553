"""What a report page shows, as plain data: the readers fill it, the template renders it.

Every value is text or a number; nothing here is markup. The template escapes all of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cell", "Figure", "Item", "Page", "Table", "fmt", "number"]


def fmt(value: Any) -> str:
    """A value as table text: floats to 4 significant digits, NaN/None as ``n/a``.

    Examples
    --------
    >>> fmt(0.123456789), fmt(3), fmt(None), fmt(float("nan")), fmt(True), fmt("a")
    ('0.1235', '3', 'n/a', 'n/a', 'yes', 'a')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class Cell:
    """A table cell: its text and, for a number, the exact value (``data-value`` in the page)."""

    text: str
    value: float | None = None
    href: str | None = None


def number(value: Any) -> Cell:
    """A numeric cell: :func:`fmt` text and the exact value, or a text cell for a non-number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Cell(fmt(value))
    v = float(value)
    return Cell(fmt(value), v if math.isfinite(v) else None)


def _cell(value: Any) -> Cell:
    return value if isinstance(value, Cell) else number(value)


@dataclass
class Table:
    """A captioned table; :meth:`add` turns values into :class:`Cell`."""

    caption: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""
    css_id: str = ""

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(
                f"{self.caption}: {len(values)} values for {len(self.columns)} columns"
            )
        self.rows.append([_cell(v) for v in values])


@dataclass(frozen=True)
class Figure:
    """An embedded figure: its title, the ``data:`` URI and the file it came from."""

    title: str
    uri: str
    file: str
    caption: str = ""


@dataclass(frozen=True)
class Item:
    """A page a batch page links to: relative ``href``, kind, status and a one-line summary."""

    name: str
    href: str | None
    kind: str
    status: str
    summary: str


@dataclass
class Page:
    """One report page.

    ``status`` is ``"ok"``, ``"warning"`` or ``"error"``; ``alerts`` are the reasons, shown first.
    ``problem`` is a list of (label, text) pairs; ``equation`` the residual's source text.
    ``provenance`` is a list of (label, text) pairs, ``texts`` a list of (title, verbatim text)
    blocks (config file, bench notes); ``missing`` names expected files that are absent.
    """

    title: str
    kind: str
    directory: str
    status: str = "ok"
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem: list[tuple[str, str]] = field(default_factory=list)
    equation: str | None = None
    equation_origin: str = ""
    tables: list[Table] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    up: str | None = None

    def warn(self, message: str) -> None:
        """Add an alert and raise the status to ``"warning"`` (an ``"error"`` stays)."""
        self.alerts.append(message)
        if self.status == "ok":
            self.status = "warning"
