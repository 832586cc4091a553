"""Where an exception raised in the user's own code (a residual function or its module) happened.

The library reports such errors in one line naming the file, the function, the line and the
exception; the command line's ``--debug`` shows the whole traceback (kept as ``__cause__``).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["code_location", "describe_exception", "function_name", "raised_at"]


def describe_exception(exc: BaseException) -> str:
    """``"ZeroDivisionError: division by zero"`` (the type alone when there is no message)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def function_name(fn: Any) -> str:
    """A readable name of a callable: ``residual``, ``<lambda>``, ``Model.residual``."""
    inner = getattr(fn, "func", fn)  # functools.partial
    return str(getattr(inner, "__qualname__", None) or type(inner).__name__)


def code_location(fn: Any) -> tuple[str, int] | None:
    """The file and first line of a Python function (``None`` for other callables)."""
    code = getattr(getattr(fn, "func", fn), "__code__", None)
    if code is None:
        return None
    return code.co_filename, code.co_firstlineno


def raised_at(exc: BaseException, filename: str | None = None) -> tuple[str, int, str] | None:
    """The innermost frame of ``exc``'s traceback in ``filename`` (any file if ``None``).

    Returns ``(file, line, function)``, or ``None`` when no frame is in that file. A
    ``SyntaxError`` reports its own file and line (it has no frame in the file it is about).
    """
    if isinstance(exc, SyntaxError) and exc.filename:
        if filename is None or _same(exc.filename, filename):
            return exc.filename, int(exc.lineno or 0), "<module>"
    found = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if filename is None or _same(code.co_filename, filename):
            found = (code.co_filename, tb.tb_lineno, code.co_name)
        tb = tb.tb_next
    return found


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
