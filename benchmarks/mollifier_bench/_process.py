"""Process-level measurement helpers: peak resident memory, an address-space cap, OOM detection,
the C allocator's policy."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import resource

from mollifier._memory import peak_rss_mb, status_kb

__all__ = [
    "IDLE_PROBE",
    "MALLOC_POLICIES",
    "dead_process_status",
    "is_out_of_memory",
    "limit_memory",
    "peak_rss_mb",
    "says_out_of_memory",
    "set_malloc_policy",
]

#: ``"default"``: the C allocator as it comes; ``"retain"``: see :func:`set_malloc_policy`.
MALLOC_POLICIES = ("default", "retain")
# glibc's mallopt parameters (malloc.h) and its largest mmap threshold on 64-bit systems
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 2**20
_TRIM_THRESHOLD = 2**30

#: Source run by :func:`mollifier_bench.cost.idle_rss_mb` in a fresh process that imports only
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


def limit_memory(limit_mb: float, *, trains: bool) -> None:
    """Cap this process's address space at its current size plus ``limit_mb`` (CPU runs only).

    Resident memory never exceeds the address space, so allocations beyond ``limit_mb`` more
    than the current size fail with ``MemoryError`` / a torch allocation ``RuntimeError`` instead
    of pushing the machine into its out-of-memory killer. Do not use it with CUDA, whose driver
    reserves large address ranges.

    What happens lazily and cannot fail as an exception the run could record is done before the
    cap is set: numpy's BLAS allocates its per-thread work buffers in one matrix product large
    enough to use all its threads (OpenBLAS exits the process when that allocation fails), and,
    if the process ``trains`` (builds a torch optimiser), ``torch._dynamo`` is imported, which
    torch otherwise imports with the first optimiser (an import that runs out of memory raises
    ``SystemError``). A process that does not train skips that import: it would add about 70 MB
    to its peak memory.
    """
    import numpy as np

    if trains:
        import torch._dynamo  # noqa: F401  (see above)

    a = np.ones((512, 512))
    a @ a  # allocates the BLAS buffers (see above)

    cap = int((_virtual_size_mb() + limit_mb) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def dead_process_status(returncode: int, stderr: str, *, capped: bool) -> str:
    """The record status of a measuring process that exited with ``returncode`` (not 0).

    ``"out_of_memory"`` when it ran under :func:`limit_memory` and its ``stderr`` reports a
    failed allocation (a native library that exits or aborts instead of raising), else
    ``"killed"`` for a signal and ``"error"`` otherwise.
    """
    if capped and says_out_of_memory(stderr):
        return "out_of_memory"
    return "killed" if returncode < 0 else "error"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation (numpy ``MemoryError``, torch CPU or CUDA OOM)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and says_out_of_memory(str(exc))


def says_out_of_memory(text: str) -> bool:
    """Whether an error message (or a dead process's stderr) reports a failed allocation."""
    text = text.lower()
    return any(
        s in text
        for s in (
            "out of memory",
            "can't allocate memory",
            "cannot allocate",
            "memory allocation still failed",  # OpenBLAS, before it exits the process
            "std::bad_alloc",  # C++ code that aborts
            "memoryerror",
        )
    )


def set_malloc_policy(policy: str) -> None:
    """Set how this process's C allocator treats freed memory (CPU tensors live there).

    ``"retain"`` (glibc only): freed memory stays in the process — the heap's top is given
    back only when more than 1 GiB is free there, and blocks up to 32 MiB come from the heap
    instead of fresh ``mmap`` pages. glibc's default returns large freed blocks to the system,
    so a training step that allocates the buffers the previous step freed pays a page fault
    per 4 KiB page again; jemalloc and tcmalloc, which PyTorch's performance tuning guide
    recommends for CPU work, keep them. Call it before the measured work; it applies to the
    whole process and cannot be undone. ``"default"`` changes nothing.

    Raises
    ------
    ValueError
        For an unknown policy.
    RuntimeError
        For ``"retain"`` where the C library is not glibc, or glibc refuses a setting.
    """
    if policy not in MALLOC_POLICIES:
        raise ValueError(f"malloc policy must be one of {MALLOC_POLICIES}, got {policy!r}")
    if policy == "default":
        return
    if platform.libc_ver()[0] != "glibc":
        raise RuntimeError(
            f"malloc policy 'retain' needs glibc's mallopt; this C library is "
            f"{platform.libc_ver()[0] or 'unknown'}"
        )
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    for param, value in (
        (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX),
    ):
        if libc.mallopt(param, value) != 1:
            raise RuntimeError(f"glibc mallopt({param}, {value}) failed")
