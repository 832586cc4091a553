"""to_jsonable: numpy values, paths and non-finite numbers as plain JSON values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mollifier._json import to_jsonable


def test_numpy_scalars_become_python_numbers_of_the_same_value():
    out = to_jsonable([np.float32(0.1), np.float64(2.5), np.int8(-3), np.uint64(2**63), np.True_])
    assert out == [float(np.float32(0.1)), 2.5, -3, 2**63, True]
    assert [type(v) for v in out] == [float, float, int, int, bool]


@pytest.mark.parametrize("bad", [np.nan, -np.inf, np.inf, np.float32("nan"), float("inf")])
def test_non_finite_numbers_become_null(bad):
    assert to_jsonable(bad) is None
    assert json.dumps(to_jsonable({"v": bad}), allow_nan=False) == '{"v": null}'


def test_arrays_become_nested_lists_with_non_finite_as_null():
    arr = np.array([[1.0, np.nan], [np.inf, -2.0]])
    assert to_jsonable(arr) == [[1.0, None], [None, -2.0]]
    assert to_jsonable(np.arange(3, dtype=np.int32)) == [0, 1, 2]
    assert to_jsonable(np.array(4.5)) == 4.5  # 0-d
    assert to_jsonable(np.array([True, False])) == [True, False]


def test_nested_containers_paths_and_keys():
    doc = {
        "out": Path("runs") / "a.json",
        3: ({"x": np.float64(1.0)}, [np.int64(2), "s", None]),
    }
    out = to_jsonable(doc)
    assert out == {"out": str(Path("runs") / "a.json"), "3": [{"x": 1.0}, [2, "s", None]]}
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_input_is_not_modified_and_unknown_types_pass_through():
    arr = np.array([np.nan, 1.0])
    doc = {"a": arr}
    to_jsonable(doc)
    assert doc["a"] is arr and np.isnan(arr[0])
    marker = object()
    assert to_jsonable({"m": marker})["m"] is marker  # json.dumps then names the type
    with pytest.raises(TypeError, match="object"):
        json.dumps(to_jsonable({"m": marker}))
