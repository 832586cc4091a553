"""Type checks for the frozen option objects (solvers, architectures, penalties).

Each option is declared once, as a typed dataclass field; :func:`check_fields` (called from
``__post_init__``) checks every value against its annotation, so a wrong type fails where the
object is built, naming the class, the field, the value and the expected type, whether the
object came from Python or from a TOML file.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

import numpy as np

__all__ = ["OptionTypeError", "check_fields", "describe_type", "show_value"]


class OptionTypeError(TypeError):
    """An option whose value does not have the declared type.

    ``owner``, ``field``, ``value`` and ``expected`` (a reader's description of the type) let a
    caller restate the error in its own terms, e.g. as a TOML section and key.
    """

    def __init__(self, owner: str, field: str, value: Any, expected: str) -> None:
        self.owner, self.field, self.value, self.expected = owner, field, value, expected
        super().__init__(f"{owner}.{field} must be {expected}, got {show_value(value)}")


def show_value(value: Any) -> str:
    """``repr`` of a value as a user wrote it: numpy scalars print as plain numbers
    (``-0.0314`` rather than ``np.float64(-0.0314)``).

    Examples
    --------
    >>> import numpy as np
    >>> show_value(np.float64(-0.5)), show_value("ten"), show_value([1, np.int64(2)])
    ('-0.5', "'ten'", '[1, 2]')
    """
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, (list, tuple)):
        inner = ", ".join(show_value(v) for v in value)
        return (
            f"[{inner}]"
            if isinstance(value, list)
            else f"({inner}{',' if len(value) == 1 else ''})"
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {show_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(value)


def describe_type(tp: Any) -> str:
    """A reader's description of a type annotation (``"an integer"``, ``"one of 'a', 'b'"``)."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None (omitted)"
    names = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}
    if tp in names:
        return names[tp]
    if origin in (tuple, list):
        items = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return "a list" + (f" of {_plural(items[0])}" if len(set(items)) == 1 else "")
    if origin is dict:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is not Any:
            return f"a table of {_plural(args[1])}"
        return "a table"
    if tp is Any:
        return "any value"
    return f"a {getattr(tp, '__name__', str(tp))}"


def _plural(tp: Any) -> str:
    names = {bool: "true/false values", int: "integers", float: "finite numbers", str: "strings"}
    return names.get(tp, describe_type(tp))


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and math.isfinite(value)
    if origin is list:
        (arg,) = typing.get_args(tp) or (Any,)
        return isinstance(value, list) and all(_matches(v, arg) for v in value)
    if origin is dict:
        key, val = typing.get_args(tp) or (Any, Any)
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, val) for k, v in value.items()
        )
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(args) == len(value) and all(
            _matches(v, a) for v, a in zip(value, args, strict=True)
        )
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, tp)


def check_fields(obj: Any) -> None:
    """Check every field of the dataclass instance ``obj`` against its annotation.

    Integers given for ``float`` fields are converted to float (on the frozen instance too).

    Raises
    ------
    OptionTypeError
        Naming the class, field, value and expected type.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Opt:
    ...     steps: int = 10
    ...     def __post_init__(self): check_fields(self)
    >>> Opt(steps="ten")
    Traceback (most recent call last):
    ...
    mollifier._options.OptionTypeError: Opt.steps must be an integer, got 'ten'
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        tp = hints[f.name]
        value = getattr(obj, f.name)
        if not _matches(value, tp):
            raise OptionTypeError(type(obj).__name__, f.name, value, describe_type(tp))
        if tp is float and isinstance(value, int):
            object.__setattr__(obj, f.name, float(value))
