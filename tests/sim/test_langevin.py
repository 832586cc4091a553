"""Langevin simulator: exact mean ODE, Monte-Carlo rate, Euler–Maruyama weak order, contract."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mollifier.io import load_dataset, save_dataset
from mollifier.sim.langevin import (
    RandomForcing,
    SineForcing,
    StepForcing,
    langevin_mean_ode,
    simulate_langevin,
)
from mollifier.sim.noise import GaussianNoise, NoNoise


def _duhamel(t: np.ndarray, k: float, x0: float, forcing) -> np.ndarray:
    """Independent reference: u(t) = x0 e^{-kt} + ∫_0^t e^{-k(t-s)} λ(s) ds.

    Composite 8-point Gauss–Legendre on panels of length 1/64 (the integrand is smooth on each).
    """
    nodes, weights = np.polynomial.legendre.leggauss(8)
    out = []
    for ti in t:
        edges = np.linspace(0.0, ti, max(1, round(64 * ti)) + 1)
        mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        s = (mid[:, None] + half[:, None] * nodes[None, :]).ravel()
        w = (half[:, None] * weights[None, :]).ravel()
        out.append(x0 * math.exp(-k * ti) + np.sum(w * np.exp(-k * (ti - s)) * forcing(s)))
    return np.array(out)


def _euler_mean(t_out: np.ndarray, substeps: int, k: float, x0: float, forcing) -> np.ndarray:
    """Exact expectation of the Euler–Maruyama ensemble: forward Euler on the mean ODE."""
    dt = (t_out[1] - t_out[0]) / substeps
    m, out = x0, [x0]
    for i in range(1, t_out.size):
        for j in range(substeps):
            s = t_out[i - 1] + j * dt
            m = (1 - k * dt) * m + float(forcing(s)) * dt
        out.append(m)
    return np.array(out)


@pytest.mark.parametrize(("k", "x0"), [(1.0, 0.0), (0.4, 1.3), (3.0, -2.0)])
def test_ode_solution_matches_closed_form_for_sines(k: float, x0: float) -> None:
    f = SineForcing(amplitudes=(1.0, -0.7), frequencies=(0.9, 2.5), phases=(0.3, 2.0), offset=0.2)
    t = np.linspace(0.0, 12.0, 121)
    exact = f.solution(t, k=k, x0=x0)
    np.testing.assert_allclose(langevin_mean_ode(t, k=k, forcing=f, x0=x0), exact, atol=1e-10)
    # and the closed form satisfies the ODE (centred difference, error O(h^2) ~ 1e-9)
    h = 1e-4
    ts = t[1:-1]
    du = (f.solution(ts + h, k=k, x0=x0) - f.solution(ts - h, k=k, x0=x0)) / (2 * h)
    np.testing.assert_allclose(du, -k * f.solution(ts, k=k, x0=x0) + f(ts), atol=1e-7)


@pytest.mark.parametrize("k", [0.8, 0.0])
@pytest.mark.parametrize(
    "forcing",
    [StepForcing(before=-0.5, after=2.0, time=4.0, rise_time=0.1), RandomForcing(seed=3)],
)
def test_ode_solution_matches_duhamel_quadrature(forcing, k: float) -> None:
    t = np.linspace(0.0, 10.0, 11)
    ref = _duhamel(t, k, 0.5, forcing)
    np.testing.assert_allclose(langevin_mean_ode(t, k=k, forcing=forcing, x0=0.5), ref, atol=1e-9)


def test_ensemble_mean_converges_at_the_monte_carlo_rate() -> None:
    """RMS of (ensemble mean - exact ODE - Euler bias) falls like n_particles^(-1/2).

    The Euler–Maruyama bias is removed exactly: for a linear drift the scheme's expectation is
    the forward-Euler recursion of the mean ODE (computed here independently).
    """
    k, sigma, substeps = 1.0, 0.5, 4
    t = np.linspace(0.0, 10.0, 51)
    f = SineForcing()
    bias = _euler_mean(t, substeps, k, 0.0, f) - langevin_mean_ode(t, k=k, forcing=f)
    # exact variance of the Euler–Maruyama particles: v <- (1 - k dt)^2 v + sigma^2 dt
    dt = (t[1] - t[0]) / substeps
    var = np.zeros(t.size)
    v = 0.0
    for i in range(1, t.size):
        for _ in range(substeps):
            v = (1 - k * dt) ** 2 * v + sigma**2 * dt
        var[i] = v
    ns = np.array([64, 256, 1024, 4096, 16384])
    rms, predicted = [], []
    for n in ns:
        sq = []
        for seed in range(12):
            ds = simulate_langevin(
                n_times=51,
                n_particles=int(n),
                sigma=sigma,
                k=k,
                dt_sim=dt,
                seed=seed,
                noise=NoNoise(),
            )
            sq.append(np.mean((ds.fields["u"] - ds.clean["u"] - bias) ** 2))
        rms.append(math.sqrt(np.mean(sq)))
        predicted.append(math.sqrt(var.mean() / n))
    slope = np.polyfit(np.log(ns), np.log(rms), 1)[0]
    ratio = np.array(rms) / np.array(predicted)
    print(f"\nMC: n {ns}, RMS {np.array(rms)}, RMS/theory {ratio}, slope {slope:.3f}")
    assert slope == pytest.approx(-0.5, abs=0.1)
    assert np.all((ratio > 0.75) & (ratio < 1.33)), ratio


def test_euler_maruyama_mean_has_weak_order_one() -> None:
    t = np.linspace(0.0, 10.0, 11)
    f = SineForcing()
    errs, dts = [], []
    for substeps in (2, 4, 8, 16):
        ds = simulate_langevin(
            n_times=11, n_particles=40_000, dt_sim=1.0 / substeps, seed=1, noise=NoNoise()
        )
        errs.append(np.abs(ds.fields["u"] - ds.clean["u"]).max())
        dts.append(ds.params["dt_sim"])
        # the deterministic part of the error is exactly forward Euler's
        euler = _euler_mean(t, substeps, 1.0, 0.0, f)
        mc_sd = 0.5 / math.sqrt(2 * 40_000)  # stationary sd / sqrt(n)
        assert np.abs(ds.fields["u"] - euler).max() < 5 * mc_sd
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    print(f"\nEM weak order: dt {np.array(dts)}, max error {np.array(errs)}, slope {slope:.3f}")
    assert slope == pytest.approx(1.0, abs=0.15)


def test_dataset_contract_and_round_trip(tmp_path) -> None:
    ds = simulate_langevin(n_times=101, t_end=5.0, n_particles=500, seed=4, trajectories=3)
    arrays = ds.arrays()
    assert set(arrays) == {"t", "u", "u_clean", "lam", "k", "path_0", "path_1", "path_2"}
    assert ds.equation == "langevin" and ds.axes == ("t",)
    np.testing.assert_allclose(arrays["t"], np.linspace(0, 5, 101))
    np.testing.assert_allclose(arrays["lam"], SineForcing()(arrays["t"]))
    assert ds.truth_axes["lam"] == ("t",) and ds.known["k"] == 1.0
    assert ds.noise == GaussianNoise(0.01).describe() and ds.seed == 4
    assert ds.params["dt_sim"] == pytest.approx(0.005) and ds.params["substeps"] == 10
    back = load_dataset(save_dataset(ds, tmp_path / "lv"))
    for name, arr in arrays.items():
        np.testing.assert_array_equal(back.arrays()[name], arr)
    assert back.params == ds.params


def test_seed_reproducibility_and_independent_noise_stream() -> None:
    kw = {"n_times": 2001, "n_particles": 20, "dt_sim": 0.005}
    a = simulate_langevin(seed=9, **kw)
    b = simulate_langevin(seed=9, **kw)
    c = simulate_langevin(seed=10, **kw)
    np.testing.assert_array_equal(a.fields["u"], b.fields["u"])
    assert not np.array_equal(a.fields["u"], c.fields["u"])
    # the particles do not depend on the noise model, so the difference is the noise alone
    bare = simulate_langevin(seed=9, noise=NoNoise(), **kw).fields["u"]
    loud = simulate_langevin(seed=9, noise=GaussianNoise(0.05), **kw).fields["u"]
    assert (loud - bare).std() / (0.05 * bare.std()) == pytest.approx(1.0, abs=0.08)


def test_trajectories_have_the_ornstein_uhlenbeck_variance() -> None:
    k, sigma, n = 0.7, 0.8, 4000
    ds = simulate_langevin(
        n_times=41,
        t_end=8.0,
        k=k,
        sigma=sigma,
        n_particles=n,
        trajectories=n,
        x0=1.0,
        dt_sim=0.01,
        noise=NoNoise(),
        seed=2,
    )
    paths = np.stack([ds.known[f"path_{i}"] for i in range(n)])
    np.testing.assert_array_equal(paths[:, 0], 1.0)
    np.testing.assert_allclose(paths.mean(axis=0), ds.fields["u"], atol=1e-12)
    t = ds.coords["t"]
    var_exact = sigma**2 * (1 - np.exp(-2 * k * t)) / (2 * k)
    # sample variance of 4000 Gaussians: relative sd sqrt(2/4000) = 2.2%; 4.5 sd tolerance
    np.testing.assert_allclose(paths.var(axis=0)[10:], var_exact[10:], rtol=0.1)


def test_forcing_shapes() -> None:
    s = StepForcing(before=1.0, after=3.0, time=2.0, rise_time=0.5)
    assert float(s(2.0)) == pytest.approx(2.0)
    assert float(s(-100.0)) == pytest.approx(1.0) and float(s(100.0)) == pytest.approx(3.0)
    assert float(s(2.0 + 0.5 * math.log(9))) == pytest.approx(1.0 + 2.0 * 0.9)
    r = RandomForcing(mean=0.3, std=2.0, correlation_length=0.5, t_end=20.0, seed=1)
    tt = np.linspace(0, 20, 4001)
    lam = r(tt)
    assert lam.mean() == pytest.approx(0.3, abs=1e-3) and lam.std() == pytest.approx(2.0, rel=0.01)
    np.testing.assert_array_equal(lam, RandomForcing(0.3, 2.0, 0.5, 20.0, seed=1)(tt))
    assert not np.allclose(lam, RandomForcing(0.3, 2.0, 0.5, 20.0, seed=2)(tt))
    # smooth: the second difference is tiny compared with the values
    assert np.abs(np.diff(lam, 2)).max() < 1e-3 * np.abs(lam).max()
    with pytest.raises(ValueError, match="defined on"):
        r(np.array([25.0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_times": 1}, "n_times"),
        ({"t_end": 0.0}, "t_end"),
        ({"sigma": -1.0}, "sigma"),
        ({"n_particles": 0}, "n_particles"),
        ({"dt_sim": 1.0}, "dt_sim"),
        ({"trajectories": 10, "n_particles": 5}, "trajectories"),
        ({"forcing": lambda t: t}, "AbstractForcing"),
        ({"forcing": RandomForcing(t_end=5.0)}, "defined on"),
    ],
)
def test_invalid_arguments_raise(kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulate_langevin(n_particles=kwargs.pop("n_particles", 10), **kwargs)


def test_invalid_forcings_raise() -> None:
    with pytest.raises(ValueError, match="equal length"):
        SineForcing(amplitudes=(1.0,), frequencies=(1.0, 2.0), phases=(0.0,))
    with pytest.raises(ValueError, match="positive"):
        SineForcing(frequencies=(0.0, 1.0))
    with pytest.raises(ValueError, match="rise_time"):
        StepForcing(rise_time=0.0)
    with pytest.raises(ValueError, match="correlation_length"):
        RandomForcing(correlation_length=-1.0)
