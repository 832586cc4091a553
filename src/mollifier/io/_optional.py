"""Optional file-format libraries (the ``[io]`` extra), imported when a reader needs one."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["optional_module"]


def optional_module(name: str, what: str) -> ModuleType:
    """Import ``name`` (``"h5py"`` or ``"tifffile"``) for ``what``.

    Raises
    ------
    ImportError
        When it is not installed; the message says what needed it and how to install it.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs {name}, which is not installed: pip install 'mollifier[io]'"
        ) from exc
