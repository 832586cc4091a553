"""The synthetic STORM generator: counts, blinking, precision, frames, shapes and the truth file."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from mollifier.storm.readers import read_thunderstorm
from mollifier.storm.synthetic import nucleus_shape, sample_localisations, write_synthetic
from mollifier.storm.truth import Truth, find_truth


def test_sampling_statistics_match_the_generative_model():
    x = np.arange(101) * 20.0
    label = np.zeros((101, 101))
    label[50, 50] = 1.0  # all chromatin in one 20 nm pixel at (1000, 1000)
    locs, cols = sample_localisations(
        label,
        x,
        x,
        expected=60_000,
        blinking=3.0,
        precision=15.0,
        precision_spread=0.25,
        background=0.1,
        frames=500,
        seed=2,
    )
    fluor = locs.meta["fluorophores"]
    near = np.hypot(locs.x - 1000, locs.y - 1000) < 150
    n_chromatin = near.sum() - 0.1 * 60_000 * np.pi * 150**2 / 2020**2
    assert fluor == pytest.approx(20_000, abs=4 * math.sqrt(20_000))
    assert n_chromatin / fluor == pytest.approx(3.0, rel=0.03)  # mean blinks per fluorophore
    assert locs.meta["background"] == pytest.approx(6000, abs=4 * math.sqrt(6000))
    # Position variance per axis: E[u²] + h²/12 with u = 15 exp(0.25 ξ), E[u²] = 225 e^{0.125}.
    var = 225 * math.exp(0.125) + 20.0**2 / 12
    dx = locs.x[near] - 1000
    assert np.var(dx) == pytest.approx(var, rel=0.05)
    assert np.median(locs.uncertainty) == pytest.approx(15.0, rel=0.02)
    assert locs.frame.min() >= 1 and locs.frame.max() <= 500
    assert np.all(np.diff(locs.frame) >= 0)  # sorted by frame, as ThunderSTORM writes
    assert np.all(cols["intensity"] > 0)


def test_nucleus_shape_area_matches_the_superellipse():
    x = np.arange(-5000.0, 5000.0, 20.0)
    rng = np.random.default_rng(0)
    p, a, b = 2.4, 4000.0, 3000.0
    mask = nucleus_shape(
        x, x, size=(2 * a, 2 * b), rng=rng, squareness=p, roughness=0.0, nucleolus=False
    )
    exact = 4 * a * b * math.gamma(1 + 1 / p) ** 2 / math.gamma(1 + 2 / p)
    assert mask.sum() * 400.0 == pytest.approx(exact, rel=0.01)
    holed = nucleus_shape(
        x,
        x,
        size=(2 * a, 2 * b),
        rng=np.random.default_rng(0),
        squareness=p,
        roughness=0.0,
        nucleolus=True,
    )
    lost = (mask.sum() - holed.sum()) * 400.0
    assert np.pi * (0.10 * 6000) ** 2 <= lost <= np.pi * (0.16 * 6000) ** 2
    assert not np.any(holed & ~mask)


def test_truth_file_round_trip_and_lookup(tmp_path, small_nucleus):
    some = replace(
        small_nucleus,
        localisations=small_nucleus.localisations.subset(np.arange(5000)),
        columns={k: v[:5000] for k, v in small_nucleus.columns.items()},
    )
    csv, npz = write_synthetic(some, tmp_path, "nucleus_007")
    assert find_truth(csv) == npz
    truth = Truth.load(npz)
    np.testing.assert_array_equal(truth.lam, small_nucleus.truth.lam)
    np.testing.assert_array_equal(truth.mask, small_nucleus.truth.mask)
    assert truth.params["localisation_file"] == "nucleus_007.csv"
    back = read_thunderstorm(csv)
    np.testing.assert_allclose(back.x, some.localisations.x, atol=0.005 + 1e-9)
    # The truth grid is in nm and λ interpolates exactly at its own nodes.
    np.testing.assert_allclose(truth.lam_at(truth.x[:5], truth.y[:4]), truth.lam[:5, :4])


def test_small_nucleus_has_realistic_counts(small_nucleus):
    locs = small_nucleus.localisations
    area_um2 = small_nucleus.truth.mask.sum() * (small_nucleus.truth.x[1] * 1e-3) ** 2
    chromatin = len(locs) - locs.meta["background"]
    assert 1e5 < len(locs) < 1e6
    assert chromatin / area_um2 == pytest.approx(
        6e4 * math.pi / 4 * 3.5 * 2.975 / area_um2, rel=0.02
    )
