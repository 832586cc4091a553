"""Process bodies of the distributed tests (spawned with torch.multiprocessing: importable)."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

import mollifier as ml
from mollifier.inverse.network.callbacks import Callback
from mollifier.inverse.network.distributed import Distributed, GradientSync, solve_distributed
from mollifier.inverse.network.loss import PhysicsLoss
from mollifier.inverse.network.model import grid_coordinates, network_channels
from mollifier.inverse.network.slab import (
    SlabLoss,
    SlabProblem,
    slab_coordinates,
    use_global_statistics,
)
from mollifier.inverse.network.trainer import build_model
from tests.engine.test_tiles import divergence, make_problem, pointwise, system, transport

ARCH = ml.MLP(hidden=8, depth=2)

#: name -> a function building the problem (the same in every process)
PROBLEMS = {
    "2d-pointwise-periodic": lambda: make_problem((24, 20), pointwise, boundary="periodic"),
    "2d-pointwise-reflect": lambda: make_problem((24, 20), pointwise, boundary="reflect"),
    "2d-pointwise-interior": lambda: make_problem((24, 20), pointwise, boundary="interior"),
    "2d-divergence-reflect-mask": lambda: make_problem(
        (22, 20), divergence, boundary="reflect", mask=True
    ),
    "2d-divergence-periodic": lambda: make_problem((22, 20), divergence, boundary="periodic"),
    "2d-system-periodic": lambda: make_problem((24, 20), system, boundary="periodic"),
    "3d-transport-periodic": lambda: make_problem((16, 15, 15), transport, boundary="periodic"),
    "3d-transport-reflect": lambda: make_problem((20, 18, 17), transport, boundary="reflect"),
    "3d-pointwise-reflect": lambda: make_problem((17, 20, 18), pointwise, boundary="reflect"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _init(rank: int, world: int, port: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=60),
    )


def solver_of(options: dict[str, Any]) -> ml.Network:
    return ml.Network(arch=ARCH, dtype="float64", **options)


def reference_loss(problem_name: str, options: dict[str, Any]) -> tuple[dict, list]:
    """Single-process loss terms and gradients of the freshly seeded network."""
    problem = PROBLEMS[problem_name]()
    solver = solver_of(options)
    channels = network_channels(problem)
    model = build_model(problem, solver, channels, dtype=torch.float64, device=torch.device("cpu"))
    coords = grid_coordinates(problem, torch.float64, torch.device("cpu"))
    loss, terms = PhysicsLoss(problem, model, coords, solver)()
    loss.backward()
    return terms, [p.grad.clone() for p in model.parameters()]


def loss_worker(rank: int, world: int, port: int, out: str, cases: list) -> None:
    """Every case's summed loss terms and all-reduced gradients, saved by rank 0."""
    _init(rank, world, port)
    found = {}
    for key, problem_name, options, axis in cases:
        problem = PROBLEMS[problem_name]()
        solver = solver_of(options)
        channels = network_channels(problem)
        split = Distributed(split_axis=axis).axis(problem.grid)
        slab = SlabProblem(problem, axis=split, rank=rank, world=world, solver=solver)
        dev = torch.device("cpu")
        model = build_model(slab, solver, channels, dtype=torch.float64, device=dev)
        use_global_statistics(model, slab)
        coords = slab_coordinates(slab, torch.float64, dev)
        loss, terms = SlabLoss(slab, model, solver, coords=coords, rank=rank)()
        loss.backward()
        sync = GradientSync(dev)
        terms = sync.terms(terms)
        sync.grads(model.parameters())
        found[key] = (terms, [p.grad.clone() for p in model.parameters()], len(slab.slab.index))
    if rank == 0:
        torch.save(found, out)
    dist.destroy_process_group()


class Interrupted(RuntimeError):
    """A run stopped on purpose."""


class StopAt(Callback):
    """Raise :class:`Interrupted` before Adam step ``step`` (a run cut short; spawned
    processes ignore KeyboardInterrupt)."""

    def __init__(self, step: int) -> None:
        self.at = step

    def before_step(self, step: int) -> None:
        if step == self.at:
            raise Interrupted(f"stopped before step {step}")


def fit_worker(
    rank: int,
    world: int,
    port: int,
    problem_name: str,
    options: dict[str, Any],
    run: dict[str, Any],
    out: str,
    stop_at: int | None = None,
) -> None:
    """solve_distributed; rank 0 saves the result's history, unknowns and fields to ``out``."""
    _init(rank, world, port)
    callbacks = [StopAt(stop_at)] if stop_at is not None else []
    result = solve_distributed(
        PROBLEMS[problem_name], solver_of(options), callbacks=callbacks, **run
    )
    if rank == 0:
        assert result is not None
        torch.save(
            {
                "history": result.history,
                "fields": result.fields,
                "unknowns": {k: np.asarray(v) for k, v in result.unknowns.items()},
                "distributed": result.diagnostics["distributed"],
                "resumed_at": result.diagnostics["resumed_at_step"],
            },
            Path(out),
        )
    else:
        assert result is None
    dist.destroy_process_group()
