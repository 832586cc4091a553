"""The quality gate: thinned nuclei below the derived bound are unreliable, above it ok with
a λ map that matches the truth; an item with negative λ̂ is never ok."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mollifier.storm.inference import InferenceConfig
from mollifier.storm.options import StormConfig
from mollifier.storm.pipeline import analyse_nucleus
from mollifier.storm.quality import QualityGate, assess, density_bound
from mollifier.storm.synthetic import observe

from .conftest import SMALL

CFG = StormConfig(inference=InferenceConfig(width=450.0))


@pytest.fixture(scope="module")
def above(small_nucleus):
    return analyse_nucleus(small_nucleus.localisations, config=CFG, truth=small_nucleus.truth)


def test_bound_is_the_propagated_counting_noise():
    """The bound scales as 1/tolerance² and with the Fano factor 2b − 1, and falls with the
    kernel width (wider kernels average more counts)."""
    kw = {"spacing": 30.0, "length_scale": 300.0}
    b = density_bound(width=450.0, **kw)
    assert density_bound(width=450.0, tolerance=0.125, **kw) == pytest.approx(4 * b)
    assert density_bound(width=450.0, blinking=1.0, **kw) == pytest.approx(b / 5)
    assert density_bound(width=600.0, **kw) < b < density_bound(width=300.0, **kw)


def test_thinned_nucleus_is_unreliable_below_the_bound_and_ok_above(small_nucleus, above):
    assert above.quality is not None and above.metrics is not None
    checks = above.quality.checks
    assert checks["density_per_um2"] > checks["density_bound_per_um2"]
    assert above.quality.status == "ok", above.quality.reasons
    assert above.metrics["pearson"] >= 0.8
    truth = small_nucleus.truth
    area = float(truth.mask.sum()) * float(truth.x[1] - truth.x[0]) ** 2 * 1e-6
    thin = observe(truth, replace(SMALL, localisations=8e3 * area), seed=5)
    a = analyse_nucleus(thin.localisations, config=CFG, truth=thin.truth)
    assert a.quality is not None
    assert a.quality.checks["density_per_um2"] < a.quality.checks["density_bound_per_um2"]
    assert a.quality.status == "unreliable"
    assert any("localisations/µm² in the nucleus, below" in r for r in a.quality.reasons)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fraction=st.floats(0.5, 1.0), seed=st.integers(0, 2**31 - 1))
def test_majority_non_positive_is_never_ok(above, fraction, seed):
    """Whatever the density and the other checks say, a majority of non-positive nodes (or a
    non-positive median) is ``failed``."""
    lam = above.lam.lam.copy()
    idx = np.flatnonzero(above.lam.valid)
    rng = np.random.default_rng(seed)
    flip = rng.choice(idx, int(np.ceil(fraction * idx.size)), replace=False)
    lam.flat[flip] = -np.abs(lam.flat[flip]) * rng.uniform(0, 2, flip.size)
    bad = replace(above, lam=replace(above.lam, lam=lam))
    q = assess(bad, QualityGate())
    assert q.status == "failed"
    assert any("non-positive" in r or "not positive" in r for r in q.reasons)


def test_gate_thresholds_are_validated():
    with pytest.raises(ValueError, match="tolerance"):
        QualityGate(tolerance=0.0)
    with pytest.raises(ValueError, match="max_nonpositive_fraction"):
        QualityGate(max_nonpositive_fraction=1.5)
