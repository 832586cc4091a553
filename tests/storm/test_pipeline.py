"""End to end: a seeded synthetic nucleus through the whole pipeline, the CLI, and bad inputs."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from mollifier.storm.cli import (
    add_simulate_storm_parser,
    add_storm_parser,
    run_simulate_storm,
    run_storm,
)
from mollifier.storm.inference import InferenceConfig, NucleusTooSmallError
from mollifier.storm.localisations import LocalisationError, Localisations, UnitError
from mollifier.storm.options import StormConfig
from mollifier.storm.output import nucleus_row
from mollifier.storm.pipeline import analyse_nucleus


def test_synthetic_nucleus_lambda_is_recovered(small_nucleus):
    """Done criterion at reduced size: r >= 0.8 of the smoothed λ̂ against the true λ in the
    nucleus interior and the median within 10% (full size: benchmarks/RESULTS.md § 7); plus a
    bootstrap uncertainty map."""
    cfg = StormConfig(inference=InferenceConfig(width=450.0), uncertainty="bootstrap", replicates=2)
    a = analyse_nucleus(small_nucleus.localisations, config=cfg, truth=small_nucleus.truth)
    assert a.metrics is not None
    assert a.metrics["pearson"] >= 0.8
    assert abs(a.metrics["median_error"]) <= 0.10
    assert a.metrics["nodes"] > 2000
    # The domains are the model's: diameter about 0.55 and spacing about 1.1 model units.
    assert 100.0 < a.domains.diameter_nm < 250.0
    assert 250.0 < a.domains.spacing_nm < 420.0
    assert a.lognormal is not None and 0.3 < a.lognormal.median < 0.8
    assert a.uncertainty is not None
    sd = a.uncertainty[a.lam.valid]
    assert np.all(np.isfinite(sd)) and np.median(sd) > 0
    # Resampling noise is a small fraction of λ at 5·10⁵ localisations.
    assert np.median(sd) < 0.2 * np.median(a.lam.values())
    assert math.isnan(a.uncertainty[~a.lam.valid][0])
    # each replicate's median of the raw λ̂, and their spread in the summary row
    assert a.median_replicates is not None and a.median_replicates.shape == (2,)
    assert np.all(np.abs(a.median_replicates / np.median(a.lam.values(smoothed=False)) - 1) < 0.2)
    row = nucleus_row(a)
    assert row["lambda_median_sd"] == pytest.approx(np.std(a.median_replicates, ddof=1))


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mollifier")
    sub = parser.add_subparsers(dest="command")
    add_storm_parser(sub)
    simulate = sub.add_parser("simulate")
    add_simulate_storm_parser(simulate.add_subparsers(dest="system"))
    return parser.parse_args(argv)


def test_cli_simulate_then_analyse_with_a_bad_input(tmp_path, capsys):
    sim_dir, out = tmp_path / "sim", tmp_path / "out"
    args = _parse(
        [
            "simulate",
            "storm",
            "--out",
            str(sim_dir),
            "--seed",
            "4",
            "--size",
            "2400",
            "2000",
            "--localisations",
            "1.5e5",
            "--no-nucleolus",
            "--quiet",
        ]
    )
    assert run_simulate_storm(args) == 0
    csv = sim_dir / "nucleus_000.csv"
    assert (sim_dir / "nucleus_000.truth.npz").is_file()
    empty = tmp_path / "empty.csv"
    empty.write_text('"id","frame","x [nm]","y [nm]","uncertainty [nm]"\n')
    args = _parse(
        [
            "storm",
            str(csv),
            str(empty),
            "--out",
            str(out),
            "--condition",
            "control",
            "treated",
            "--width",
            "300",
            "--quiet",
        ]
    )
    assert run_storm(args) == 1  # one nucleus failed
    err = capsys.readouterr().err
    assert "FAILED: LocalisationError" in err and "the localisation table is empty" in err
    doc = json.loads((out / "nucleus_000" / "result.json").read_text())
    assert set(doc["metrics"]) >= {"pearson", "median_rel_error"}
    assert doc["metrics"]["nodes"] > 100
    assert doc["condition"] == "control"
    for name in (
        "fields.npz",
        "lambda.npz",
        "domains.csv",
        "overview.png",
        "lambda.png",
        "histogram.png",
    ):
        assert (out / "nucleus_000" / name).is_file()
    lines = (out / "summary.csv").read_text().splitlines()
    # 4·10⁴ localisations/µm² are far below what a 300 nm kernel needs: kept, but flagged.
    assert len(lines) == 3 and lines[1].startswith("nucleus_000,control,unreliable,")
    assert "localisations/µm² in the nucleus, below the" in lines[1]
    assert doc["quality"]["status"] == "unreliable"
    assert lines[2].startswith("empty,treated,failed")
    # Unreliable items stay out of the comparison unless --include-unreliable.
    assert len((out / "comparison.csv").read_text().splitlines()) == 1
    assert not (out / "comparison.png").exists()


def test_bad_inputs_give_clear_errors(small_nucleus):
    cfg = StormConfig(twin=False, inference=InferenceConfig(width=450.0))
    with pytest.raises(LocalisationError, match="empty"):
        analyse_nucleus(Localisations(x=[], y=[]), config=cfg)
    rng = np.random.default_rng(0)
    tiny = Localisations(x=rng.uniform(0, 3000, 200), y=rng.uniform(0, 3000, 200))
    with pytest.raises(LocalisationError, match="only 200 localisations"):
        analyse_nucleus(tiny, config=cfg)
    locs = small_nucleus.localisations
    in_um = Localisations(x=locs.x * 1e-3, y=locs.y * 1e-3)  # µm read as nm
    with pytest.raises(UnitError, match="µm or camera pixels"):
        analyse_nucleus(in_um, config=cfg)
    huge = StormConfig(twin=False, inference=InferenceConfig(width=1500.0))
    with pytest.raises(NucleusTooSmallError, match="too small for the kernel"):
        analyse_nucleus(locs, config=huge)


def test_bootstrap_replicates_on_a_grid_other_than_the_data_grid(small_nucleus):
    """A replicate that misses the outermost localisation has a smaller density grid; its
    density is placed on the data's grid (it failed with a shape mismatch before)."""
    locs = small_nucleus.localisations
    far = Localisations(
        x=np.r_[locs.x, locs.x.max() + 2000.0],
        y=np.r_[locs.y, locs.y.max() + 2000.0],
        frame=np.r_[locs.frame, 1.0],
        uncertainty=np.r_[locs.uncertainty, 15.0],
    )
    cfg = StormConfig(
        twin=False, inference=InferenceConfig(width=450.0), uncertainty="bootstrap", replicates=3
    )
    a = analyse_nucleus(far, config=cfg)
    assert a.uncertainty is not None
    assert np.all(np.isfinite(a.uncertainty[a.lam.valid]))
