"""Noise models and observation masks: statistics over seeded draws, round trips, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mollifier.sim.noise import (
    GaussianNoise,
    NoNoise,
    OutlierNoise,
    PoissonNoise,
    block_mask,
    noise_from_dict,
    random_mask,
    strided_mask,
)


def _field(shape: tuple[int, ...] = (300, 200)) -> np.ndarray:
    x, y = np.meshgrid(*(np.linspace(0, 3, n) for n in shape), indexing="ij")
    return 2.0 + np.sin(2 * x) * np.cos(y) + 0.5 * x


@pytest.mark.parametrize("level", [0.01, 0.1])
def test_gaussian_noise_has_the_stated_std_relative_to_the_field(level: float) -> None:
    clean = _field()
    noisy = GaussianNoise(level).apply(clean, np.random.default_rng(0))
    resid = noisy - clean
    # 60 000 i.i.d. draws: the sample std is within ~0.3% (1 sigma) of the truth.
    assert resid.std() / (level * clean.std()) == pytest.approx(1.0, abs=0.015)
    assert abs(resid.mean()) < 4 * level * clean.std() / math.sqrt(clean.size)
    # white: neighbouring residuals are uncorrelated
    corr = np.corrcoef(resid[1:].ravel(), resid[:-1].ravel())[0, 1]
    assert abs(corr) < 4 / math.sqrt(clean.size)


def test_noise_is_reproducible_from_the_seed() -> None:
    clean = _field((40, 30))
    for model in (GaussianNoise(0.05), PoissonNoise(100.0), OutlierNoise(0.1, 3.0)):
        a = model.apply(clean, np.random.default_rng(7))
        b = model.apply(clean, np.random.default_rng(7))
        c = model.apply(clean, np.random.default_rng(8))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    np.testing.assert_array_equal(NoNoise().apply(clean, np.random.default_rng(0)), clean)
    np.testing.assert_array_equal(GaussianNoise(0.0).apply(clean, np.random.default_rng(0)), clean)


@pytest.mark.parametrize("counts", [20.0, 500.0])
def test_poisson_noise_is_unbiased_with_variance_clean_times_max_over_counts(
    counts: float,
) -> None:
    clean = np.linspace(0.0, 4.0, 41)
    draws = 20_000
    # One array holding `draws` copies has the same maximum, so each row is one draw.
    noisy = PoissonNoise(counts).apply(np.tile(clean, (draws, 1)), np.random.default_rng(1))
    expected_var = clean * clean.max() / counts
    se_mean = np.sqrt(expected_var / draws)
    assert np.all(np.abs(noisy.mean(axis=0) - clean) <= 5 * se_mean + 1e-12)
    ratio = noisy.var(axis=0)[1:] / expected_var[1:]
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)
    # per node: relative sd of a 20 000-draw variance is sqrt((2 + 1/mean) / 20 000) <= 1.5%
    assert np.all(np.abs(ratio - 1) < 0.08)
    assert noisy[:, 0].max() == 0.0  # zero intensity gives no events
    np.testing.assert_array_equal(
        PoissonNoise(10.0).apply(np.zeros(5), np.random.default_rng(0)), np.zeros(5)
    )


def test_outlier_noise_shifts_exactly_the_stated_fraction_by_bounded_amounts() -> None:
    clean = _field((50, 40))
    noisy = OutlierNoise(0.05, 4.0).apply(clean, np.random.default_rng(2))
    diff = noisy - clean
    hit = diff != 0
    assert hit.sum() == round(0.05 * clean.size)
    mag = np.abs(diff[hit]) / (4.0 * clean.std())
    assert mag.min() >= 0.5 and mag.max() <= 1.5
    signs = np.sign(diff[hit])
    assert 0.3 < np.mean(signs > 0) < 0.7


def test_outlier_noise_on_top_of_a_base_model_reuses_the_base_draw() -> None:
    clean = _field((50, 40))
    base = GaussianNoise(0.01)
    noisy = OutlierNoise(0.1, 5.0, base=base).apply(clean, np.random.default_rng(3))
    base_only = base.apply(clean, np.random.default_rng(3))  # same stream, drawn first
    moved = ~np.isclose(noisy, base_only, rtol=0, atol=1e-12)
    assert moved.sum() == round(0.1 * clean.size)
    off = np.abs(noisy - base_only)[moved] / (5.0 * clean.std())
    assert off.min() >= 0.5 - 1e-12 and off.max() <= 1.5 + 1e-12


@pytest.mark.parametrize(
    "model",
    [
        NoNoise(),
        GaussianNoise(0.01),
        PoissonNoise(250.0),
        OutlierNoise(0.02, 3.0),
        OutlierNoise(0.02, 3.0, base=PoissonNoise(100.0)),
        OutlierNoise(0.5, 1.0, base=OutlierNoise(0.1, 2.0, base=GaussianNoise(0.2))),
    ],
)
def test_describe_round_trips_through_json(model: object) -> None:
    d = model.describe()  # type: ignore[attr-defined]
    assert noise_from_dict(json.loads(json.dumps(d))) == model


def test_gaussian_description_names_level_and_reference() -> None:
    assert GaussianNoise(0.01).describe() == {
        "model": "gaussian",
        "level": 0.01,
        "relative_to": "std",
    }


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GaussianNoise(-0.1), "level"),
        (lambda: GaussianNoise(float("nan")), "level"),
        (lambda: PoissonNoise(0.0), "counts"),
        (lambda: OutlierNoise(1.5, 1.0), "fraction"),
        (lambda: OutlierNoise(-0.1, 1.0), "fraction"),
        (lambda: OutlierNoise(0.1, -1.0), "scale"),
        (lambda: OutlierNoise(0.1, 1.0, base="gaussian"), "base"),  # type: ignore[arg-type]
        (lambda: noise_from_dict({"model": "laplace"}), "unknown noise model"),
        (lambda: noise_from_dict({"model": "gaussian", "sigma": 0.1}), "unknown keys"),
        (lambda: noise_from_dict({"model": "gaussian"}), "missing"),
        (
            lambda: noise_from_dict({"model": "gaussian", "level": 0.1, "relative_to": "max"}),
            "relative to",
        ),
        (lambda: noise_from_dict({"level": 0.1}), "model"),
    ],
)
def test_invalid_configurations_raise_clear_errors(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_invalid_fields_raise_clear_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-negative"):
        PoissonNoise(10.0).apply(np.array([1.0, -0.5]), rng)
    with pytest.raises(ValueError, match="constant field"):
        GaussianNoise(0.01).apply(np.ones(10), rng)
    with pytest.raises(ValueError, match="NaN"):
        GaussianNoise(0.01).apply(np.array([0.0, np.nan]), rng)


def test_random_mask_observes_an_exact_seeded_fraction() -> None:
    m = random_mask((64, 48), fraction=0.25, rng=np.random.default_rng(4))
    assert m.dtype == bool and m.shape == (64, 48)
    assert m.sum() == round(0.25 * 64 * 48)
    again = random_mask((64, 48), fraction=0.25, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(m, again)
    # uniform placement: each quadrant holds about a quarter of the observed nodes
    quads = [m[:32, :24].sum(), m[32:, :24].sum(), m[:32, 24:].sum(), m[32:, 24:].sum()]
    assert max(abs(q / m.sum() - 0.25) for q in quads) < 0.05


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 12), min_size=1, max_size=3),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_random_mask_count_property(shape: list[int], fraction: float, seed: int) -> None:
    m = random_mask(shape, fraction=fraction, rng=np.random.default_rng(seed))
    assert m.shape == tuple(shape) and m.sum() == round(fraction * math.prod(shape))


def test_strided_mask_marks_multiples_of_the_stride() -> None:
    m = strided_mask((10, 7), stride=(3, 2))
    i, j = np.meshgrid(np.arange(10), np.arange(7), indexing="ij")
    np.testing.assert_array_equal(m, (i % 3 == 0) & (j % 2 == 0))
    assert strided_mask((9, 9), stride=4).sum() == 9
    with pytest.raises(ValueError, match="stride"):
        strided_mask((5, 5), stride=0)
    with pytest.raises(ValueError, match="one entry per axis"):
        strided_mask((5, 5), stride=(1, 2, 3))


def test_block_mask_removes_one_rectangle() -> None:
    m = block_mask((20, 15), size=(4, 6), start=(3, 5))
    assert (~m).sum() == 24
    assert not m[3:7, 5:11].any() and m[:3].all() and m[7:].all()
    r = block_mask((20, 15), size=(4, 6), rng=np.random.default_rng(5))
    assert (~r).sum() == 24
    rows, cols = np.nonzero(~r)
    assert np.ptp(rows) == 3 and np.ptp(cols) == 5
    starts = {
        tuple(np.argwhere(~block_mask((20, 15), size=2, rng=np.random.default_rng(s)))[0])
        for s in range(20)
    }
    assert len(starts) > 10  # placement is random across seeds
    with pytest.raises(ValueError, match="exactly one"):
        block_mask((5, 5), size=2)
    with pytest.raises(ValueError, match="does not fit"):
        block_mask((5, 5), size=3, start=(3, 0))
    with pytest.raises(ValueError, match="block size"):
        block_mask((5, 5), size=6, start=(0, 0))
