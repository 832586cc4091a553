"""Guards that refuse, in milliseconds, requests no machine here can serve: arrays larger than the
available memory, before they are allocated."""

from __future__ import annotations

import psutil

__all__ = ["available_memory_bytes", "check_memory", "format_bytes"]


def available_memory_bytes() -> int:
    """Memory the operating system can give this process now without swapping (``psutil``)."""
    return int(psutil.virtual_memory().available)


def format_bytes(n: float) -> str:
    """``"1.5 GiB"``, ``"512 MiB"``, ``"3.2 TiB"``.

    Examples
    --------
    >>> format_bytes(1.5 * 2**30), format_bytes(512 * 2**20)
    ('1.5 GiB', '512 MiB')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(nbytes: float, what: str, *, hint: str = "") -> None:
    """Raise ``MemoryError`` if ``nbytes`` (a lower bound on what ``what`` needs) exceeds the
    memory available now; ``hint`` says how to ask for less.

    Examples
    --------
    >>> check_memory(1024, "a small array")
    >>> try:
    ...     check_memory(2.0**80, "a huge array", hint="use a coarser grid")
    ... except MemoryError as exc:
    ...     print(str(exc)[:45])
    a huge array needs at least 1.1e+12 TiB of me
    """
    available = available_memory_bytes()
    if nbytes > available:
        raise MemoryError(
            f"{what} needs at least {format_bytes(nbytes)} of memory, but only "
            f"{format_bytes(available)} is available; {hint or 'ask for less'}"
        )
