"""Automatic widths: the spectral risk rule against an oracle, and the stability refinement."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.inverse.autowidth import choose_widths, spectrum, width_bounds


def _signal(x):
    u = np.sin(x) + 0.3 * np.sin(2.3 * x + 1) + 0.1 * np.cos(5 * x)

    def deriv(k):
        return (
            np.sin(x + k * np.pi / 2)
            + 0.3 * 2.3**k * np.sin(2.3 * x + 1 + k * np.pi / 2)
            + 0.1 * 5.0**k * np.cos(5 * x + k * np.pi / 2)
        )

    return u, deriv


def _error(noisy, truth, k, h, w):
    est = ml.derivative(noisy, k, spacing=h, width=w, boundary="valid")
    r = (truth.size - est.size) // 2
    t = truth[r : truth.size - r]
    return np.linalg.norm(est - t) / np.linalg.norm(t)


@pytest.mark.parametrize("noise", [1e-3, 1e-2, 5e-2])
@pytest.mark.parametrize("order", [1, 2, 4])
def test_spectral_rule_is_close_to_the_oracle_width(noise, order):
    """The chosen width's error against the true derivative is within 1.6× of the best width's
    error found by scanning against the truth (which the rule never sees)."""
    x = np.linspace(0, 10, 401)
    h = x[1] - x[0]
    u, deriv = _signal(x)
    rng = np.random.default_rng(int(noise * 1e4) + order)
    noisy = u + noise * u.std() * rng.standard_normal(x.size)
    grid = ml.Grid(x=x)
    kernel = ml.PolyBump()
    lower, upper = width_bounds(grid, kernel=kernel, max_order=order, periodic=False)
    w = choose_widths(grid, [noisy], orders={"x": order}, kernel=kernel, lower=lower, upper=upper)
    oracle = min(
        _error(noisy, deriv(order), order, h, v) for v in np.geomspace(lower["x"], 2.4, 60)
    )
    assert _error(noisy, deriv(order), order, h, w["x"]) <= 1.6 * oracle


def test_noise_power_estimate_and_clean_data():
    x = np.linspace(0, 10, 801)
    u, _ = _signal(x)
    sigma = 0.01
    rng = np.random.default_rng(0)
    lines = sigma * rng.standard_normal((40, x.size)) + u  # 40 noisy copies, averaged over
    omega, power, count = spectrum(lines, 1, x[1] - x[0])
    assert count == 40 and omega[0] == 0
    assert np.mean(power[300:]) == pytest.approx(sigma**2, rel=0.1)
    noisy = lines[0]
    grid = ml.Grid(x=x)
    lower, upper = width_bounds(grid, kernel=ml.PolyBump(), max_order=2, periodic=False)
    clean = choose_widths(
        grid, [u], orders={"x": 2}, kernel=ml.PolyBump(), lower=lower, upper=upper
    )
    noisy_w = choose_widths(
        grid, [noisy], orders={"x": 2}, kernel=ml.PolyBump(), lower=lower, upper=upper
    )
    assert clean["x"] < 1.5 * lower["x"] < noisy_w["x"]


def test_width_grows_with_noise_in_an_inverse_problem():
    from mollifier.pdes import problem_from_dataset
    from mollifier.sim import GaussianNoise, simulate_heat

    widths = []
    for level in (0.0, 0.01, 0.05):
        ds = simulate_heat(n=48, noise=GaussianNoise(level), seed=1)
        pb = problem_from_dataset(ds, width="auto")
        assert pb.width_rule == "spectral+stability" and pb.width_ladder
        assert pb.width_guess is not None and pb.width_guess.keys() == pb.width.keys()
        assert pb.with_width(0.3).width_guess is None  # explicit widths: no guess
        widths.append(pb.width["x"])
    assert widths[0] < widths[1] < widths[2]


# -- the fast refinement ------------------------------------------------------------------------


def _heat_problem(*, n=32, noise=0.01, seed=1, positive=True, width="auto", **options):
    from mollifier.pdes import residuals
    from mollifier.sim import GaussianNoise, simulate_heat

    ds = simulate_heat(n=n, noise=GaussianNoise(noise), seed=seed)
    return ml.InverseProblem(
        grid=ml.Grid(**ds.coords),
        data={"u": ds.fields["u"]},
        known={"m": ds.known["m"]},
        unknowns={"lam": ml.Field(axes=("x", "y"), positive=positive)},
        residual=residuals.heat_steady,
        width=width,
        **options,
    )


def _linear_problem(*, boundary="reflect", width=(0.3, 0.5)):
    """u_t = nu u_xx + c u (one decaying mode, 2% noise), constants nu and c."""
    t, x = np.linspace(0, 1, 41), np.linspace(0, 4, 81)
    grid = ml.Grid(t=t, x=x)
    tt, xx = grid.mesh()
    u = np.exp(-0.2 * tt) * np.sin(np.pi * xx / 2) + 0.3
    u = u + 0.02 * u.std() * np.random.default_rng(3).standard_normal(u.shape)
    return ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns={"nu": ml.Constant(), "c": ml.Constant()},
        residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx") - p.c * d(f.u),
        width=dict(zip(("t", "x"), width, strict=True)),
        boundary=boundary,
    )


@pytest.mark.parametrize("boundary", ["reflect", "periodic", "extrapolate"])
def test_rung_solve_equals_the_direct_solver_on_the_same_rows(boundary):
    """A rung is the direct solver's closed form: constants (dense least squares, noise-gain
    weights with extrapolation) agree with ``Direct()`` on the same problem to round-off."""
    from mollifier.inverse._widthsearch import RungSolver

    pb = _linear_problem(boundary=boundary)
    rungs = RungSolver(pb, identifiability=1e-2, seed=0)
    assert rungs.closed_form(pb.width)
    got = rungs(pb.width)
    ref = pb.solve(ml.Direct()).unknowns
    for k in ("nu", "c"):
        assert got[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-12)


def test_rung_solve_with_edge_kernels_uses_the_interior_rows_unclamped():
    """With edge kernels, a rung equals the direct solver on the cropped reflecting problem
    (the same rows), and a positive field is not clamped: its negative nodes stay negative."""
    from mollifier.inverse._widthsearch import RungSolver

    w = {"x": 0.12, "y": 0.12}  # narrow at 5% noise: some nodes of λ̂ come out negative
    pb = _heat_problem(noise=0.05, width=w, boundary="interior")
    rungs = RungSolver(pb, identifiability=1e-2, seed=0)
    assert rungs.closed_form(w)
    lam = rungs(w)["lam"]
    cropped = _heat_problem(noise=0.05, width=w, positive=False, boundary="reflect")
    ref = cropped.solve(ml.Direct()).unknowns["lam"]
    both = np.isfinite(ref)
    assert np.array_equal(np.isfinite(lam), both)
    assert np.allclose(lam[both], ref[both], rtol=1e-10, atol=1e-12)
    assert np.sum(lam[both] < 0) > 0
    clamped = _heat_problem(noise=0.05, width=w, boundary="reflect").solve(ml.Direct())
    assert np.nanmin(clamped.unknowns["lam"]) >= 0  # what the full solver returns


def test_positivity_no_longer_moves_the_ladder():
    """The ladder judges the unclamped solution, so declaring λ positive does not change the
    chosen width (clamped nodes used to look stable and pull the choice to narrow rungs)."""
    kept = _heat_problem(n=48, seed=0, positive=True, boundary="interior")
    free = _heat_problem(n=48, seed=0, positive=False, boundary="interior")
    assert kept.width_rule == free.width_rule == "spectral+stability"
    assert kept.width == free.width
    assert kept.width_ladder == free.width_ladder


def test_ladder_finds_the_balance_of_a_known_curve_with_few_solves():
    """On an estimate with noise-like drift below s0 = 0.3 and bias-like drift above it, the
    coarse ladder (6 rungs) plus two halvings of its most stable step picks a rung within one
    half coarse step of s0, with 6 + 2 solves, and records every level."""
    from mollifier.inverse.autowidth import stability_scale

    calls = []

    def solve(widths):
        s = widths["x"] / 2.0
        calls.append(s)
        return {"c": 1.0 + 0.01 * (0.3 / s) ** 3 + 0.01 * (s / 0.3) ** 3}

    chosen, ladder = stability_scale(
        solve, {"x": 2.0}, lower={"x": 0.05 * 2.0}, upper={"x": 2.0}, tolerance=1.0
    )
    assert len(calls) == len(set(calls)) == 6 + 2
    fine_step = (1 / 0.05) ** (1 / 10)  # half of the coarse geometric step
    assert 1 / fine_step <= (chosen["x"] / 2.0) / 0.3 <= fine_step**2
    assert [row["level"] for row in ladder] == [0] * 5 + [1, 1, 2, 2]
    assert all(row["change"] >= 0 for row in ladder)
    with pytest.raises(ValueError, match="tolerance"):
        stability_scale(solve, {"x": 2.0}, lower={"x": 0.1}, upper={"x": 2.0}, tolerance=0.5)


def test_tolerance_prefers_the_narrowest_of_nearly_equal_changes():
    """With a tolerance above 1, the narrowest change within it of the least is kept; by default
    (tolerance 1) the least."""
    from mollifier.inverse.autowidth import stability_scale

    rungs = np.geomspace(0.1, 1.0, 6)
    # relative changes between neighbours: 0.2, 0.17, 9e-5, 6e-5, 1e-2
    values = [1.5, 1.2, 1.0, 1.00009, 1.00015, 1.01]

    def solve(widths):
        return {"c": values[int(np.argmin(np.abs(np.log(widths["x"] / rungs))))]}

    args = {"lower": {"x": 0.1}, "upper": {"x": 1.0}, "refine": 0}
    loose, _ = stability_scale(solve, {"x": 1.0}, tolerance=2.0, **args)
    default, _ = stability_scale(solve, {"x": 1.0}, **args)  # tolerance 1: the least change
    assert loose["x"] == pytest.approx(rungs[3])
    assert default["x"] == pytest.approx(rungs[4])


def test_spectral_rule_matches_scoring_every_candidate():
    """The coarse-then-local search returns the argmin of the risk over all 48 candidates."""
    from mollifier.inverse.autowidth import _CANDIDATES, width_risk

    x = np.linspace(0, 10, 401)
    u, _ = _signal(x)
    grid = ml.Grid(x=x)
    kernel = ml.PolyBump()
    for noise, order in [(1e-3, 1), (1e-2, 2), (5e-2, 4), (0.3, 2)]:
        noisy = u + noise * u.std() * np.random.default_rng(order).standard_normal(x.size)
        lower, upper = width_bounds(grid, kernel=kernel, max_order=order, periodic=False)
        got = choose_widths(
            grid, [noisy], orders={"x": order}, kernel=kernel, lower=lower, upper=upper
        )
        candidates = np.geomspace(lower["x"], upper["x"], _CANDIDATES)
        omega, power, lines = spectrum(noisy, 0, x[1] - x[0])
        risk, _ = width_risk(
            omega, power, candidates, order=order, kernel=kernel, spacing=x[1] - x[0], lines=lines
        )
        assert got["x"] == candidates[int(np.argmin(risk))]


@pytest.mark.parametrize("n", [64, 65, 16])
def test_fft_response_equals_the_direct_sum(n):
    """The FFT response of a stencil (wrapped when longer than the axis) is the direct sum."""
    from mollifier.inverse.autowidth import _response
    from mollifier.kernels import frequency_response, stencil

    h = 0.1
    omega = 2 * np.pi * np.arange(n // 2 + 1) / (n * h)
    taps = stencil(ml.PolyBump(), 2, spacing=h, width=1.2 if n == 16 else 0.4)
    ref = frequency_response(taps, spacing=h, omega=omega)
    assert np.allclose(
        _response(taps, spacing=h, omega=omega), ref, rtol=0, atol=1e-12 * np.abs(ref).max()
    )
    other = omega[1:] * 0.9  # not the DFT grid: the direct sum
    assert np.array_equal(
        _response(taps, spacing=h, omega=other), frequency_response(taps, spacing=h, omega=other)
    )


def test_non_affine_residual_keeps_the_spectral_widths():
    t, x = np.linspace(0, 1, 41), np.linspace(0, 2, 51)
    grid = ml.Grid(t=t, x=x)
    tt, xx = grid.mesh()
    u = np.exp(-0.3 * np.pi**2 * tt) * np.sin(np.pi * xx)
    pb = ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns={"nu": ml.Constant()},
        residual=lambda f, d, p: d(f.u, "t") - p.nu**2 * d(f.u, "xx"),
        width="auto",
    )
    assert pb.width_rule == "spectral" and pb.width == pb.width_guess and not pb.width_ladder


def test_rung_without_rows_gives_no_estimate():
    """A rung whose stencil radius crops every row returns NaN, which the ladder never keeps."""
    from mollifier.inverse._widthsearch import RungSolver

    pb = _linear_problem()
    rungs = RungSolver(pb, identifiability=1e-2, seed=0)
    got = rungs({"t": 0.6, "x": 0.5})  # t radius 27 of 41 nodes: cropping leaves nothing
    assert np.isnan(got["nu"]) and np.isnan(got["c"])
