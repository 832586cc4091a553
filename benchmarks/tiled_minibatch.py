"""Tiled minibatches (``Network(batch=...)``) against the full batch: step time and accuracy
against wall time.

Usage: python benchmarks/tiled_minibatch.py [--problem chromatin heat3d] [--n 64 32]
       [--seconds 120] [--batch 4] [--tile 0] [--lr 3e-3] [--step-sizes 64 96]
       [--threads 0] [--smoke]

Problems (1% noise, seed 0): ``chromatin`` (the steady chromatin model on an ``n²`` periodic
grid of spacing 0.1, lognormal λ of median 0.5, PirateNet, width 0.4 = 4 spacings) and
``heat3d`` (steady ``λ∇²u + m = 0`` on ``n³`` nodes of the unit box, edge kernels, MLP, width
3.6 spacings, the narrowest the kernel allows). For each problem and setting (the full batch;
``--batch`` tiles of ``--tile`` nodes per axis, 0 for the default) the network trains at the
constant learning rate ``--lr`` for ``--seconds`` of training time; every tenth of it the
unknown field λ is read off the network on the whole grid (not counted in the time) and scored
by its Pearson r against the truth over the problem's interior. Table 1 gives the median
seconds per Adam step over the run and the nodes evaluated per step; table 2 the r reached at
each tenth of the budget.

``--step-sizes`` instead times 15 steps at several grid sizes (table 1 only), to show whether
the tiled step cost depends on the grid size.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import mollifier as ml
from mollifier.inverse.network.callbacks import Callback
from mollifier.inverse.network.loop import Optimisation
from mollifier.inverse.network.model import FieldModel, grid_coordinates, network_channels
from mollifier.inverse.network.tiles import TiledLoss, make_loss
from mollifier.pdes import problem_from_dataset
from mollifier.sim import GaussianNoise, LognormalLambda, simulate_chromatin, simulate_heat3d


class _Budget(Exception):
    """The run has used its training time."""


@dataclass
class Watch(Callback):
    """Times the Adam steps and scores λ every ``every`` seconds of training time."""

    model: FieldModel
    coords: torch.Tensor
    truth: np.ndarray
    where: np.ndarray
    budget: float
    every: float
    steps: list[float] = field(default_factory=list)
    trace: list[tuple[float, int, float]] = field(default_factory=list)
    trained: float = 0.0
    _t: float = 0.0

    def before_step(self, step: int) -> None:
        self._t = time.perf_counter()

    def step(self, step: int, terms: dict[str, float], constants: dict[str, float]) -> None:
        dt = time.perf_counter() - self._t
        self.steps.append(dt)
        self.trained += dt
        if self.trained >= (len(self.trace) + 1) * self.every or self.trained >= self.budget:
            self.trace.append((self.trained, step + 1, self.score()))
        if self.trained >= self.budget:
            raise _Budget

    def score(self) -> float:
        with torch.no_grad():
            _, chans = self.model.split(self.model.net(self.coords))
        lam = chans["lam"].double().cpu().numpy().reshape(self.truth.shape)
        return float(np.corrcoef(lam[self.where], self.truth[self.where])[0, 1])


def chromatin(n: int) -> tuple[ml.InverseProblem, ml.AbstractArchitecture]:
    lam = LognormalLambda(median=0.5, sigma=0.2, correlation_length=2.0)
    ds = simulate_chromatin(n=n, length=0.1 * n, lam=lam, noise=GaussianNoise(0.01), seed=0)
    return problem_from_dataset(ds, width=0.4), ml.PirateNet()


def heat3d(n: int) -> tuple[ml.InverseProblem, ml.AbstractArchitecture]:
    ds = simulate_heat3d(n=n, noise=GaussianNoise(0.01), seed=0)
    return problem_from_dataset(ds, width=3.6 / (n - 1), boundary="interior"), ml.MLP(embedding=0)


PROBLEMS = {"chromatin": chromatin, "heat3d": heat3d}


def train(
    problem: ml.InverseProblem, solver: ml.Network, *, budget: float, scores: int
) -> tuple[Watch, int]:
    """Train ``solver`` on ``problem`` for ``budget`` seconds of step time."""
    torch.manual_seed(solver.seed)
    grid, dtype = problem.grid, getattr(torch, solver.dtype)
    channels = network_channels(problem)
    net = solver.arch.build(
        in_features=grid.ndim,
        out_features=len(problem.data) + len(channels),
        lower=[grid.extent[a][0] for a in grid.axes],
        upper=[grid.extent[a][1] for a in grid.axes],
    )
    model = FieldModel(problem, net, channels).to(dtype=dtype)
    coords = grid_coordinates(problem, dtype, torch.device("cpu"))
    loss = make_loss(problem, model, coords, solver)
    nodes = math.prod(grid.shape)
    if isinstance(loss, TiledLoss) and solver.batch is not None:
        nodes = solver.batch * math.prod(loss.tiling.extended_shape)
    where = problem.interior
    watch = Watch(model, coords, np.asarray(problem.truth["lam"]), where, budget, budget / scores)
    try:
        Optimisation(model, loss, solver).run(callbacks=[watch])
    except _Budget:
        pass
    return watch, nodes


def settings(args: argparse.Namespace, arch: Any) -> list[tuple[str, ml.Network]]:
    base = {"arch": arch, "lr": args.lr, "lr_final": args.lr, "steps": 10**7, "seed": 0}
    tile = args.tile or None
    out = [("full batch", ml.Network(**base))]
    for b in args.batch:
        out.append((f"batch={b}, tile={tile or 'auto'}", ml.Network(batch=b, tile=tile, **base)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problem", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--n", nargs="+", type=int, default=[64, 32], help="one per problem")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--scores", type=int, default=10)
    parser.add_argument("--batch", nargs="+", type=int, default=[4])
    parser.add_argument("--tile", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--step-sizes", nargs="*", type=int, default=None)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny grids and budgets")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        smoke = {"chromatin": 32, "heat3d": 16}
        args.n, args.seconds, args.scores = [smoke[p] for p in args.problem], 1.0, 2
    if len(args.n) < len(args.problem):
        parser.error("give one --n per --problem")
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads"
    )
    step_rows, trace_rows = [], []
    for name, n in zip(args.problem, args.n, strict=False):
        sizes = args.step_sizes if args.step_sizes else [n]
        for size in sizes:
            problem, arch = PROBLEMS[name](size)
            for label, solver in settings(args, arch):
                timed = args.step_sizes is not None
                budget = math.inf if timed else args.seconds
                if timed:
                    solver = dataclasses.replace(solver, steps=15)
                watch, nodes = train(problem, solver, budget=budget, scores=args.scores)
                per = statistics.median(watch.steps[2:] or watch.steps)
                step_rows.append((name, size, math.prod(problem.grid.shape), label, nodes, per))
                if not timed:
                    trace_rows.append((name, size, label, len(watch.steps), watch.trace))
    print("\n| problem | n | grid nodes | setting | nodes per step | s / step |")
    print("|---|---|---|---|---|---|")
    for name, n, total, label, nodes, per in step_rows:
        print(f"| {name} | {n} | {total} | {label} | {nodes} | {per:.4f} |")
    if trace_rows:
        print("\n| problem | n | setting | steps | r of λ at each tenth of the time (s: r) |")
        print("|---|---|---|---|---|")
        for name, n, label, steps, trace in trace_rows:
            cells = ", ".join(f"{t:.0f}: {r:.3f}" for t, _, r in trace)
            print(f"| {name} | {n} | {label} | {steps} | {cells} |")


if __name__ == "__main__":
    main()
