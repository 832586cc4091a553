"""Which character separates the columns of a delimited text table, and splitting rows by it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

__all__ = ["DELIMITERS", "sniff_delimiter", "split_rows"]

#: The column separators a table may use; ``" "`` stands for runs of whitespace.
DELIMITERS = (",", "\t", ";", " ")
_QUOTED = re.compile(r'"[^"]*"')
_SAMPLE_LINES = 20


def sniff_delimiter(sample: str) -> str | None:
    """The column separator of a table, from its first lines: ``","``, ``"\\t"``, ``";"``, or
    ``None`` for runs of whitespace.

    :class:`csv.Sniffer`, restricted to comma, tab, semicolon and space, reads the first
    non-blank lines of ``sample`` (a header, rows, or both): it honours double-quoted cells, so a
    comma inside ``"a, b"`` does not make a tab-separated table comma-separated, and it picks a
    separator that occurs equally often on every line, preferring comma, then tab, semicolon and
    space. When it cannot decide (one word, columns aligned by varying runs of spaces, ragged
    rows), the fallback is the first of comma, tab and semicolon that occurs outside double
    quotes in the first line, else whitespace. A sniffed space also means whitespace, so columns
    may be aligned with several spaces.

    Raises
    ------
    ValueError
        If ``sample`` has no non-blank line.

    Examples
    --------
    >>> sniff_delimiter('name,"x, in m",u')
    ','
    >>> sniff_delimiter('"a, b"\\t1.5\\t2\\n"c, d"\\t3\\t4') == "\\t"
    True
    >>> sniff_delimiter("x;y;u"), sniff_delimiter("  1.0   2.0  3.0")
    (';', None)
    """
    lines = [line for line in sample.splitlines() if line.strip()][:_SAMPLE_LINES]
    if not lines:
        raise ValueError("cannot detect a table's delimiter in empty text")
    found: str | None
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        unquoted = _QUOTED.sub("", lines[0])
        found = next((d for d in DELIMITERS[:-1] if d in unquoted), None)
    return None if found == " " else found


def split_rows(lines: Iterable[str], delimiter: str | None) -> list[list[str]]:
    """Cells of each line, stripped of surrounding spaces; ``delimiter=None`` splits on runs of
    whitespace. Cells in double quotes may contain the delimiter (:mod:`csv` rules); each line
    is one row (a quote left open ends with its line).

    Examples
    --------
    >>> split_rows(['"x, m", y ,u', "1,2,3"], ",")
    [['x, m', 'y', 'u'], ['1', '2', '3']]
    """
    if delimiter is None:
        return [line.split() for line in lines]
    return [
        [
            cell.strip()
            for cell in next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
        ]
        for line in lines
    ]
