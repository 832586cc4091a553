"""Boundary modes with the direct solver: every mode solves or is refused up front; edge
kernels keep every node; coverage and truth comparisons are honest."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, simulate_heat

MODES = ["reflect", "odd", "periodic", "extrapolate", "interior"]


@pytest.fixture(scope="module")
def heat():
    return {
        form: simulate_heat(n=24, form=form, noise=GaussianNoise(0.0), seed=0)
        for form in ("steady", "divergence")
    }


@pytest.mark.parametrize("crop", [True, False])
@pytest.mark.parametrize("boundary", MODES)
@pytest.mark.parametrize("form", ["steady", "divergence"])
def test_every_boundary_mode_solves_pointwise_and_coupled_fields(heat, form, boundary, crop):
    """The coupled (sparse Jacobian) path must reproduce the residual whatever the boundary
    extension reaches: extrapolation, wrap-around, edge kernels."""
    pb = problem_from_dataset(heat[form], width=0.25, boundary=boundary, crop=crop)
    res = pb.solve(ml.Direct())
    assert np.isfinite(res.unknowns["lam"]).any()
    assert res.diagnostics["structure"]["lam"] == ("pointwise" if form == "steady" else "coupled")


def test_valid_is_refused_up_front_with_what_to_use(heat):
    with pytest.raises(ValueError, match="boundary='interior'"):
        problem_from_dataset(heat["steady"], width=0.25, boundary="valid")


def test_coverage_is_the_fraction_of_nodes_with_a_value_and_comparisons_share_nodes(heat):
    ds = heat["steady"]
    cropped = problem_from_dataset(ds, width=0.25).solve(ml.Direct())
    m = cropped.metrics["lam"]
    lam = cropped.unknowns["lam"]
    assert m["coverage"] == pytest.approx(np.isfinite(lam).mean())
    assert m["coverage"] < 0.5  # a stencil radius is cropped from every edge
    truth = np.broadcast_to(ds.truth["lam"], lam.shape)
    assert m["truth_median"] == pytest.approx(np.median(truth[np.isfinite(lam)]))
    assert f"on {m['coverage']:.0%} of nodes" in cropped.summary()
    edges = problem_from_dataset(ds, width=0.25, boundary="interior").solve(ml.Direct())
    assert edges.metrics["lam"]["coverage"] >= 0.99


def test_constants_are_exact_with_edge_kernels_on_clean_data():
    """u = exp(−ν π² t) sin(π x): every node, edges included, enters the fit; ν to 1e-7."""
    nu = 0.3
    grid = ml.Grid(t=np.linspace(0, 1, 41), x=np.linspace(0, 2, 51))
    T, X = grid.mesh()
    u = np.exp(-nu * np.pi**2 * T) * np.sin(np.pi * X)
    pb = ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns={"nu": ml.Constant()},
        residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx"),
        width={"t": 0.15, "x": 0.2},
        boundary="interior",
        truth={"nu": nu},
    )
    assert pb.interior.all()
    res = pb.solve(ml.Direct())
    assert res.metrics["nu"]["rel_error"] < 1e-7, res.unknowns


def test_noise_gain_map_is_in_the_result(heat, tmp_path):
    ds = heat["steady"]
    res = problem_from_dataset(ds, width=0.25, boundary="interior").solve(ml.Direct())
    gain = res.extras["noise_gain"]
    assert gain.shape == res.grid.shape
    assert gain[12, 12] == pytest.approx(1.0) and gain[0, 0] > gain[0, 12] > 2.0
    assert res.diagnostics["noise_gain"]["max"] == pytest.approx(gain.max())
    res.save(tmp_path, figures=False)
    np.testing.assert_allclose(np.load(tmp_path / "unknowns.npz")["noise_gain"], gain)
    cropped = problem_from_dataset(ds, width=0.25).solve(ml.Direct())
    assert cropped.diagnostics["noise_gain"]["max"] == pytest.approx(1.0)


def test_a_given_regularization_pools_a_pointwise_field_and_calms_the_edges():
    """Heat, 1% noise, edge kernels: node-by-node ratios are noisy where the edge stencils
    amplify noise; a Tikhonov penalty with rows weighted by their inverse noise gain keeps
    every node and brings the correlation over the whole grid up."""
    ds = simulate_heat(n=32, noise=GaussianNoise(0.01), seed=0)
    pb = problem_from_dataset(ds, width=0.2, boundary="interior")
    plain = pb.solve(ml.Direct())
    pooled = pb.solve(ml.Direct(regularization=ml.Tikhonov(1.0)))
    assert plain.diagnostics["solver"].startswith("pointwise")
    assert pooled.diagnostics["solver"] == "sparse normal equations (Tikhonov)"
    assert pooled.metrics["lam"]["coverage"] == 1.0
    r_plain, r_pooled = plain.metrics["lam"]["pearson"], pooled.metrics["lam"]["pearson"]
    assert r_pooled > 0.8 and r_pooled > r_plain + 0.1, (r_plain, r_pooled)
