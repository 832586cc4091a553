"""``mollifier simulate`` and ``mollifier storm``: refused inputs exit 2 within a second, name the
option or file at fault, and write nothing to ``--out``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.bad_inputs.conftest import assert_refused, run_cli

SIMULATE_CASES: list[tuple[str, list[str], list[str]]] = [
    ("heat-grid-memory", ["heat", "--grid", "100000"], ["--grid", "memory"]),
    ("heat-refine-memory", ["heat", "--grid", "64", "--refine", "100000"], ["--refine", "memory"]),
    ("langevin-grid-work", ["langevin", "--grid", "100000"], ["--grid", "particle steps"]),
    ("langevin-particles-work", ["langevin", "--particles", "10000000"], ["--particles"]),
    ("heat3d-grid-memory", ["heat3d", "--grid", "100000"], ["--grid", "memory"]),
    ("heat3d-form-unknown", ["heat3d", "--form", "transient"], ["--form", "'transient'"]),
    ("chromatin-grid-memory", ["chromatin", "--grid", "1000000"], ["--grid", "memory"]),
    ("noise-negative", ["heat", "--noise", "-0.1"], ["--noise", "-0.1"]),
    ("noise-nan", ["heat", "--noise", "nan"], ["--noise", "nan"]),
    ("noise-word", ["langevin", "--noise", "lots"], ["--noise", "'lots'"]),
    ("grid-zero", ["heat", "--grid", "0"], ["--grid", "0"]),
    ("grid-float", ["chromatin", "--grid", "1.5"], ["--grid", "'1.5'"]),
    ("particles-zero", ["langevin", "--particles", "0"], ["--particles"]),
    ("refine-zero", ["heat", "--refine", "0"], ["--refine"]),
    ("lam-negative", ["heat", "--lam", "-1"], ["--lam"]),
    ("lam-word", ["heat", "--lam", "big"], ["--lam", "'big'"]),
    (
        "lam-options-with-constant",
        ["chromatin", "--lam", "1", "--lam-sigma", "0.3"],
        ["--lam-sigma"],
    ),
    ("form-unknown", ["heat", "--form", "wavy"], ["--form", "'wavy'"]),
    ("forcing-unknown", ["langevin", "--forcing", "chaos"], ["--forcing"]),
    ("system-unknown", ["poisson"], ["'poisson'"]),
]


@pytest.mark.parametrize(
    ("argv", "names"), [c[1:] for c in SIMULATE_CASES], ids=[c[0] for c in SIMULATE_CASES]
)
def test_bad_simulate_is_refused(tmp_path, capsys, argv, names):
    out = tmp_path / "out"
    assert_refused(run_cli(["simulate", *argv, "--out", str(out)], capsys), names=names, out=out)


def test_simulate_out_is_a_file(tmp_path, capsys):
    out = tmp_path / "taken.npz"
    out.write_bytes(b"keep")
    result = run_cli(["simulate", "heat", "--grid", "8", "--out", str(out)], capsys)
    assert_refused(result, names=["--out", "existing file"], out=None)
    assert out.read_bytes() == b"keep"


def test_small_simulation_still_runs(tmp_path, capsys):
    """The guards refuse only what cannot be served: a small run writes its dataset."""
    result = run_cli(
        ["simulate", "heat", "--grid", "12", "--refine", "1", "--out", str(tmp_path)], capsys
    )
    assert result.code == 0, result.err
    assert (tmp_path / "data.npz").is_file()


# --- storm -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def localisations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ThunderSTORM-style table (too small to analyse, but well formed)."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("storm") / "nucleus.csv"
    xy = rng.uniform(0, 5000, size=(600, 2))
    rows = [f"{i},{i},{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy)]
    path.write_text("id,frame,x [nm],y [nm]\n" + "\n".join(rows) + "\n")
    return path


STORM_CASES: list[tuple[str, list[str], list[str]]] = [
    ("unit-unknown", ["--unit", "furlong"], ["--unit", "furlong"]),
    ("unit-px-without-size", ["--unit", "px"], ["--unit", "pixel"]),
    ("pixel-size-negative", ["--pixel-size", "-3"], ["--pixel-size", "-3"]),
    ("grid-spacing-negative", ["--grid-spacing", "-1"], ["--grid-spacing"]),
    ("length-scale-nan", ["--length-scale", "nan"], ["--length-scale", "nan"]),
    ("width-negative", ["--width", "-2"], ["--width"]),
    ("conditions-mismatch", ["--condition", "a", "b"], ["condition"]),
    ("replicates-zero", ["--uncertainty", "bootstrap", "--replicates", "0"], ["replicates"]),
    ("kind-unknown", ["--kind", "excel"], ["--kind", "'excel'"]),
    ("density-unknown", ["--density", "histogram"], ["--density"]),
]


@pytest.mark.parametrize(
    ("options", "names"), [c[1:] for c in STORM_CASES], ids=[c[0] for c in STORM_CASES]
)
def test_bad_storm_is_refused(tmp_path, capsys, localisations, options, names):
    out = tmp_path / "out"
    argv = ["storm", str(localisations), "--out", str(out), "--quiet", "--no-figures", *options]
    assert_refused(run_cli(argv, capsys), names=names, out=out)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_storm_cuda_without_a_cuda_device(tmp_path, capsys, localisations):
    out = tmp_path / "out"
    argv = [
        "storm",
        str(localisations),
        "--out",
        str(out),
        "--method",
        "network",
        "--device",
        "cuda",
    ]
    assert_refused(
        run_cli(argv, capsys), names=["--device", "no CUDA device", "--device cpu"], out=out
    )


def test_storm_missing_input(tmp_path, capsys):
    out = tmp_path / "out"
    result = run_cli(["storm", str(tmp_path / "gone.csv"), "--out", str(out)], capsys)
    assert_refused(result, names=["gone.csv", "not found"], out=out)


def test_storm_out_under_a_file(tmp_path, capsys, localisations):
    out = localisations / "out"
    assert_refused(
        run_cli(["storm", str(localisations), "--out", str(out)], capsys),
        names=["--out", "which is a file"],
        out=None,
    )


def _failure(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> str:
    """A nucleus the batch cannot read: exit 1 (the batch records it and goes on), its line."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    result = run_cli(
        ["storm", str(path), "--out", str(tmp_path / "o"), "--quiet", "--no-figures"], capsys
    )
    assert result.code == 1, result.err
    return result.err


def test_storm_table_without_unit_names_the_option(tmp_path, capsys):
    rows = "\n".join(f"{i},{i},{i * 3.0},{i * 2.0}" for i in range(20))
    err = _failure(tmp_path, capsys, "id,frame,x,y\n" + rows + "\n")
    assert "--unit" in err and "bad.csv" in err


def test_storm_bad_cell_is_reported_at_its_file_line(tmp_path, capsys):
    rows = [f"{i},{i},{i * 3.0},{i * 2.0}" for i in range(600)]
    rows[499] = "499,499,abc,12.0"  # file line 501: the header is line 1
    err = _failure(tmp_path, capsys, "id,frame,x [nm],y [nm]\n" + "\n".join(rows) + "\n")
    assert "line 501" in err and "'abc'" in err
