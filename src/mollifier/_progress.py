"""Progress bars (tqdm) that stay readable in log files.

On a terminal or in a notebook the bar redraws as usual. When standard error is neither (a CI log,
``nohup``, ``2> file``), tqdm writes every redraw as a new chunk of text; there the bar redraws at
most every ``LOG_INTERVAL_S`` seconds, so a long run leaves a few lines, not thousands.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["LOG_INTERVAL_S", "progress_bar"]

LOG_INTERVAL_S = 10.0


def _interactive(stream: Any) -> bool:
    if "ipykernel" in sys.modules:  # Jupyter: tqdm.auto draws a widget
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


def progress_bar(iterable: Any = None, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(iterable, **kwargs)``, redrawn at most every ``LOG_INTERVAL_S`` seconds
    when its stream is not interactive (unless ``mininterval`` is given)."""
    from tqdm.auto import tqdm

    if not _interactive(kwargs.get("file") or sys.stderr):
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
    return tqdm(iterable, **kwargs)
