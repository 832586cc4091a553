"""Network solver: recovery with both derivative backends, checkpoints, early stopping, errors."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch

import mollifier as ml
from mollifier.inverse.network import CheckpointMismatchError, TrainingDivergedError
from mollifier.inverse.network.checkpoint import remove_checkpoint
from mollifier.pdes import problem_from_dataset
from mollifier.sim import (
    GaussianNoise,
    LognormalLambda,
    simulate_chromatin,
    simulate_heat,
    simulate_langevin,
)


@pytest.fixture(scope="module")
def heat_problem():
    ds = simulate_heat(n=48, noise=GaussianNoise(0.01), seed=0)
    return problem_from_dataset(ds, width="auto")


@pytest.mark.slow
def test_heat_network_mollifier_meets_the_done_criterion(heat_problem):
    res = heat_problem.solve(
        ml.Network(arch=ml.MLP(), derivatives="mollifier", steps=2500, lr=0.003, seed=0)
    )
    assert res.metrics["lam"]["pearson"] >= 0.95, res.metrics
    assert res.config["derivatives"] == "mollifier"
    # the algebraic read-off from the network's fields (as the paper does) is reported too
    assert res.diagnostics["algebraic"]["metrics"]["lam"]["pearson"] > 0.9


@pytest.mark.slow
def test_chromatin_network_mollifier_meets_the_done_criterion():
    """4th order: PirateNet (Fourier features fit the spot pattern; a tanh MLP needs far more
    steps, see benchmarks/RESULTS.md) with mollifier derivatives, periodic data."""
    lam = LognormalLambda(median=0.5, sigma=0.2, correlation_length=2.0)
    ds = simulate_chromatin(n=40, length=6.4, lam=lam, noise=GaussianNoise(0.01), seed=0)
    pb = problem_from_dataset(ds, width="auto")
    assert pb.boundary == "periodic"
    res = pb.solve(
        ml.Network(arch=ml.PirateNet(), derivatives="mollifier", steps=800, lr=0.003, seed=0)
    )
    m = res.metrics["lam"]
    true_median = float(np.median(ds.truth["lam"][res.unknown_mask("lam")]))
    assert m["pearson"] >= 0.9, m
    assert abs(m["median"] / true_median - 1) <= 0.05, (m, true_median)


def test_langevin_network_meets_the_done_criterion():
    ds = simulate_langevin(noise=GaussianNoise(0.01), seed=0, n_times=101)
    pb = problem_from_dataset(ds, width="auto")
    res = pb.solve(ml.Network(steps=1500, lr=0.003, seed=0))
    assert res.metrics["lam"]["rel_l2"] <= 0.05, res.metrics


def test_autodiff_backend_runs_the_same_problem(heat_problem):
    """Same residual function, nested-autograd derivatives: trains and improves the loss."""
    res = heat_problem.solve(
        ml.Network(
            arch=ml.MLP(hidden=16, depth=2),
            derivatives="autodiff",
            steps=60,
            lr=0.003,
            seed=0,
            log_every=1,
        )
    )
    assert res.config["derivatives"] == "autodiff"
    loss = res.history["loss"]
    assert np.isfinite(loss).all() and loss[-1] < loss[0]
    assert np.isfinite(res.unknowns["lam"][res.unknown_mask("lam")]).all()


def test_backends_agree_on_the_residual_of_a_fixed_network(heat_problem):
    """At initialisation (same seed, same weights) the mollified residual of the network's fields
    and the autodiff residual differ only by mollification: their correlation is high."""
    kw = {
        "steps": 0,
        "seed": 3,
        "dtype": "float64",
        "arch": ml.MLP(hidden=16, depth=2),
        "read_off": False,
    }
    a = heat_problem.solve(ml.Network(derivatives="mollifier", **kw))
    b = heat_problem.solve(ml.Network(derivatives="autodiff", **kw))
    np.testing.assert_allclose(a.fields["u"], b.fields["u"], rtol=1e-12)


def test_checkpoint_is_written_and_checked_on_resume(tmp_path, heat_problem):
    kw = {
        "lr": 1e-2,
        "seed": 1,
        "arch": ml.MLP(hidden=8, depth=2),
        "dtype": "float64",
        "read_off": False,
        "log_every": 1,
    }
    ckpt = tmp_path / "ckpt.pt"
    timer = ml.inverse.network.StepTimer(16)
    whole = heat_problem.solve(
        ml.Network(steps=30, **kw), checkpoint=ckpt, checkpoint_every=15, callbacks=[timer]
    )
    assert torch.load(ckpt, weights_only=False)["step"] == 30
    # the first 16 steps are timed one by one, within the loop's time
    first = timer.times
    assert len(first) == 16 and min(first) > 0
    assert sum(first) < whole.diagnostics["adam_time_s"]
    # resuming a finished run trains no further, returns the same history and times no step
    again = heat_problem.solve(
        ml.Network(steps=30, **kw), checkpoint=ckpt, resume=True, callbacks=[timer]
    )
    assert again.diagnostics["steps_done"] == 30
    assert again.history["loss"] == whole.history["loss"]
    assert timer.times == []
    with pytest.raises(
        ValueError,
        match=r"checkpoint is for arch=mlp\(hidden=8, depth=2.*derivatives='mollifier' \(now "
        r"arch=mlp\(.*derivatives='autodiff'\)",
    ):
        heat_problem.solve(
            ml.Network(steps=30, derivatives="autodiff", **kw), checkpoint=ckpt, resume=True
        )
    with pytest.raises(ValueError, match=r"different training options: lr=0.01 \(now 0.02\)"):
        heat_problem.solve(ml.Network(steps=30, **{**kw, "lr": 0.02}), checkpoint=ckpt, resume=True)
    with pytest.raises(ValueError, match=r"steps=30 \(now 40\)"):
        heat_problem.solve(ml.Network(steps=40, **kw), checkpoint=ckpt, resume=True)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint path"):
        heat_problem.solve(ml.Network(steps=30, **kw), resume=True)
    # other observations of the same shape, with the same widths: refused, not silently resumed
    other = problem_from_dataset(
        simulate_heat(n=48, noise=GaussianNoise(0.01), seed=1), width=dict(heat_problem.width)
    )
    with pytest.raises(CheckpointMismatchError, match="data_sha256="):
        other.solve(ml.Network(steps=30, **kw), checkpoint=ckpt, resume=True)
    # removing a checkpoint also removes a save of it that was cut short
    unfinished = tmp_path / "ckpt.pt.tmp"
    unfinished.write_bytes(b"cut short")
    remove_checkpoint(ckpt)
    assert not ckpt.exists() and not unfinished.exists()


def test_resume_continues_where_it_stopped(tmp_path, heat_problem):
    kw = {
        "lr": 1e-2,
        "seed": 2,
        "arch": ml.MLP(hidden=8, depth=2),
        "dtype": "float64",
        "read_off": False,
        "log_every": 1,
    }
    ckpt = tmp_path / "c.pt"
    whole = heat_problem.solve(ml.Network(steps=20, **kw))
    # Interrupt after 10 of 20 steps (the schedule is for 20), then resume.
    with pytest.raises(KeyboardInterrupt):
        _interrupting_solve(heat_problem, ckpt, kw)
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 10
    # the first 10 steps slept 0.03 s each, so the checkpoint holds at least 0.3 s of loop time
    assert 0.3 <= state["times"]["adam_time_s"] <= state["times"]["wall_time_s"]
    resumed = heat_problem.solve(ml.Network(steps=20, **kw), checkpoint=ckpt, resume=True)
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"], rtol=1e-10)
    # the resumed run's times cover all 20 steps: the checkpoint's and its own
    assert resumed.diagnostics["resumed_at_step"] == 10
    assert resumed.diagnostics["adam_time_s"] > state["times"]["adam_time_s"]
    assert resumed.wall_time_s > state["times"]["wall_time_s"]
    assert resumed.wall_time_s >= resumed.diagnostics["adam_time_s"]
    assert whole.diagnostics["resumed_at_step"] == 0


def _interrupting_solve(problem, ckpt, kw):
    calls = {"n": 0}
    original = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        time.sleep(0.03)
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = step  # type: ignore[method-assign]
    try:
        problem.solve(ml.Network(steps=20, **kw), checkpoint=ckpt, checkpoint_every=10)
    finally:
        torch.optim.Adam.step = original  # type: ignore[method-assign]


def test_early_stopping_on_a_plateau(heat_problem):
    res = heat_problem.solve(
        ml.Network(
            arch=ml.MLP(hidden=8, depth=2), steps=500, lr=1e-12, patience=10, seed=0, read_off=False
        )
    )
    assert res.diagnostics["stopped_early"]
    assert res.diagnostics["steps_done"] < 50


def test_a_finished_run_resumes_as_finished(tmp_path, heat_problem):
    """Resuming a run that stopped early, or ran its L-BFGS steps, trains no further and does
    not add to its recorded times."""
    kw = {"seed": 0, "read_off": False, "arch": ml.MLP(hidden=8, depth=2), "log_every": 1}
    runs = {
        "early": {"steps": 500, "lr": 1e-12, "patience": 10},
        "lbfgs": {"steps": 10, "lr": 1e-2, "lbfgs_steps": 3, "dtype": "float64"},
    }
    for name, options in runs.items():
        ckpt = tmp_path / f"{name}.pt"
        first = heat_problem.solve(ml.Network(**options, **kw), checkpoint=ckpt)
        saved = torch.load(ckpt, weights_only=False)
        again = heat_problem.solve(ml.Network(**options, **kw), checkpoint=ckpt, resume=True)
        assert again.history == first.history, name
        assert again.diagnostics["steps_done"] == first.diagnostics["steps_done"], name
        assert again.diagnostics["stopped_early"] == (name == "early")
        assert torch.load(ckpt, weights_only=False)["times"] == saved["times"], name
        assert again.diagnostics["adam_time_s"] == saved["times"]["adam_time_s"], name
    assert first.diagnostics["steps_done"] == 10  # the L-BFGS run
    with pytest.raises(ValueError, match=r"lbfgs_steps=3 \(now 0\)"):
        heat_problem.solve(
            ml.Network(**{**options, "lbfgs_steps": 0}, **kw), checkpoint=ckpt, resume=True
        )
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1"):
        heat_problem.solve(ml.Network(**options, **kw), checkpoint=ckpt, checkpoint_every=0)


def test_diverging_loss_raises_with_the_step():
    x = np.linspace(0, 1, 30)
    grid = ml.Grid(x=x)
    pb = ml.InverseProblem(
        grid=grid,
        data={"u": np.sin(x)},
        unknowns={"c": ml.Constant(init=1.0)},
        residual=lambda f, d, p: d(f.u, "x") * torch.exp(800.0 * p.c),
        width=0.2,
    )
    with pytest.raises(TrainingDivergedError, match="diverged at step 0") as info:
        pb.solve(ml.Network(steps=10))
    assert info.value.step == 0


def test_positive_constant_stays_positive_and_options_are_checked():
    t = np.linspace(0, 2, 60)
    grid = ml.Grid(t=t)
    u = np.exp(-0.5 * t)
    pb = ml.InverseProblem(
        grid=grid,
        data={"u": u},
        unknowns={"k": ml.Constant(init=1.0, positive=True)},
        residual=lambda f, d, p: d(f.u, "t") + p.k * d(f.u),
        width=0.2,
        truth={"k": 0.5},
    )
    res = pb.solve(ml.Network(steps=1500, lr=0.01, dtype="float64", seed=0))
    assert res.unknowns["k"] > 0
    assert res.metrics["k"]["rel_error"] < 0.05, res.unknowns
    with pytest.raises(TypeError, match="derivatives must be one of 'mollifier', 'autodiff'"):
        pb.solve(ml.Network(derivatives="finite-differences"))
    with pytest.raises(TypeError, match="dtype must be one of 'float32', 'float64'"):
        pb.solve(ml.Network(dtype="float16"))
    with pytest.raises(TypeError):
        pb.solve(ml.Network(epochs=3))


def _rebuilt(pb: ml.InverseProblem, **changes: object) -> ml.InverseProblem:
    """``pb`` built again from its parts, with ``changes`` to its constructor's arguments."""
    parts: dict[str, object] = {
        "grid": pb.grid,
        "data": pb.data,
        "unknowns": pb.unknowns,
        "residual": pb.residual,
        "width": dict(pb.width),
        "known": pb.known,
        "kernel": pb.kernel,
        "boundary": pb.boundary,
        "crop": pb.crop,
        "mask": pb.mask,
    }
    return ml.InverseProblem(**{**parts, **changes})  # type: ignore[arg-type]


def test_a_checkpoint_is_refused_for_another_field_order_or_unknown(tmp_path):
    """The network's outputs map to the data fields in their order; the same fields listed the
    other way round would silently swap them on resume. Another starting value of an unknown
    is another problem too."""
    pb = problem_from_dataset(
        simulate_chromatin(n=16, length=6.4, noise=GaussianNoise(0.01), seed=0), width="auto"
    )
    kw = {"steps": 2, "seed": 0, "read_off": False, "arch": ml.MLP(hidden=8, depth=2)}
    ckpt = tmp_path / "ckpt.pt"
    pb.solve(ml.Network(**kw), checkpoint=ckpt)
    _rebuilt(pb).solve(ml.Network(**kw), checkpoint=ckpt, resume=True)  # the same problem resumes
    swapped = _rebuilt(pb, data=dict(reversed(list(pb.data.items()))))
    with pytest.raises(CheckpointMismatchError, match=r"data_names=\['phi_w', 'phi_d'\]"):
        swapped.solve(ml.Network(**kw), checkpoint=ckpt, resume=True)
    other_init = _rebuilt(pb, unknowns={"lam": dataclasses.replace(pb.unknowns["lam"], init=0.7)})
    with pytest.raises(CheckpointMismatchError, match=r"unknowns=.*init=0\.5"):
        other_init.solve(ml.Network(**kw), checkpoint=ckpt, resume=True)


def test_a_checkpoint_is_refused_for_another_residual(tmp_path):
    """Another PDE (here the chromatin model with another interface length, captured by the
    residual's closure) is another problem, even with the same data and unknowns."""
    from mollifier.pdes import residuals
    from mollifier.sim import ChromatinModel

    pb = problem_from_dataset(
        simulate_chromatin(n=16, length=6.4, noise=GaussianNoise(0.01), seed=0), width="auto"
    )
    kw = {"steps": 2, "seed": 0, "read_off": False, "arch": ml.MLP(hidden=8, depth=2)}
    ckpt = tmp_path / "ckpt.pt"
    pb.solve(ml.Network(**kw), checkpoint=ckpt)
    # the same model built again is the same residual
    _rebuilt(pb, residual=residuals.chromatin(ChromatinModel(l=0.03))).solve(
        ml.Network(**kw), checkpoint=ckpt, resume=True
    )
    other = _rebuilt(pb, residual=residuals.chromatin(ChromatinModel(l=0.05)))
    with pytest.raises(CheckpointMismatchError, match=r"residual=.*l2=0\.0009.*\(now .*l2=0\.0025"):
        other.solve(ml.Network(**kw), checkpoint=ckpt, resume=True)


def test_result_config_holds_the_solver_options_not_the_problem(tmp_path):
    """``result.config`` describes how the network was trained (kernel and boundary included);
    what a checkpoint pins of the problem (grid, data hash, residual, ...) stays out of it."""
    pb = problem_from_dataset(
        simulate_chromatin(n=16, length=6.4, noise=GaussianNoise(0.01), seed=0), width="auto"
    )
    kw = {"steps": 2, "seed": 0, "read_off": False, "arch": ml.MLP(hidden=8, depth=2)}
    for checkpoint in (None, tmp_path / "ckpt.pt"):
        res = pb.solve(ml.Network(**kw), checkpoint=checkpoint)
        fields = {f.name for f in dataclasses.fields(ml.Network)}
        assert set(res.config) == {"method", "kernel", "boundary"} | fields
        assert res.config["arch"] == {"name": "mlp", **dataclasses.asdict(kw["arch"])}
        assert res.config["lr_final"] == pytest.approx(kw.get("lr", 1e-3) / 100)
        assert res.config["equation_weights"] == [1.0]
        assert res.config["kernel"] == repr(pb.kernel)
