"""Property: whatever value of the wrong type a TOML key is given, ``mollifier fit`` answers with
exit status 2 and one line naming the section and key, never a traceback, and writes nothing."""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bad_inputs.conftest import assert_refused, run_cli, toml_document


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


#: What each key accepts, judged here independently of the library's own checks.
ACCEPTS = {
    "float": _number,
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "str_list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    # a number, a table of numbers, or a string (only "auto" is valid; strings are left out)
    "width": lambda v: (
        _number(v)
        or isinstance(v, str)
        or (isinstance(v, dict) and all(_number(x) for x in v.values()))
    ),
}

KEYS: list[tuple[str, str, str, bool]] = [  # section, key, kind, network solver
    ("data", "add_noise", "float", False),
    ("data", "noise_seed", "int", False),
    ("data", "coords", "str_list", False),
    ("data", "columns", "str_list", False),
    ("data", "path", "str", False),
    ("problem", "builtin", "str", False),
    ("mollifier", "width", "width", False),
    ("mollifier", "kernel", "str", False),
    ("mollifier", "boundary", "str", False),
    ("mollifier", "crop", "bool", False),
    ("solver", "identifiability", "float", False),
    ("solver", "seed", "int", False),
    ("solver", "steps", "int", True),
    ("solver", "lr", "float", True),
    ("solver", "lbfgs_steps", "int", True),
    ("solver", "residual_weight", "float", True),
    ("solver", "field_regularization", "float", True),
    ("solver", "patience", "int", True),
    ("solver", "read_off", "bool", True),
    ("solver", "device", "str", True),
    ("solver", "dtype", "str", True),
]

_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.datetimes(),
    st.dates(),
    st.times(),
)
_keys = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
TOML_VALUES = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=6,
)


@pytest.mark.parametrize(
    ("section", "key", "kind", "network"), KEYS, ids=[f"{s}.{k}" for s, k, _, _ in KEYS]
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_wrong_type_never_gives_a_traceback(capsys, base_config, section, key, kind, network, data):
    value = data.draw(TOML_VALUES.filter(lambda v: not ACCEPTS[kind](v)), label="value")
    doc = copy.deepcopy(base_config)
    if network:
        doc["solver"] = {"method": "network", "steps": 1}
    doc[section][key] = value
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "c.toml"
        config.write_text(toml_document(doc))
        out = Path(folder) / "out"
        result = run_cli(["fit", str(config), "--out", str(out)], capsys)
        assert_refused(result, names=[f"[{section}]", key], out=out)
