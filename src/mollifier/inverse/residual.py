"""The residual function's contract: ``residual(f, d, p)`` returns the PDE residual at every grid
node, as one tensor or as a tuple, list or dict of tensors (a system of equations).

:func:`dry_run` calls a residual once with identity derivatives to learn which derivative orders
and unknowns it uses and to check what it returns; :class:`ResidualError` names a residual that
breaks the contract, by its function, file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from mollifier._user_code import code_location, describe_exception, function_name, raised_at
from mollifier.derivatives import AbstractDerivatives
from mollifier.inverse.unknowns import Namespace

__all__ = [
    "Residual",
    "ResidualError",
    "ResidualTypeError",
    "dry_run",
    "equation_terms",
    "residual_failure",
    "residual_name",
]

Residual = Callable[[Namespace, AbstractDerivatives, Namespace], Any]


class ResidualError(ValueError):
    """The residual function (or its module) failed: it raised, returned something that is not a
    residual on the grid, or reduced the residual to fewer values than grid nodes. The message
    names the function, its file and line, and the exception; the original is ``__cause__``."""


class ResidualTypeError(ResidualError, TypeError):
    """The residual function returned something other than a tensor or a tuple, list or dict of
    tensors (``None``, a float, a string, ...)."""


def residual_failure(fn: Any, exc: BaseException, what: str = "raised") -> ResidualError:
    """A :class:`ResidualError` for ``exc`` raised inside the residual ``fn`` (one line)."""
    where = code_location(fn)
    inside = raised_at(exc, where[0]) if where else None
    if where and inside is None and isinstance(exc, TypeError) and what == "raised":
        # the call itself failed: the function does not take (fields, derivatives, unknowns)
        return ResidualError(
            f"the residual {residual_name(fn)} cannot be called as residual(f, d, p) (the "
            f"fields, the derivatives and the unknowns): {describe_exception(exc)}"
        )
    at = inside or raised_at(exc)
    place = f" ({at[0]}, line {at[1]}, in {at[2]})" if at else ""
    return ResidualError(
        f"the residual {function_name(fn)}{place} {what} {describe_exception(exc)}"
    )


def residual_name(fn: Any) -> str:
    """``residual (my_pde.py, line 3)`` for a Python function; the name alone otherwise."""
    where = code_location(fn)
    return function_name(fn) + (f" ({where[0]}, line {where[1]})" if where else "")


class _TrackingNamespace(Namespace):
    """A :class:`Namespace` that records which names the residual reads."""

    def __init__(self, role: str, values: Mapping[str, Any]) -> None:
        super().__init__(role, values)
        object.__setattr__(self, "_used", set())

    def __getattr__(self, name: str) -> Any:
        value = super().__getattr__(name)
        object.__getattribute__(self, "_used").add(name)
        return value


class _RecordingDerivatives(AbstractDerivatives):
    """Identity 'derivatives' that record the per-axis orders a residual asks for."""

    def __init__(self, axes: tuple[str, ...]) -> None:
        super().__init__(axes)
        self.orders: list[tuple[int, ...]] = []

    def _compute(self, q: Any, orders: tuple[int, ...]) -> torch.Tensor:
        self.orders.append(orders)
        return q if isinstance(q, torch.Tensor) else torch.as_tensor(q, dtype=torch.float64)


def returned(out: Any) -> str:
    return "None" if out is None else f"a {type(out).__name__}"


def equation_terms(out: Any) -> dict[str, Any]:
    """The residual function's return value as named equations.

    A tensor is one equation (``"residual"``); a tuple or list is a system named ``"eq0"``,
    ``"eq1"``, ...; a dict is a system named by its keys.
    """
    if isinstance(out, torch.Tensor):
        return {"residual": out}
    if isinstance(out, Mapping) and out and all(isinstance(k, str) for k in out):
        items = dict(out)
    elif isinstance(out, (tuple, list)) and out:
        items = {f"eq{i}": v for i, v in enumerate(out)}
    else:
        raise TypeError(
            "the residual must return a tensor, or a tuple, list or dict of tensors (one per "
            f"equation); got {type(out).__name__}"
        )
    for name, v in items.items():
        if not isinstance(v, (torch.Tensor, float, int)):
            raise TypeError(
                f"equation {name!r} of the residual is a {type(v).__name__}, not a tensor"
            )
    return items


def dry_run(
    residual: Residual,
    *,
    axes: tuple[str, ...],
    fields: Namespace,
    params: Mapping[str, torch.Tensor],
    shape: tuple[int, ...],
    check_shape: Callable[[Any, tuple[str, ...]], object],
) -> tuple[tuple[str, ...], list[tuple[int, ...]]]:
    """Call ``residual`` once with identity derivatives and check what it returns.

    ``fields`` are the data as the residual's ``f``; ``params`` every unknown at its initial
    value; ``shape`` the grid's shape; ``check_shape(out, equations)`` raises ``ValueError``
    when the returned value does not broadcast to the grid. Returns the equation names
    (``("residual",)`` for a single equation) and the per-axis derivative orders the residual
    asked for, in call order. Raises :class:`ResidualError` for a residual that raises, returns
    a non-tensor or a reduced value, never calls ``d(...)`` or never reads one of the unknowns.
    """
    size = int(np.prod(shape))
    rec = _RecordingDerivatives(axes)
    tracked = _TrackingNamespace("unknown", params)
    try:
        out = residual(fields, rec, tracked)
    except Exception as exc:
        raise residual_failure(residual, exc) from exc
    name = residual_name(residual)
    try:
        equations = tuple(equation_terms(out))
    except TypeError as exc:
        raise ResidualTypeError(f"the residual {name} returned {returned(out)}: {exc}") from None
    try:
        check_shape(out, equations)
    except ValueError as exc:
        raise ResidualError(f"{exc} (the residual {name})") from None
    for eq, term in equation_terms(out).items():
        if isinstance(term, torch.Tensor) and size > 1 and term.numel() < size:
            which = "" if eq == "residual" else f"equation {eq!r} of "
            if term.numel() == 1:
                raise ResidualError(
                    f"{which}the residual {name} returned a single number (shape "
                    f"{tuple(term.shape)}); it must return the residual at every grid node "
                    f"(shape {shape}). Do not reduce it with .sum(), .mean() or a norm: the "
                    "solvers form their own loss"
                )
            raise ResidualError(
                f"{which}the residual {name} returned shape {tuple(term.shape)}, fewer values "
                f"than the {size} grid nodes {shape}; it looks reduced along an axis "
                "(.sum(dim), .mean(dim)); return the residual at every node"
            )
    if not rec.orders:
        raise ResidualError(f"the residual {name} never calls d(...); it must mollify its terms")
    used = object.__getattribute__(tracked, "_used")
    unused = [n for n in params if n not in used]
    if unused:
        raise ResidualError(
            f"the residual {name} never reads the unknowns {unused} (p.{unused[0]}), so the "
            "data cannot determine them; remove them from unknowns or use them in the residual"
        )
    return equations, rec.orders
