"""3-D heat simulator: manufactured-solution convergence of both forms, the dataset contract,
refusals; and the built-in inverse problem recovering λ(x, y, z) with the direct solver."""

from __future__ import annotations

import numpy as np
import pytest

import mollifier as ml
from mollifier.io import load_dataset, save_dataset
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, NoNoise, simulate_heat3d, solve_steady_3d

sympy = pytest.importorskip("sympy")
X, Y, Z = sympy.symbols("x y z")
LZ = 1.5  # box [0, 1] x [0, 1] x [0, 1.5]: the z spacing differs
# zero on the faces (the solver's boundary data is one constant), not symmetric
U_STAR = (
    sympy.sin(sympy.pi * X)
    * sympy.sin(sympy.pi * Y)
    * sympy.sin(sympy.pi * Z / LZ)
    * (1 + 0.5 * X + 0.3 * Y * Z)
)
LAM_STAR = sympy.exp(0.4 * sympy.sin(2 * X) + 0.3 * Y - 0.2 * Z)


def _fn(expr):
    return sympy.lambdify((X, Y, Z), expr, "numpy")


def _source(form: str):
    if form == "steady":
        lap = sum(sympy.diff(U_STAR, v, 2) for v in (X, Y, Z))
        return _fn(-LAM_STAR * lap)
    return _fn(-sum(sympy.diff(LAM_STAR * sympy.diff(U_STAR, v), v) for v in (X, Y, Z)))


@pytest.mark.parametrize("form", ["steady", "divergence"])
def test_second_order_convergence(form: str) -> None:
    """Max-norm error against the manufactured solution falls as h² (fitted order 1.9–2.1)."""
    u, lam, m = _fn(U_STAR), _fn(LAM_STAR), _source(form)
    hs, errs = [], []
    for n in (8, 16, 32):
        x = np.linspace(0.0, 1.0, n + 1)
        z = np.linspace(0.0, LZ, n + 1)
        got = solve_steady_3d(x=x, y=x, z=z, lam=lam, source=m, form=form)
        mesh = np.meshgrid(x, x, z, indexing="ij")
        hs.append(1.0 / n)
        errs.append(np.abs(got - u(*mesh)).max())
    order = float(np.polyfit(np.log(hs), np.log(errs), 1)[0])
    assert 1.9 < order < 2.1, (order, errs)


def test_nodal_conductivity_matches_the_callable_to_second_order() -> None:
    """λ given as nodal values (averaged to faces) gives the same solution as the callable to
    O(h²): the two differ by less than the discretisation error."""
    x = np.linspace(0.0, 1.0, 17)
    z = np.linspace(0.0, LZ, 17)
    mesh = np.meshgrid(x, x, z, indexing="ij")
    lam, m = _fn(LAM_STAR), _source("divergence")
    a = solve_steady_3d(x=x, y=x, z=z, lam=lam, source=m, form="divergence")
    b = solve_steady_3d(x=x, y=x, z=z, lam=lam(*mesh), source=m, form="divergence")
    err = np.abs(a - _fn(U_STAR)(*mesh)).max()
    assert 0 < np.abs(a - b).max() < err


def test_dataset_contract(tmp_path) -> None:
    ds = simulate_heat3d(n=9, refine=2, seed=3, noise=GaussianNoise(0.02))
    assert ds.axes == ("x", "y", "z") and ds.equation == "heat3d"
    assert ds.fields["u"].shape == ds.known["m"].shape == ds.truth["lam"].shape == (9, 9, 9)
    assert ds.truth_axes["lam"] == ("x", "y", "z") and ds.truth["lam"].min() > 0
    noise = ds.fields["u"] - ds.clean["u"]
    assert noise.std() == pytest.approx(0.02 * ds.clean["u"].std(), rel=0.15)
    boundary = ds.clean["u"].copy()
    boundary[1:-1, 1:-1, 1:-1] = 0.0
    assert np.abs(boundary).max() == 0.0  # Dirichlet zero on every face
    again = simulate_heat3d(n=9, refine=2, seed=3, noise=GaussianNoise(0.02))
    assert np.array_equal(again.fields["u"], ds.fields["u"])
    save_dataset(ds, tmp_path / "d")
    back = load_dataset(tmp_path / "d")
    assert np.array_equal(back.fields["u"], ds.fields["u"]) and back.params["form"] == "steady"


def test_refinement_converges() -> None:
    """The observed clean field of a constant-λ problem changes by O(h_fine²) with refine."""
    f = [simulate_heat3d(n=9, refine=r, lam=1.0, noise=NoNoise()).clean["u"] for r in (1, 2, 4)]
    d1, d2 = np.abs(f[0] - f[2]).max(), np.abs(f[1] - f[2]).max()
    assert 3.0 < d1 / d2 < 6.0, (d1, d2)  # (1 − 1/16) / (1/4 − 1/16) = 5 for an h² error


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 2}, "n must be >= 3"),
        ({"n": (9, 9)}, "three axes"),
        ({"refine": 0}, "refine must be a positive integer"),
        ({"lam": -1.0}, "must be positive"),
        ({"length": (1.0, 0.0, 1.0)}, "length must be three positive"),
        ({"form": "transient"}, "form must be"),
        ({"noise": 0.01}, "noise must be an AbstractNoise"),
    ],
)
def test_refusals(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        simulate_heat3d(**{"n": 5, **kwargs})


def test_direct_solver_recovers_the_conductivity_field() -> None:
    """1% noise, 24³: on the nodes a cropped stencil reaches, pointwise λ̂ within 3% rel. L2."""
    ds = simulate_heat3d(n=24, seed=0, noise=GaussianNoise(0.01))
    result = problem_from_dataset(ds, width=0.2).solve(ml.Direct())
    metrics = result.metrics["lam"]
    assert metrics["pearson"] > 0.97 and metrics["rel_l2"] < 0.03, metrics


def test_edge_kernels_map_the_whole_box() -> None:
    """1% noise, 32³: edge kernels and a pooled Tikhonov solve give λ̂ at every node with
    Pearson r ≥ 0.95 against the truth."""
    ds = simulate_heat3d(n=32, seed=0, noise=GaussianNoise(0.01))
    problem = problem_from_dataset(ds, width=0.25, boundary="interior")
    result = problem.solve(ml.Direct(regularization=ml.Tikhonov(1.0)))
    metrics = result.metrics["lam"]
    assert metrics["coverage"] == 1.0 and metrics["pearson"] >= 0.95, metrics
