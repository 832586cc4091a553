"""Localisations: validation on construction and the plausibility checks that catch bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.storm.localisations import (
    LocalisationError,
    Localisations,
    UnitError,
    length_unit_nm,
)


def test_construction_validates():
    with pytest.raises(LocalisationError, match="NaN or infinite"):
        Localisations(x=[0.0, np.nan], y=[1.0, 2.0])
    with pytest.raises(LocalisationError, match="has 1 entries, but x has 2"):
        Localisations(x=[0.0, 1.0], y=[1.0])
    with pytest.raises(LocalisationError, match="uncertainties must be positive"):
        Localisations(x=[0.0], y=[1.0], uncertainty=[0.0])
    with pytest.raises(LocalisationError, match="numeric"):
        Localisations(x=["a"], y=[1.0])


def test_units():
    assert length_unit_nm("nm") == 1.0
    assert length_unit_nm("UM") == 1000.0
    assert length_unit_nm("px", pixel_size=107.0) == 107.0
    with pytest.raises(UnitError, match="pixel size"):
        length_unit_nm("px")
    with pytest.raises(UnitError, match="unknown length unit"):
        length_unit_nm("parsec")


def _uniform(n: int, span: float) -> Localisations:
    rng = np.random.default_rng(1)
    return Localisations(x=rng.uniform(0, span, n), y=rng.uniform(0, span, n))


def test_check_analysable_rejects_empty_tiny_and_wrong_units():
    with pytest.raises(LocalisationError, match="empty"):
        Localisations(x=[], y=[]).check_analysable()
    with pytest.raises(LocalisationError, match="only 50 localisations"):
        _uniform(50, 5000.0).check_analysable()
    # A 5 µm nucleus written in µm but read as nm spans 5 "nm".
    with pytest.raises(UnitError, match=r"span only 4\.9"):
        _uniform(5000, 5.0).check_analysable()
    with pytest.raises(UnitError, match="more than any nucleus"):
        _uniform(5000, 5e6).check_analysable()
    _uniform(5000, 5000.0).check_analysable()  # a plausible nucleus passes


def test_subset_keeps_columns():
    locs = Localisations(
        x=[0.0, 1.0, 2.0], y=[3.0, 4.0, 5.0], frame=[1, 2, 3], uncertainty=[9.0, 10.0, 11.0]
    )
    sub = locs.subset(np.array([2, 2, 0]))
    np.testing.assert_array_equal(sub.x, [2.0, 2.0, 0.0])
    np.testing.assert_array_equal(sub.uncertainty, [11.0, 11.0, 9.0])
    np.testing.assert_array_equal(sub.frame, [3, 3, 1])


def test_merge_blinks_recovers_the_fluorophores():
    """Repeats of one fluorophore (geometric count, frame gaps of 1 or more) merge into one when
    linked across gaps; without repeats nothing merges."""
    from mollifier.storm.localisations import merge_blinks
    from mollifier.storm.synthetic import sample_localisations

    x = np.arange(200) * 50.0
    label = np.ones((200, 200))
    for blinking, expect_merge in ((3.0, True), (1.0, False)):
        locs, _ = sample_localisations(
            label, x, x, expected=3e4, blinking=blinking, precision=8.0, frames=20000, seed=3
        )
        merged = merge_blinks(locs, max_gap=30)
        fluorophores = locs.meta["fluorophores"]
        if expect_merge:
            assert len(locs) > 2.5 * fluorophores
            assert abs(len(merged) - fluorophores) < 0.03 * fluorophores
            assert np.median(merged.uncertainty) < np.median(locs.uncertainty)
        else:
            assert len(locs) - len(merged) < 0.01 * len(locs)
        assert merged.meta["merged_blinks"] == len(locs) - len(merged)
