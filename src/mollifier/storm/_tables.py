"""Private helpers shared by the table readers: header cells with units, numeric rows."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.io._delimiter import sniff_delimiter, split_rows
from mollifier.io._gridding import FileFormatError

__all__: list[str] = []

HEADER = re.compile(r"^\s*(?P<name>[^\[\]]*?)\s*(?:\[(?P<unit>[^\]]*)\])?\s*$")
MAP_VALUE_NAMES = ("value", "density", "intensity", "u", "counts")


def split_header(line: str, source: str) -> list[tuple[str, str | None]]:
    """Header cells as ``(lower-case name, unit or None)``: ``"x [nm]"`` → ``("x", "nm")``."""
    cells = [c.strip("'").strip() for c in split_rows([line], sniff_delimiter(line))[0]]
    out = []
    for cell in cells:
        m = HEADER.match(cell)
        if m is None or not m.group("name"):
            raise FileFormatError(f"{source}: cannot parse the header cell {cell!r}")
        unit = m.group("unit")
        out.append((m.group("name").strip().lower(), None if unit is None else unit.strip()))
    return out


def text_encoding(p: Path) -> str:
    """``"utf-16"`` when the file starts with a UTF-16 byte-order mark (some Windows exports),
    else ``"utf-8-sig"`` (UTF-8, a byte-order mark skipped)."""
    with p.open("rb") as fh:
        head = fh.read(2)
    return "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def first_line(p: Path) -> str:
    """The first line that is neither blank nor a ``#``/``%`` comment."""
    try:
        with p.open("r", encoding=text_encoding(p)) as fh:
            for line in fh:
                if line.strip() and not line.lstrip().startswith(("#", "%")):
                    return line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{p}: not a UTF-8 or UTF-16 text table ({exc})") from exc
    raise FileFormatError(f"{p}: the file is empty (no header row)")


def load_numbers(p: Path, ncolumns: int, delimiter: str | None) -> np.ndarray:
    """Data rows after the header as an (N, ncolumns) float array; clear errors."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
            data = np.loadtxt(
                p,
                delimiter=delimiter,
                skiprows=1,
                comments=("#", "%"),
                ndmin=2,
                dtype=np.float64,
                encoding="utf-8",
            )
    except ValueError as exc:
        where = _bad_cell(p, delimiter) or str(exc)
        raise FileFormatError(f"{p}: malformed data rows: {where}") from None
    if data.size == 0:
        return np.empty((0, ncolumns))
    if data.shape[1] != ncolumns:
        raise FileFormatError(
            f"{p}: the data rows have {data.shape[1]} columns but the header names {ncolumns}"
        )
    return data


def _bad_cell(p: Path, delimiter: str | None) -> str | None:
    """The first data cell that is not a number, by its line in the file (header included)."""
    with open(p, encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            text = line.strip()
            if line_no == 1 or not text or text.startswith(("#", "%")):
                continue
            for j, cell in enumerate(text.split(delimiter)):
                try:
                    float(cell)
                except ValueError:
                    shown = "an empty cell" if not cell.strip() else repr(cell.strip())
                    return f"line {line_no}, column {j + 1}: cannot read {shown} as a number"
    return None


def column(names: list[tuple[str, str | None]], *candidates: str) -> int | None:
    """Index of the first column named like one of ``candidates`` (in that order), or None."""
    for cand in candidates:
        for i, (name, _) in enumerate(names):
            if name == cand:
                return i
    return None


def npz_unit(data: Any, source: str) -> str | None:
    """The string entry ``unit`` of an npz archive, or None."""
    if "unit" not in data.files:
        return None
    u = data["unit"]
    if u.dtype.kind not in "US" or u.size != 1:
        raise FileFormatError(f"{source}: the 'unit' entry must be one string, got {u!r}")
    return str(u.reshape(())[()])


def is_number(text: str) -> bool:
    """Whether ``text`` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True
