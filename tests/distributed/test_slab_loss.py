"""A distributed loss (gloo, float64, 2 and 3 processes) sums over ranks to the single-process
full-batch loss, and its all-reduced gradient is the single-process gradient, to 1e-10: 2-D and
3-D grids, periodic, reflecting and edge-kernel boundaries, mollifier and autodiff derivatives,
nested derivatives, masks, systems and the field penalty."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import mollifier as ml
from mollifier.inverse.network.slab import SlabProblem, slab_bounds
from tests.distributed._workers import PROBLEMS, free_port, loss_worker, reference_loss, solver_of

MOLL = {"derivatives": "mollifier"}
AUTO = {"derivatives": "autodiff"}
REG = {"field_regularization": 0.3}

#: key -> (problem, solver options, split axis)
CASES = {
    "2d-periodic-moll": ("2d-pointwise-periodic", MOLL, None),
    "2d-periodic-moll-y": ("2d-pointwise-periodic", {**MOLL, **REG}, "y"),
    "2d-reflect-moll": ("2d-pointwise-reflect", {**MOLL, **REG}, None),
    "2d-reflect-auto": ("2d-pointwise-reflect", {**AUTO, **REG}, None),
    "2d-interior-moll": ("2d-pointwise-interior", MOLL, None),
    "2d-interior-mollified-data": (
        "2d-pointwise-interior",
        {**MOLL, "data_loss": "mollified"},
        "y",
    ),
    "2d-divergence-mask": ("2d-divergence-reflect-mask", MOLL, None),
    "2d-divergence-periodic-auto": (
        "2d-divergence-periodic",
        {**AUTO, "data_loss": "mollified"},
        None,
    ),
    "2d-system": ("2d-system-periodic", {**MOLL, "equation_weights": (1.0, 0.5), **REG}, None),
    "3d-periodic-moll": ("3d-transport-periodic", {**MOLL, **REG}, None),
    "3d-periodic-auto": ("3d-transport-periodic", AUTO, "x"),
    "3d-reflect-moll": ("3d-transport-reflect", MOLL, "y"),
    "3d-reflect-auto": ("3d-transport-reflect", {**AUTO, **REG}, None),
    "3d-pointwise-reflect": ("3d-pointwise-reflect", {**MOLL, **REG}, None),
}


def _distributed(world: int, keys: list[str], tmp_path) -> dict:
    out = tmp_path / f"loss-{world}.pt"
    cases = [(k, *CASES[k]) for k in keys]
    mp.spawn(loss_worker, args=(world, free_port(), str(out), cases), nprocs=world, join=True)
    return torch.load(out, weights_only=False)


def _check(found: dict, keys: list[str]) -> None:
    for key in keys:
        problem, options, _ = CASES[key]
        terms, grads = reference_loss(problem, options)
        got_terms, got_grads, _ = found[key]
        assert set(got_terms) == set(terms), key
        for name, value in terms.items():
            assert got_terms[name] == pytest.approx(value, rel=1e-10, abs=1e-14), (key, name)
        ref = torch.cat([g.reshape(-1) for g in grads])
        got = torch.cat([g.reshape(-1) for g in got_grads])
        err = float(torch.linalg.vector_norm(got - ref) / torch.linalg.vector_norm(ref))
        assert err <= 1e-10, (key, err)


#: a quick subset: 2-D and 3-D, periodic and reflecting, mollifier and autodiff
QUICK = ["2d-periodic-moll-y", "2d-reflect-moll", "3d-periodic-auto", "3d-reflect-moll"]


def test_two_ranks_sum_to_the_single_process_loss_and_gradient(tmp_path) -> None:
    found = _distributed(2, QUICK, tmp_path)
    _check(found, QUICK)
    # the slabs are smaller than the grid: a halo, not a copy of everything
    assert found["3d-periodic-auto"][2] < 15 and found["2d-reflect-moll"][2] < 24


@pytest.mark.slow
def test_two_ranks_on_every_case(tmp_path) -> None:
    keys = [k for k in CASES if k not in QUICK]
    _check(_distributed(2, keys, tmp_path), keys)


@pytest.mark.slow
def test_three_ranks_sum_to_the_single_process_loss_and_gradient(tmp_path) -> None:
    keys = [
        "2d-periodic-moll-y",
        "2d-interior-moll",
        "2d-divergence-mask",
        "3d-periodic-moll",
        "3d-reflect-auto",
        "2d-system",
    ]
    _check(_distributed(3, keys, tmp_path), keys)


def test_slab_bounds_cover_the_axis_once() -> None:
    for n, world in [(10, 3), (7, 7), (32, 4), (5, 2)]:
        bounds = slab_bounds(n, world)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        sizes = [hi - lo for lo, hi in bounds]
        assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="cannot split an axis of 4 nodes into 5 slabs"):
        slab_bounds(4, 5)


def test_the_slab_keeps_only_its_part_of_the_data() -> None:
    """Rank 0 of 3 on a periodic axis of 60 nodes: core [0, 20) plus r nodes on each side, the
    left ones wrapped round from the far end; the data are those nodes' values, nothing else."""
    from tests.engine.test_tiles import make_problem, pointwise

    problem = make_problem((60, 20), pointwise, boundary="periodic")
    slab = SlabProblem(problem, axis="x", rank=0, world=3, solver=solver_of(MOLL))
    r = problem.layer.radius["x"]
    assert 0 < r < 20 and slab.depth == 1
    assert (slab.slab.lo, slab.slab.hi) == (0, 20)
    expected = sorted(set((np.arange(-r, 20 + r) % 60).tolist()))
    assert slab.slab.index.tolist() == expected
    assert slab.data["u"].shape == (20 + 2 * r, 20)
    np.testing.assert_array_equal(slab.data["u"], problem.data["u"][expected])
    np.testing.assert_array_equal(slab.known["m"], problem.known["m"][expected])


def test_a_domain_is_refused_by_name() -> None:
    base = PROBLEMS["2d-pointwise-interior"]()
    domain = np.ones(base.grid.shape, dtype=bool)
    domain[:2] = False
    problem = ml.InverseProblem(**{**base._options, "domain": domain, "width": dict(base.width)})
    with pytest.raises(ValueError, match=r"domain=.*fit it in one process"):
        SlabProblem(problem, axis="x", rank=0, world=2, solver=solver_of(MOLL))
