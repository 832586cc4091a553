"""What a run records for its report: ``provenance.json`` beside its other outputs.

A command writes it once it has finished (:func:`write_provenance`): the command line, the
working directory, start and end times, wall time, peak memory, the versions, the git commit of
the installed package, the options (seeds included), the config file's text and the residual's
source. Pages are built from it and the other files (:mod:`mollifier.report.pages`); a result
directory written without one still gets a page, which says what was not recorded.
"""

from __future__ import annotations

import ast
import datetime as _dt
import importlib.util
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mollifier._json import to_jsonable
from mollifier.pdes.builtin import BUILTIN_RESIDUALS

__all__ = [
    "BUILTIN_RESIDUALS",
    "PROVENANCE_FILE",
    "commit_info",
    "read_provenance",
    "residual_source",
    "write_provenance",
]

#: The file a run's provenance is written to, in its result directory.
PROVENANCE_FILE = "provenance.json"


def commit_info(repo: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the git checkout at ``repo`` (by
    default the one this package runs from, in an editable install), from read-only git
    commands; both None for an installed wheel or without git."""
    where = Path(repo) if repo is not None else Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": sha, "dirty": None if status is None else bool(status)}


def _function_source(file: Path, name: str) -> tuple[str, str] | None:
    """(source without its docstring, the docstring's first line) of the top-level function
    ``name`` in ``file``, read with :mod:`ast` (the file is not imported), or None."""
    try:
        text = file.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            lines = text.splitlines()
            start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            doc = ast.get_docstring(node) or ""
            body = node.body
            if doc and len(body) > 1:
                head = lines[start - 1 : body[0].lineno - 1]
                rest = lines[body[1].lineno - 1 : node.end_lineno]
                source = "\n".join(head + rest)
            else:
                source = "\n".join(lines[start - 1 : node.end_lineno])
            summary = doc.strip().splitlines()[0].replace("``", "") if doc else ""
            return source, summary
    return None


def residual_source(spec: str, base: str | Path | None = None) -> dict[str, str] | None:
    """The residual's source as written: ``{"spec", "source", "summary", "file"}`` or None.

    ``spec`` is a built-in problem name (:data:`BUILTIN_RESIDUALS`), ``"file.py:function"``
    (relative to ``base``) or ``"package.module:function"``. The file is parsed, never run.
    """
    if spec in BUILTIN_RESIDUALS:
        target, name = "mollifier.pdes.residuals", BUILTIN_RESIDUALS[spec]
    elif ":" in spec:
        target, name = spec.rsplit(":", 1)
    else:
        return None
    if target.endswith(".py"):
        file = Path(target)
        if not file.is_absolute() and base is not None:
            file = Path(base) / file
    else:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            return None
        if found is None or found.origin is None:
            return None
        file = Path(found.origin)
    got = _function_source(file, name)
    if got is None:
        return None
    return {"spec": spec, "source": got[0], "summary": got[1], "file": str(file)}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_provenance(
    directory: str | Path,
    *,
    started: float,
    argv: Sequence[str] | None = None,
    command: str | None = None,
    options: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    residual: str | None = None,
    truth: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``directory/provenance.json`` for a command that started at ``started``
    (:func:`time.time`) and has just finished.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``), stored after the program name ``mollifier``.
    command : str, optional
        The command line as text, when it is not ``mollifier`` and ``argv``.
    options : mapping, optional
        The parsed options; the keys holding ``seed`` are also listed as ``seeds``.
    config_file : path, optional
        A config file whose text is stored verbatim.
    residual : str, optional
        A built-in problem name or residual spec (:func:`residual_source`), relative to the
        config file's folder.
    truth : mapping, optional
        Per unknown, a summary of its true value (a number, or ``median``/``mean``/``min``/
        ``max``), for the recovered-versus-true table.
    """
    import time

    from mollifier._memory import peak_rss_mb
    from mollifier.inverse.result import versions

    args = list(sys.argv[1:] if argv is None else argv)
    opts = to_jsonable(dict(options or {}))
    doc: dict[str, Any] = {
        "format": "mollifier-provenance",
        "format_version": 1,
        "command": command or " ".join(["mollifier", *(_quote(a) for a in args)]),
        "argv": args,
        "cwd": str(Path.cwd()),
        "started_at": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "finished_at": _now(),
        "wall_time_s": time.time() - started,
        "peak_memory_mb": peak_rss_mb(),
        "versions": versions(),
        **commit_info(),
        "options": opts,
        "seeds": {k: v for k, v in opts.items() if "seed" in k},
    }
    base = None
    if config_file is not None:
        path = Path(config_file)
        base = path.parent
        doc["config_file"] = str(path)
        try:
            doc["config_text"] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            doc["config_text"] = None
            doc["config_error"] = f"{type(exc).__name__}: {exc}"
    if residual is not None:
        doc["residual"] = residual_source(residual, base) or {"spec": residual}
    if truth:
        doc["truth"] = to_jsonable(dict(truth))
    out = Path(directory) / PROVENANCE_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_jsonable(doc), indent=2) + "\n", encoding="utf-8")
    return out


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def read_provenance(directory: str | Path) -> dict[str, Any] | None:
    """``directory/provenance.json`` as a dict, or None when there is none or it is unreadable."""
    path = Path(directory) / PROVENANCE_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
