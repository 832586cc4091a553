"""What a network solver checkpoint pins, and its files.

A checkpoint resumes only the run that made it: the training options (kernel and boundary among
them) and the problem must agree. The problem is identified by its grid, widths, data fields and
their order, the network's field channels, the unknowns' specifications, ``crop``, the residual
function (qualified name, captured values, source hash: :func:`residual_identity`) and a
SHA-256 of the data (:func:`problem_identity`). :class:`Checkpointer` writes and checks the
files.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from mollifier.inverse.problem import InverseProblem

__all__ = [
    "CheckpointMismatchError",
    "Checkpointer",
    "check_resumable",
    "data_fingerprint",
    "problem_identity",
    "remove_checkpoint",
    "residual_identity",
    "unfinished_save",
]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class CheckpointMismatchError(ValueError):
    """A checkpoint to resume was made with other training options or another problem."""


def data_fingerprint(problem: InverseProblem) -> str:
    """SHA-256 of what a network is fitted to: the grid's coordinates, the observations (in the
    order that maps them to network outputs), the mask and the known fields, as float64 bytes with
    every NaN and signed zero made canonical, so that a run cannot resume against other data of
    the same shape."""
    h = hashlib.sha256()
    arrays: list[tuple[str, Any]] = [("axis:" + a, problem.grid[a]) for a in problem.grid.axes]
    arrays += [("data:" + k, v) for k, v in problem.data.items()]
    arrays += [("known:" + k, problem.known[k]) for k in sorted(problem.known)]
    if problem.mask is not None:
        arrays.append(("mask", problem.mask))
    for name, value in arrays:
        values = np.asarray(value, dtype=np.float64) + 0.0  # -0.0 becomes 0.0
        h.update(name.encode())
        h.update(np.where(np.isnan(values), np.nan, values).tobytes())
    return h.hexdigest()


def residual_identity(fn: Callable[..., Any]) -> str:
    """A residual function's module and qualified name, what it captured, and a hash of the
    source file that defines it.

    Captured are the values of a closure's free variables (such as those of
    :func:`mollifier.pdes.residuals.chromatin`'s residual), a :func:`functools.partial`'s
    arguments, a bound method's object and, for a callable object whose class defines
    ``__repr__``, that ``repr``; callables among them are named by their own identity. Arrays and
    tensors are named by shape, dtype and a hash of their values, sets and dicts by their sorted
    items, and memory addresses are dropped, so the same function gives the same string in
    another process. The source hash covers the file (a residual file's module-level constants
    included; an edited built-in counts as another residual); a function with no source file,
    such as one typed at a prompt, is hashed by its compiled code and constants instead.
    """
    return _identity(fn, seen=frozenset())


def _source_hash(fn: Callable[..., Any]) -> str:
    target = inspect.unwrap(fn.func if isinstance(fn, functools.partial) else fn)
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target)
    try:
        path = inspect.getsourcefile(target)
        text = Path(path).read_bytes() if path else None
    except (TypeError, OSError):
        text = None
    if text is None:
        code = getattr(target, "__code__", None)
        if code is None:
            return "-"
        text = code.co_code + repr(code.co_consts).encode() + repr(code.co_names).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _identity(fn: Callable[..., Any], *, seen: frozenset[int]) -> str:
    if id(fn) in seen:  # a function that refers to itself
        return "<recursive>"
    seen = seen | {id(fn)}
    if isinstance(fn, functools.partial):
        args = ", ".join(_value_identity(a, seen=seen) for a in fn.args)
        kwargs = ", ".join(
            f"{k}={_value_identity(v, seen=seen)}" for k, v in sorted(fn.keywords.items())
        )
        return f"partial({_identity(fn.func, seen=seen)}; {args}; {kwargs})"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    name = f"{getattr(fn, '__module__', None) or type(fn).__module__}.{qualname}"
    if not hasattr(fn, "__code__") and type(fn).__repr__ is not object.__repr__:
        return f"{name}({_repr(fn)})#{_source_hash(fn)}"  # a callable object with its own repr
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type):  # a bound method: its object too
        name += f"@{_value_identity(owner, seen=seen)}"
    code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None)
    if code is not None and cells:
        captured = []
        for var, cell in zip(code.co_freevars, cells, strict=True):
            try:
                captured.append(f"{var}={_value_identity(cell.cell_contents, seen=seen)}")
            except ValueError:  # a cell not filled yet
                captured.append(f"{var}=<empty>")
        name += "[" + ", ".join(captured) + "]"
    return f"{name}#{_source_hash(fn)}"


def _value_identity(value: Any, *, seen: frozenset[int]) -> str:
    if callable(value) and not isinstance(value, type):
        return _identity(value, seen=seen)
    if isinstance(value, (set, frozenset)):  # iteration order follows the hash seed
        items = sorted(_value_identity(v, seen=seen) for v in value)
        return f"{type(value).__name__}({', '.join(items)})"
    if isinstance(value, (list, tuple)):
        items = [_value_identity(v, seen=seen) for v in value]
        return f"{type(value).__name__}({', '.join(items)})"
    if isinstance(value, dict):  # in sorted order: a dict built from a set follows the hash seed
        items = sorted(
            f"{_value_identity(k, seen=seen)}: {_value_identity(v, seen=seen)}"
            for k, v in value.items()
        )
        return f"{type(value).__name__}({', '.join(items)})"
    if hasattr(value, "__array__") and hasattr(value, "shape"):  # numpy arrays, torch tensors
        return _array_identity(value)
    return _repr(value)


def _array_identity(value: Any) -> str:
    """Shape, dtype and a hash of the values; without the hash for what has no plain buffer of
    numbers (object arrays hold pointers, sparse or meta tensors no dense values)."""
    try:
        if hasattr(value, "detach"):  # a torch tensor; bfloat16 widens to float32 exactly
            value = value.detach().cpu()
            if str(value.dtype) == "torch.bfloat16":
                value = value.float()
        array = np.ascontiguousarray(np.asarray(value))
    except (TypeError, RuntimeError, ValueError, NotImplementedError):
        return f"{type(value).__name__}(shape={tuple(value.shape)}, dtype={value.dtype})"
    if array.dtype.hasobject:
        return f"{type(value).__name__}({_value_identity(array.tolist(), seen=frozenset())})"
    digest = hashlib.sha256(array.tobytes()).hexdigest()[:16]
    return f"{type(value).__name__}(shape={array.shape}, dtype={array.dtype}, sha256={digest})"


def _repr(value: Any) -> str:
    """``repr`` without memory addresses; the type's name if ``repr`` fails."""
    try:
        text = repr(value)
    except Exception:  # a false match at worst, never a crash
        text = f"<{type(value).__qualname__}>"
    return _ADDRESS.sub("", text)


def problem_identity(problem: InverseProblem, channels: Sequence[str]) -> dict[str, Any]:
    """The problem's part of a checkpoint's pinned options (see the module docstring);
    ``channels`` are the network's output fields in order."""
    return {
        "grid": list(problem.grid.shape),
        "width": {a: float(w) for a, w in problem.width.items()},
        "data_names": list(problem.data),
        "channels": list(channels),
        "unknowns": {n: repr(u) for n, u in problem.unknowns.items()},
        "crop": problem.crop,
        "residual": residual_identity(problem.residual),
        "data_sha256": data_fingerprint(problem),
    }


def check_resumable(checkpoint: Path, state: Mapping[str, Any], pinned: Mapping[str, Any]) -> None:
    """Raise :class:`CheckpointMismatchError` naming every pinned option on which the loaded
    ``state`` and this run differ (the architecture and derivative backend first)."""
    saved = state["pinned"]
    if saved.get("arch") != pinned["arch"] or saved.get("derivatives") != pinned["derivatives"]:
        raise CheckpointMismatchError(
            f"{checkpoint}: checkpoint is for arch={_arch_text(saved.get('arch'))}, "
            f"derivatives={saved.get('derivatives')!r} (now arch={_arch_text(pinned['arch'])}, "
            f"derivatives={pinned['derivatives']!r})"
        )
    differ = sorted(k for k in pinned if saved.get(k) != pinned[k])
    if differ:
        raise CheckpointMismatchError(
            f"{checkpoint}: checkpoint was made with different training options: "
            + ", ".join(f"{k}={saved.get(k)!r} (now {pinned[k]!r})" for k in differ)
        )


def _arch_text(arch: Any) -> str:
    if not isinstance(arch, Mapping):
        return repr(arch)
    options = ", ".join(f"{k}={v!r}" for k, v in arch.items() if k != "name")
    return f"{arch.get('name')}({options})"


@dataclass
class Checkpointer:
    """Saves a training run's state to ``path`` every ``every`` steps and resumes from it.

    ``pinned`` is what the run must agree on to be resumed: the solver's options that shape
    the optimisation (:meth:`Network.options <mollifier.inverse.network.Network.options>`
    without the device and logging options) and :func:`problem_identity`. A save goes to a
    temporary file that then replaces ``path``, so a save cut short leaves the previous one.
    """

    path: Path
    every: int
    pinned: dict[str, Any]

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.every}")

    def load(self, device: torch.device) -> dict[str, Any] | None:
        """The saved state, checked against :attr:`pinned`, or ``None`` if there is none."""
        if not self.path.is_file():
            return None
        state = torch.load(self.path, map_location=device, weights_only=False)
        if not isinstance(state, dict) or "pinned" not in state:
            raise CheckpointMismatchError(
                f"{self.path}: not a checkpoint of this version of mollifier's network solver; "
                "remove it or choose another path"
            )
        check_resumable(self.path, state, self.pinned)
        return state

    def due(self, steps_done: int) -> bool:
        """Whether a save is due after ``steps_done`` steps."""
        return steps_done % self.every == 0

    def save(self, state: Mapping[str, Any]) -> float:
        """Write ``state`` (with :attr:`pinned`); return the seconds it took."""
        t0 = time.perf_counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = unfinished_save(self.path)
        torch.save({**state, "pinned": self.pinned}, tmp)
        tmp.replace(self.path)
        return time.perf_counter() - t0


def unfinished_save(checkpoint: Path) -> Path:
    """Where a checkpoint is written before it replaces ``checkpoint`` (a cut-short save stays)."""
    return checkpoint.with_name(checkpoint.name + ".tmp")


def remove_checkpoint(checkpoint: str | Path) -> None:
    """Delete a :func:`~mollifier.inverse.network.solve_network` checkpoint and any save of it
    that was cut short."""
    path = Path(checkpoint)
    path.unlink(missing_ok=True)
    unfinished_save(path).unlink(missing_ok=True)
