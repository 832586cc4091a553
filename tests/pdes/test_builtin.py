"""Every shipped residual is a built-in problem whose docstring names its axes, fields and
unknowns; the transient heat problem recovers its conductivity end to end."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.inverse.direct import Tikhonov
from mollifier.io import Dataset
from mollifier.pdes import BUILTIN_PROBLEMS, problem_from_dataset, residuals
from mollifier.pdes.builtin import BUILTIN_RESIDUALS
from mollifier.sim import GaussianNoise, simulate_heat


def _small_dataset(name: str) -> Dataset:
    """A dataset with the names the built-in expects (values irrelevant: only set-up is used)."""
    t = np.linspace(0.0, 1.0, 16)
    x = np.linspace(0.0, 1.0, 16)
    if name == "langevin":
        return Dataset(equation=name, coords={"t": t}, fields={"u": np.sin(t)}, known={"k": 1.0})
    if name == "burgers":
        return Dataset(equation=name, coords={"t": t, "x": x}, fields={"u": np.ones((16, 16))})
    if name == "nonlinear-diffusion":
        return Dataset(equation=name, coords={"t": t, "x": x}, fields={"u": np.ones((16, 16))})
    if name == "chromatin":
        ones = np.full((16, 16), 0.3)
        return Dataset(
            equation=name, coords={"x": x, "y": x}, fields={"phi_w": ones, "phi_d": ones}
        )
    if name == "heat-transient":
        u = np.ones((5, 16, 16))
        return Dataset(
            equation="heat", coords={"t": t[:5], "x": x, "y": x}, fields={"u": u}, known={"m": u}
        )
    if name.startswith("heat3d"):
        u = np.ones((14, 14, 14))
        c = np.linspace(0.0, 1.0, 14)
        return Dataset(
            equation="heat3d", coords={"x": c, "y": c, "z": c}, fields={"u": u}, known={"m": u}
        )
    u = np.ones((16, 16))
    return Dataset(equation="heat", coords={"x": x, "y": x}, fields={"u": u}, known={"m": u})


def test_every_residual_is_a_builtin():
    used = set()
    for name in BUILTIN_PROBLEMS:
        problem = problem_from_dataset(_small_dataset(name), name, width=0.3, crop=False)
        used.add(problem.residual.__name__)
        if name != "chromatin":  # the report names each built-in's residual function
            assert BUILTIN_RESIDUALS[name] == problem.residual.__name__
    assert set(BUILTIN_RESIDUALS) == set(BUILTIN_PROBLEMS)
    # chromatin's residual is a closure named 'residual', built by residuals.chromatin
    shipped = {n for n in residuals.__all__ if n != "chromatin"} | {"residual"}
    assert used == shipped


@pytest.mark.parametrize("name", sorted(BUILTIN_PROBLEMS))
def test_residual_docstring_names_the_builtin_its_fields_and_unknowns(name):
    problem = problem_from_dataset(_small_dataset(name), name, width=0.3, crop=False)
    doc = problem.residual.__doc__ or ""
    assert "Names:" in doc, name
    names = " ".join(doc.split("Names:", 1)[1].split())
    assert f'Built-in problem ``"{name}"``' in names
    assert f"``{', '.join(problem.grid.axes)}``" in names, (name, problem.grid.axes)
    for n in (*problem.data, *problem.known, *problem.unknowns):
        assert f"``{n}``" in names, (name, n)
    for n, unknown in problem.unknowns.items():
        axes = getattr(unknown, "axes", ())
        if axes:
            assert f"``{n}`` over ``{tuple(axes)!r}``".replace("'", '"') in names, (name, n)


def test_transient_data_selects_the_transient_problem():
    ds = simulate_heat(n=9, refine=1, form="transient", n_times=4, t_end=0.01, seed=0)
    problem = problem_from_dataset(ds, width={"t": 0.012, "x": 0.5, "y": 0.5}, crop=False)
    assert problem.residual is residuals.heat_transient
    assert problem.grid.axes == ("t", "x", "y")
    assert problem.unknowns["lam"].axes == ("x", "y")


def test_transient_heat_recovers_the_conductivity_with_the_direct_solver():
    """Crank–Nicolson data (32², 21 times to t = 0.05, no noise) of u_t = ∇·(λ∇u) from a
    lognormal λ: the direct solver's Tikhonov least squares over all time slices recovers λ
    with Pearson r >= 0.98, relative L2 error <= 5% and its median within 3%."""
    ds = simulate_heat(
        n=32, form="transient", n_times=21, t_end=0.05, noise=GaussianNoise(0.0), seed=0
    )
    res = problem_from_dataset(ds, width={"t": 0.01, "x": 0.12, "y": 0.12}).solve(
        ml.Direct(regularization=Tikhonov(0.001))
    )
    assert res.diagnostics["structure"]["lam"] == "coupled"
    m = res.metrics["lam"]
    true_median = float(np.median(ds.truth["lam"][res.unknown_mask("lam")]))
    assert m["pearson"] >= 0.98, m
    assert m["rel_l2"] <= 0.05, m
    assert abs(m["median"] / true_median - 1) <= 0.03, (m, true_median)
