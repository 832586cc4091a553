"""Process-level measurement helpers: peak resident memory, an address-space cap, OOM detection."""

from __future__ import annotations

import resource

from mollifier._memory import peak_rss_mb, status_kb

__all__ = ["IDLE_PROBE", "is_out_of_memory", "limit_memory", "peak_rss_mb"]

#: Source run by :func:`mollifier.bench.cost.idle_rss_mb` in a fresh process that imports only
#: torch (it must not import mollifier): prints that process's peak RSS in MB, as above.
IDLE_PROBE = (
    "import resource, torch\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
    "print(float(hwm[0]) / 1024 if hwm else "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def _virtual_size_mb() -> float:
    size = status_kb("VmSize")
    return 0.0 if size is None else size / 1024.0


def limit_memory(limit_mb: float) -> None:
    """Cap this process's address space at its current size plus ``limit_mb`` (CPU runs only).

    Resident memory never exceeds the address space, so allocations beyond ``limit_mb`` more
    than the current size fail with ``MemoryError`` / a torch allocation ``RuntimeError`` instead
    of pushing the machine into its out-of-memory killer. Do not use it with CUDA, whose driver
    reserves large address ranges.
    """
    cap = int((_virtual_size_mb() + limit_mb) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation (numpy ``MemoryError``, torch CPU or CUDA OOM)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "cannot allocate" in text
    )
