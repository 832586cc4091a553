"""Check a device name before any work is done on it."""

from __future__ import annotations

import torch

__all__ = ["check_device"]


def check_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``, or ``ValueError`` when it cannot be used here.

    A CUDA device needs a torch built with CUDA and a visible GPU of that index; the message says
    which is missing; the caller adds how to choose the CPU in its own terms (a config key, a
    command-line option, a keyword argument).

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'tpu'; use 'cpu', 'cuda' or 'cuda:N'
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "was built without CUDA" if torch.version.cuda is None else "sees no GPU"
            raise ValueError(
                f"device {str(device)!r} asks for CUDA, but no CUDA device is available (this "
                f"torch {torch.__version__} {build})"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"device {str(device)!r}: there are only {count} CUDA devices (cuda:0 .. "
                f"cuda:{count - 1})"
            )
    elif dev.type not in ("cpu", "mps", "xpu", "meta"):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")
    return dev
