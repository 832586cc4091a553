"""Analytic noise propagation of the direct solver against Monte-Carlo over noise draws."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mollifier as ml


def _heat_problem(u: np.ndarray, grid: ml.Grid, *, field: bool) -> ml.InverseProblem:
    if field:
        unknowns = {"lam": ml.Field(axes=("t", "x"))}
        residual = lambda f, d, p: d(f.u, "t") - p.lam * d(f.u, "xx")  # noqa: E731
    else:
        unknowns = {"nu": ml.Constant()}
        residual = lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx")  # noqa: E731
    return ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns=unknowns,
        residual=residual,
        width={"t": 0.15, "x": 0.3},
    )


def _heat_data(nt: int, nx: int) -> tuple[ml.Grid, np.ndarray]:
    grid = ml.Grid(t=np.linspace(0, 1, nt), x=np.linspace(0, 2, nx))
    t, x = grid.mesh()
    u = np.exp(-0.3 * np.pi**2 * t) * np.sin(np.pi * x)
    u += 0.5 * np.exp(-1.2 * np.pi**2 * t) * np.sin(2 * np.pi * x) + 1.0
    return grid, u


def test_constant_std_matches_monte_carlo() -> None:
    """The analytic std of ν̂ (heat, 1% noise) against the spread of ν̂ over 300 noise draws.

    The analytic std uses the *estimated* noise level; it is rescaled to the true one so that
    the test checks the propagation alone. The sample std of 300 Gaussian draws has relative
    spread 1/√(2·299) = 4.1%; ±15% is 3.6 of those.
    """
    grid, u = _heat_data(31, 41)
    sigma = 0.01
    rng = np.random.default_rng(0)
    first = _heat_problem(u + sigma * rng.standard_normal(u.shape), grid, field=False)
    result = first.solve(ml.Direct(uncertainty="analytic"))
    analytic = result.unknowns_std["nu"] * sigma / result.noise_std["u"]
    draws = [
        _heat_problem(u + sigma * rng.standard_normal(u.shape), grid, field=False)
        .solve(ml.Direct())
        .unknowns["nu"]
        for _ in range(300)
    ]
    assert abs(analytic / np.std(draws, ddof=1) - 1) < 0.15
    # the naive OLS std treats the (correlated) mollified rows as independent
    assert result.diagnostics["naive_ols_std"]["nu"] < 0.8 * analytic


def test_pointwise_field_std_matches_monte_carlo_per_node() -> None:
    """λ(t, x) in u_t = λ u_xx at 0.1% noise (the linear regime): the analytic std per node
    against the spread over 100 draws. A node's sample std has 7% relative spread; the median
    over nodes of the ratio is asserted within 10%, its 10–90% range within 25%."""
    grid, u = _heat_data(31, 41)
    sigma = 1e-3
    rng = np.random.default_rng(1)
    result = _heat_problem(u + sigma * rng.standard_normal(u.shape), grid, field=True).solve(
        ml.Direct(uncertainty="analytic")
    )
    analytic = result.unknowns_std["lam"] * sigma / result.noise_std["u"]
    draws = np.array(
        [
            _heat_problem(u + sigma * rng.standard_normal(u.shape), grid, field=True)
            .solve(ml.Direct())
            .unknowns["lam"]
            for _ in range(100)
        ]
    )
    keep = np.isfinite(analytic) & np.all(np.isfinite(draws), axis=0)
    assert keep.sum() > 100
    ratio = analytic[keep] / np.std(draws[:, keep], axis=0, ddof=1)
    assert abs(np.median(ratio) - 1) < 0.10
    lo, hi = np.percentile(ratio, [10, 90])
    assert lo > 0.75 and hi < 1.25


def test_result_json_and_npz_carry_the_uncertainty(tmp_path) -> None:
    grid, u = _heat_data(31, 41)
    noisy = u + 0.01 * np.random.default_rng(2).standard_normal(u.shape)
    problem = ml.InverseProblem(
        grid=grid,
        data={"u": noisy},
        unknowns={"nu": ml.Constant(), "lam": ml.Field(axes=("x",))},
        residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx") - p.lam * d(f.u, "x"),
        width={"t": 0.15, "x": 0.3},
    )
    result = problem.solve(ml.Direct(uncertainty="analytic", level=0.9))
    result.save(tmp_path, figures=False)
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc["uncertainty_method"] == "analytic"
    assert doc["level"] == 0.9
    assert set(doc["noise_std"]) == {"u"}
    assert doc["unknowns_std"]["lam"] is None
    low, high = doc["intervals"]["nu"]
    sd = doc["unknowns_std"]["nu"]
    assert high - low == pytest.approx(2 * 1.6448536 * sd, rel=1e-6)
    assert low < result.unknowns["nu"] < high
    arrays = np.load(tmp_path / "unknowns.npz")
    std = arrays["lam_std"]
    finite = np.isfinite(arrays["lam"])
    assert np.array_equal(np.isfinite(std), finite)
    assert np.allclose(
        arrays["lam_high"][finite] - arrays["lam_low"][finite], 2 * 1.6448536 * std[finite]
    )
    assert "±" in result.summary()


def test_without_uncertainty_the_keys_are_empty() -> None:
    grid, u = _heat_data(31, 41)
    result = _heat_problem(u, grid, field=False).solve(ml.Direct())
    doc = result.to_json()
    assert (
        doc["uncertainty_method"] is None and doc["unknowns_std"] == {} and doc["intervals"] == {}
    )
    assert set(doc["noise_std"]) == {"u"}


def test_analytic_uncertainty_refuses_the_regularised_path() -> None:
    grid, u = _heat_data(31, 41)
    problem = _heat_problem(u, grid, field=True)
    with pytest.raises(ValueError, match="closed-form"):
        problem.solve(ml.Direct(uncertainty="analytic", regularization=ml.Tikhonov(0.1)))


def test_bootstrap_is_reproducible_and_agrees_with_analytic() -> None:
    """Same seed, same standard deviations; with 40 replicates the bootstrap std of ν̂ has
    relative spread 1/√78 = 11%, so it agrees with the analytic one within 35% (3 spreads)."""
    grid, u = _heat_data(31, 41)
    noisy = u + 0.01 * np.random.default_rng(3).standard_normal(u.shape)
    problem = _heat_problem(noisy, grid, field=False)
    a = problem.solve(ml.Direct(uncertainty="bootstrap", replicates=40, seed=4))
    b = problem.solve(ml.Direct(uncertainty="bootstrap", replicates=40, seed=4))
    c = problem.solve(ml.Direct(uncertainty="bootstrap", replicates=40, seed=5))
    assert a.unknowns_std == b.unknowns_std
    assert a.unknowns_std != c.unknowns_std
    analytic = problem.solve(ml.Direct(uncertainty="analytic")).unknowns_std["nu"]
    assert abs(a.unknowns_std["nu"] / analytic - 1) < 0.35
    assert a.uncertainty_method == "bootstrap"


def test_bootstrap_covers_the_regularised_path() -> None:
    grid, u = _heat_data(31, 41)
    noisy = u + 0.01 * np.random.default_rng(4).standard_normal(u.shape)
    problem = _heat_problem(noisy, grid, field=True)
    result = problem.solve(
        ml.Direct(uncertainty="bootstrap", replicates=5, regularization=ml.Tikhonov(1.0))
    )
    std = result.unknowns_std["lam"]
    assert np.array_equal(np.isfinite(std), np.isfinite(result.unknowns["lam"]))
    assert np.nanmedian(std) > 0


def test_figure_shows_the_std_map_beside_the_field(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    grid, u = _heat_data(31, 41)
    noisy = u + 0.01 * np.random.default_rng(5).standard_normal(u.shape)
    result = _heat_problem(noisy, grid, field=True).solve(ml.Direct(uncertainty="analytic"))
    from mollifier.plot import plot_result

    plot_result(result, tmp_path)
    import matplotlib.image as mpimg

    wide = mpimg.imread(tmp_path / "unknowns.png")
    plain = _heat_problem(noisy, grid, field=True).solve(ml.Direct())
    (tmp_path / "plain").mkdir()
    plot_result(plain, tmp_path / "plain")
    narrow = mpimg.imread(tmp_path / "plain" / "unknowns.png")
    assert wide.shape[1] > 1.2 * narrow.shape[1]  # a fourth column of panels


def test_toml_solver_section_takes_the_uncertainty() -> None:
    from mollifier.config import solver_from_table

    solver = solver_from_table({"method": "direct", "uncertainty": "analytic", "level": 0.9})
    assert solver == ml.Direct(uncertainty="analytic", level=0.9)
    with pytest.raises(Exception, match="uncertainty"):
        solver_from_table({"method": "direct", "uncertainty": "exact"})


def _finite_difference_std(problem: ml.InverseProblem, sigma: float) -> dict[str, np.ndarray]:
    """``σ ‖∂θ̂/∂u‖`` per unknown from one-sided differences of re-solves, data entry by entry:
    the first-order standard deviation computed without the analytic machinery."""
    u = problem.data["u"]
    base = problem.solve(ml.Direct()).unknowns
    step = 1e-6 * float(np.std(u))
    rows: dict[str, list[np.ndarray]] = {n: [] for n in base}
    for k in range(u.size):
        bumped = u.copy().reshape(-1)
        bumped[k] += step
        moved = problem.with_data({"u": bumped.reshape(u.shape)}).solve(ml.Direct()).unknowns
        for n in base:
            rows[n].append((np.asarray(moved[n]) - np.asarray(base[n])) / step)
    return {n: sigma * np.sqrt(np.sum(np.square(r), axis=0)) for n, r in rows.items()}


def _bounded_problem(*, positive: bool, with_constant: bool) -> ml.InverseProblem:
    """λ(x) in ``u_t = ν u_xx + λ u_x`` on data whose true λ is 0: about half of the bounded
    estimates sit at 0."""
    grid = ml.Grid(t=np.linspace(0, 1, 19), x=np.linspace(0, 2, 27))
    t, x = grid.mesh()
    u = np.exp(-0.3 * np.pi**2 * t) * np.sin(np.pi * x) + 1.0
    u = u + 0.01 * np.random.default_rng(6).standard_normal(u.shape)
    unknowns: dict[str, ml.Constant | ml.Field] = {"lam": ml.Field(axes=("x",), positive=positive)}
    if with_constant:
        unknowns["nu"] = ml.Constant()
    return ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns=unknowns,
        residual=lambda f, d, p: (
            d(f.u, "t") - (p.nu if with_constant else 0.3) * d(f.u, "xx") - p.lam * d(f.u, "x")
        ),
        width={"t": 0.25, "x": 0.3},
    )


def _held(result: ml.Result) -> np.ndarray:
    lam = result.unknowns["lam"]
    held = np.isfinite(lam) & (lam == 0)
    assert 2 <= held.sum() <= np.isfinite(lam).sum() - 2
    assert result.diagnostics["uncertainty_at_bound"] == {"lam": int(held.sum())}
    assert np.array_equal(np.isfinite(result.unknowns_std["lam"]), np.isfinite(lam) & ~held)
    return held


def test_positive_field_nodes_at_the_bound_get_no_std_and_free_nodes_keep_theirs() -> None:
    """Without constants the nodes decouple: a node the bound holds at 0 has NaN std (counted
    in the diagnostics), every free node the std of the same problem without the bound."""
    bounded = _bounded_problem(positive=True, with_constant=False)
    result = bounded.solve(ml.Direct(uncertainty="analytic"))
    held = _held(result)
    free = _bounded_problem(positive=False, with_constant=False)
    plain = free.solve(ml.Direct(uncertainty="analytic"))
    assert "uncertainty_at_bound" not in plain.diagnostics
    keep = np.isfinite(result.unknowns_std["lam"])
    assert np.all(plain.unknowns["lam"][held] < 0)
    assert np.allclose(
        result.unknowns_std["lam"][keep], plain.unknowns_std["lam"][keep], rtol=1e-12
    )


@pytest.mark.slow
def test_positive_field_with_a_constant_matches_the_bounded_estimators_linearisation() -> None:
    """With ν the bounded solve is joint: the analytic std of ν and of the free nodes equals
    ``σ̂ ‖∂θ̂/∂u‖`` from one-sided differences of re-solves, entry by entry (the active set does
    not move under a 1e-6 perturbation)."""
    problem = _bounded_problem(positive=True, with_constant=True)
    result = problem.solve(ml.Direct(uncertainty="analytic"))
    _held(result)
    reference = _finite_difference_std(problem, result.noise_std["u"])
    sd = result.unknowns_std["lam"]
    free = np.isfinite(sd)
    assert np.allclose(sd[free], reference["lam"][free], rtol=1e-3)
    assert result.unknowns_std["nu"] == pytest.approx(float(reference["nu"]), rel=1e-3)
