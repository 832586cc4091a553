"""Density estimators against known densities: a Poisson process and an exact lattice."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.storm.density import kernel_density, voronoi_areas, voronoi_density
from mollifier.storm.localisations import LocalisationError, Localisations


def _two_level(seed: int = 0) -> Localisations:
    """Poisson points on [0, 1600]² nm: 2·10⁴/µm² on the left half, 6·10⁴/µm² on the right."""
    rng = np.random.default_rng(seed)
    n_left, n_right = rng.poisson(2e4 * 1.28), rng.poisson(6e4 * 1.28)
    x = np.concatenate([rng.uniform(0, 800, n_left), rng.uniform(800, 1600, n_right)])
    y = rng.uniform(0, 1600, x.size)
    return Localisations(x=x, y=y)


@pytest.mark.parametrize("estimator", [kernel_density, voronoi_density])
def test_estimators_recover_a_two_level_density(estimator):
    locs = _two_level()
    kw = {"bandwidth": 30.0} if estimator is kernel_density else {"smoothing": 30.0}
    d = estimator(locs, spacing=40.0, **kw)
    X, Y = np.meshgrid(d.x, d.y, indexing="ij")
    inner_y = (Y > 200) & (Y < 1400)
    left = np.median(d.values[(X > 200) & (X < 600) & inner_y])
    right = np.median(d.values[(X > 1000) & (X < 1400) & inner_y])
    # Poisson error of a median over ~300 smoothed pixels is about 1.5%.
    assert left == pytest.approx(2e4, rel=0.03)
    assert right == pytest.approx(6e4, rel=0.03)


def test_kernel_density_conserves_mass():
    locs = _two_level(1)
    d = kernel_density(locs, spacing=25.0, bandwidth=20.0)
    total = d.values.sum() * (d.spacing * 1e-3) ** 2
    assert total == pytest.approx(len(locs), rel=1e-9)


def test_voronoi_areas_of_a_hexagonal_lattice():
    i, j = np.meshgrid(np.arange(20), np.arange(20))
    px, py = 7.0 * (i + 0.5 * (j % 2)).ravel(), 7.0 * (j * np.sqrt(3) / 2).ravel()
    a = voronoi_areas(px, py).reshape(i.shape)
    np.testing.assert_allclose(a[2:-2, 2:-2], 49.0 * np.sqrt(3) / 2, rtol=1e-9)
    assert np.all(np.isinf(a[0])) and np.all(np.isinf(a[:, 0]))  # hull cells are left out


def test_voronoi_needs_three_points():
    with pytest.raises(LocalisationError, match="at least 3 points"):
        voronoi_density(Localisations(x=[0.0, 1.0], y=[0.0, 1.0]))
