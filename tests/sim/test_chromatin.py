"""Chromatin simulator tests: analytic, independent-stencil and COMSOL references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mollifier.io.dataset import load_dataset, save_dataset
from mollifier.sim.chromatin import (
    ChromatinModel,
    InitialNoise,
    InitialNuclei,
    SimulationDivergedError,
    SteadyStateNotReachedError,
    Stepping,
    simulate_chromatin,
    steady_state_residual,
)
from mollifier.sim.noise import GaussianNoise
from mollifier.sim.patterns import pattern_statistics
from mollifier.sim.random_fields import LognormalLambda

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
COMSOL = DATA / "chromatin_comsol_lambda_0.5"
PHI_MAX, L_INT = 0.7, 0.03


def _g(phi_h: np.ndarray) -> np.ndarray:
    return phi_h * (PHI_MAX - phi_h) * (PHI_MAX - 2 * phi_h)


def _fd_laplacian(u: np.ndarray, h: float, *, periodic: bool) -> np.ndarray:
    """Independent 5-point Laplacian; no-flux walls by mirrored ghost nodes."""
    p = np.pad(u, 1, mode="wrap" if periodic else "reflect")
    return (p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * u) / h**2


def _fd_rates(w, d, lam, h, *, periodic):
    """The model's rates written out from the paper's formulas with the 5-point stencil."""
    phi_h, phi_e = (1 - w + d) / 2, (1 - w - d) / 2
    mu_d = -phi_e + _g(phi_h) - L_INT**2 * _fd_laplacian(d, h, periodic=periodic)
    mu_w = -phi_e - _g(phi_h) - L_INT**2 * _fd_laplacian(w, h, periodic=periodic)
    r_d = _fd_laplacian(mu_d, h, periodic=periodic) + 2 * (lam * phi_e - phi_h)
    return _fd_laplacian(mu_w, h, periodic=periodic), r_d, mu_d


def _hex_spots(x, y, centres, *, sigma=0.15, period=None):
    """φ_w, φ_d for Gaussian heterochromatin spots on φ_h = 0.05 with φ_e = 1/3."""
    phi_h = np.full((x.size, y.size), 0.05)
    for cx, cy in centres:
        dx, dy = x[:, None] - cx, y[None, :] - cy
        if period is not None:
            dx = (dx + period[0] / 2) % period[0] - period[0] / 2
            dy = (dy + period[1] / 2) % period[1] - period[1] / 2
        np.maximum(phi_h, 0.05 + 0.64 * np.exp(-(dx**2 + dy**2) / (2 * sigma**2)), out=phi_h)
    phi_e = 1 / 3
    return 1 - phi_h - phi_e, phi_h - phi_e


# --- configuration and validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (ChromatinModel, {"phi_max": 0.0}),
        (ChromatinModel, {"phi_max": 1.5}),
        (ChromatinModel, {"l": -0.1}),
        (ChromatinModel, {"mobility_w": 0.0}),
        (ChromatinModel, {"l_w": float("nan")}),
        (LognormalLambda, {"median": 0.0}),
        (LognormalLambda, {"sigma": -1.0}),
        (LognormalLambda, {"correlation_length": 0.0}),
        (InitialNuclei, {"spacing": 0.0}),
        (InitialNuclei, {"radius": -1.0}),
        (InitialNoise, {"amplitude": -0.1}),
        (Stepping, {"tolerance": None}),  # neither a tolerance nor a t_end
        (Stepping, {"tolerance": 0.0}),
        (Stepping, {"t_end": -1.0}),
        (Stepping, {"max_steps": 0}),
        (Stepping, {"check_every": 2.5}),
        (Stepping, {"dt": 0.0}),
        (Stepping, {"dt_max": float("inf")}),
        (Stepping, {"max_change": -0.1}),
        (Stepping, {"stabilization": -0.4}),
    ],
)
def test_configuration_is_validated(cls, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        cls(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boundary": "dirichlet"}, "boundary"),
        ({"laplacian": "fd4"}, "laplacian"),
        ({"n": 4}, "n must be"),
        ({"stepping": "fast"}, "stepping must be a Stepping"),
        ({"lam": -0.5}, "lam must be"),
        ({"lam": np.ones((3, 3))}, "shape"),
        ({"initial": (np.zeros((16, 16)), np.zeros((16, 16))), "phi_w_mean": 0.4}, "phi_w_mean"),
        ({"initial": (np.zeros((15, 16)), np.zeros((16, 16)))}, "shape"),
        ({"noise": "gaussian"}, "noise must have"),
        ({"phi_w_mean": 1.2}, "phi_w_mean"),
    ],
)
def test_simulate_rejects_bad_arguments(kwargs, message):
    base = {"n": 16, "length": 2.0, "stepping": Stepping(t_end=1.0)}
    with pytest.raises(ValueError, match=message):
        simulate_chromatin(**{**base, **kwargs})


def test_local_potentials_are_derivatives_of_the_free_energy():
    """μ_d (the authors' formula) and μ_w are ∂f/∂φ_d, ∂f/∂φ_w of f = φ_h²(φ_max-φ_h)² + φ_e²."""
    model = ChromatinModel()
    rng = np.random.default_rng(0)
    w, d = rng.uniform(0.0, 0.7, 50), rng.uniform(-0.3, 0.3, 50)

    def f(w, d):
        phi_h, phi_e = (1 - w + d) / 2, (1 - w - d) / 2
        return phi_h**2 * (PHI_MAX - phi_h) ** 2 + phi_e**2

    eps = 1e-6
    df_dw = (f(w + eps, d) - f(w - eps, d)) / (2 * eps)
    df_dd = (f(w, d + eps) - f(w, d - eps)) / (2 * eps)
    mu_w, mu_d = model.local_potentials(w, d)
    phi_h, phi_e = (1 - w + d) / 2, (1 - w - d) / 2
    np.testing.assert_allclose(mu_d, -phi_e + _g(phi_h), rtol=0, atol=1e-15)
    np.testing.assert_allclose(mu_d, df_dd, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mu_w, df_dw, rtol=0, atol=1e-9)


# --- exact solutions of the scheme and the dynamics ---------------------------------------------


@pytest.mark.parametrize("boundary", ["periodic", "noflux"])
@pytest.mark.parametrize("lam", [0.3, 0.5, 1.2])
def test_homogeneous_reaction_equilibrium_is_an_exact_steady_state(boundary, lam):
    ds = simulate_chromatin(
        n=16,
        length=2.0,
        lam=lam,
        boundary=boundary,
        initial=InitialNoise(amplitude=0.0),
        phi_w_mean=0.45,
        stepping=Stepping(t_end=20.0, tolerance=None),
    )
    phi_e = 0.55 / (1 + lam)  # 2(λφ_e - φ_h) = 0 with φ_h + φ_e = 1 - φ_w
    np.testing.assert_allclose(ds.clean["phi_w"], 0.45, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ds.clean["phi_d"], (lam - 1) * phi_e, rtol=0, atol=1e-13)
    assert ds.params["residual"] < 1e-13


@pytest.mark.parametrize("boundary", ["periodic", "noflux"])
def test_linear_mode_decays_at_the_dispersion_rate_with_first_order_time_error(boundary):
    """A small eigenmode on the homogeneous state decays as exp(σt), σ from the 2×2 dispersion."""
    lam, length, n = 0.5, 4.0, 32
    if boundary == "periodic":
        x, k = np.arange(n) * length / n, 2 * np.pi / length
    else:
        x, k = np.linspace(0, length, n), np.pi / length
    q = k**2
    phi_e = 0.5 / (1 + lam)
    phi_h = lam * phi_e
    gp = PHI_MAX**2 - 6 * PHI_MAX * phi_h + 6 * phi_h**2  # g'(φ_h)
    f_ww, f_wd = (gp + 1) / 2, (1 - gp) / 2  # Hessian of the local free energy in (φ_w, φ_d)
    jac = np.array(
        [
            [-q * (f_ww + L_INT**2 * q), -q * f_wd],
            [-q * f_wd + (1 - lam), -q * (f_ww + L_INT**2 * q) - (1 + lam)],
        ]
    )
    vals, vecs = np.linalg.eig(jac)
    i = int(np.argmax(vals.real))
    sigma, vec = vals[i].real, vecs[:, i].real
    mode = np.cos(k * x)[:, None] * np.ones(n)[None, :]
    eps, t_end = 1e-6, 2.0
    errors, dts = [], [0.04, 0.02, 0.01]
    for dt in dts:
        ds = simulate_chromatin(
            n=n,
            length=length,
            lam=lam,
            boundary=boundary,
            initial=(0.5 + eps * vec[0] * mode, phi_h - phi_e + eps * vec[1] * mode),
            stepping=Stepping(t_end=t_end, tolerance=None, dt=dt, adaptive=False),
        )
        profile = ds.clean["phi_d"][:, 0] - (phi_h - phi_e)
        amplitude = profile @ np.cos(k * x) / (np.cos(k * x) @ np.cos(k * x))
        exact = eps * vec[1] * np.exp(sigma * t_end)
        errors.append(abs(amplitude / exact - 1))
    order = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert sigma < 0  # λ = 0.5 lies below the linear instability
    assert 0.9 < order < 1.1
    assert errors[-1] < 0.03


# --- steady-state residuals ---------------------------------------------------------------------


@pytest.mark.parametrize("boundary", ["periodic", "noflux"])
def test_fd2_solution_satisfies_an_independent_five_point_residual(boundary):
    """With laplacian="fd2" the DCT/FFT symbol is the 5-point stencil; check it independently."""
    tol = 1e-9
    ds = simulate_chromatin(
        n=32,
        length=2.5,
        boundary=boundary,
        laplacian="fd2",
        stepping=Stepping(tolerance=tol),
        seed=0,
    )
    assert ds.params["converged"] and ds.params["residual"] < tol
    w, d = ds.clean["phi_w"], ds.clean["phi_d"]
    r_w, r_d, _ = _fd_rates(w, d, 0.5, ds.params["spacing"], periodic=boundary == "periodic")
    assert np.abs(r_d).max() < 5 * tol
    assert np.abs(r_w).max() < 5 * tol
    assert np.ptp((1 - w + d) / 2) > 0.5  # a real heterochromatin pattern, not the flat state


def test_spectral_steady_state_under_fd_stencils_converges_at_second_order():
    """The spectral solution, sampled finer by Fourier interpolation, has FD residual ∝ h²."""
    length, n, tol = 1.2, 72, 2e-9
    ds = simulate_chromatin(
        n=n,
        length=length,
        initial=InitialNuclei(spacing=5.0),
        stepping=Stepping(tolerance=tol),
        seed=0,
    )
    w, d = ds.clean["phi_w"], ds.clean["phi_d"]
    r_w, r_d = steady_state_residual(w, d, 0.5, spacing=length / n)
    assert max(np.abs(r_w).max(), np.abs(r_d).max()) < tol  # same discretisation: tolerance level

    def resample(u, m):
        coeffs = np.fft.fftshift(np.fft.fft2(u))
        pad = (m - n) // 2
        return np.fft.ifft2(np.fft.ifftshift(np.pad(coeffs, pad))).real * (m / n) ** 2

    sizes = [144, 288, 576]
    res, lam_err = [], []
    for m in sizes:
        wm, dm, h = resample(w, m), resample(d, m), length / m
        _, r_dm, mu_d = _fd_rates(wm, dm, 0.5, h, periodic=True)
        phi_h, phi_e = (1 - wm + dm) / 2, (1 - wm - dm) / 2
        lam_fd = (phi_h - 0.5 * _fd_laplacian(mu_d, h, periodic=True)) / phi_e
        res.append(np.abs(r_dm).max())
        lam_err.append(np.abs(lam_fd - 0.5).max())
    hs = length / np.array(sizes)
    assert 1.9 < np.polyfit(np.log(hs), np.log(res), 1)[0] < 2.1
    assert 1.9 < np.polyfit(np.log(hs), np.log(lam_err), 1)[0] < 2.1
    assert res[-1] < 0.02  # vs reaction terms 2|λφ_e - φ_h| of order 1


def test_lognormal_lambda_steady_state_gives_lambda_pointwise():
    """λ = (φ_h - ½∇²μ_d)/φ_e on the clean output, with the stepping discretisation."""
    tol = 1e-7
    spec = LognormalLambda(median=0.5, sigma=0.25, correlation_length=1.0)
    ds = simulate_chromatin(n=48, length=4.0, lam=spec, stepping=Stepping(tolerance=tol), seed=0)
    lam = ds.truth["lam"]
    assert ds.params["converged"] and ds.params["residual"] < tol
    assert lam.shape == (48, 48) and 0.2 < np.std(np.log(lam)) < 0.3
    w, d = ds.clean["phi_w"], ds.clean["phi_d"]
    r_w, r_d = steady_state_residual(w, d, lam, spacing=ds.params["spacing"])
    assert max(np.abs(r_w).max(), np.abs(r_d).max()) < tol
    # ∇²μ_d from the residual identity: with r_d = ∇²μ_d + 2(λφ_e - φ_h) = 0
    phi_h, phi_e = (1 - w + d) / 2, (1 - w - d) / 2
    lap_mu_d = r_d - 2 * (lam * phi_e - phi_h)
    lam_hat = (phi_h - 0.5 * lap_mu_d) / phi_e
    assert np.abs(lam_hat - lam).max() < 2e-6  # |r_d| / (2 min φ_e) with φ_e ≈ 1/3
    assert np.ptp(phi_h) > 0.5 and phi_e.min() > 0.25  # identifiable: φ_e bounded away from 0


def test_noflux_run_conserves_the_trapezoidal_mean_and_converges():
    ds = simulate_chromatin(
        n=32, length=3.0, boundary="noflux", stepping=Stepping(tolerance=1e-8), seed=1
    )
    w = ds.clean["phi_w"]
    wt = np.ones(32)
    wt[[0, -1]] = 0.5
    assert abs(wt @ w @ wt / wt.sum() ** 2 - 0.5) < 1e-12
    assert ds.params["converged"]
    np.testing.assert_array_equal(ds.coords["x"], np.linspace(0, 3.0, 32))
    r_w, r_d = steady_state_residual(w, ds.clean["phi_d"], 0.5, spacing=3.0 / 31, boundary="noflux")
    assert max(np.abs(r_w).max(), np.abs(r_d).max()) < 1e-8


# --- dataset contract, reproducibility and failure modes ----------------------------------------


def test_dataset_contract_and_round_trip(tmp_path):
    ds = simulate_chromatin(n=16, length=2.0, stepping=Stepping(t_end=5.0, tolerance=None), seed=2)
    assert ds.equation == "chromatin" and ds.axes == ("x", "y")
    assert set(ds.arrays()) == {"x", "y", "phi_w", "phi_d", "phi_w_clean", "phi_d_clean", "lam"}
    np.testing.assert_allclose(ds.coords["x"], np.arange(16) * 2.0 / 16)
    assert ds.truth["lam"] == 0.5 and ds.noise == {"model": "none"}
    assert ds.params["model"] == {"phi_max": 0.7, "l": 0.03, "l_w": 0.03, "mobility_w": 1.0}
    assert ds.params["t_final"] == pytest.approx(5.0)
    json.dumps(ds.params)
    back = load_dataset(save_dataset(ds, tmp_path / "chromatin"))
    for name, arr in ds.arrays().items():
        np.testing.assert_array_equal(back.arrays()[name], arr)
    assert back.params == ds.params


def test_array_and_callable_lambda_become_the_truth():
    x = np.arange(16) * 2.0 / 16

    def lam_fn(x, y):
        return 0.5 + 0.1 * np.sin(np.pi * x) * np.cos(np.pi * y)

    ds = simulate_chromatin(
        n=16, length=2.0, lam=lam_fn, stepping=Stepping(t_end=1.0, tolerance=None)
    )
    np.testing.assert_allclose(ds.truth["lam"], lam_fn(x[:, None], x[None, :]), atol=1e-15)
    assert ds.params["lam"] == {"kind": "callable"}
    arr = ds.truth["lam"] * 1.5
    ds2 = simulate_chromatin(
        n=16, length=2.0, lam=arr, stepping=Stepping(t_end=1.0, tolerance=None)
    )
    np.testing.assert_array_equal(ds2.truth["lam"], arr)


def test_seeded_reproducibility_and_independent_noise_stream():
    kwargs = {"n": 32, "length": 4.0, "stepping": Stepping(t_end=50.0, tolerance=None)}
    a = simulate_chromatin(seed=3, **kwargs)
    b = simulate_chromatin(seed=3, **kwargs)
    c = simulate_chromatin(seed=4, **kwargs)
    for name in ("phi_w", "phi_d"):
        np.testing.assert_array_equal(a.clean[name], b.clean[name])
        assert np.abs(a.clean[name] - c.clean[name]).max() > 0.1
    noisy = simulate_chromatin(seed=3, noise=GaussianNoise(0.05), **kwargs)
    assert noisy.noise == GaussianNoise(0.05).describe()
    for name in ("phi_w", "phi_d"):
        np.testing.assert_array_equal(noisy.clean[name], a.clean[name])
        ratio = (noisy.fields[name] - a.clean[name]).std() / (0.05 * a.clean[name].std())
        assert abs(ratio - 1) < 0.1  # 1024 samples: std error of the std about 2%


def test_divergence_is_detected():
    with pytest.raises(SimulationDivergedError, match="diverged"):
        simulate_chromatin(
            n=32,
            length=4.0,
            stepping=Stepping(
                stabilization=0.0, dt=2.0, adaptive=False, t_end=100.0, tolerance=None
            ),
        )


def test_exhausted_step_budget_raises():
    with pytest.raises(SteadyStateNotReachedError, match="no steady state after 5 steps"):
        simulate_chromatin(n=16, length=2.0, stepping=Stepping(tolerance=1e-12, max_steps=5))


def test_progress_bar(capsys):
    simulate_chromatin(
        n=16, length=2.0, stepping=Stepping(t_end=2.0, tolerance=1e-12), progress=True
    )
    assert "chromatin" in capsys.readouterr().err


# --- pattern statistics -------------------------------------------------------------------------


def test_pattern_statistics_of_a_hexagonal_lattice():
    """Exact lattice: 120 spots, density 2/(√3a²), wavelength √3a/2, disc area fraction."""
    a, cols, rows = 1.0, 10, 12
    lx, ly = cols * a, rows * a * np.sqrt(3) / 2
    x, y = np.arange(200) * lx / 200, np.arange(208) * ly / 208
    centres = [
        ((i + 0.5 * (j % 2)) * a, (j + 0.5) * a * np.sqrt(3) / 2)
        for j in range(rows)
        for i in range(cols)
    ]
    w, d = _hex_spots(x, y, centres, period=(lx, ly))
    s = pattern_statistics(w, d, (lx / 200, ly / 208), periodic=True)
    r_t = 0.15 * np.sqrt(2 * np.log(0.64 / 0.30))  # where φ_h crosses 0.35
    assert s["domain_count"] == 120
    assert s["domain_density"] == pytest.approx(2 / (np.sqrt(3) * a**2), rel=1e-12)
    assert s["dominant_wavelength"] == pytest.approx(np.sqrt(3) / 2 * a, rel=0.03)
    assert s["area_fraction"] == pytest.approx(120 * np.pi * r_t**2 / (lx * ly), rel=0.03)
    assert s["mean_phi_w"] == pytest.approx(w.mean(), abs=1e-15)
    assert s["phi_d_p99"] - s["phi_d_p01"] == pytest.approx(s["phi_d_range"], abs=1e-15)
    # the same field seen as non-periodic, with a margin: count centroids inside the window
    margin = 20
    inside = sum(
        margin - 0.5 <= cx / (lx / 200) < 200 - margin - 0.5
        and margin - 0.5 <= cy / (ly / 208) < 208 - margin - 0.5
        for cx, cy in centres
    )
    t = pattern_statistics(w, d, (lx / 200, ly / 208), margin=margin)
    assert t["domain_count"] == inside


def test_pattern_statistics_merges_domains_across_periodic_edges():
    x = np.arange(64) * 0.05
    w, d = _hex_spots(x, x, [(0.0, 0.0)], period=(3.2, 3.2))
    assert pattern_statistics(w, d, 0.05, periodic=True)["domain_count"] == 1
    assert pattern_statistics(w, d, 0.05)["domain_count"] == 4  # four corner pieces


def test_pattern_statistics_of_the_flat_state():
    w, d = np.full((16, 16), 0.5), np.full((16, 16), -1 / 6)
    s = pattern_statistics(w, d, 0.1, periodic=True)
    assert s["domain_count"] == 0 and s["area_fraction"] == 0
    assert np.isnan(s["dominant_wavelength"]) and s["phi_w_range"] == 0


# --- validation against the authors' COMSOL steady state -----------------------------------------


def _reference_fields() -> tuple[np.ndarray, np.ndarray, float]:
    """COMSOL's φ_w, φ_d (201 × 201 nodes on [0, 10]², walls included) and the node spacing."""
    if not COMSOL.is_dir():
        pytest.skip(f"COMSOL reference data not found at {COMSOL} (see shared/data/README.md)")
    from mollifier.io.comsol import read_comsol

    coords, phi_w = read_comsol(COMSOL / "Phi_w.txt")
    _, phi_d = read_comsol(COMSOL / "Phi_d.txt")
    _, lam = read_comsol(COMSOL / "lambda.txt")
    assert phi_w.shape == (201, 201) and np.allclose(lam, 0.5)
    return phi_w, phi_d, float(coords["x"][1] - coords["x"][0])


def test_comsol_state_is_nearly_steady_under_the_reconstructed_model():
    """Relaxing COMSOL's fields with this model barely moves the interior; l_w = 0 does not."""
    phi_w, phi_d, _ = _reference_fields()
    interior = slice(40, 161)  # 2 length units from COMSOL's walls, whose conditions differ

    def drift(model: ChromatinModel) -> float:
        ds = simulate_chromatin(
            n=201,
            length=10.0,
            boundary="noflux",
            initial=(phi_w, phi_d),
            model=model,
            stepping=Stepping(t_end=20.0, tolerance=None),
        )
        return float(np.abs(ds.clean["phi_d"] - phi_d)[interior, interior].max())

    assert drift(ChromatinModel()) < 0.015  # 1.5% of the φ_d range 0.63 (measured 0.0097)
    assert drift(ChromatinModel(l_w=0.0)) > 0.1  # no φ_w gradient energy (measured 0.137)


def test_statistics_are_grid_converged():
    """The same continuous initial lattice solved on 96² and 128² nodes gives the same pattern."""
    stats = []
    for n in (96, 128):
        x = np.arange(n) * 10.0 / n
        centres = [((i + 0.5 * (j % 2)) * 10 / 9, (j + 0.5)) for j in range(10) for i in range(9)]
        w, d = _hex_spots(x, x, centres, sigma=0.2, period=(10.0, 10.0))
        w += 0.5 - w.mean()
        ds = simulate_chromatin(n=n, initial=(w, d), stepping=Stepping(tolerance=1e-6))
        stats.append(
            pattern_statistics(ds.clean["phi_w"], ds.clean["phi_d"], 10 / n, periodic=True)
        )
    coarse, fine = stats
    assert coarse["domain_count"] == fine["domain_count"] == 90
    for key in ("phi_w_range", "phi_d_range", "dominant_wavelength"):
        assert coarse[key] == pytest.approx(fine[key], rel=0.01)
    assert coarse["area_fraction"] == pytest.approx(fine["area_fraction"], rel=0.03)


def test_statistics_match_the_comsol_reference():
    """λ = 0.5 on [0, 10]² from random nuclei: every statistic within 15% of COMSOL's."""
    phi_w, phi_d, spacing = _reference_fields()
    # COMSOL's own boundary conditions act on the outer rows: leave out 10 nodes (0.5 units)
    ref = pattern_statistics(phi_w, phi_d, spacing, margin=10)
    ds = simulate_chromatin(n=96, length=10.0, lam=0.5, seed=0, stepping=Stepping(tolerance=1e-6))
    assert ds.params["converged"]
    ours = pattern_statistics(
        ds.clean["phi_w"], ds.clean["phi_d"], ds.params["spacing"], periodic=True
    )
    for key in (
        "mean_phi_w",
        "domain_density",
        "dominant_wavelength",
        "phi_w_range",
        "phi_d_range",
        "area_fraction",
    ):
        assert ours[key] == pytest.approx(ref[key], rel=0.15), key
    for field in ("phi_w", "phi_d"):
        span = ref[f"{field}_range"]
        for p in ("p01", "p99"):
            assert abs(ours[f"{field}_{p}"] - ref[f"{field}_{p}"]) < 0.15 * span
        # the phase levels do not depend on the pattern's arrangement: they agree far better
        assert ours[f"{field}_range"] == pytest.approx(span, rel=0.01)
