"""Shared fixtures: one small seeded synthetic nucleus (simulated once per session)."""

from __future__ import annotations

import math

import pytest

from mollifier.storm.synthetic import SyntheticNucleus, SyntheticStorm, simulate_storm

#: A scaled-down nucleus (3.5 µm instead of ~10 µm) at a realistic localisation density
#: (6·10⁴ per µm², about 5·10⁵ localisations) and precision (15 nm).
SMALL = SyntheticStorm(
    size=(3500.0, 2975.0),
    localisations=6.0e4 * math.pi / 4 * 3.5 * 2.975,
    nucleolus=False,
    tolerance=1e-4,
    lam_sigma=0.35,
    lam_correlation=900.0,
    margin=400.0,
)


@pytest.fixture(scope="session")
def small_nucleus() -> SyntheticNucleus:
    return simulate_storm(SMALL, seed=1)
