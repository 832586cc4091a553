"""Peak memory of this process: ``VmHWM`` on Linux, ``ru_maxrss`` elsewhere."""

from __future__ import annotations

import resource
from pathlib import Path

__all__ = ["peak_rss_mb", "status_kb"]


def status_kb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmHWM``, ``VmSize`` ...), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process image in MB.

    Linux's ``VmHWM`` (``/proc/self/status``): the high-water mark of the current address space.
    ``getrusage(...).ru_maxrss`` is not used where ``VmHWM`` exists, because across ``exec`` it
    keeps the maximum of the previous image: a subprocess of a large parent would report at least
    the parent's resident size at the fork. Elsewhere ``ru_maxrss`` (kB on Linux) is the fallback.
    """
    hwm = status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
