"""matplotlib, imported on demand for the figure writers (``plot``, ``mollifier_bench.plots``,
``storm.figures``): matplotlib is an optional dependency (``mollifier[plot]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["pyplot"]


def pyplot(purpose: str, *, hint: str = "", rc: Mapping[str, Any] | None = None) -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, with ``rc`` applied.

    Raises
    ------
    ImportError
        When matplotlib is not installed; the message names ``purpose`` (e.g. ``"figures"``), the
        extra to install, and ``hint`` if given.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{purpose} need matplotlib: pip install 'mollifier[plot]'{hint}"
        ) from exc
    if rc:
        params: Any = plt.rcParams  # typed with literal keys only
        params.update(rc)
    return plt
