"""Deep ensembles of the network solver (``Network(ensemble=K)``) against their members alone."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import t as student

import mollifier as ml
from mollifier._options import OptionTypeError
from mollifier.inverse.bootstrap import mollified_data
from mollifier.inverse.network.ensemble import member_checkpoint, member_problems
from mollifier.inverse.noise import estimate_noise


@pytest.fixture(scope="module")
def problem() -> ml.InverseProblem:
    """``u_t = ν u_xx + λ(x) u_x`` on 21 × 25 nodes, 1% noise: a constant and a field."""
    grid = ml.Grid(t=np.linspace(0, 1, 21), x=np.linspace(0, 2, 25))
    t, x = grid.mesh()
    u = np.exp(-0.3 * np.pi**2 * t) * np.sin(np.pi * x) + 1.0
    u = u + 0.01 * np.random.default_rng(0).standard_normal(u.shape)
    return ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns={"nu": ml.Constant(init=0.2), "lam": ml.Field(axes=("x",))},
        residual=lambda f, d, p: d(f.u, "t") - p.nu * d(f.u, "xx") - p.lam * d(f.u, "x"),
        width={"t": 0.25, "x": 0.3},
    )


SOLVER = ml.Network(arch=ml.MLP(hidden=16, depth=2), steps=15, lr=3e-3, seed=3, read_off=False)


@pytest.fixture(scope="module")
def ensemble(problem) -> ml.Result:
    """Three members, seeds 3, 4, 5, intervals at 90%."""
    return problem.solve(replace(SOLVER, ensemble=3, level=0.9))


def test_ensemble_is_the_mean_and_spread_of_its_members_run_alone(problem, ensemble) -> None:
    """K = 3: the estimate is the mean of ``Network(seed=3), (4), (5)`` solved separately, to
    round-off; the std is their sample std; the members' values are kept."""
    result = ensemble
    alone = [problem.solve(replace(SOLVER, seed=3 + k)) for k in range(3)]
    nus = np.array([r.unknowns["nu"] for r in alone])
    lams = np.array([r.unknowns["lam"] for r in alone])
    assert result.unknowns["nu"] == pytest.approx(nus.mean(), rel=1e-12, abs=0)
    assert result.unknowns_std["nu"] == pytest.approx(nus.std(ddof=1), rel=1e-9, abs=0)
    finite = np.isfinite(lams).all(axis=0)
    assert finite.sum() > 5
    assert np.allclose(result.unknowns["lam"][finite], lams.mean(axis=0)[finite], rtol=1e-12)
    assert np.allclose(result.unknowns_std["lam"][finite], lams.std(axis=0, ddof=1)[finite])
    assert np.array_equal(np.isfinite(result.unknowns_std["lam"]), finite)
    assert np.allclose(
        result.fields["u"], np.mean([r.fields["u"] for r in alone], axis=0), rtol=1e-12
    )
    info = result.diagnostics["ensemble"]
    assert info["seeds"] == [3, 4, 5] and info["members"] == 3 and info["noise"] is False
    assert info["constants"]["nu"] == list(nus)
    assert np.array_equal(result.extras["ensemble_members"]["lam"], lams, equal_nan=True)
    assert result.uncertainty_method == "ensemble"
    assert result.config["ensemble"] == 3
    assert result.unknowns_std["nu"] > 0  # the seeds give different networks


def test_ensemble_with_resampled_noise_is_reproducible_and_draws_at_the_noise_level(
    problem,
) -> None:
    """``ensemble_noise``: member k trains on ``η∗u + σ̂ ξ_k``; the same seed gives the same
    replicates and the same result, another seed other ones."""
    solver = replace(SOLVER, ensemble=2, ensemble_noise=True, steps=5)
    subs = member_problems(problem, solver)
    base = mollified_data(problem)["u"]
    sigma = estimate_noise(problem.data["u"])
    for sub in subs:
        drawn = sub.data["u"] - base
        assert abs(np.std(drawn) / sigma - 1) < 0.1  # 525 draws: spread about 3%
    assert not np.array_equal(subs[0].data["u"], subs[1].data["u"])
    again = member_problems(problem, solver)
    assert all(np.array_equal(a.data["u"], b.data["u"]) for a, b in zip(subs, again, strict=True))
    other = member_problems(problem, replace(solver, seed=4))
    assert not np.array_equal(other[0].data["u"], subs[0].data["u"])
    first = problem.solve(solver)
    second = problem.solve(solver)
    assert first.unknowns["nu"] == second.unknowns["nu"]
    assert first.unknowns_std["nu"] == second.unknowns_std["nu"]
    member = subs[1].solve(replace(solver, ensemble=None, ensemble_noise=False, seed=4))
    assert first.diagnostics["ensemble"]["constants"]["nu"][1] == member.unknowns["nu"]


def test_result_json_and_npz_carry_the_ensemble(ensemble, tmp_path) -> None:
    result = ensemble
    result.save(tmp_path, figures=False)
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc["uncertainty_method"] == "ensemble" and doc["level"] == 0.9
    sd = doc["unknowns_std"]["nu"]
    low, high = doc["intervals"]["nu"]
    q = float(student.ppf(0.95, 2))  # two-sided 90%, K − 1 = 2 degrees of freedom
    assert (low + high) / 2 == pytest.approx(result.unknowns["nu"], rel=1e-12)
    assert high - low == pytest.approx(2 * q * sd, rel=1e-9)
    assert doc["unknowns_std"]["lam"] is None
    assert doc["diagnostics"]["ensemble"]["seeds"] == [3, 4, 5]
    arrays = np.load(tmp_path / "unknowns.npz")
    assert arrays["lam_members"].shape == (3, 25)
    finite = np.isfinite(arrays["lam"])
    assert np.allclose(
        arrays["lam_high"][finite] - arrays["lam_low"][finite], 2 * q * arrays["lam_std"][finite]
    )
    assert "±" in result.summary()


def test_checkpoints_are_kept_per_member_and_a_finished_ensemble_resumes_to_itself(
    problem, tmp_path
) -> None:
    solver = replace(SOLVER, ensemble=2, steps=5)
    path = tmp_path / "run.pt"
    first = problem.solve(solver, checkpoint=path)
    assert member_checkpoint(path, 1) == tmp_path / "run.member1.pt"
    assert all(member_checkpoint(path, k).exists() for k in range(2)) and not path.exists()
    again = problem.solve(solver, checkpoint=path, resume=True)
    assert again.unknowns["nu"] == first.unknowns["nu"]
    assert again.unknowns_std["nu"] == first.unknowns_std["nu"]
    with pytest.raises(ValueError, match="checkpoint"):
        problem.solve(solver, resume=True)


def test_one_member_is_a_plain_network(problem) -> None:
    plain = problem.solve(replace(SOLVER, steps=5))
    single = problem.solve(replace(SOLVER, steps=5, ensemble=1))
    assert single.unknowns["nu"] == plain.unknowns["nu"]
    assert single.uncertainty_method is None and single.unknowns_std == {}


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"ensemble": 0}, ValueError, "ensemble must be >= 1"),
        ({"ensemble": -3}, ValueError, "ensemble must be >= 1"),
        ({"ensemble": 2.5}, OptionTypeError, "ensemble"),
        ({"ensemble_noise": True}, ValueError, "set ensemble >= 2"),
        ({"ensemble": 1, "ensemble_noise": True}, ValueError, "set ensemble >= 2"),
        ({"ensemble": 3, "level": 1.0}, ValueError, "level"),
    ],
)
def test_invalid_ensembles_are_refused(options, error, match) -> None:
    with pytest.raises(error, match=match):
        ml.Network(**options)


def test_toml_solver_section_takes_the_ensemble() -> None:
    from mollifier.config import ConfigError, solver_from_table

    solver = solver_from_table({"method": "network", "ensemble": 4, "ensemble_noise": True})
    assert solver == ml.Network(ensemble=4, ensemble_noise=True)
    with pytest.raises((ConfigError, ValueError), match="ensemble"):
        solver_from_table({"method": "network", "ensemble": 0})
