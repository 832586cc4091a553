"""λ̂ on a nucleus: no leakage across the mask edge, recovery on model data, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.storm.calibration import reference_state
from mollifier.storm.inference import (
    InferenceConfig,
    NucleusTooSmallError,
    infer_lambda,
    smooth_to_kernel,
    valid_region,
)
from mollifier.storm.mapping import ChromatinFields, DensityMapping

LENGTH_SCALE = 300.0


def _fields(radius_nm: float, *, garbage_outside: bool = False) -> ChromatinFields:
    """The model's reference steady state (λ = 0.5) on 31.25 nm pixels, inside a disk."""
    phi_h, phi_e, xu = reference_state()
    x = xu * LENGTH_SCALE
    X, Y = np.meshgrid(x - x.mean(), x - x.mean(), indexing="ij")
    mask = np.hypot(X, Y) < radius_nm
    if garbage_outside:
        rng = np.random.default_rng(5)
        phi_h = np.where(mask, phi_h, rng.uniform(-1, 2, phi_h.shape))
        phi_e = np.where(mask, phi_e, rng.uniform(-1, 2, phi_e.shape))
    return ChromatinFields(
        x=x,
        y=x.copy(),
        phi_h=phi_h,
        phi_e=phi_e,
        mask=mask,
        relative_density=np.where(mask, 1.0, np.nan),
        reference_density=1.0,
        background=0.0,
        mapping=DensityMapping(),
    )


def test_no_leakage_from_outside_the_mask_and_recovery_on_model_data():
    cfg = InferenceConfig(width=450.0)
    clean = infer_lambda(_fields(1300.0), length_scale=LENGTH_SCALE, config=cfg)
    dirty = infer_lambda(
        _fields(1300.0, garbage_outside=True), length_scale=LENGTH_SCALE, config=cfg
    )
    assert clean.valid.sum() > 300
    np.testing.assert_array_equal(clean.valid, dirty.valid)
    np.testing.assert_allclose(
        dirty.lam[dirty.valid], clean.lam[clean.valid], rtol=1e-10, atol=1e-12
    )
    # Reported nodes are exactly the mask eroded by the stencil radius.
    np.testing.assert_array_equal(clean.valid, valid_region(_fields(1300.0).mask, clean.radius))
    assert clean.radius == int(np.ceil(450.0 / 31.25)) + 3
    # The steady state has λ = 0.5 everywhere; the mollified estimate recovers it.
    assert np.median(clean.lam[clean.valid]) == pytest.approx(0.5, abs=0.01)
    assert np.median(clean.smoothed[clean.valid]) == pytest.approx(0.5, abs=0.01)


def test_nucleus_smaller_than_the_kernel_is_a_clear_error():
    with pytest.raises(NucleusTooSmallError, match="too small for the kernel"):
        infer_lambda(_fields(500.0), length_scale=LENGTH_SCALE, config=InferenceConfig(width=450.0))
    with pytest.raises(ValueError, match="below the kernel's minimum"):
        infer_lambda(_fields(1300.0), length_scale=LENGTH_SCALE, config=InferenceConfig(width=40.0))


def test_smoothing_reproduces_linear_fields():
    x = np.arange(80) * 10.0
    X, Y = np.meshgrid(x, x, indexing="ij")
    valid = np.hypot(X - 400, Y - 400) < 300
    field = 0.3 + 1e-3 * X - 2e-3 * Y
    out = smooth_to_kernel(field, valid, spacing=10.0, width=60.0)
    deep = valid_region(valid, 9)  # nodes whose whole kernel lies in the valid set
    np.testing.assert_allclose(out[deep], field[deep], atol=1e-12)
    assert np.all(np.isnan(out[~valid]))


def test_network_solver_runs_on_the_mask():
    cfg = InferenceConfig(
        width=250.0, method="network", network=ml.Network(steps=5, arch=ml.MLP(hidden=16, depth=2))
    )
    lam = infer_lambda(_fields(750.0), length_scale=LENGTH_SCALE, config=cfg)
    assert lam.method == "network"
    assert lam.valid.sum() > 50
    assert np.all(np.isfinite(lam.lam[lam.valid]))
    assert np.all(np.isnan(lam.lam[~lam.valid]))
