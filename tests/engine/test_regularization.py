"""Automatic regularisation strength and kept positivity in the direct solver."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import lsq_linear

import mollifier as ml
from mollifier.config import ConfigError, solver_from_table
from mollifier.inverse.regularization import difference_operator, solve_regularized
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, simulate_heat


def _blur(n: int, width: float) -> sp.csr_matrix:
    """A Gaussian blur (rows sum to 1): the manufactured ill-posed forward operator."""
    i = np.arange(n)
    k = np.exp(-0.5 * ((i[:, None] - i[None, :]) / width) ** 2)
    k[k < 1e-8] = 0.0
    return sp.csr_matrix(k / k.sum(axis=1, keepdims=True))


def _manufactured(sigma: float, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    n = 120
    x = np.linspace(0, 1, n)
    truth = 1.0 + 0.5 * np.sin(2 * np.pi * x) + 0.3 * np.cos(5 * np.pi * x)
    jac = _blur(n, 4.0)
    rng = np.random.default_rng(seed)
    b = -(jac @ truth + sigma * rng.standard_normal(n))
    return jac, b, truth


@pytest.mark.parametrize("criterion", ["discrepancy", "risk", "gcv", "lcurve"])
def test_auto_alpha_is_close_to_the_best_of_a_scan(criterion):
    """Blurred smooth signal plus 2% white noise: the α each criterion picks from the data has an
    error within 1.5× of the best α of a 41-point scan scored with the truth."""
    sigma = 0.02
    jac, b, truth = _manufactured(sigma)
    pen = difference_operator((truth.size,))
    draws = np.random.default_rng(5).standard_normal((8, truth.size)) * sigma

    def error(theta: np.ndarray) -> float:
        return float(np.linalg.norm(theta - truth) / np.linalg.norm(truth))

    scan = [
        error(solve_regularized(jac, b, pen, ml.Tikhonov(float(a)))[0])
        for a in np.logspace(-4, 1, 41)
    ]
    reg = ml.Tikhonov("auto", criterion=criterion)
    theta, record = solve_regularized(jac, b, pen, reg, noise=lambda _: draws)
    assert error(theta) <= 1.5 * min(scan), (criterion, record["alpha"], error(theta), min(scan))
    assert error(theta) < 0.5 * scan[0]  # far better than (almost) no regularisation
    search = record["search"]
    assert search["criterion"] == criterion
    assert record["alpha"] == search["alpha"] == search["alphas"][int(np.argmin(search["values"]))]
    assert len(search["alphas"]) == len(search["values"]) == 15


def test_bounded_solve_matches_lsq_linear():
    """A signal that dips below zero: the bounded solve equals scipy's lsq_linear on the stacked
    least-squares system, is >= 0, and has active bounds; an unbounded-feasible problem gives the
    unconstrained solution exactly."""
    jac, b, truth = _manufactured(0.01)
    shifted = b + jac @ np.full(truth.size, 1.2)  # truth − 1.2: negative over a stretch
    pen = difference_operator((truth.size,))
    lower = np.zeros(truth.size)
    alpha = 0.05
    free, _ = solve_regularized(jac, shifted, pen, ml.Tikhonov(alpha))
    assert free.min() < -0.3
    bounded, record = solve_regularized(jac, shifted, pen, ml.Tikhonov(alpha), lower=lower)
    scale = np.sqrt(jac.multiply(jac).sum() / truth.size)
    stacked = sp.vstack([jac, alpha * scale * pen]).tocsr()
    rhs = -np.concatenate([shifted, np.zeros(pen.shape[0])])
    ref = lsq_linear(stacked.toarray(), rhs, bounds=(0, np.inf), method="bvls", tol=1e-14).x
    assert bounded.min() >= 0
    assert record["positivity"]["active"] > 10
    np.testing.assert_allclose(bounded, ref, atol=1e-8)
    same, rec2 = solve_regularized(jac, b, pen, ml.Tikhonov(alpha), lower=lower)
    plain, _ = solve_regularized(jac, b, pen, ml.Tikhonov(alpha))
    assert rec2["positivity"]["active"] == 0
    np.testing.assert_array_equal(same, plain)


def _pointwise_problem(positive: bool) -> ml.InverseProblem:
    """``λ u_xx + m = 0`` with ``λ = x − 0.3`` (negative on x < 0.3) and 2% noise on ``u``."""
    x = np.linspace(0, 1, 201)
    u = np.sin(3 * x) + 0.5 * np.cos(7 * x)
    uxx = -9 * np.sin(3 * x) - 24.5 * np.cos(7 * x)
    lam = x - 0.3
    rng = np.random.default_rng(0)
    return ml.InverseProblem(
        grid=ml.Grid(x=x),
        data={"u": u + 0.002 * rng.standard_normal(x.size)},
        known={"m": -lam * uxx},
        unknowns={"lam": ml.Field(axes=("x",), positive=positive)},
        residual=lambda f, d, p: p.lam * d(f.u, "xx") + d(f.m),
        width=0.05,
    )


def test_positive_pointwise_field_is_the_clipped_unconstrained_one():
    """Per node, the bounded one-dimensional least squares is ``max(λ̂, 0)``: equal to the
    unconstrained estimate where that is positive, 0 elsewhere."""
    free = _pointwise_problem(False).solve(ml.Direct())
    kept = _pointwise_problem(True).solve(ml.Direct())
    lam_free, lam_kept = free.unknowns["lam"], kept.unknowns["lam"]
    ok = np.isfinite(lam_free)
    assert np.sum(lam_free[ok] < 0) > 20
    np.testing.assert_array_equal(np.isfinite(lam_kept), ok)
    assert np.all(lam_kept[ok] >= 0)
    np.testing.assert_array_equal(lam_kept[ok], np.maximum(lam_free[ok], 0.0))
    assert kept.diagnostics["positivity"]["lam"]["active"] == int(np.sum(lam_free[ok] < 0))
    # more than a tenth of the nodes sit on the bound: the data push the field negative
    assert kept.status == "unreliable"
    assert any("<= 0" in r for r in kept.reasons)


def _coupled_problem(positive: bool) -> ml.InverseProblem:
    """``u_t = (λ u_x)_x + m`` on ``(t, x)`` with ``λ(x) = x − 0.25``: λ inside the derivative,
    determined over many time slices; manufactured ``u = sin(2x + 3t) + x²``."""
    grid = ml.Grid(t=np.linspace(0, 1, 41), x=np.linspace(0, 1, 81))
    t, x = grid.mesh()
    u = np.sin(2 * x + 3 * t) + x**2
    ut = 3 * np.cos(2 * x + 3 * t)
    ux, uxx = 2 * np.cos(2 * x + 3 * t) + 2 * x, -4 * np.sin(2 * x + 3 * t) + 2
    lam = x - 0.25
    return ml.InverseProblem(
        grid=grid,
        data={"u": u},
        known={"m": ut - (ux + lam * uxx)},
        unknowns={"lam": ml.Field(axes=("x",), positive=positive)},
        residual=lambda f, d, p: d(d(f.u, "t")) - d(p.lam * d(f.u, "x"), "x") - d(d(f.m)),
        width={"t": 0.1, "x": 0.08},
    )


def test_positive_coupled_field_is_kept_nonnegative():
    """The unconstrained solve follows the truth below zero; with ``positive=True`` every node is
    >= 0 (the bounds active on the negative stretch), and the field keeps its shape elsewhere.
    (Equality with scipy's lsq_linear on the same system: see
    ``test_bounded_solve_matches_lsq_linear``.)
    """
    reg = ml.Tikhonov(0.1)
    free = _coupled_problem(False).solve(ml.Direct(regularization=reg))
    kept = _coupled_problem(True).solve(ml.Direct(regularization=reg))
    x = np.linspace(0, 1, 81)
    lam_free, lam_kept = free.unknowns["lam"], kept.unknowns["lam"]
    ok = np.isfinite(lam_kept)
    assert np.nanmin(lam_free) < -0.1
    assert free.diagnostics["regularization"]["alpha"] == 0.1
    np.testing.assert_allclose(lam_free[ok], (x - 0.25)[ok], atol=0.01)
    assert lam_kept[ok].min() >= 0
    assert kept.diagnostics["positivity"]["lam"]["active"] >= 5
    far = ok & (x > 0.4)
    assert np.corrcoef(lam_kept[far], x[far])[0, 1] > 0.99


def test_default_auto_alpha_is_recorded_in_the_result_and_its_json():
    ds = simulate_heat(n=24, form="divergence", noise=GaussianNoise(0.01), seed=0)
    res = problem_from_dataset(ds, width=0.2).solve(ml.Direct())
    reg = res.diagnostics["regularization"]
    search = reg["search"]
    assert reg["alpha"] == search["alpha"] and search["alpha"] in search["alphas"]
    assert search["criterion"] == ml.Tikhonov().criterion
    assert len(search["alphas"]) == len(search["values"])
    assert 1e-4 <= reg["alpha"] <= 10
    saved = res.to_json()["diagnostics"]["regularization"]
    assert saved["alpha"] == reg["alpha"]
    assert saved["search"]["alphas"] == search["alphas"]
    assert np.nanmin(res.unknowns["lam"]) >= 0  # heat's conductivity is declared positive
    assert res.metrics["lam"]["pearson"] > 0.95, res.metrics


def test_bad_alpha_is_refused_clearly():
    with pytest.raises((TypeError, ValueError), match=r"alpha.*'banana'"):
        ml.Tikhonov("banana")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        ml.Tikhonov(-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        ml.TotalVariation(-1.0)
    with pytest.raises(ValueError, match="search"):
        ml.Tikhonov("auto", search=(1.0, 0.1))
    with pytest.raises((TypeError, ValueError), match="criterion"):
        ml.Tikhonov("auto", criterion="guess")  # type: ignore[arg-type]


def test_auto_alpha_without_a_noise_estimate_is_an_error(monkeypatch):
    """Data whose noise cannot be estimated (no axis has the 14 points the estimator needs; any
    grid that short is also too short for a coupled field's nested stencils, so the estimator
    is made to fail here): the noise-based criteria refuse, naming the field; the others run."""
    import mollifier.inverse.direct as direct

    monkeypatch.setattr(direct, "estimate_noise", lambda values: float("nan"))
    pb = _coupled_problem(False)
    with pytest.raises(ValueError, match=r"noise level.*\['u'\].*criterion='gcv'"):
        pb.solve(ml.Direct(regularization=ml.Tikhonov("auto", criterion="discrepancy")))
    res = pb.solve(ml.Direct(regularization=ml.Tikhonov("auto", criterion="lcurve")))
    assert res.diagnostics["regularization"]["search"]["criterion"] == "lcurve"


def test_toml_reaches_auto_alpha():
    solver = solver_from_table(
        {"method": "direct", "regularization": {"kind": "tikhonov", "alpha": "auto"}}
    )
    assert solver.regularization == ml.Tikhonov("auto")
    with pytest.raises(ConfigError, match="alpha"):
        solver_from_table({"regularization": {"kind": "tikhonov", "alpha": "banana"}})


def test_total_variation_auto_alpha_runs_its_own_reweighting():
    jac, b, truth = _manufactured(0.02)
    pen = difference_operator((truth.size,))
    reg = ml.TotalVariation("auto", iterations=3)
    theta, record = solve_regularized(jac, b, pen, reg)
    unregularised, _ = solve_regularized(jac, b, pen, ml.TotalVariation(1e-4, iterations=3))
    assert record["kind"] == "TotalVariation" and record["alpha"] in record["search"]["alphas"]
    error = np.linalg.norm(theta - truth) / np.linalg.norm(truth)
    assert error < 0.5 * np.linalg.norm(unregularised - truth) / np.linalg.norm(truth)
    assert error < 0.05


def test_positive_pointwise_field_with_a_constant_is_solved_jointly():
    """``λ(x) u_xx + c u + m = 0`` on ``(t, x)`` with ``λ = x − 0.3``, ``c = 2``, ``u = sin(3x + 2t)
    + 2``: with ``positive=True`` the field and the constant are solved together under ``λ ≥ 0``,
    and equal scipy's bounded least squares (BVLS) on the same weighted rows."""
    grid = ml.Grid(t=np.linspace(0, 1, 41), x=np.linspace(0, 1, 101))
    t, x = grid.mesh()
    u = np.sin(3 * x + 2 * t) + 2.0
    uxx = -9 * np.sin(3 * x + 2 * t)
    lam = x - 0.3

    def problem(positive: bool) -> ml.InverseProblem:
        return ml.InverseProblem(
            grid=grid,
            data={"u": u},
            known={"m": -(lam * uxx + 2.0 * u)},
            unknowns={"lam": ml.Field(axes=("x",), positive=positive), "c": ml.Constant()},
            residual=lambda f, d, p: p.lam * d(f.u, "xx") + p.c * d(f.u) + d(f.m),
            width={"t": 0.1, "x": 0.06},
        )

    free = problem(False).solve(ml.Direct())
    kept = problem(True).solve(ml.Direct())
    assert abs(free.unknowns["c"] - 2.0) < 1e-2, free.unknowns["c"]
    assert np.nanmin(free.unknowns["lam"]) < -0.1
    assert np.nanmin(kept.unknowns["lam"]) >= 0
    assert kept.diagnostics["positivity"]["lam"]["active"] > 10
    # the same weighted system, solved by scipy's bounded least squares
    import torch

    from mollifier.inverse._closed import row_index
    from mollifier.inverse.direct import _Affine

    pb = problem(True)
    aff = _Affine(pb, {"u": torch.as_tensor(u)})
    e = np.zeros(aff.n)
    e[aff.slices["c"]] = 1.0
    col_c = aff.apply(e)
    e = np.zeros(aff.n)
    e[aff.slices["lam"]] = 1.0
    a = aff.apply(e)
    idx = row_index(aff, "lam")
    jac = np.zeros((a.size, 102))
    jac[:, 0] = col_c
    jac[np.arange(a.size), 1 + idx] = a
    used = np.flatnonzero(np.abs(jac).sum(axis=0) > 0)
    ref = lsq_linear(
        jac[:, used],
        -aff.b.numpy(),
        bounds=(np.where(used == 0, -np.inf, 0.0), np.inf),
        method="bvls",
        tol=1e-14,
    ).x
    assert abs(kept.unknowns["c"] - ref[0]) < 1e-8
    got = kept.unknowns["lam"][used[1:] - 1]
    ok = np.isfinite(got)
    np.testing.assert_allclose(got[ok], ref[1:][ok], atol=1e-8)
