"""What a :func:`mollifier.inverse.network.trainer.solve_network` checkpoint pins, and its files.

A checkpoint resumes only the run that made it: the training options (kernel and boundary among
them) and the problem must agree. The problem is identified by its grid, widths, data fields and
their order, the network's field channels, the unknowns' specifications, ``crop``, the residual
function and a SHA-256 of the data (:func:`problem_identity`). Checkpoints written before a key
existed resume without it being compared.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mollifier.inverse.problem import InverseProblem

__all__ = [
    "CheckpointMismatchError",
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
    """A residual function's module and qualified name, with what it captured.

    For a closure (such as :func:`mollifier.pdes.residuals.chromatin`'s), the values of its free
    variables; for a :func:`functools.partial`, its arguments; callables among them by their own
    identity; for a callable object whose class defines ``__repr__``, that ``repr``; for a
    function, also the module-level values (not modules, classes or functions) its body reads,
    such as a constant in a residual file. Captured arrays and tensors are named by shape,
    dtype and a hash of their values, sets and dicts by their sorted items, and memory addresses
    are dropped, so the same function gives the same string in another process. Best effort: an
    edited function body under the same name, a difference a ``repr`` hides (values inside an
    object holding an array), or one behind a ``repr`` that fails (the type name stands in), is
    not seen; a value that differs from one process to the next (unseeded random data, a
    temporary path, an object whose ``repr`` shows an id) makes a checkpoint that does not
    resume.
    """
    return _identity(fn, seen=frozenset())


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
        return f"{name}({_repr(fn)})"  # a callable object with its own repr
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
    namespace = getattr(fn, "__globals__", None)
    if code is not None and namespace is not None:
        # module-level values the body reads (a constant in a residual file); modules, classes
        # and functions are left out, they name code rather than data
        read = {
            var: namespace[var]
            for var in _globals_read(code)
            if var in namespace and not callable(namespace[var]) and not _is_module(namespace[var])
        }
        if read:
            values = ", ".join(f"{k}={_value_identity(v, seen=seen)}" for k, v in read.items())
            name += "{" + values + "}"
    return name


def _globals_read(code: CodeType) -> list[str]:
    """The global names ``code`` loads (not attribute names, which ``co_names`` also holds)."""
    names = [
        str(ins.argval)
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    ]
    return list(dict.fromkeys(names))


def _is_module(value: Any) -> bool:
    return type(value).__name__ == "module"


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


def check_resumable(
    checkpoint: Path,
    state: Mapping[str, Any],
    *,
    arch: str,
    derivatives: str,
    training: Mapping[str, Any],
) -> None:
    """Raise :class:`CheckpointMismatchError` naming every pinned option on which the loaded
    ``state`` and this run differ. Keys a checkpoint lacks (older versions) are not compared."""
    if state.get("arch") != arch or state.get("derivatives") != derivatives:
        raise CheckpointMismatchError(
            f"{checkpoint}: checkpoint is for arch={state.get('arch')!r}, "
            f"derivatives={state.get('derivatives')!r}"
        )
    saved = state.get("training", training)  # checkpoints before commit 22d33af lack it
    differ = sorted(k for k in training if k in saved and saved[k] != training[k])
    if differ:
        raise CheckpointMismatchError(
            f"{checkpoint}: checkpoint was made with different training options: "
            + ", ".join(f"{k}={saved.get(k)!r} (now {training[k]!r})" for k in differ)
        )


def unfinished_save(checkpoint: Path) -> Path:
    """Where a checkpoint is written before it replaces ``checkpoint`` (a cut-short save stays)."""
    return checkpoint.with_name(checkpoint.name + ".tmp")


def remove_checkpoint(checkpoint: str | Path) -> None:
    """Delete a :func:`~mollifier.inverse.network.solve_network` checkpoint and any save of it
    that was cut short."""
    path = Path(checkpoint)
    path.unlink(missing_ok=True)
    unfinished_save(path).unlink(missing_ok=True)
