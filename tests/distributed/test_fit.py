"""Distributed training (gloo, float64): a few Adam steps and an L-BFGS polish give the
single-process parameters, and a run interrupted on 2 ranks and resumed on 3 ends where an
uninterrupted run ends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from tests.distributed._workers import PROBLEMS, fit_worker, free_port, solver_of

OPTIONS = {
    "derivatives": "mollifier",
    "steps": 8,
    "lr": 0.01,
    "lbfgs_steps": 3,
    "field_regularization": 0.1,
    "log_every": 1,
    "read_off": False,
}


def _spawn(world, problem, options, run, out, stop_at=None) -> None:
    mp.spawn(
        fit_worker,
        args=(world, free_port(), problem, options, run, str(out), stop_at),
        nprocs=world,
        join=True,
    )


def _single(problem: str, options: dict, **run):
    return PROBLEMS[problem]().solve(solver_of(options), **run)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("problem", "derivatives"),
    [("2d-pointwise-reflect", "mollifier"), ("3d-transport-periodic", "autodiff")],
)
def test_training_steps_match_one_process(tmp_path, problem, derivatives) -> None:
    options = {**OPTIONS, "derivatives": derivatives}
    _spawn(2, problem, options, {}, tmp_path / "d.pt")
    got = torch.load(tmp_path / "d.pt", weights_only=False)
    ref = _single(problem, options)
    losses = np.asarray(ref.history["loss"])
    assert len(losses) == OPTIONS["steps"] + 1 and losses[-1] < losses[0]  # it trained
    np.testing.assert_allclose(got["history"]["loss"], losses, rtol=1e-10)
    # to round-off relative to each quantity's scale (values near zero included)
    for name, value in [*ref.unknowns.items(), *ref.fields.items()]:
        got_value = got["unknowns"].get(name, got["fields"].get(name))
        scale = np.nanmax(np.abs(value))
        np.testing.assert_allclose(got_value, value, rtol=0, atol=1e-9 * scale, err_msg=name)
    info = got["distributed"]
    assert info["ranks"] == 2 and info["backend"] == "gloo"
    cores = [r["core"] for r in info["per_rank"]]
    n = PROBLEMS[problem]().grid.shape[PROBLEMS[problem]().grid.index(info["split_axis"])]
    assert cores[0][0] == 0 and cores[0][1] == cores[1][0] and cores[1][1] == n


@pytest.mark.slow
def test_a_run_resumed_on_another_number_of_ranks_ends_where_an_uninterrupted_one_does(
    tmp_path,
) -> None:
    problem, options = "2d-divergence-periodic", {**OPTIONS, "steps": 10}
    ckpt = tmp_path / "checkpoint.pt"
    run = {"checkpoint": str(ckpt), "checkpoint_every": 5}
    with pytest.raises(mp.ProcessRaisedException, match="stopped before step 7"):
        _spawn(2, problem, options, run, tmp_path / "a.pt", stop_at=7)
    assert torch.load(ckpt, weights_only=False)["step"] == 5
    _spawn(3, problem, options, {**run, "resume": True}, tmp_path / "b.pt")
    resumed = torch.load(tmp_path / "b.pt", weights_only=False)
    assert resumed["resumed_at"] == 5 and resumed["distributed"]["ranks"] == 3
    whole = _single(problem, options)
    np.testing.assert_allclose(resumed["history"]["loss"], whole.history["loss"], rtol=1e-10)
    scale = np.max(np.abs(whole.fields["u"]))
    np.testing.assert_allclose(resumed["fields"]["u"], whole.fields["u"], rtol=0, atol=1e-9 * scale)
