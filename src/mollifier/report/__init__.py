"""One self-contained HTML page per result directory: ``report.html``.

A page is built only from the files a command wrote (:mod:`mollifier.report.pages` reads them,
:mod:`mollifier.report.render` renders them with Jinja2 and autoescaping), so
``mollifier report DIR`` and the commands that write a page at their end share one code path, and
an old result gets a page without repeating the run. The page needs nothing but itself: inline
CSS, figures as ``data:`` URIs, and a Content-Security-Policy that forbids every request.

A batch (a STORM batch, a directory of results such as ``demo``'s) gets a page that links to a
page per item by relative links, so the folder can be moved or mailed as a whole.

Examples
--------
>>> import tempfile, pathlib
>>> empty = pathlib.Path(tempfile.mkdtemp())
>>> write_report(empty)
Traceback (most recent call last):
...
mollifier.report.pages.NotAResultError: ...: not a mollifier result directory (...)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mollifier.report.pages import NotAResultError, detect, read_page, sub_results
from mollifier.report.provenance import PROVENANCE_FILE, read_provenance, write_provenance

__all__ = [
    "PROVENANCE_FILE",
    "REPORT_FILE",
    "NotAResultError",
    "detect",
    "read_page",
    "read_provenance",
    "truth_summary",
    "write_provenance",
    "write_report",
    "write_run_report",
]

#: The page's file name in its result directory.
REPORT_FILE = "report.html"


def _items(directory: Path, kind: str) -> list[Path]:
    if kind == "collection":
        return sub_results(directory)
    if kind == "storm-batch":
        return [p for p in sub_results(directory) if detect(p) == "storm-nucleus"]
    return []


def write_report(directory: str | Path, *, up: str | None = None) -> list[Path]:
    """Write ``report.html`` in ``directory`` and, for a batch, in each item's folder.

    Parameters
    ----------
    directory : path
        A result directory of any command (:data:`mollifier.report.pages.KINDS`).
    up : str, optional
        Relative link to a parent page, shown at the top.

    Returns
    -------
    list of Path
        The pages written, the directory's own last.

    Raises
    ------
    NotAResultError
        If ``directory`` holds no mollifier result.
    ImportError
        If Jinja2 (the ``report`` extra) is not installed.
    """
    from mollifier.report.pages import collection_page
    from mollifier.report.render import render

    d = Path(directory)
    kind = detect(d)
    written: list[Path] = []
    pages = []
    for item in _items(d, kind) if kind else []:
        page = read_page(item)
        page.up = f"../{REPORT_FILE}"
        path = item / REPORT_FILE
        path.write_text(render(page), encoding="utf-8")
        written.append(path)
        pages.append((item, page))
    page = collection_page(d, pages) if kind == "collection" else read_page(d)
    page.up = up
    path = d / REPORT_FILE
    path.write_text(render(page), encoding="utf-8")
    written.append(path)
    return written


def truth_summary(result: Any) -> dict[str, Any]:
    """Per unknown of a :class:`~mollifier.inverse.Result` with a known truth: the true constant,
    or ``median``/``mean``/``min``/``max`` of the true field over the nodes the metrics use."""
    import numpy as np

    out: dict[str, Any] = {}
    for name, true in result.truth.items():
        if name not in result.unknowns:
            continue
        if isinstance(result.unknowns[name], float):
            out[name] = float(np.mean(true))
            continue
        t = np.broadcast_to(np.asarray(true, dtype=float), np.shape(result.unknowns[name]))
        vals = t[result.unknown_mask(name) & np.isfinite(t)]
        if vals.size:
            out[name] = {
                "median": float(np.median(vals)),
                "mean": float(np.mean(vals)),
                "min": float(np.min(vals)),
                "max": float(np.max(vals)),
            }
    return out


def write_run_report(
    directory: str | Path,
    *,
    started: float | None = None,
    argv: Sequence[str] | None = None,
    command: str | None = None,
    options: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    residual: str | None = None,
    results: Mapping[str, Any] | None = None,
) -> list[Path]:
    """What a command calls once it has written its results: record ``provenance.json``
    (:func:`write_provenance`) in ``directory`` and in each item of a batch, then
    :func:`write_report`.

    ``started`` defaults to the start of this process (the command's start, imports included).
    ``results`` maps a sub-directory name (``""`` for ``directory`` itself) to the
    :class:`~mollifier.inverse.Result` written there, whose truth the page compares with.
    """
    if started is None:
        import psutil

        started = psutil.Process().create_time()
    d = Path(directory)
    record: dict[str, Any] = {
        "started": started,
        "argv": argv,
        "command": command,
        "options": options,
        "config_file": config_file,
        "residual": residual,
    }
    results = dict(results or {})
    top = results.pop("", None)
    write_provenance(d, truth=truth_summary(top) if top is not None else None, **record)
    kind = detect(d)
    for sub in _items(d, kind) if kind else []:
        res = results.get(sub.name)
        write_provenance(sub, truth=truth_summary(res) if res is not None else None, **record)
    return write_report(d)
