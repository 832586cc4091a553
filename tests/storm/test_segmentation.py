"""Nucleus segmentation on a synthetic disk with a nucleolus and background localisations."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.storm.density import kernel_density
from mollifier.storm.localisations import Localisations
from mollifier.storm.segmentation import segment_nucleus


def _disk_with_hole(seed: int = 0) -> Localisations:
    """Uniform chromatin (10⁴/µm²) in a 2 µm-radius disk with a 600 nm-radius hole at
    (+700, 0) nm, plus 2% background localisations over the 6 µm field of view."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(1e4 * 36.0)
    x, y = rng.uniform(-3000, 3000, (2, n))
    r = np.hypot(x, y)
    keep = (r < 2000) & (np.hypot(x - 700, y) > 600)
    nb = int(0.02 * keep.sum())
    bx, by = rng.uniform(-3000, 3000, (2, nb))
    return Localisations(x=np.r_[x[keep], bx], y=np.r_[y[keep], by])


def _truth(d) -> np.ndarray:
    X, Y = np.meshgrid(d.x, d.y, indexing="ij")
    return (np.hypot(X, Y) < 2000) & (np.hypot(X - 700, Y) > 600)


@pytest.mark.parametrize("method", ["threshold", "alpha"])
def test_segmentation_finds_the_nucleus_and_keeps_the_nucleolus(method):
    locs = _disk_with_hole()
    d = kernel_density(locs, spacing=30.0, bandwidth=15.0)
    seg = segment_nucleus(d, method=method, locs=locs)
    truth = _truth(d)
    iou = (seg.mask & truth).sum() / (seg.mask | truth).sum()
    assert iou > 0.95
    assert seg.holes == 1
    hole_centre = np.unravel_index(
        np.argmin(np.hypot(*np.meshgrid(d.x - 700, d.y, indexing="ij"))), d.shape
    )
    assert not seg.mask[hole_centre]
    # Background: 2% of the points over the whole field, about 1e4·0.02·π(2² − 0.6²)/36 per µm².
    expected_bg = 0.02 * 1e4 * np.pi * (4 - 0.36) / 36
    assert seg.background == pytest.approx(expected_bg, rel=0.25)


def test_small_holes_are_filled():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-2000, 2000, (2, 400_000))
    keep = (np.hypot(x, y) < 1800) & (np.hypot(x, y - 300) > 120)  # a 0.045 µm² hole
    d = kernel_density(Localisations(x=x[keep], y=y[keep]), spacing=30.0, bandwidth=15.0)
    seg = segment_nucleus(d, smoothing=60.0)
    assert seg.holes == 0
    assert seg.mask[np.argmin(np.abs(d.x)), np.argmin(np.abs(d.y - 300))]


def test_empty_density_is_an_error():
    d = kernel_density(Localisations(x=[0.0, 1000.0], y=[0.0, 1000.0]), spacing=30.0, bandwidth=0.0)
    d0 = type(d)(x=d.x, y=d.y, values=np.zeros(d.shape))
    with pytest.raises(ValueError, match="no nucleus to segment"):
        segment_nucleus(d0)
