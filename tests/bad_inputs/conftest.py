"""Shared pieces of the bad-input suite: a tiny dataset, a TOML writer, an in-process CLI runner
that measures how long a refusal takes, and the checks every refused input must pass."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mollifier.cli import main

#: A refused input must answer within this many seconds (imports already warm).
REFUSAL_S = 1.0


@dataclass
class Outcome:
    code: int
    err: str
    out: str
    seconds: float


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``mollifier ARGV`` in-process: exit status (argparse's ``SystemExit`` included), stderr,
    stdout and the wall time of the call."""
    capsys.readouterr()
    t0 = time.perf_counter()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refuses its own arguments this way
        code = int(exc.code or 0)
    seconds = time.perf_counter() - t0
    captured = capsys.readouterr()
    return Outcome(code, captured.err, captured.out, seconds)


def assert_refused(result: Outcome, *, names: Sequence[str], out: Path | None) -> None:
    """Exit status 2, a one-line message naming every string in ``names``, no traceback, no
    internal repr, nothing written to ``out``, and an answer within :data:`REFUSAL_S`."""
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err, result.err
    message = result.err.strip().splitlines()[-1]
    for name in names:
        assert name in message, (name, message)
    for leak in ("np.float64(", "np.int64(", "axis '-'", "tensor("):
        assert leak not in message, message
    if out is not None:
        assert not out.exists(), f"{out} was written: {sorted(p.name for p in out.iterdir())}"
    assert result.seconds < REFUSAL_S, f"took {result.seconds:.2f} s: {message}"


def toml_value(value: Any) -> str:
    """``value`` written as a TOML value (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else _escape(c) for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def toml_document(doc: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML document of ``[section]`` tables (sub-tables written inline)."""
    lines = []
    for section, table in doc.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def heat_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24 × 24 steady heat dataset directory (data.npz + meta.json), 1% noise."""
    from mollifier.io.dataset import save_dataset
    from mollifier.sim import GaussianNoise, simulate_heat

    folder = tmp_path_factory.mktemp("heat") / "data"
    save_dataset(simulate_heat(n=24, refine=1, noise=GaussianNoise(0.01), seed=0), folder)
    return folder


@pytest.fixture(scope="session")
def base_config(heat_data: Path) -> dict[str, dict[str, Any]]:
    """A valid config for ``heat_data`` (direct solver, explicit width): each case spoils one
    part of a copy."""
    return {
        "data": {"path": str(heat_data)},
        "problem": {"builtin": "heat"},
        "mollifier": {"width": 0.2},
        "solver": {"method": "direct"},
    }


@pytest.fixture(autouse=True, scope="session")
def _warm_imports() -> None:
    """Import what the commands import, so that the time limit measures the refusal only."""
    import mollifier.config
    import mollifier.io.read
    import mollifier.plot
    import mollifier.sim
    import mollifier.storm.batch
    import mollifier.study  # noqa: F401
