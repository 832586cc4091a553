"""Conversion of results and metadata to values the standard :mod:`json` module writes."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy values, paths and non-finite numbers replaced by plain JSON values.

    * dicts (keys become ``str``), lists and tuples (both become lists): converted item by item;
    * numpy floats and Python floats: ``float``, or ``None`` when NaN or ±inf (standard JSON has
      no NaN or Infinity, and ``json.dumps`` would otherwise write the non-standard tokens);
    * numpy integers: ``int``; numpy booleans: ``bool``;
    * numpy arrays (0-d included): nested lists of the above;
    * ``os.PathLike`` (``pathlib.Path``): its ``str``;
    * anything else is returned as it is (``json.dumps`` then names a type it cannot write).

    Examples
    --------
    >>> to_jsonable({"a": np.float32(0.5), 1: np.array([1, 2]), "b": [np.nan, np.inf]})
    {'a': 0.5, '1': [1, 2], 'b': [None, None]}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
