"""Fit sweeps: expansion of [sweep], names, the summary, resume, failures, a local cluster."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mollifier.cli import main
from mollifier.config import ConfigError, load_config
from mollifier.sweep import load_sweep

BASE = '[data]\npath = "data"\n[problem]\nbuiltin = "heat"\n[mollifier]\nwidth = 0.3\n'


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweepdata")
    assert (
        main(["simulate", "heat", "--grid", "24", "--seed", "1", "--out", str(root / "data")]) == 0
    )
    return root


def _config(root: Path, sweep: str, name: str = "sweep.toml") -> Path:
    path = root / name
    path.write_text(BASE + '[solver]\nmethod = "direct"\n' + sweep)
    return path


def test_sweep_expands_the_product_with_readable_names(data_dir):
    sweep = load_sweep(
        _config(data_dir, '[sweep]\nnoise = [0.0, 0.02]\nseed = [0, 1]\nkernel = ["bump"]\n')
    )
    assert sweep is not None
    names = [r.name for r in sweep.runs]
    assert names == [
        "noise-0_seed-0_kernel-bump",
        "noise-0_seed-1_kernel-bump",
        "noise-0.02_seed-0_kernel-bump",
        "noise-0.02_seed-1_kernel-bump",
    ]
    last = sweep.runs[-1].config
    assert last.data.add_noise == 0.02 and last.data.noise_seed == 1 and last.solver.seed == 1
    assert last.mollifier.kernel == "bump" and last.mollifier.width == 0.3


def test_explicit_runs_and_dotted_keys(data_dir):
    sweep = load_sweep(
        _config(
            data_dir,
            '[sweep]\nruns = [{ name = "wide", width = 0.4 }, { "mollifier.boundary" = "odd" }]\n',
        )
    )
    assert [r.name for r in sweep.runs] == ["wide", "boundary-odd"]
    assert sweep.runs[0].config.mollifier.width == 0.4
    assert sweep.runs[1].config.mollifier.boundary == "odd"
    assert load_sweep(_config(data_dir, "", "plain.toml")) is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[sweep]\nnoise = 0.1\n", "must be a non-empty list"),
        ("[sweep]\nspeed = [1]\n", "unknown key 'speed'"),
        ('[sweep]\nkernel = ["nope"]\n', "run kernel-nope:"),
        ("[sweep]\nruns = 3\n", "runs must be a non-empty list"),
    ],
)
def test_bad_sweeps_are_refused_before_any_run(data_dir, table, message):
    with pytest.raises(ConfigError, match=message):
        load_sweep(_config(data_dir, table, "bad.toml"))


def test_load_config_points_a_sweep_to_load_sweep(data_dir):
    with pytest.raises(ConfigError, match="load_sweep"):
        load_config(_config(data_dir, "[sweep]\nnoise = [0.0]\n", "s.toml"))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sweep_writes_runs_summary_and_report_and_resumes(data_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    config = _config(data_dir, '[sweep]\nnoise = [0.0, 0.02]\nkernel = ["polybump", "nope"]\n')
    # "nope" is refused up front, nothing is written
    assert main(["fit", str(config), "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert not (tmp_path / "x").exists()
    config = _config(data_dir, '[sweep]\nnoise = [0.0, 0.02]\nkernel = ["polybump", "bump"]\n')
    out = tmp_path / "out"
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    rows = _rows(out / "summary.csv")
    assert [r["run"] for r in rows] == [
        "noise-0_kernel-polybump",
        "noise-0_kernel-bump",
        "noise-0.02_kernel-polybump",
        "noise-0.02_kernel-bump",
    ]
    for r in rows:
        assert r["status"] == "ok" and float(r["lam.pearson"]) > 0.5
        assert float(r["wall_time_s"]) > 0 and float(r["peak_memory_mb"]) > 0
        assert (out / r["run"] / "report.html").is_file()
    assert (out / "comparison.png").is_file()
    assert (
        "[noise-0_kernel-bump](noise-0_kernel-bump/report.html)" in (out / "summary.md").read_text()
    )
    top = (out / "report.html").read_text()
    assert all(f'href="{r["run"]}/report.html"' in top for r in rows)
    assert "error and wall time" in top and "data:image/png" in top  # comparison.png
    capsys.readouterr()
    stamp = (out / rows[0]["run"] / "result.json").stat().st_mtime_ns
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    assert "resuming" not in capsys.readouterr().out  # --quiet
    assert main(["fit", str(config), "--out", str(out)]) == 0
    assert "resuming: 4 of 4 runs already finished, skipped" in capsys.readouterr().out
    assert (out / rows[0]["run"] / "result.json").stat().st_mtime_ns == stamp


def test_a_failing_run_is_recorded_and_the_others_finish(data_dir, tmp_path, capsys):
    # width 5 is wider than the 24-node grid: that run raises, the other finishes
    config = _config(data_dir, "[sweep]\nwidth = [0.3, 5.0]\n", "fail.toml")
    out = tmp_path / "out"
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 runs failed" in err and "width-5" in err
    rows = _rows(out / "summary.csv")
    assert [r["status"] for r in rows] == ["ok", "failed"]
    only_failing = _config(data_dir, "[sweep]\nwidth = [5.0]\n", "fail1.toml")
    assert main(["fit", str(only_failing), "--out", str(tmp_path / "all"), "--quiet"]) == 1
    assert rows[1]["error"] == (out / "width-5" / "error.txt").read_text().strip()
    assert "Traceback" in (out / "width-5" / "traceback.txt").read_text()
    assert "width-5 failed: ValueError" in (out / "report.html").read_text()


def test_a_sweep_on_a_local_cluster_equals_the_serial_one(data_dir, tmp_path):
    pytest.importorskip("distributed")
    config = _config(data_dir, "[sweep]\nnoise = [0.01, 0.02]\nseed = [3]\n", "c.toml")
    assert main(["fit", str(config), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    status = main(["fit", str(config), "--out", str(tmp_path / "c"), "--quiet", "--workers", "2"])
    assert status == 0
    serial, local = _rows(tmp_path / "s" / "summary.csv"), _rows(tmp_path / "c" / "summary.csv")
    for s, c in zip(serial, local, strict=True):
        for key in s:
            if key not in ("wall_time_s", "peak_memory_mb"):
                assert s[key] == c[key], key


def test_a_rerun_with_other_settings_redoes_the_runs(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    config = _config(data_dir, "[sweep]\nnoise = [0.0]\n", "r.toml")
    assert main(["fit", str(config), "--out", str(out), "--quiet"]) == 0
    config.write_text(config.read_text().replace("width = 0.3", "width = 0.25"))
    capsys.readouterr()
    assert main(["fit", str(config), "--out", str(out)]) == 0
    assert "resuming" not in capsys.readouterr().out
    doc = json.loads((out / "noise-0" / "result.json").read_text())
    assert doc["widths"]["x"] == 0.25
