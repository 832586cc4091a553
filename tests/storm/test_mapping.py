"""The density → fractions mapping: exact inverse of the label model on closure states."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.sim.chromatin import ChromatinModel
from mollifier.storm.density import DensityMap
from mollifier.storm.mapping import DensityMapping, dilute_mode


def test_invert_is_the_exact_inverse_of_forward_on_closure_states():
    m = DensityMapping(contrast=2.5)
    phi_h = np.linspace(0.0, 0.7, 141)
    phi_e = m.closure_constant - m.g(phi_h)
    back_h, back_e = m.invert(m.forward(phi_h, phi_e))
    np.testing.assert_allclose(back_h, phi_h, atol=1e-12)
    np.testing.assert_allclose(back_e, phi_e, atol=1e-12)


def test_reference_phase_maps_to_the_reference_values():
    m = DensityMapping()
    h, e = m.invert(np.array([1.0]))
    assert h[0] == pytest.approx(m.phi_h_reference, abs=1e-12)
    assert e[0] == pytest.approx(m.phi_e_reference, abs=1e-12)


def test_mapping_is_monotone_beyond_the_physical_range():
    m = DensityMapping()
    rel = np.linspace(-2.0, 8.0, 2001)  # noise can go anywhere
    h, _ = m.invert(rel)
    assert np.all(np.diff(h) > 0)


def test_g_is_half_the_derivative_of_the_double_well():
    m = DensityMapping(model=ChromatinModel(phi_max=0.6))
    p = np.linspace(0.05, 0.55, 11)
    eps = 1e-6
    well = lambda q: q**2 * (0.6 - q) ** 2  # noqa: E731
    np.testing.assert_allclose(m.g(p), 0.5 * (well(p + eps) - well(p - eps)) / (2 * eps), atol=1e-8)


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="contrast must exceed"):
        DensityMapping(contrast=0.4)
    with pytest.raises(ValueError, match="phi_h_reference"):
        DensityMapping(phi_h_reference=0.8)
    with pytest.raises(ValueError, match="reference must be one of"):
        DensityMapping(reference="mean")


def test_dilute_mode_finds_the_majority_phase():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(100.0, 15.0, 40_000), rng.normal(380.0, 40.0, 10_000)])
    assert dilute_mode(v) == pytest.approx(100.0, rel=0.02)


def test_fields_on_a_two_phase_image():
    m = DensityMapping()
    x = np.arange(60) * 30.0
    dense_h = 0.6
    dense_rel = m.forward(dense_h, m.closure_constant - m.g(dense_h))
    rel = np.ones((60, 60))
    rel[20:30, 20:30] = dense_rel
    mask = np.zeros((60, 60), bool)
    mask[5:55, 5:55] = True
    values = 5000.0 * rel * mask + 40.0  # reference 5000/µm², background 40/µm²
    f = m.fields(DensityMap(x=x, y=x, values=values), mask, background=40.0)
    assert f.reference_density == pytest.approx(5000.0, rel=1e-3)
    assert f.phi_h[25, 25] == pytest.approx(dense_h, abs=1e-3)
    assert f.phi_h[10, 10] == pytest.approx(m.phi_h_reference, abs=1e-3)
    np.testing.assert_allclose(f.phi_w + f.phi_h + f.phi_e, 1.0)
    # Outside the mask the fields continue the nearest inside value.
    assert f.phi_h[0, 0] == f.phi_h[5, 5]
