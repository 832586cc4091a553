"""Peak resident memory of this process, on Linux, macOS, Windows and other POSIX systems.

Nothing platform-specific is imported at module level: ``resource`` exists only on POSIX and
``psutil`` is needed only on Windows, so both are imported inside :func:`peak_rss_mb`.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["peak_rss_mb", "status_kb"]


def status_kb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmHWM``, ``VmSize`` ...), or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (2**20 bytes).

    The largest amount of physical memory the process has held at once, as the operating system
    records it:

    * Linux: ``VmHWM`` in ``/proc/self/status`` (kB), the high-water mark of the current process
      image. It is preferred to ``getrusage``'s ``ru_maxrss`` because across ``exec`` that keeps
      the previous image's maximum: a subprocess of a large parent would report at least the
      parent's resident size at the fork.
    * Windows: ``psutil.Process().memory_info().peak_wset``, the peak working set (bytes).
    * macOS: ``getrusage(RUSAGE_SELF).ru_maxrss``, which Darwin reports in **bytes**.
    * Other POSIX systems (and Linux without ``/proc``): ``ru_maxrss`` in kB.

    The value never decreases during a process's life; memory freed since the peak still counts.

    Examples
    --------
    >>> peak_rss_mb() > 0
    True
    """
    if sys.platform.startswith("linux"):
        hwm = status_kb("VmHWM")
        if hwm is not None:
            return hwm / 1024.0
    if sys.platform == "win32":
        try:
            import psutil
        except ImportError as exc:  # pragma: no cover - psutil is a core dependency
            raise ImportError(
                "measuring peak memory on Windows needs psutil (pip install psutil)"
            ) from exc
        return float(psutil.Process().memory_info().peak_wset) / 2**20
    import resource

    maxrss = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    if sys.platform == "darwin":
        return maxrss / 2**20  # bytes on macOS
    return maxrss / 1024.0  # kB on Linux and the BSDs
