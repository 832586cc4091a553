"""A synthetic field of view: three nuclei, two channels, each nucleus its own item."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from mollifier.storm.batch import run_batch
from mollifier.storm.cli import add_simulate_storm_parser, run_simulate_storm
from mollifier.storm.inference import InferenceConfig
from mollifier.storm.localisations import LocalisationError
from mollifier.storm.options import StormConfig
from mollifier.storm.readers import read_storm_input
from mollifier.storm.synthetic import CHROMATIN_CHANNEL, ENVELOPE_CHANNEL

from .conftest import SMALL


@pytest.fixture(scope="module")
def field_file(tmp_path_factory):
    """``mollifier simulate storm --field --nuclei 3`` with the small nuclei of conftest."""
    out = tmp_path_factory.mktemp("field")
    parser = argparse.ArgumentParser()
    add_simulate_storm_parser(parser.add_subparsers(dest="system"))
    args = parser.parse_args(
        [
            *("storm", "--out", str(out), "--field", "--nuclei", "3", "--seed", "11"),
            *("--size", str(SMALL.size[0]), str(SMALL.size[1]), "--no-nucleolus", "--quiet"),
            *("--localisations", str(SMALL.localisations), "--lam-sigma", str(SMALL.lam_sigma)),
            *("--lam-correlation", str(SMALL.lam_correlation)),
        ]
    )
    assert run_simulate_storm(args) == 0
    return out / "nucleus_000.txt"


def test_field_gives_one_item_per_nucleus_with_the_right_channel(field_file, tmp_path):
    locs = read_storm_input(field_file)  # an N-STORM export, both channels
    counts = locs.channels()
    assert set(counts) == {CHROMATIN_CHANNEL, ENVELOPE_CHANNEL}
    cfg = StormConfig(inference=InferenceConfig(width=450.0))
    # Without --channel a two-channel file is an error listing the channels and counts.
    with pytest.raises(LocalisationError) as err:
        locs.select_channel(None)
    assert f"'{CHROMATIN_CHANNEL}' ({counts[CHROMATIN_CHANNEL]} localisations)" in str(err.value)
    assert field_file.name in str(err.value)
    rows = run_batch(
        [field_file],
        out=tmp_path / "out",
        config=cfg,
        channel=CHROMATIN_CHANNEL,
        progress=False,
    )
    assert [r["name"] for r in rows] == [f"nucleus_000#{k}" for k in (1, 2, 3)]
    for r in rows:
        assert r["status"] == "ok", r["reasons"]
        assert r["pearson"] >= 0.8  # each nucleus against its own truth
        assert abs(r["median_error"]) <= 0.15
        # Only the chromatin channel was analysed: the density is that of 6·10⁴/µm².
        assert 3e4 < r["density_per_um2"] < 9e4
    assert (tmp_path / "out" / "nucleus_000#2" / "overview.png").is_file()
    # --nucleus picks one; the envelope channel can segment the nuclei instead.
    one = run_batch(
        [field_file],
        out=tmp_path / "one",
        config=StormConfig(inference=InferenceConfig(width=450.0), nucleus=2),
        channel=CHROMATIN_CHANNEL,
        mask_channel=ENVELOPE_CHANNEL,
        figures=False,
        progress=False,
    )
    assert [r["name"] for r in one] == ["nucleus_000#2"]
    assert one[0]["pearson"] >= 0.8
    np.testing.assert_allclose(one[0]["area_um2"], rows[1]["area_um2"], rtol=0.1)
