"""``mollifier fit``: every refused config exits 2 within a second, with one line naming the
section, key, file or argument at fault, and writes nothing to ``--out``."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.bad_inputs.conftest import assert_refused, run_cli, toml_document

DELETE = object()

# (case id, {"section.key": value} changes to the valid base config, strings the message names)
CONFIG_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("width-list", {"mollifier.width": [1, 2]}, ["[mollifier] width", "[1, 2]"]),
    ("width-bool", {"mollifier.width": True}, ["[mollifier] width", "True"]),
    ("width-word", {"mollifier.width": "wide"}, ["[mollifier] width", "'wide'"]),
    ("width-nan", {"mollifier.width": float("nan")}, ["[mollifier] width", "nan"]),
    ("width-negative", {"mollifier.width": -0.1}, ["width", "-0.1"]),
    ("width-huge", {"mollifier.width": 1.0e5}, ["no interior nodes", "x = 100000"]),
    (
        "width-too-many-points",
        {"mollifier.width": 1.0e3, "mollifier.crop": False},
        ["width 1000", "axis 'x'", "4096"],
    ),
    ("width-missing-axis", {"mollifier.width": {"x": 0.2}}, ["width", "'y'"]),
    ("width-axis-bool", {"mollifier.width": {"x": 0.2, "y": False}}, ["[mollifier] width"]),
    ("kernel-unknown", {"mollifier.kernel": "box"}, ["[mollifier] kernel", "'box'"]),
    ("kernel-number", {"mollifier.kernel": 3}, ["[mollifier] kernel", "3"]),
    ("boundary-unknown", {"mollifier.boundary": "mirror"}, ["[mollifier] boundary"]),
    ("crop-string", {"mollifier.crop": "yes"}, ["[mollifier] crop", "'yes'"]),
    ("mollifier-typo", {"mollifier.widht": 0.2}, ["[mollifier]", "widht"]),
    ("steps-word", {"solver.method": "network", "solver.steps": "ten"}, ["[solver] steps"]),
    ("steps-float", {"solver.method": "network", "solver.steps": 1.5}, ["[solver] steps"]),
    ("lr-bool", {"solver.method": "network", "solver.lr": True}, ["[solver] lr", "True"]),
    ("lr-negative", {"solver.method": "network", "solver.lr": -1.0}, ["lr"]),
    ("device-tpu", {"solver.method": "network", "solver.device": "tpu"}, ["device", "'tpu'"]),
    (
        "arch-hidden-word",
        {"solver.method": "network", "solver.arch": {"kind": "mlp", "hidden": "wide"}},
        ["[solver] arch.hidden", "'wide'"],
    ),
    ("arch-unknown", {"solver.method": "network", "solver.arch": "transformer"}, ["arch"]),
    (
        "equation-weights-words",
        {"solver.method": "network", "solver.equation_weights": ["a"]},
        ["[solver] equation_weights"],
    ),
    (
        "regularization-alpha-word",
        {"solver.regularization": {"kind": "tikhonov", "alpha": "big"}},
        ["[solver] regularization.alpha", "'big'"],
    ),
    ("regularization-number", {"solver.regularization": 5}, ["regularization", "5"]),
    ("identifiability-nan", {"solver.identifiability": float("nan")}, ["identifiability"]),
    ("seed-float", {"solver.seed": 1.5}, ["[solver] seed", "1.5"]),
    ("method-unknown", {"solver.method": "magic"}, ["method", "'magic'"]),
    ("direct-network-key", {"solver.steps": 10}, ["[solver]", "steps"]),
    ("add-noise-word", {"data.add_noise": "lots"}, ["[data] add_noise", "'lots'"]),
    ("add-noise-nan", {"data.add_noise": float("nan")}, ["[data] add_noise", "nan"]),
    ("add-noise-negative", {"data.add_noise": -1.0}, ["[data] add_noise"]),
    ("add-noise-bool", {"data.add_noise": True}, ["[data] add_noise", "True"]),
    ("noise-seed-word", {"data.noise_seed": "x"}, ["[data] noise_seed"]),
    ("coords-string", {"data.coords": "x"}, ["[data] coords", "'x'"]),
    ("fields-number", {"data.fields": 5}, ["[data] fields", "5"]),
    ("fields-missing", {"data.fields": ["v"]}, ["'v'"]),
    ("truth-bool", {"data.truth": {"lam": True}}, ["[data] truth.lam"]),
    ("truth-nan", {"data.truth": {"lam": float("nan")}}, ["[data] truth.lam"]),
    ("known-list", {"data.known": {"m": [1, 2]}}, ["[data] known"]),
    ("path-number", {"data.path": 5}, ["[data] path", "5"]),
    ("path-missing", {"data.path": "no_such_folder"}, ["no_such_folder"]),
    ("builtin-unknown", {"problem.builtin": "poisson"}, ["[problem] builtin", "'poisson'"]),
    ("builtin-number", {"problem.builtin": 3}, ["[problem] builtin"]),
    (
        "residual-no-unknowns",
        {"problem.builtin": DELETE, "problem.residual": "r.py:f"},
        ["unknowns"],
    ),
    (
        "residual-missing-file",
        {
            "problem.builtin": DELETE,
            "problem.residual": "nofile.py:f",
            "problem.unknowns": {"lam": {"kind": "constant"}},
        },
        ["nofile.py"],
    ),
    ("unknown-section", {"extra.key": 1}, ["unknown sections", "extra"]),
    ("data-not-table", {"data": 5}, ["[data]"]),
]


def _config(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for path, value in changes.items():
        section, _, key = path.partition(".")
        if not key:
            doc[section] = value
            continue
        table = doc.setdefault(section, {})
        if value is DELETE:
            table.pop(key, None)
        else:
            table[key] = value
    return doc


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    text = ""
    for section, table in doc.items():
        if isinstance(table, dict):
            text += toml_document({section: table})
        else:
            text += f"{section} = {table!r}\n"
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("changes", "names"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_bad_config_is_refused(tmp_path, capsys, base_config, changes, names):
    config = _write(tmp_path, _config(base_config, changes))
    out = tmp_path / "out"
    assert_refused(run_cli(["fit", str(config), "--out", str(out)], capsys), names=names, out=out)


def test_base_config_is_valid(tmp_path, capsys, base_config):
    """The cases above fail because of their one change: the base config fits (exit 0)."""
    config = _write(tmp_path, base_config)
    result = run_cli(["fit", str(config), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert result.code == 0, result.err
    doc = json.loads((tmp_path / "out" / "result.json").read_text())
    assert doc["status"] == "ok" and doc["reasons"] == []
    assert "status: ok" in result.out


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_cuda_device(tmp_path, capsys, base_config):
    config = _write(
        tmp_path, _config(base_config, {"solver.method": "network", "solver.device": "cuda"})
    )
    out = tmp_path / "out"
    result = run_cli(["fit", str(config), "--out", str(out)], capsys)
    assert_refused(result, names=["[solver] device", "no CUDA device", 'device = "cpu"'], out=out)


def test_invalid_toml(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[data\npath = 'x'\n")
    out = tmp_path / "out"
    assert_refused(
        run_cli(["fit", str(config), "--out", str(out)], capsys), names=["not valid TOML"], out=out
    )


def test_missing_config(tmp_path, capsys):
    out = tmp_path / "out"
    result = run_cli(["fit", str(tmp_path / "none.toml"), "--out", str(out)], capsys)
    assert_refused(result, names=["none.toml", "not found"], out=out)


# --- the output directory ---------------------------------------------------------------------


def test_out_is_an_existing_file(tmp_path, capsys, base_config):
    config = _write(tmp_path, base_config)
    out = tmp_path / "taken"
    out.write_text("keep me")
    result = run_cli(["fit", str(config), "--out", str(out)], capsys)
    assert_refused(result, names=["--out", "existing file"], out=None)
    assert out.read_text() == "keep me"


def test_out_lies_under_a_file(tmp_path, capsys, base_config):
    config = _write(tmp_path, base_config)
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "sub" / "out"
    result = run_cli(["fit", str(config), "--out", str(out)], capsys)
    assert_refused(result, names=["--out", "which is a file"], out=None)


def test_out_not_writable(tmp_path, capsys, base_config, monkeypatch):
    """Refused up front (as root, permissions do not bind, so the check is made to say no)."""
    import mollifier.cli

    config = _write(tmp_path, base_config)
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(mollifier.cli.os, "access", lambda path, mode: Path(path) != locked)
    out = locked / "out"
    result = run_cli(["fit", str(config), "--out", str(out)], capsys)
    assert_refused(result, names=["--out", "may not write", str(locked)], out=out)


# --- the user's residual ------------------------------------------------------------------------

RESIDUALS: list[tuple[str, str, list[str]]] = [
    (
        "syntax-error",
        "def residual(f, d, p)\n    return d(f.u)\n",
        ["pde.py", "syntax error", "line 1"],
    ),
    (
        "raises",
        "def residual(f, d, p):\n    x = 1 / 0\n    return d(f.u)\n",
        ["residual", "pde.py", "line 2", "ZeroDivisionError"],
    ),
    (
        "returns-none",
        "def residual(f, d, p):\n    d(f.u, 'xx')\n",
        ["residual", "pde.py", "returned None"],
    ),
    (
        "import-error",
        "import no_such_package_xyz\n\ndef residual(f, d, p):\n    return d(f.u)\n",
        ["pde.py", "line 1", "ModuleNotFoundError", "no_such_package_xyz"],
    ),
    (
        "raises-at-import",
        "SCALE = [1][3]\n\ndef residual(f, d, p):\n    return d(f.u)\n",
        ["pde.py", "line 1", "IndexError"],
    ),
    (
        "no-such-function",
        "def other(f, d, p):\n    return d(f.u)\n",
        ["pde.py", "no function 'residual'"],
    ),
    (
        "reduced-to-scalar",
        "def residual(f, d, p):\n    return (p.lam * d(f.u, 'xx') + d(f.m)).sum()\n",
        ["residual", "single number", ".sum()"],
    ),
    (
        "unknown-unused",
        "def residual(f, d, p):\n    return d(f.u, 'xx') + d(f.m)\n",
        ["residual", "never reads", "'lam'"],
    ),
    (
        "field-typo",
        "def residual(f, d, p):\n    return p.lam * d(f.v, 'xx') + d(f.m)\n",
        ["residual", "line 2", "'v'"],
    ),
    (
        "axis-typo",
        "def residual(f, d, p):\n    return p.lam * d(f.u, 'zz') + d(f.m)\n",
        ["residual", "line 2", "'z'"],
    ),
]


@pytest.mark.parametrize(
    ("source", "names"), [r[1:] for r in RESIDUALS], ids=[r[0] for r in RESIDUALS]
)
def test_bad_residual_is_refused(tmp_path, capsys, base_config, source, names):
    (tmp_path / "pde.py").write_text(textwrap.dedent(source))
    doc = _config(
        base_config,
        {
            "problem.builtin": DELETE,
            "problem.residual": "pde.py:residual",
            "problem.unknowns": {"lam": {"kind": "constant"}},
        },
    )
    out = tmp_path / "out"
    result = run_cli(["fit", str(_write(tmp_path, doc)), "--out", str(out)], capsys)
    assert_refused(result, names=names, out=out)


def test_debug_shows_the_residual_traceback(tmp_path, capsys, base_config):
    (tmp_path / "pde.py").write_text("def residual(f, d, p):\n    return 1 / 0\n")
    doc = _config(
        base_config,
        {
            "problem.builtin": DELETE,
            "problem.residual": "pde.py:residual",
            "problem.unknowns": {"lam": {"kind": "constant"}},
        },
    )
    config = str(_write(tmp_path, doc))
    plain = run_cli(["fit", config, "--out", str(tmp_path / "a")], capsys)
    assert plain.code == 2 and "Traceback" not in plain.err and "--debug" in plain.err
    debug = run_cli(["fit", config, "--out", str(tmp_path / "b"), "--debug"], capsys)
    assert debug.code == 2
    assert "Traceback" in debug.err and "ZeroDivisionError" in debug.err
    assert debug.err.strip().splitlines()[-1].startswith("mollifier fit: error:")
