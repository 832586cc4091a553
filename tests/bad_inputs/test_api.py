"""The Python API: misuse raises a specific exception type naming the argument at fault, within a
second, and answers the data cannot support are marked ``unreliable`` (never silently ``ok``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import mollifier as ml
from mollifier._options import OptionTypeError
from mollifier.inverse import ResidualError
from mollifier.inverse.problem import ResidualTypeError
from tests.bad_inputs.conftest import REFUSAL_S

T = np.linspace(0.0, 1.0, 41)
X = np.linspace(0.0, 2.0, 51)
GRID = ml.Grid(t=T, x=X)
TT, XX = GRID.mesh()
U = np.exp(-0.3 * np.pi**2 * TT) * np.sin(np.pi * XX)


def _heat_residual(f: Any, d: Any, p: Any) -> Any:
    return d(f.u, "t") - p.nu * d(f.u, "xx")


def problem(**changes: Any) -> ml.InverseProblem:
    options: dict[str, Any] = {
        "grid": GRID,
        "data": {"u": U},
        "unknowns": {"nu": ml.Constant()},
        "residual": _heat_residual,
        "width": 0.3,
    }
    options.update(changes)
    return ml.InverseProblem(**options)


def _raise(exc: Exception) -> Any:
    raise exc


def _residual_that_raises(f: Any, d: Any, p: Any) -> Any:
    scale = {"a": 1.0}["b"]
    return scale * d(f.u)


API_CASES: list[tuple[str, Callable[[], Any], type[BaseException], list[str]]] = [
    ("data-array", lambda: problem(data=U), TypeError, ["data", "dict", "ndarray"]),
    ("data-list", lambda: problem(data=[U]), TypeError, ["data", "dict"]),
    ("unknowns-list", lambda: problem(unknowns=["nu"]), TypeError, ["unknowns", "dict"]),
    ("known-array", lambda: problem(known=U), TypeError, ["known", "dict"]),
    ("truth-float", lambda: problem(truth=0.3), TypeError, ["truth", "dict"]),
    ("data-key-number", lambda: problem(data={1: U}), TypeError, ["data", "keys"]),
    ("residual-string", lambda: problem(residual="u_t - nu u_xx"), TypeError, ["residual"]),
    ("grid-dict", lambda: problem(grid={"t": T, "x": X}), TypeError, ["grid", "Grid"]),
    ("width-bool", lambda: problem(width=True), ValueError, ["width", "True"]),
    ("width-negative", lambda: problem(width=-0.3), ValueError, ["width", "-0.3"]),
    ("width-nan", lambda: problem(width=float("nan")), ValueError, ["width", "nan"]),
    ("width-huge", lambda: problem(width=1e5), ValueError, ["no interior", "t = 100000"]),
    (
        "width-too-many-points-uncropped",
        lambda: problem(width=1e5, crop=False),
        ValueError,
        ["width 100000", "axis 't'", "4096"],
    ),
    ("width-word", lambda: problem(width="wide"), ValueError, ["width", "'wide'"]),
    (
        "width-numpy-negative",
        lambda: problem(width={"t": np.float64(-0.0314), "x": 0.3}),
        ValueError,
        ["width", "-0.0314"],
    ),
    (
        "residual-sum",
        lambda: problem(residual=lambda f, d, p: (d(f.u, "t") - p.nu * d(f.u, "xx")).sum()),
        ResidualError,
        ["single number", ".sum()"],
    ),
    (
        "residual-mean-axis",
        lambda: problem(residual=lambda f, d, p: (d(f.u, "t") - p.nu * d(f.u, "xx")).mean(0)),
        ResidualError,
        ["reduced", "(51,)"],
    ),
    (
        "residual-raises",
        lambda: problem(residual=_residual_that_raises),
        ResidualError,
        [
            "_residual_that_raises",
            "test_api.py",
            "KeyError",
            "line",
        ],
    ),
    (
        "residual-two-arguments",
        lambda: problem(residual=lambda d, p: d),
        ResidualError,
        ["cannot be called as residual(f, d, p)", "takes 2 positional arguments"],
    ),
    (
        "residual-none",
        lambda: problem(residual=lambda f, d, p: None),
        ResidualTypeError,
        ["returned None"],
    ),
    (
        "unknown-unused",
        lambda: problem(unknowns={"nu": ml.Constant(), "c": ml.Constant()}),
        ResidualError,
        ["never reads", "'c'"],
    ),
    (
        "derivative-width-huge",
        lambda: ml.derivative(np.sin(X), 2, spacing=X[1] - X[0], width=1e5),
        ValueError,
        ["width", "axis -1", "4096"],
    ),
    (
        "derivative-stencil-longer-than-axis",
        lambda: ml.derivative(np.sin(X), 2, spacing=X[1] - X[0], width=3.0),
        ValueError,
        ["axis -1", "51 points", "width 3"],
    ),
    (
        "derivative-width-too-many-points",
        lambda: ml.derivative(np.zeros(10**6), 0, spacing=1e-6, width=0.5),
        ValueError,
        ["width", "4096"],
    ),
    (
        "derivative-spacing-word",
        lambda: ml.derivative(np.sin(X), 2, spacing="0.04", width=0.3),
        TypeError,
        ["spacing", "'0.04'"],
    ),
    (
        "derivative-spacing-negative",
        lambda: ml.derivative(np.sin(X), 2, spacing=np.float64(-0.04), width=0.3),
        ValueError,
        ["spacing", "axis -1", "-0.04"],
    ),
    (
        "derivative-axis-out-of-range",
        lambda: ml.derivative(np.sin(X), 2, spacing=0.04, width=0.3, axis=3),
        ValueError,
        ["axis 3"],
    ),
    (
        "layer-width-huge",
        lambda: ml.MollifierLayer(axes=("x",), spacing=1.0, width=(1e4,)),
        ValueError,
        ["width", "axis 'x'", "4096"],
    ),
    (
        "layer-width-bool",
        lambda: ml.MollifierLayer(axes=("x",), spacing=1.0, width=(True,)),
        TypeError,
        ["width", "axis 'x'", "True"],
    ),
    (
        "network-steps-word",
        lambda: ml.Network(steps="ten"),
        OptionTypeError,
        ["Network.steps", "'ten'"],
    ),
    ("network-lr-bool", lambda: ml.Network(lr=True), OptionTypeError, ["Network.lr"]),
    (
        "direct-identifiability-nan",
        lambda: ml.Direct(identifiability=float("nan")),
        OptionTypeError,
        [
            "Direct.identifiability",
        ],
    ),
    ("constant-init-word", lambda: ml.Constant(init="one"), OptionTypeError, ["Constant.init"]),
    ("field-axes-number", lambda: ml.Field(axes=(1,)), OptionTypeError, ["Field.axes"]),
    (
        "field-positive-word",
        lambda: ml.Field(axes=("x",), positive="yes"),
        OptionTypeError,
        [
            "Field.positive",
        ],
    ),
    ("solve-with-string", lambda: problem().solve("direct"), TypeError, ["solver object"]),
    (
        "simulate-heat-huge",
        lambda: ml.sim.simulate_heat(n=100_000),
        MemoryError,
        ["simulate_heat", "memory", "--grid"],
    ),
    (
        "simulate-langevin-huge",
        lambda: ml.sim.simulate_langevin(n_times=100_000),
        ValueError,
        ["particle steps", "output times"],
    ),
    (
        "simulate-chromatin-huge",
        lambda: ml.sim.simulate_chromatin(n=10**6),
        MemoryError,
        ["simulate_chromatin", "memory"],
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "names"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES]
)
def test_api_misuse_is_refused(call, error, names):
    t0 = time.perf_counter()
    with pytest.raises(error) as info:
        call()
    elapsed = time.perf_counter() - t0
    message = str(info.value)
    for name in names:
        assert name in message, (name, message)
    for leak in ("np.float64(", "axis '-'", "truth value of an array"):
        assert leak not in message, message
    assert not isinstance(info.value, ml.inverse.NonAffineResidualError)
    assert elapsed < REFUSAL_S, f"took {elapsed:.2f} s: {message}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_network_on_cuda_without_cuda():
    with pytest.raises(ValueError, match="no CUDA device") as info:
        problem().solve(ml.Network(device="cuda", steps=1))
    assert "device='cpu'" in str(info.value)


# --- answers the data cannot support ------------------------------------------------------------


def test_clean_data_fit_is_ok():
    result = problem().solve(ml.Direct())
    assert result.status == "ok" and result.reasons == []
    assert abs(result.unknowns["nu"] - 0.3) < 1e-3


def test_noise_far_above_the_signal_is_unreliable():
    rng = np.random.default_rng(0)
    noisy = U + 1e6 * U.std() * rng.standard_normal(U.shape)
    result = problem(data={"u": noisy}).solve(ml.Direct())
    assert result.status == "unreliable"
    assert any("mostly noise" in r and "'u'" in r for r in result.reasons), result.reasons
    assert "status: unreliable" in result.summary()
    assert result.to_json()["status"] == "unreliable"


def test_one_percent_noise_is_not_flagged():
    rng = np.random.default_rng(1)
    noisy = U + 0.01 * U.std() * rng.standard_normal(U.shape)
    assert problem(data={"u": noisy}).solve(ml.Direct()).status == "ok"


def test_positive_constant_estimated_negative_is_unreliable():
    """u_t = +0.3 u_xx fitted as u_t = -nu u_xx: nu comes out -0.3, but nu was declared > 0."""
    result = problem(
        unknowns={"nu": ml.Constant(positive=True)},
        residual=lambda f, d, p: d(f.u, "t") + p.nu * d(f.u, "xx"),
    ).solve(ml.Direct())
    assert result.unknowns["nu"] < 0
    assert result.status == "unreliable"
    assert any("declared positive" in r for r in result.reasons)


def test_unknown_multiplied_by_zero_is_nan_not_zero():
    """An unknown the residual reads but that cannot change it is not identifiable: NaN, with a
    reason, never a confident 0.0."""
    result = problem(
        unknowns={"nu": ml.Constant(), "c": ml.Constant()},
        residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx") + 0.0 * p.c * d(f.u),
    ).solve(ml.Direct())
    assert np.isnan(result.unknowns["c"])
    assert result.status == "unreliable"
    assert any("'c'" in r and "not identifiable" in r for r in result.reasons)
    assert result.diagnostics["unidentifiable_constants"] == ["c"]


@pytest.mark.parametrize("value", [0.0, 2.5], ids=["zero", "constant"])
def test_constant_data_is_unreliable_not_an_answer(value):
    """All-zero (or constant) data determine nothing: never an ``ok`` 0.0 (``mollifier fit``
    refuses such data outright, see test_exit_codes)."""
    result = problem(data={"u": np.full_like(U, value)}).solve(ml.Direct())
    assert result.status == "unreliable"
    assert any("'u'" in r and "constant" in r for r in result.reasons), result.reasons
    assert not result.unknowns["nu"] == 0.0
