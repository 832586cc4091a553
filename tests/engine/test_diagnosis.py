"""The fit diagnosis: data misfit against the noise, residual against its scale, loss balance.

The array-level tests build fits with known variances exactly (no Monte-Carlo): the noise and
the misfit are scaled to their mean squares, and the misfit is made orthogonal to the noise, so
the ratio is known in closed form. The end-to-end tests train networks on heat 32².
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import mollifier as ml
from mollifier.inverse.diagnosis import (
    DATA_NOT_FITTED,
    NOISE_FLOOR,
    RESIDUAL_NOT_FITTED,
    data_diagnosis,
    field_noise_std,
    fit_reasons,
    loss_balance,
    residual_diagnosis,
)
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, simulate_heat


def _unit(v: np.ndarray) -> np.ndarray:
    """``v`` centred and scaled to mean square 1."""
    v = v - v.mean()
    return v / np.sqrt(np.mean(v**2))


@pytest.fixture(scope="module")
def parts():
    """A smooth field, white noise of mean square exactly σ², and a smooth misfit of mean square
    1 orthogonal to the noise (so ``mean((ε + a g)²) = σ² + a²`` exactly)."""
    x, y = np.meshgrid(np.linspace(0, 1, 64), np.linspace(0, 1, 64), indexing="ij")
    signal = np.sin(3 * x) * np.cos(2 * y) + x * y
    rng = np.random.default_rng(0)
    sigma = 0.05
    noise = sigma * _unit(rng.standard_normal(signal.shape))
    g = _unit(np.cos(5 * x + y))
    g = _unit(g - np.sum(g * noise) / np.sum(noise * noise) * noise)
    assert abs(np.sum(g * noise)) < 1e-12
    return signal, noise, g, sigma


@pytest.mark.parametrize(
    ("bias2", "verdict"),
    [
        (0.0, "fitted"),
        (3.5, "fitted"),
        (6.0, "partly fitted"),
        (18.0, "partly fitted"),
        (25.0, "not fitted"),
        (400.0, "not fitted"),
    ],
)
def test_a_misfit_of_known_size_gets_its_exact_ratio_and_verdict(parts, bias2, verdict):
    """Network output = truth + a·g: the ratio is (σ² + a²)/σ²; fitted up to 5, not fitted
    above 20."""
    signal, noise, g, sigma = parts
    fitted = signal + np.sqrt(bias2) * sigma * g
    d = data_diagnosis(fitted, signal + noise, noise_std=sigma)
    assert d["ratio"] == pytest.approx(1.0 + bias2, rel=1e-12)
    assert d["misfit_variance"] == pytest.approx(sigma**2 * (1 + bias2), rel=1e-12)
    assert d["unexplained"] == pytest.approx(d["misfit_variance"] / np.var(signal + noise))
    assert d["judged_ratio"] == d["ratio"]  # the noise is above the floor: it does not bind
    assert d["verdict"] == verdict
    assert d["nodes"] == signal.size


def test_a_field_that_follows_the_noise_is_over_fitted(parts):
    """Output = data − 0.5 ε keeps a quarter of the noise variance: ratio 0.25 exactly."""
    signal, noise, _, sigma = parts
    d = data_diagnosis(signal + 0.5 * noise, signal + noise, noise_std=sigma)
    assert d["ratio"] == pytest.approx(0.25, rel=1e-12)
    assert d["verdict"] == "over-fitted"


def test_the_truth_is_judged_fitted_against_the_estimated_noise(parts):
    """With σ estimated from the data (not given), the truth itself scores a ratio near 1."""
    signal, noise, _, sigma = parts
    data = signal + noise
    estimate = field_noise_std(data)
    assert estimate == pytest.approx(sigma, rel=0.1)
    d = data_diagnosis(signal, data, noise_std=estimate)
    assert d["ratio"] == pytest.approx(1.0, rel=0.2)
    assert d["verdict"] == "fitted"


def test_almost_noise_free_data_are_judged_against_one_percent_noise(parts):
    """Clean data: σ̂ is tiny and the raw ratio huge; the judged ratio is the unexplained variance
    over that of 1% noise (1e-4), so 3e-4 is fitted, 1e-3 partly fitted and 5e-3 not fitted."""
    signal, _, g, _ = parts
    spread = np.var(signal)
    for share, verdict in ((3e-4, "fitted"), (1e-3, "partly fitted"), (5e-3, "not fitted")):
        fitted = signal + np.sqrt(share * spread) * g
        d = data_diagnosis(fitted, signal, noise_std=1e-7)
        assert d["unexplained"] == pytest.approx(share, rel=1e-9)
        assert d["ratio"] > 1e6 * DATA_NOT_FITTED
        assert d["judged_ratio"] == pytest.approx(share / NOISE_FLOOR, rel=1e-9)
        assert d["verdict"] == verdict
    reasons = fit_reasons({"data": {"u": d}})
    assert reasons[0].startswith(
        "data field 'u' not fitted: unexplained variance 0.005 is 50x that of 1% white noise"
    )


def test_masked_nodes_do_not_count_and_a_bad_shape_is_refused(parts):
    signal, noise, _, sigma = parts
    data = signal + noise
    seen = np.ones(signal.shape, dtype=bool)
    seen[:, :10] = False
    fitted = np.where(seen, data - noise, 1e6)  # garbage where nothing was observed
    d = data_diagnosis(fitted, data, noise_std=sigma, seen=seen)
    assert d["nodes"] == int(seen.sum())
    assert d["ratio"] == pytest.approx(np.mean(noise[seen] ** 2) / sigma**2, rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        data_diagnosis(signal[:-1], data, noise_std=sigma)
    with pytest.raises(ValueError, match="too few"):
        data_diagnosis(signal, data, noise_std=sigma, seen=np.zeros(signal.shape, bool))


def test_residual_and_loss_balance_arithmetic():
    assert residual_diagnosis(0.3, 2.0) == {
        "final_rms": 0.3,
        "initial_rms": 2.0,
        "ratio": 0.15,
        "verdict": "not fitted",
    }
    assert residual_diagnosis(RESIDUAL_NOT_FITTED, 1.0)["verdict"] == "fitted"
    assert residual_diagnosis(1.0, 0.0)["verdict"] == "no scale"
    b = loss_balance({"data": 1e-4, "residual": 3e-4}, {"data": 2.0, "residual": 6.0})
    assert b["dominant"] == "residual"
    assert b["share"] == pytest.approx({"data": 0.25, "residual": 0.75})
    assert b["gradient_share"] == pytest.approx({"data": 0.25, "residual": 0.75})


def test_reasons_say_what_is_not_fitted_in_numbers():
    fit = {
        "data": {
            "u": {"verdict": "not fitted", "ratio": 140.0, "judged_ratio": 140.0,
                  "unexplained": 1.2e-2, "noise_fraction": 8.6e-5},
            "v": {"verdict": "fitted", "ratio": 1.2, "judged_ratio": 1.2, "unexplained": 1e-4,
                  "noise_fraction": 1e-4},
        },
        "residual": {"residual": {"verdict": "not fitted", "ratio": 0.42}},
    }  # fmt: skip
    reasons = fit_reasons(fit)
    assert len(reasons) == 2
    assert reasons[0].startswith(
        "data field 'u' not fitted: unexplained variance 0.012 is 140x the estimated noise "
        "variance (8.6e-05 of the data's variance)"
    )
    assert reasons[1].startswith("residual 'residual' not fitted: its final RMS is 0.42 of its")


# -- trained networks ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heat32():
    ds = simulate_heat(n=32, noise=GaussianNoise(0.01), seed=0)
    return problem_from_dataset(ds, width=0.25)


def test_an_under_trained_network_is_unreliable_with_the_data_reason(heat32):
    res = heat32.solve(ml.Network(steps=20, seed=0, read_off=False))
    fit = res.diagnostics["fit"]
    assert fit["data"]["u"]["verdict"] == "not fitted"
    assert fit["data"]["u"]["ratio"] > 100 * DATA_NOT_FITTED
    assert res.status == "unreliable"
    assert any(r.startswith("data field 'u' not fitted: unexplained variance") for r in res.reasons)
    # the noise the diagnosis used is the data's, as the direct solver estimates it
    direct = heat32.solve(ml.Direct())
    assert res.noise_std["u"] == pytest.approx(direct.noise_std["u"], rel=1e-12)
    # the ratio is the stored misfit over the noise's share of the data's variance
    u = heat32.data["u"]
    expected = res.diagnostics["data_misfit"]["u"] * np.var(u) / res.noise_std["u"] ** 2
    assert fit["data"]["u"]["ratio"] == pytest.approx(expected, rel=1e-9)
    assert "not fitted" in res.summary()


def test_the_diagnosis_survives_result_json(heat32, tmp_path):
    res = heat32.solve(ml.Network(steps=20, seed=0, read_off=False))
    fit = res.diagnostics["fit"]
    res.save(tmp_path, figures=False)
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc["status"] == "unreliable" and doc["reasons"] == res.reasons
    back = doc["diagnostics"]["fit"]
    assert back["data"]["u"] == fit["data"]["u"]  # floats survive JSON exactly
    assert back["residual"] == fit["residual"]
    assert back["loss"]["dominant"] == fit["loss"]["dominant"]
    assert back["loss"]["share"] == fit["loss"]["share"]
    assert back["thresholds"]["data_not_fitted"] == DATA_NOT_FITTED
    assert doc["noise_std"] == res.noise_std


def test_the_residual_ratio_is_the_trained_residual_term(heat32):
    """The per-equation ratio squared is the final residual loss term (one equation, weight 1),
    and with the residual weight at 0 its gradient share is 0."""
    res = heat32.solve(ml.Network(steps=30, seed=0, read_off=False, log_every=1))
    ratio = res.diagnostics["fit"]["residual"]["residual"]["ratio"]
    loss = res.diagnostics["fit"]["loss"]
    assert ratio**2 == pytest.approx(loss["terms"]["residual"], rel=1e-6)
    assert loss["share"]["data"] + loss["share"]["residual"] == pytest.approx(1.0)
    off = heat32.solve(ml.Network(steps=5, seed=0, read_off=False, residual_weight=0.0))
    assert off.diagnostics["fit"]["loss"]["gradient_share"]["residual"] == 0.0
    assert off.diagnostics["fit"]["loss"]["dominant"] == "data"


def test_the_smoothing_norm_is_the_variance_gain_of_mollified_white_noise(heat32):
    """``Σ w²`` against the interior variance of one mollified white-noise draw (its sampling
    error on the 32² interior is a few percent)."""
    import torch

    from mollifier.inverse.network.diagnosis import smoothing_norm

    gain = smoothing_norm(heat32)
    noise = np.random.default_rng(3).standard_normal(heat32.grid.shape)
    smooth = heat32.layer(torch.as_tensor(noise)[None, None], "")[0, 0].numpy()
    assert np.var(smooth[heat32.interior]) == pytest.approx(gain, rel=0.15)
    assert 0 < gain < 0.1  # a kernel several nodes wide averages most of the noise away


def test_a_mollified_data_loss_is_judged_on_mollified_fields(heat32):
    """With ``data_loss="mollified"`` the ratio compares η∗f with η∗y on the interior against
    ``σ̂² Σ w²``, recomputed here from the result's arrays."""
    import torch

    from mollifier.inverse.network.diagnosis import smoothing_norm

    res = heat32.solve(ml.Network(steps=20, seed=0, read_off=False, data_loss="mollified"))
    d = res.diagnostics["fit"]["data"]["u"]

    def mollify(a):
        return heat32.layer(torch.as_tensor(a)[None, None], "")[0, 0].numpy()

    diff = (mollify(res.fields["u"]) - mollify(heat32.data["u"]))[heat32.interior]
    expected = np.mean(diff**2) / (res.noise_std["u"] ** 2 * smoothing_norm(heat32))
    assert d["ratio"] == pytest.approx(expected, rel=1e-9)
    assert d["nodes"] == int(heat32.interior.sum())
    assert d["verdict"] == "not fitted" and res.status == "unreliable"
