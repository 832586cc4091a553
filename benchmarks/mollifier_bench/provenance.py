"""Where a benchmark number came from: commit, device, torch version, machine load."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["commit_info", "device_name", "load_average", "provenance", "resolve_device"]


def commit_info(repo: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or "unknown", "dirty": bool or None}``
    (:func:`mollifier.report.provenance.commit_info`).

    ``repo`` defaults to the directory of this source file, so an editable install reports the
    checkout it runs from.
    """
    from mollifier.report.provenance import commit_info as checkout

    info = checkout(repo if repo is not None else Path(__file__).resolve().parent)
    return {"commit": info["commit"] or "unknown", "dirty": info["dirty"]}


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when torch sees a GPU, else ``"cpu"``; other values pass through.

    Raises
    ------
    ValueError
        If a CUDA device is asked for and torch has no CUDA support.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch.cuda.is_available() is False")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def device_name(device: str, threads: int = 0) -> str:
    """Human-readable device: the GPU's name, or the CPU model with core and thread counts."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    used = threads or torch.get_num_threads()
    return f"cpu: {model} ({os.cpu_count()} cores, {used} torch thread(s) per run)"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``None`` where the OS does not report them)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def provenance(device: str, threads: int = 0) -> dict[str, Any]:
    """Device, torch/python versions, commit and dirty flag: the fields stamped on every record."""
    import torch

    info = commit_info()
    return {
        "device": device_name(device, threads),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": info["commit"],
        "dirty": info["dirty"],
    }
