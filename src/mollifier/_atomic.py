"""Atomic, idempotent writes of batch items: a folder or file appears whole or not at all.

An item is written into a staging folder beside its destination (``ROOT/.staging/``, the same
file system) and moved into place with :func:`os.replace`; writing the same item twice (a task
rerun after its worker died) leaves one copy. A failed item gets an error record instead:
``error.txt`` (one line) and ``traceback.txt`` in its folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

__all__ = [
    "ERROR_FILE",
    "TRACEBACK_FILE",
    "clear_staging",
    "fingerprint",
    "publish_dir",
    "read_record",
    "staging_dir",
    "write_error_record",
    "write_json_atomic",
    "write_record",
]

ERROR_FILE = "error.txt"
TRACEBACK_FILE = "traceback.txt"
_STAGING = ".staging"


def staging_dir(root: Path, name: str) -> Path:
    """A new, empty folder under ``root/.staging/`` in which to build item ``name``."""
    path = root / _STAGING / f"{name}.{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


def publish_dir(staged: Path, final: Path) -> None:
    """Move the folder ``staged`` to ``final``, replacing whatever is there (a stale partial
    item or an error record of an earlier try)."""
    for _ in range(3):
        if final.exists():
            old = final.parent / _STAGING / f"old.{final.name}.{uuid.uuid4().hex}"
            try:
                os.replace(final, old)
            except FileNotFoundError:  # another copy of the task moved it first
                pass
            else:
                shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(staged, final)
            return
        except OSError:  # a concurrent copy published between our two replaces: try again
            continue
    raise OSError(f"could not move {staged} to {final}")


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` through a temporary file and :func:`os.replace`.

    NaN and infinities are kept as JSON's non-standard tokens, which :func:`json.loads` reads
    back, so a record round-trips exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_plain), encoding="utf-8")
    os.replace(tmp, path)


def _plain(obj: Any) -> Any:
    """numpy scalars as Python numbers (NaN kept: ``json`` reads it back), anything else as
    its ``str``."""
    item = getattr(obj, "item", None)
    return item() if callable(item) else str(obj)


def fingerprint(*parts: Any) -> str:
    """A short digest of ``repr(parts)``: the settings an item was made with (frozen configs
    have a deterministic ``repr``)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def write_record(path: Path, *, key: str, value: Any) -> None:
    """Mark an item finished: ``{"key": key, "value": value}`` written atomically to ``path``."""
    write_json_atomic(path, {"key": key, "value": value})


def read_record(path: Path, *, key: str) -> Any:
    """The value of the record at ``path`` if it exists and was made with ``key``, else None
    (not finished, or finished with other settings: then the item is redone)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc.get("value") if isinstance(doc, dict) and doc.get("key") == key else None


def write_error_record(folder: Path, *, error: str, traceback: str | None) -> None:
    """Write ``error.txt`` and ``traceback.txt`` into ``folder`` (created), atomically."""
    staged = staging_dir(folder.parent, folder.name)
    (staged / ERROR_FILE).write_text(error.rstrip() + "\n", encoding="utf-8")
    (staged / TRACEBACK_FILE).write_text(traceback or error, encoding="utf-8")
    publish_dir(staged, folder)


def clear_staging(root: Path) -> None:
    """Remove ``root/.staging`` (left-overs of interrupted tasks)."""
    shutil.rmtree(root / _STAGING, ignore_errors=True)
