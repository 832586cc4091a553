"""InverseProblem on an irregular 2-D domain (box kernels): estimates up to the domain's edge."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.pdes import residuals
from mollifier.sim.heat import simulate_heat


@pytest.fixture(scope="module")
def heat():
    ds = simulate_heat(n=64, seed=1)
    x, y = ds.coords["x"], ds.coords["y"]
    xx, yy = np.meshgrid(x, y, indexing="ij")
    disk = (xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.42**2
    return ds, disk


def _problem(ds, u, disk, **options):
    return ml.InverseProblem(
        grid=ml.Grid(x=ds.coords["x"], y=ds.coords["y"]),
        data={"u": u},
        known={"m": ds.known["m"]},
        unknowns={"lam": ml.Field(axes=("x", "y"))},
        residual=residuals.heat_steady,
        width=0.08,
        boundary="interior",
        domain=disk,
        **options,
    )


def test_noise_free_field_is_recovered_up_to_the_domain_edge(heat):
    ds, disk = heat
    u = np.where(disk, ds.clean["u"], np.nan)  # nothing outside the domain
    problem = _problem(ds, u, disk)
    result = problem.solve(ml.Direct())
    lam = np.asarray(result.unknowns["lam"])
    reported = np.isfinite(lam)
    assert not (reported & ~disk).any()
    assert reported.sum() >= 0.95 * disk.sum()
    truth = ds.truth["lam"][reported]
    assert np.corrcoef(lam[reported], truth)[0, 1] > 0.99
    assert np.median(np.abs(lam[reported] / truth - 1)) < 0.01
    info = result.diagnostics["domain"]
    assert info["nodes"] == disk.sum() and info["with_kernel"] == reported.sum()
    assert info["too_narrow"] == disk.sum() - reported.sum()
    assert info["noise_gain_max"] > 2  # one-sided second derivatives at the edge


def test_data_outside_the_domain_do_not_change_the_estimate(heat):
    ds, disk = heat
    a = _problem(ds, ds.clean["u"], disk).solve(ml.Direct()).unknowns["lam"]
    other = np.where(disk, ds.clean["u"], 7.0)
    b = _problem(ds, other, disk).solve(ml.Direct()).unknowns["lam"]
    np.testing.assert_array_equal(a, b)


def test_domain_refusals(heat):
    ds, disk = heat
    u = np.where(disk, ds.clean["u"], np.nan)
    u[32, 32] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        _problem(ds, u, disk)
    with pytest.raises(ValueError, match="boundary='interior'"):
        ml.InverseProblem(
            grid=ml.Grid(x=ds.coords["x"], y=ds.coords["y"]),
            data={"u": ds.clean["u"]},
            known={"m": ds.known["m"]},
            unknowns={"lam": ml.Field(axes=("x", "y"))},
            residual=residuals.heat_steady,
            width=0.08,
            domain=disk,
        )
    with pytest.raises(ValueError, match="boolean"):
        _problem(ds, ds.clean["u"], disk.astype(int))


def test_tiled_network_training_refuses_a_domain(heat):
    ds, disk = heat
    problem = _problem(ds, ds.clean["u"], disk)
    with pytest.raises(ValueError, match="domain"):
        problem.solve(ml.Network(steps=2, batch=2))
