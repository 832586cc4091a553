"""The exit statuses ``docs/cli.md`` lists are the ones the command returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import mollifier.cli
from mollifier.cli import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_NOT_OK, EXIT_OK, EXIT_USAGE
from tests.bad_inputs.conftest import run_cli, toml_document

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _documented() -> dict[int, str]:
    """The exit-status table of docs/cli.md: ``| 2 | ... |`` rows under "Exit status"."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| `?(\d+)`? \| (.+?) \|$", section, re.M)}


def test_docs_list_every_exit_status():
    documented = _documented()
    assert set(documented) == {EXIT_OK, EXIT_NOT_OK, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED}
    assert "refused" in documented[EXIT_USAGE] and "unreliable" in documented[EXIT_NOT_OK]


def test_unreliable_fit_exits_1_and_says_why(tmp_path, capsys):
    """Data that are noise from end to end: the fit runs, writes its result with status
    "unreliable" and the reason, and exits 1 (never a silent 0)."""
    from mollifier.io.dataset import save_dataset
    from mollifier.sim import GaussianNoise, simulate_heat

    ds = simulate_heat(n=24, refine=1, noise=GaussianNoise(1e6), seed=0)
    save_dataset(ds, tmp_path / "data")
    config = tmp_path / "c.toml"
    config.write_text(
        toml_document(
            {
                "data": {"path": "data"},
                "problem": {"builtin": "heat"},
                "mollifier": {"width": 0.2},
            }
        )
    )
    result = run_cli(["fit", str(config), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert result.code == EXIT_NOT_OK, result.err
    assert "status: unreliable" in result.out and "mostly noise" in result.out
    doc = json.loads((tmp_path / "out" / "result.json").read_text())
    assert doc["status"] == "unreliable" and any("mostly noise" in r for r in doc["reasons"])


def test_all_zero_data_is_refused(tmp_path, capsys):
    np.save(tmp_path / "u.npy", np.zeros((24, 24)))
    coords = np.linspace(0, 1, 24)
    np.savez(tmp_path / "d.npz", u=np.zeros((24, 24)), m=np.ones((24, 24)), x=coords, y=coords)
    config = tmp_path / "c.toml"
    config.write_text(
        toml_document(
            {
                "data": {
                    "path": "d.npz",
                    "coords": ["x", "y"],
                    "fields": {"u": "u"},
                    "known": {"m": "m"},
                },
                "problem": {"builtin": "heat"},
                "mollifier": {"width": 0.2},
            }
        )
    )
    out = tmp_path / "out"
    result = run_cli(["fit", str(config), "--out", str(out)], capsys)
    assert result.code == EXIT_USAGE, result.err
    assert "'u'" in result.err and "constant" in result.err and not out.exists()


def test_internal_error_exits_3_with_the_traceback(tmp_path, capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(mollifier.cli, "_run_simulate", broken)
    result = run_cli(["simulate", "heat", "--out", str(tmp_path / "o")], capsys)
    assert result.code == EXIT_INTERNAL
    assert "Traceback" in result.err and "internal error" in result.err and "a bug" in result.err


def test_interrupt_exits_130(tmp_path, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(mollifier.cli, "_run_simulate", interrupted)
    result = run_cli(["simulate", "heat", "--out", str(tmp_path / "o")], capsys)
    assert result.code == EXIT_INTERRUPTED and "interrupted" in result.err


def test_argument_errors_exit_2(capsys):
    result = run_cli(["fit"], capsys)
    assert result.code == EXIT_USAGE


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_flag_before_or_after_the_command(tmp_path, capsys, where):
    argv = ["simulate", "heat", "--grid", "100000", "--out", str(tmp_path / "o")]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    result = run_cli(argv, capsys)
    assert result.code == EXIT_USAGE and "Traceback" in result.err and "MemoryError" in result.err
