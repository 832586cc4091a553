"""Read a result directory into a :class:`~mollifier.report._model.Page`.

Each kind of directory a command writes has one reader; :func:`detect` names the kind from the
files present, and :func:`read_page` dispatches. Readers use only the files (never the run), say
which expected files are missing, and never fail on an optional one. The readers live by
concept: :mod:`~mollifier.report.fit_pages` (fits), :mod:`~mollifier.report.data_pages`
(datasets, synthetic STORM nuclei), :mod:`~mollifier.report.storm_pages` (nuclei and batches),
:mod:`~mollifier.report.bench_pages` (benchmark tiers), :mod:`~mollifier.report.collection_pages`
(demo runs and sweeps); :mod:`~mollifier.report._files` holds what they share.

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

import json
from collections.abc import Callable
from pathlib import Path

from mollifier.report._files import KINDS, read_json
from mollifier.report._model import Page
from mollifier.report.bench_pages import bench_page
from mollifier.report.collection_pages import collection_page
from mollifier.report.data_pages import dataset_page, simulation_page
from mollifier.report.fit_pages import fit_page
from mollifier.report.storm_pages import batch_page, nucleus_page

__all__ = ["KINDS", "NotAResultError", "collection_page", "detect", "read_page", "sub_results"]


class NotAResultError(ValueError):
    """The directory holds no result a mollifier command writes."""


def detect(directory: str | Path) -> str | None:
    """The kind of result in ``directory`` (a key of :data:`KINDS`), or None."""
    d = Path(directory)
    if not d.is_dir():
        return None
    if (d / "bench.json").is_file():
        return "bench"
    if (d / "summary.csv").is_file() and (d / "comparison.csv").is_file():
        return "storm-batch"
    doc = read_json(d / "result.json") if (d / "result.json").is_file() else None
    if isinstance(doc, dict):
        if "lambda" in doc and "domains" in doc:
            return "storm-nucleus"
        if "unknowns" in doc and "method" in doc:
            return "fit"
    meta = read_json(d / "meta.json") if (d / "meta.json").is_file() else None
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
    "storm-nucleus": lambda d: nucleus_page(d, read_json(d / "result.json")),
    "fit": lambda d: fit_page(d, read_json(d / "result.json")),
    "dataset": lambda d: dataset_page(d, read_json(d / "meta.json")),
    "storm-simulation": simulation_page,
    "collection": _read_collection,
}
