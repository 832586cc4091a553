"""Nonlinear diffusion simulator: fitted convergence order on a manufactured solution, exact
conservation, the potential's contract, the dataset contract and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from mollifier.io import load_dataset, save_dataset
from mollifier.sim import GaussianNoise, NoNoise
from mollifier.sim.nonlinear_diffusion import (
    ExponentialDiffusivity,
    simulate_nonlinear_diffusion,
    solve_nonlinear_diffusion,
)

sympy = pytest.importorskip("sympy")
X, T = sympy.symbols("x t")
D0, BETA = 0.2, 1.2
# zero flux at x = 0 and x = 1 (u_x ∝ sin(kπx)), not symmetric, time-dependent
U_STAR = (
    0.7
    + 0.3 * sympy.cos(sympy.pi * X) * sympy.exp(-T)
    + 0.1 * sympy.cos(2 * sympy.pi * X) * (1 + T)
)
SOURCE = sympy.diff(U_STAR, T) - sympy.diff(
    D0 * sympy.exp(BETA * U_STAR) * sympy.diff(U_STAR, X), X
)


def _order(hs: list[float], errs: list[float]) -> float:
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


def test_manufactured_solution_converges_at_second_order() -> None:
    """u* = 0.7 + 0.3 cos(πx) e^{−t} + 0.1 cos(2πx)(1 + t) with its source: the max-norm error
    over every output time falls as h², fitted over four resolutions."""
    u_fn = sympy.lambdify((T, X), U_STAR, "numpy")
    s_fn = sympy.lambdify((T, X), SOURCE, "numpy")
    t = np.linspace(0.0, 0.5, 6)
    diffusivity = ExponentialDiffusivity(d0=D0, beta=BETA)
    hs, errs = [], []
    for n in (17, 33, 65, 129):
        x = np.linspace(0.0, 1.0, n)
        u = solve_nonlinear_diffusion(
            x=x,
            t=t,
            initial=u_fn(0.0, x),
            diffusivity=diffusivity,
            source=lambda time, x: s_fn(time, x),
            rtol=1e-11,
            atol=1e-13,
        )
        exact = u_fn(t[:, None], x[None, :])
        hs.append(1.0 / (n - 1))
        errs.append(float(np.max(np.abs(u - exact))))
    order = _order(hs, errs)
    assert 1.85 < order < 2.15, (order, errs)
    assert errs[-1] < 1e-4


def test_mass_is_conserved_without_a_source() -> None:
    """Σ V_i u_i (half cells at the ends) stays at its initial value to the integrator's
    tolerance, while the profile itself changes by order one."""
    x = np.linspace(0.0, 1.0, 41)
    t = np.linspace(0.0, 1.0, 11)
    u0 = 0.6 + 0.35 * np.cos(np.pi * x) + 0.2 * np.cos(3 * np.pi * x)
    u = solve_nonlinear_diffusion(
        x=x, t=t, initial=u0, diffusivity=ExponentialDiffusivity(), rtol=1e-10, atol=1e-12
    )
    volume = np.full(x.size, x[1])
    volume[[0, -1]] /= 2
    mass = u @ volume
    assert np.max(np.abs(mass - mass[0])) < 1e-9
    assert np.max(np.abs(u[-1] - u0)) > 0.3


def test_potential_is_the_integral_of_the_diffusivity() -> None:
    """Φ(u) = ∫₀ᵘ D by Gauss–Legendre quadrature, for β of both signs and β = 0 (Φ = D₀ u)."""
    nodes, weights = np.polynomial.legendre.leggauss(30)
    for beta in (-2.0, 0.0, 1e-7, 1.5):
        diffusivity = ExponentialDiffusivity(d0=0.3, beta=beta)
        for u in (-0.7, 0.0, 0.4, 1.3):
            s = u * (nodes + 1) / 2
            reference = u / 2 * np.sum(weights * diffusivity(s))
            assert diffusivity.potential(np.array(u)) == pytest.approx(reference, abs=1e-14)


def test_dataset_contract_and_refinement() -> None:
    """Observation nodes, the truth and the noise; data from a finer solve differ from the
    refine=1 data by a shrinking amount (the scheme converges on the observation nodes)."""
    ds = simulate_nonlinear_diffusion(n=33, n_times=9, refine=2, noise=GaussianNoise(0.01), seed=3)
    assert ds.axes == ("t", "x") and ds.shape == (9, 33)
    assert ds.truth == {"d0": 0.05, "beta": 1.5}
    assert np.allclose(ds.coords["x"], np.linspace(0, 1, 33))
    noise = ds.fields["u"] - ds.clean["u"]
    assert np.std(noise) == pytest.approx(0.01 * np.std(ds.clean["u"]), rel=0.1)
    fine = [
        simulate_nonlinear_diffusion(n=17, n_times=5, refine=r, noise=NoNoise()).clean["u"]
        for r in (1, 2, 4, 8)
    ]
    gaps = [float(np.max(np.abs(a - fine[-1]))) for a in fine[:-1]]
    assert gaps[0] > gaps[1] > gaps[2] > 0


def test_dataset_round_trips(tmp_path) -> None:
    ds = simulate_nonlinear_diffusion(n=9, n_times=3, refine=1)
    back = load_dataset(save_dataset(ds, tmp_path / "nld"))
    assert back.equation == "nonlinear-diffusion" and back.truth == ds.truth
    assert np.array_equal(back.fields["u"], ds.fields["u"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 2}, "n >= 3"),
        ({"n_times": 1}, "n_times >= 2"),
        ({"refine": 0}, "refine must be a positive integer"),
        ({"t_end": -1.0}, "must be positive"),
        ({"initial": np.ones(5)}, "observation shape"),
        ({"noise": 0.01}, "AbstractNoise"),
        ({"diffusivity": 0.05}, "ExponentialDiffusivity"),
    ],
)
def test_bad_simulation_requests(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        simulate_nonlinear_diffusion(**{"n": 9, "n_times": 3, "refine": 1, **kwargs})


def test_bad_diffusivity_and_grid() -> None:
    with pytest.raises(ValueError, match="d0 must be positive"):
        ExponentialDiffusivity(d0=0.0)
    with pytest.raises(ValueError, match="uniformly spaced"):
        solve_nonlinear_diffusion(
            x=np.array([0.0, 0.1, 0.3]),
            t=np.array([0.0, 1.0]),
            initial=np.ones(3),
            diffusivity=ExponentialDiffusivity(),
        )


def test_simulate_command_writes_the_dataset(tmp_path) -> None:
    """``mollifier simulate nonlinear-diffusion`` passes its options to the simulator."""
    from mollifier.cli import main

    out = tmp_path / "nld"
    args = ["--out", str(out), "--grid", "17", "--times", "6", "--refine", "1", "--beta", "-0.5"]
    assert main(["simulate", "nonlinear-diffusion", *args, "--noise", "0"]) == 0
    ds = load_dataset(out)
    assert ds.shape == (6, 17) and ds.truth == {"d0": 0.05, "beta": -0.5}
    direct = simulate_nonlinear_diffusion(
        n=17, n_times=6, refine=1, diffusivity=ExponentialDiffusivity(beta=-0.5), noise=NoNoise()
    )
    assert np.array_equal(ds.fields["u"], direct.fields["u"])
