"""Heat simulator: manufactured-solution convergence of every form and boundary, exact
Crank–Nicolson eigen-decay, refinement order through the public API, and the dataset contract."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.io import load_dataset, save_dataset
from mollifier.sim.heat import simulate_heat, solve_steady, solve_transient
from mollifier.sim.noise import GaussianNoise, NoNoise, random_mask

sympy = pytest.importorskip("sympy")
X, Y, T = sympy.symbols("x y t")
# Manufactured solution and conductivity: smooth, not symmetric, non-zero on the boundary.
U_STAR = sympy.sin(2 * X + 0.5) * sympy.cos(1.5 * Y) + 0.3 * X * Y**2
LAM_STAR = sympy.exp(0.4 * sympy.sin(2 * X) + 0.3 * Y)
U_T_STAR = sympy.exp(-0.7 * T) * sympy.sin(2 * X + 0.5) * sympy.cos(1.5 * Y) + 0.3 * X * Y**2 * (
    1 + T
)
LY = 1.5  # domain [0, 1] x [0, 1.5] with equal node counts, so the x and y spacings differ
RESOLUTIONS = (16, 32, 64, 128)


def _fn(expr, *args):
    return sympy.lambdify(args, expr, "numpy")


def _div_flux(u):
    return sympy.diff(LAM_STAR * sympy.diff(u, X), X) + sympy.diff(LAM_STAR * sympy.diff(u, Y), Y)


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.linspace(0.0, 1.0, n + 1), np.linspace(0.0, LY, n + 1)


def _order(hs, errs) -> float:
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
@pytest.mark.parametrize("form", ["steady", "divergence"])
def test_steady_forms_converge_at_second_order(form: str, boundary: str) -> None:
    laplacian = sympy.diff(U_STAR, X, 2) + sympy.diff(U_STAR, Y, 2)
    m = _fn(-LAM_STAR * laplacian if form == "steady" else -_div_flux(U_STAR), X, Y)
    u_exact, lam = _fn(U_STAR, X, Y), _fn(LAM_STAR, X, Y)
    ux, uy = _fn(sympy.diff(U_STAR, X), X, Y), _fn(sympy.diff(U_STAR, Y), X, Y)
    data = (
        u_exact if boundary == "dirichlet" else (lambda x, y, nx, ny: ux(x, y) * nx + uy(x, y) * ny)
    )
    errs, shifts = [], []
    for n in RESOLUTIONS:
        x, y = _grid(n)
        sol = solve_steady(
            x=x, y=y, lam=lam, source=m, form=form, boundary=boundary, boundary_data=data
        )
        err = sol.u - u_exact(x[:, None], y[None, :])
        if boundary == "neumann":  # defined up to a constant
            err -= err.mean()
        errs.append(np.abs(err).max())
        shifts.append(abs(sol.source_shift))
    print(
        f"\n{form}/{boundary}: max errors {np.array(errs)}, "
        f"order {_order(1 / np.array(RESOLUTIONS), errs):.3f}"
    )
    assert _order(1.0 / np.array(RESOLUTIONS), errs) == pytest.approx(2.0, abs=0.2)
    if boundary == "neumann":  # compatible data: the discrete compatibility defect is O(h^2)
        assert _order(1.0 / np.array(RESOLUTIONS), shifts) == pytest.approx(2.0, abs=0.3)
    else:
        assert shifts == [0.0] * len(RESOLUTIONS)


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_transient_form_converges_at_second_order_in_space_and_time(boundary: str) -> None:
    forcing = _fn(sympy.diff(U_T_STAR, T) - _div_flux(U_T_STAR), T, X, Y)
    u_exact, lam = _fn(U_T_STAR, T, X, Y), _fn(LAM_STAR, X, Y)
    ux, uy = _fn(sympy.diff(U_T_STAR, X), T, X, Y), _fn(sympy.diff(U_T_STAR, Y), T, X, Y)
    if boundary == "dirichlet":
        data = u_exact
    else:
        data = lambda t, x, y, nx, ny: ux(t, x, y) * nx + uy(t, x, y) * ny  # noqa: E731
    t = np.linspace(0.0, 0.4, 3)
    errs = []
    for n in RESOLUTIONS:
        x, y = _grid(n)
        # time step 1.6 h: time is refined together with space
        u = solve_transient(
            x=x,
            y=y,
            t=t,
            lam=lam,
            initial=lambda xx, yy: u_exact(0.0, xx, yy),
            boundary=boundary,
            source=forcing,
            boundary_data=data,
            substeps=n // 8,
        )
        exact = u_exact(t[:, None, None], x[None, :, None], y[None, None, :])
        errs.append(np.abs(u - exact).max())
    print(
        f"\ntransient/{boundary}: max errors {np.array(errs)}, "
        f"order {_order(1 / np.array(RESOLUTIONS), errs):.3f}"
    )
    assert _order(1.0 / np.array(RESOLUTIONS), errs) == pytest.approx(2.0, abs=0.2)


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_crank_nicolson_decays_a_discrete_eigenmode_exactly(boundary: str) -> None:
    """For constant λ, sin·sin (Dirichlet) and cos·cos (Neumann) are eigenvectors of the discrete
    operator with eigenvalue μ = -λ Σ_a (4/h_a²) sin²(π h_a / (2 L_a)); Crank–Nicolson multiplies
    them by (1 + μ dt/2) / (1 - μ dt/2) per step."""
    lam, nx, ny, lx, ly = 0.7, 21, 13, 1.0, 0.6
    x, y = np.linspace(0, lx, nx), np.linspace(0, ly, ny)
    hx, hy = x[1], y[1]
    trig = np.sin if boundary == "dirichlet" else np.cos
    mode = trig(np.pi * x / lx)[:, None] * trig(np.pi * y / ly)[None, :]
    mu = -lam * (4 / hx**2 * np.sin(np.pi * hx / (2 * lx)) ** 2)
    mu -= lam * 4 / hy**2 * np.sin(np.pi * hy / (2 * ly)) ** 2
    t = np.linspace(0.0, 0.2, 5)
    substeps = 3
    dt = t[1] / substeps
    u = solve_transient(x=x, y=y, t=t, lam=lam, initial=mode, boundary=boundary, substeps=substeps)
    growth = ((1 + mu * dt / 2) / (1 - mu * dt / 2)) ** (substeps * np.arange(t.size))
    np.testing.assert_allclose(u, growth[:, None, None] * mode[None], atol=1e-12)


def test_pure_neumann_with_an_incompatible_source_is_shifted_to_compatibility() -> None:
    x, y = np.linspace(0, 2.0, 9), np.linspace(0, 1.0, 7)
    # 2 ∇²u = -(3 + c) with zero flux has a solution only for c = -3; then u = const = 0.
    sol = solve_steady(x=x, y=y, lam=2.0, source=3.0, form="steady", boundary="neumann")
    assert sol.source_shift == pytest.approx(-3.0, abs=1e-12)
    np.testing.assert_allclose(sol.u, 0.0, atol=1e-12)
    # a constant outward flux g needs ∫ (m + c) dA = -∮ λ g ds, so c = -λ g |∂Ω| / |Ω| here
    sol = solve_steady(
        x=x, y=y, lam=2.0, source=0.0, form="divergence", boundary="neumann", boundary_data=0.25
    )
    assert sol.source_shift == pytest.approx(-2.0 * 0.25 * 6.0 / 2.0, abs=1e-12)


@pytest.mark.parametrize(
    ("form", "boundary"),
    [(f, b) for f in ("steady", "divergence", "transient") for b in ("dirichlet", "neumann")],
)
def test_simulate_heat_refinement_is_second_order(form: str, boundary: str) -> None:
    """Successive differences of the sampled field for refine = 1, 2, 4 shrink by 2**order."""
    us = [
        simulate_heat(
            n=17, refine=r, form=form, boundary=boundary, noise=NoNoise(), n_times=3, t_end=0.02
        ).clean["u"]
        for r in (1, 2, 4)
    ]
    d12, d24 = np.abs(us[0] - us[1]).max(), np.abs(us[1] - us[2]).max()
    print(f"\nsimulate_heat {form}/{boundary}: observed order {np.log2(d12 / d24):.3f}")
    assert np.log2(d12 / d24) == pytest.approx(2.0, abs=0.2)


def test_default_steady_data_satisfy_the_equation_on_the_observation_grid() -> None:
    """λ = -m / ∇²u from clean data with a 5-point Laplacian: exact up to O(H²) away from the
    corners (where Dirichlet data and m ≠ 0 make u weakly singular)."""
    ds = simulate_heat(n=64, noise=NoNoise(), seed=5)
    u, m, lam = ds.clean["u"], ds.known["m"], ds.truth["lam"]
    h = ds.coords["x"][1] - ds.coords["x"][0]
    lap = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]) / h**2
    rel = np.abs(-m[1:-1, 1:-1] / lap / lam[1:-1, 1:-1] - 1)
    print(
        f"\nλ = -m/∇²u: median rel. error {np.median(rel):.2e}, max {rel.max():.2e}, "
        f"max 3 nodes from the corners {rel[3:-3, 3:-3].max():.2e}, "
        f"min|∇²u|/max|∇²u| {np.abs(lap).min() / np.abs(lap).max():.3f}"
    )
    assert np.median(rel) < 2e-3
    assert rel[3:-3, 3:-3].max() < 1e-2
    assert np.abs(lap).min() > 0.05 * np.abs(lap).max()  # ∇²u never vanishes: λ identifiable


def test_dataset_contract_sampling_and_round_trip(tmp_path) -> None:
    lam_fn = lambda x, y: 1.0 + 0.5 * np.sin(3 * x) * np.cos(2 * y)  # noqa: E731
    ds = simulate_heat(n=(9, 7), refine=3, lam=lam_fn, length=(1.0, 0.75), seed=2)
    assert ds.equation == "heat" and ds.axes == ("x", "y") and ds.shape == (9, 7)
    assert set(ds.arrays()) == {"x", "y", "u", "u_clean", "m", "lam"}
    assert ds.truth_axes["lam"] == ("x", "y")
    np.testing.assert_allclose(ds.truth["lam"], lam_fn(ds.coords["x"][:, None], ds.coords["y"]))
    # the observation nodes are every 3rd node of the fine solve
    xf, yf = np.linspace(0, 1.0, 25), np.linspace(0, 0.75, 19)
    fine = solve_steady(x=xf, y=yf, lam=lam_fn, source=1.0, form="steady")
    assert fine.u.shape == (25, 19)
    ref = simulate_heat(n=(9, 7), refine=3, lam=lam_fn, length=(1.0, 0.75), source=1.0)
    np.testing.assert_allclose(ref.clean["u"], fine.u[::3, ::3], atol=1e-14)
    assert ds.params["refine"] == 3 and ds.params["fine_shape"] == [25, 19]
    assert ds.noise == GaussianNoise(0.01).describe()
    back = load_dataset(save_dataset(ds, tmp_path / "heat"))
    for name, arr in ds.arrays().items():
        np.testing.assert_array_equal(back.arrays()[name], arr)
    assert back.params == ds.params


def test_constant_lam_array_lam_and_transient_layout() -> None:
    ds = simulate_heat(n=9, refine=2, lam=2.5, noise=NoNoise())
    assert ds.truth["lam"] == 2.5 and ds.truth_axes["lam"] == ()
    # an array on the observation grid is interpolated: close to the callable it samples
    lam_fn = lambda x, y: np.exp(0.3 * np.sin(2 * np.pi * x) * np.cos(np.pi * y))  # noqa: E731
    a = simulate_heat(n=33, refine=2, lam=lam_fn, noise=NoNoise())
    b = simulate_heat(n=33, refine=2, lam=a.truth["lam"], noise=NoNoise())
    np.testing.assert_allclose(b.truth["lam"], a.truth["lam"], rtol=1e-13)
    assert np.abs(a.clean["u"] - b.clean["u"]).max() < 1e-4 * np.abs(a.clean["u"]).max()
    tr = simulate_heat(n=9, refine=2, form="transient", n_times=6, t_end=0.05, seed=1)
    assert tr.axes == ("t", "x", "y") and tr.shape == (6, 9, 9)
    assert tr.known["m"].shape == (6, 9, 9) and np.all(tr.known["m"] == 0)
    assert tr.truth_axes["lam"] == ("x", "y") and tr.truth["lam"].shape == (9, 9)
    np.testing.assert_allclose(tr.clean["u"][:, 0, :], 0.0, atol=1e-15)  # Dirichlet u = 0
    # heat flows out through u = 0 walls: the mean decreases monotonically
    assert np.all(np.diff(tr.clean["u"].mean(axis=(1, 2))) < 0)


def test_seeds_noise_and_mask() -> None:
    a = simulate_heat(n=33, refine=1, seed=4, noise=GaussianNoise(0.05))
    b = simulate_heat(n=33, refine=1, seed=4, noise=GaussianNoise(0.05))
    c = simulate_heat(n=33, refine=1, seed=5, noise=GaussianNoise(0.05))
    np.testing.assert_array_equal(a.fields["u"], b.fields["u"])
    assert not np.array_equal(a.truth["lam"], c.truth["lam"])
    resid = a.fields["u"] - a.clean["u"]
    assert resid.std() / (0.05 * a.clean["u"].std()) == pytest.approx(1.0, abs=0.1)
    lam = a.truth["lam"]
    assert np.median(lam) == pytest.approx(1.0, rel=0.25)
    assert np.log(lam).std() == pytest.approx(0.3, rel=0.05)
    mask = random_mask((33, 33), fraction=0.3, rng=np.random.default_rng(0))
    m = simulate_heat(n=33, refine=1, seed=4, noise=GaussianNoise(0.05), mask=mask)
    assert np.array_equal(m.mask, mask) and np.all(np.isnan(m.fields["u"][~mask]))
    np.testing.assert_array_equal(m.fields["u"][mask], a.fields["u"][mask])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"form": "elliptic"}, "form"),
        ({"boundary": "robin"}, "boundary"),
        ({"lam": -1.0}, "positive"),
        ({"lam": np.ones((4, 4))}, "observation grid"),
        ({"refine": 0}, "refine"),
        ({"n": 2}, "n must be"),
        ({"length": (1.0, -1.0)}, "length"),
        ({"mask": np.ones((3, 3), dtype=bool)}, "mask"),
        ({"noise": 0.01}, "AbstractNoise"),
    ],
)
def test_invalid_arguments_raise(kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulate_heat(**{"n": 9, "refine": 1, **kwargs})


def test_solver_input_validation() -> None:
    x = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="uniformly spaced"):
        solve_steady(x=x**2, y=x, lam=1.0, source=1.0)
    with pytest.raises(ValueError, match="source array"):
        solve_steady(x=x, y=x, lam=1.0, source=np.ones((4, 5)))
    with pytest.raises(ValueError, match="substeps"):
        solve_transient(x=x, y=x, t=np.array([0.0, 1.0]), lam=1.0, initial=0.0, substeps=0)
