"""Systems of equations: a residual returning several equations with shared unknowns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import mollifier as ml

D_TRUE, KF_TRUE = 0.05, 0.8


def _reaction_diffusion(n_x: int = 96, n_t: int = 81) -> tuple[ml.Grid, dict[str, np.ndarray]]:
    """a_t = D a_xx − kf a b², b_t = D b_xx − 2 kf a b² on a periodic line, spectral in x."""
    x = np.linspace(0.0, 2 * np.pi, n_x, endpoint=False)
    k2 = np.fft.fftfreq(n_x, d=x[1] - x[0]) ** 2 * (2 * np.pi) ** 2

    def lap(u: np.ndarray) -> np.ndarray:
        return np.real(np.fft.ifft(-k2 * np.fft.fft(u)))

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        a, b = y[:n_x], y[n_x:]
        r = KF_TRUE * a * b**2
        return np.concatenate([D_TRUE * lap(a) - r, D_TRUE * lap(b) - 2 * r])

    t = np.linspace(0.0, 2.0, n_t)
    y0 = np.concatenate([1 + 0.5 * np.sin(x), 1 + 0.5 * np.cos(2 * x)])
    sol = solve_ivp(rhs, (t[0], t[-1]), y0, t_eval=t, rtol=1e-10, atol=1e-12, method="DOP853")
    return ml.Grid(t=t, x=x), {"a": sol.y[:n_x].T, "b": sol.y[n_x:].T}


def _residual(f, d, p):
    reaction = d(f.a * f.b**2)
    return {
        "a": d(f.a, "t") - p.D * d(f.a, "xx") + p.kf * reaction,
        "b": d(f.b, "t") - p.D * d(f.b, "xx") + 2 * p.kf * reaction,
    }


def _problem(noise: float, seed: int = 0) -> ml.InverseProblem:
    grid, clean = _reaction_diffusion()
    rng = np.random.default_rng(seed)
    data = {k: v + noise * v.std() * rng.standard_normal(v.shape) for k, v in clean.items()}
    return ml.InverseProblem(
        grid=grid,
        data=data,
        unknowns={"D": ml.Constant(), "kf": ml.Constant()},
        residual=_residual,
        truth={"D": D_TRUE, "kf": KF_TRUE},
        width={"t": 0.25, "x": 0.8},
    )


def test_two_species_system_recovers_its_shared_constants_at_one_percent_noise():
    pb = _problem(0.01)
    assert pb.equations == ("a", "b")
    res = pb.solve(ml.Direct())
    assert abs(res.unknowns["D"] / D_TRUE - 1) < 0.01, res.unknowns
    assert abs(res.unknowns["kf"] / KF_TRUE - 1) < 0.01, res.unknowns
    assert set(res.equations) == {"a", "b"}
    assert set(res.diagnostics["equation_rms"]) == {"a", "b"}


def test_noise_free_system_is_exact_to_the_smoothing_bias():
    pb = _problem(0.0)
    res = pb.solve(ml.Direct())
    np.testing.assert_allclose(
        [res.unknowns["D"], res.unknowns["kf"]], [D_TRUE, KF_TRUE], rtol=2e-3
    )
    assert res.residual.shape == pb.grid.shape


def test_a_list_residual_is_named_and_its_equation_weights_are_checked():
    grid, data = _reaction_diffusion(n_x=32, n_t=21)
    pb = ml.InverseProblem(
        grid=grid,
        data=data,
        unknowns={"D": ml.Constant(), "kf": ml.Constant()},
        residual=lambda f, d, p: list(_residual(f, d, p).values()),
        width={"t": 0.4, "x": 1.2},
    )
    assert pb.equations == ("eq0", "eq1")
    with pytest.raises(ValueError, match="equation_weights has 1 entries"):
        pb.solve(ml.Network(steps=1, equation_weights=(1.0,)))
    res = pb.solve(ml.Network(steps=3, arch=ml.MLP(hidden=8, depth=1), read_off=False))
    assert set(res.diagnostics["equation_rms"]) == {"eq0", "eq1"}
    assert len(res.diagnostics["residual_scale"]) == 2


def test_a_one_equation_tuple_is_the_single_equation():
    grid, data = _reaction_diffusion(n_x=32, n_t=21)
    kw = {
        "grid": grid,
        "data": data,
        "unknowns": {"D": ml.Constant(), "kf": ml.Constant()},
        "width": {"t": 0.4, "x": 1.2},
    }
    single = ml.InverseProblem(residual=lambda f, d, p: _residual(f, d, p)["a"], **kw)
    wrapped = ml.InverseProblem(residual=lambda f, d, p: (_residual(f, d, p)["a"],), **kw)
    assert wrapped.n_equations == 1
    a, b = single.solve(ml.Direct()), wrapped.solve(ml.Direct())
    assert a.unknowns == b.unknowns
    np.testing.assert_array_equal(a.residual, b.residual)
