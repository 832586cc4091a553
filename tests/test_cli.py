"""The command line: simulate, fit (built-in and custom residual), demo, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mollifier.cli import main
from mollifier.io import load_dataset

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CONTRACT = {"unknowns", "metrics", "widths", "wall_time_s", "peak_memory_mb", "versions"}


def test_simulate_heat_and_fit_with_a_config(tmp_path, capsys):
    data = tmp_path / "heat"
    assert (
        main(
            [
                "simulate",
                "heat",
                "--out",
                str(data),
                "--grid",
                "32",
                "--noise",
                "0.01",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    ds = load_dataset(data)
    assert ds.fields["u"].shape == (32, 32) and ds.noise["level"] == 0.01
    assert (data / "preview.png").stat().st_size > 1000
    config = tmp_path / "study.toml"
    config.write_text(
        f'[data]\npath = "{data}"\n[problem]\nbuiltin = "heat"\n'
        '[mollifier]\nwidth = "auto"\n[solver]\nmethod = "direct"\n'
    )
    out = tmp_path / "fit"
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "result.json").read_text())
    assert CONTRACT <= set(doc)
    lam = doc["unknowns"]["lam"]
    assert set(lam) == {"median", "mean", "min", "max"}
    assert set(doc["metrics"]["lam"]) >= {"pearson", "rel_l2", "median_rel_error"}
    assert doc["metrics"]["lam"]["pearson"] > 0.9
    assert set(doc["widths"]) == {"x", "y", "rule"}
    for name in ("unknowns.npz", "data.png", "fit.png", "unknowns.png", "residual.png"):
        assert (out / name).is_file(), name
    assert "lam" in capsys.readouterr().out


def test_fit_resume_continues_from_the_checkpoint(tmp_path, capsys):
    data = tmp_path / "heat"
    assert main(["simulate", "heat", "--out", str(data), "--grid", "24", "--seed", "1"]) == 0
    arch = 'arch = { kind = "mlp", hidden = 8, depth = 1 }\n'
    solver = 'method = "network"\nsteps = 30\nlr = 0.01\n' + arch
    config = tmp_path / "study.toml"
    config.write_text(
        f'[data]\npath = "{data}"\n[problem]\nbuiltin = "heat"\n'
        f'[mollifier]\nwidth = "auto"\n[solver]\n{solver}'
    )
    out = tmp_path / "fit"
    # 30 steps of an 8-wide network do not fit the data: written, marked unreliable, exit 1
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 1
    first = json.loads((out / "result.json").read_text())
    assert first["diagnostics"]["resumed_at_step"] == 0
    assert first["status"] == "unreliable" and "data field 'u' not fitted" in first["reasons"][0]
    # resuming the finished run trains no further and gives the same unknowns
    assert main(["fit", str(config), "--out", str(out), "--quiet", "--resume"]) == 1
    again = json.loads((out / "result.json").read_text())
    assert again["diagnostics"]["resumed_at_step"] == 30
    assert again["metrics"]["lam"]["pearson"] == first["metrics"]["lam"]["pearson"]
    assert again["diagnostics"]["adam_time_s"] == first["diagnostics"]["adam_time_s"]
    # other solver settings cannot resume it
    config.write_text(config.read_text().replace("lr = 0.01", "lr = 0.02"))
    capsys.readouterr()
    assert main(["fit", str(config), "--out", str(out), "--quiet", "--resume"]) == 2
    assert "different training options: lr=0.01 (now 0.02)" in capsys.readouterr().err
    direct = tmp_path / "direct.toml"
    direct.write_text(config.read_text().split("[solver]")[0] + '[solver]\nmethod = "direct"\n')
    assert main(["fit", str(direct), "--out", str(tmp_path / "d"), "--resume"]) == 2
    assert "resume applies to the network solver" in capsys.readouterr().err


def test_simulate_langevin_constant_and_grf_options(tmp_path):
    assert (
        main(
            [
                "simulate",
                "langevin",
                "--out",
                str(tmp_path / "l"),
                "--grid",
                "51",
                "--particles",
                "500",
                "--forcing",
                "step",
            ]
        )
        == 0
    )
    ds = load_dataset(tmp_path / "l")
    assert set(ds.arrays()) >= {"t", "u", "u_clean", "lam"}
    assert (
        main(
            [
                "simulate",
                "heat",
                "--out",
                str(tmp_path / "h"),
                "--grid",
                "16",
                "--lam",
                "2.5",
                "--noise",
                "0",
            ]
        )
        == 0
    )
    assert load_dataset(tmp_path / "h").truth["lam"] == 2.5


def test_fit_burgers_example_config(tmp_path):
    """examples/burgers.toml on the shared PDE-FIND file (ν = 0.1, 1% added noise)."""
    if not (SHARED / "burgers.mat").is_file():
        pytest.skip(f"shared reference data not found at {SHARED}")
    out = tmp_path / "burgers"
    assert main(["fit", str(EXAMPLES / "burgers.toml"), "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "result.json").read_text())
    assert doc["metrics"]["nu"]["rel_error"] < 0.02


def test_demo_writes_results_and_prints_a_table(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--steps", "30", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "direct (weak form)" in text and "MLP + mollifier" in text
    for sub in ("data", "direct", "network"):
        assert (tmp_path / sub).is_dir()
    doc = json.loads((tmp_path / "direct" / "result.json").read_text())
    assert doc["metrics"]["lam"]["pearson"] > 0.95


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[data]\npath = 'x'\n", "missing section [problem]"),
        ("[data]\npath = 'x'\n[problem]\nbuiltin = 'heat'\n[solvr]\n", "unknown sections"),
        (
            "[data]\npath = 'x'\n[problem]\nbuiltin = 'heat'\n[solver]\nstep = 3\n",
            "[solver] (method = 'direct') has unknown keys ['step']",
        ),
        ("[data]\npath = 'x'\n[problem]\n", "exactly one of builtin"),
        ("[data]\npath = 'x'\n[problem]\nresidual = 'a.py:f'\n", "needs [problem.unknowns]"),
        ("[data\n", "not valid TOML"),
        (
            "[data]\npath = 'x'\n[problem]\nbuiltin = 'heat'\n[solver]\nmethod = 'magic'\n",
            "method must be 'direct' or 'network'",
        ),
    ],
)
def test_bad_configs_give_clear_errors(tmp_path, capsys, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    assert main(["fit", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "error" in err and message in err, err


def test_fit_reports_missing_data_file(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(
        "[data]\npath = 'nowhere.npz'\ncoords = ['x']\n[problem]\nbuiltin = 'burgers'\n"
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "nowhere.npz" in capsys.readouterr().err


def test_simulate_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "heat", "--out", "x", "--lam", "-1"])
    assert "--lam must be positive" in capsys.readouterr().err


def test_simulate_lam_sigma_zero_gives_a_constant_lambda(tmp_path):
    """An explicit ``--lam-sigma 0`` is honoured (it once silently became 0.2)."""
    out = tmp_path / "c"
    common = ["--grid", "16", "--length", "2", "--tolerance", "1e-3", "--noise", "0"]
    assert main(["simulate", "chromatin", "--out", str(out), "--lam-sigma", "0", *common]) == 0
    ds = load_dataset(out)
    assert ds.truth["lam"] == 0.5  # a constant field is stored as the scalar median
    assert json.loads((out / "meta.json").read_text())["params"]["lam"]["sigma"] == 0.0
    heat = tmp_path / "h"
    args = ["simulate", "heat", "--out", str(heat), "--grid", "12", "--refine", "1"]
    assert main([*args, "--lam-sigma", "0", "--lam-median", "2", "--noise", "0"]) == 0
    np.testing.assert_allclose(load_dataset(heat).truth["lam"], 2.0, rtol=1e-14)


def test_simulate_lambda_defaults_are_the_librarys(tmp_path, capsys):
    """Options not given come from the library's objects, and ``--help`` shows those values."""
    from mollifier import sim
    from mollifier.cli import _lambda, _parser

    parser = _parser()
    chromatin = parser.parse_args(["simulate", "chromatin", "--out", "x"])
    assert _lambda(chromatin, sim.LognormalLambda()) == sim.LognormalLambda()
    heat = parser.parse_args(["simulate", "heat", "--out", "x", "--correlation-length", "0.5"])
    assert _lambda(heat, sim.HEAT_LAMBDA) == sim.LognormalLambda(1.0, 0.3, 0.5)
    assert chromatin.tolerance is None  # → sim.Stepping()'s tolerance
    with pytest.raises(SystemExit):
        main(["simulate", "chromatin", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    d = sim.LognormalLambda()
    assert f"(default {d.median})" in text and f"(default {d.correlation_length})" in text
    assert f"(default {sim.Stepping().tolerance})" in text
    with pytest.raises(SystemExit):
        main(["simulate", "heat", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {sim.HEAT_LAMBDA.sigma})" in text
    assert f"(default {sim.HEAT_LAMBDA.correlation_length})" in text


def test_simulate_rejects_field_options_with_a_constant_lambda(tmp_path, capsys):
    args = ["simulate", "heat", "--out", str(tmp_path / "h"), "--lam", "2", "--lam-sigma", "0.1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--lam-sigma: options of the random field, given with a constant --lam" in err


def test_bench_is_handed_to_the_separate_harness(capsys):
    pytest.importorskip("mollifier_bench")
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: mollifier bench")


def test_bench_without_the_harness_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mollifier_bench", None)  # as if not installed
    assert main(["bench", "--tier", "smoke", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install ./benchmarks" in err


def test_the_library_does_not_import_the_harness():
    code = "import sys, mollifier, mollifier.cli; sys.exit('mollifier_bench' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
