"""Simulated benchmark datasets, each simulated once and cached under ``DIR/datasets/``.

A dataset is keyed by its :class:`~mollifier_bench.config.DatasetSpec` (task, grid, noise, seed,
domain). Next to the dataset (``data.npz`` + ``meta.json``, the project's format) the cache keeps
``widths.json``: the mollifier widths chosen once for the dataset by the ``width="auto"`` rule and
then passed explicitly to every run on it, so that autodiff, mollifier and direct runs see the very
same problem.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mollifier.io.dataset import Dataset, load_dataset, save_dataset
from mollifier_bench.config import DatasetSpec

__all__ = ["CHROMATIN_LAMBDA", "dataset_dir", "ensure_dataset", "load", "load_widths", "simulate"]

#: Ground truth λ(x, y) of the chromatin task: lognormal, median 0.5, σ 0.2, correlation 1.0.
CHROMATIN_LAMBDA = {"median": 0.5, "sigma": 0.2, "correlation_length": 1.0}


def simulate(spec: DatasetSpec) -> Dataset:
    """Run the task's simulator for ``spec``.

    * ``langevin``: :func:`~mollifier.sim.simulate_langevin` with ``n`` output times on
      ``[0, 10]`` (sine forcing λ(t), 10 000 particles);
    * ``heat``: :func:`~mollifier.sim.simulate_heat`, steady form ``λ∇²u + m = 0`` on an
      ``n × n`` grid of the unit square with a lognormal λ(x, y);
    * ``chromatin``: :func:`~mollifier.sim.simulate_chromatin` to steady state on an ``n × n``
      periodic grid of side ``length`` (default 10) with the lognormal λ of
      :data:`CHROMATIN_LAMBDA`.

    Noise is Gaussian with standard deviation ``spec.noise × std(clean field)``.
    """
    from mollifier import sim

    noise: sim.AbstractNoise = sim.GaussianNoise(spec.noise) if spec.noise > 0 else sim.NoNoise()
    if spec.task == "langevin":
        return sim.simulate_langevin(n_times=spec.n, noise=noise, seed=spec.seed)
    if spec.task == "heat":
        return sim.simulate_heat(n=spec.n, noise=noise, seed=spec.seed)
    options: dict[str, Any] = {} if spec.length is None else {"length": spec.length}
    return sim.simulate_chromatin(
        n=spec.n,
        lam=sim.LognormalLambda(**CHROMATIN_LAMBDA),
        noise=noise,
        seed=spec.seed,
        **options,
    )


def dataset_dir(root: str | Path, spec: DatasetSpec) -> Path:
    """Cache directory of ``spec`` under ``root`` (``DIR/datasets``)."""
    return Path(root) / spec.key()


def ensure_dataset(root: str | Path, spec: DatasetSpec) -> tuple[Path, dict[str, float]]:
    """Simulate ``spec`` unless cached; choose its widths once. Returns ``(directory, widths)``.

    The widths are those of ``problem_from_dataset(ds, width="auto")`` (spectral rule refined by
    the stability of the direct solution), stored in ``widths.json``.
    """
    from mollifier.pdes import problem_from_dataset

    path = dataset_dir(root, spec)
    widths_file = path / "widths.json"
    if widths_file.is_file() and (path / "meta.json").is_file():
        return path, load_widths(path)
    if path.exists():
        shutil.rmtree(path)  # an interrupted earlier attempt
    ds = simulate(spec)
    problem = problem_from_dataset(ds, width="auto")
    widths = {a: float(w) for a, w in problem.width.items()}
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_dataset(ds, tmp)
    (tmp / "widths.json").write_text(
        json.dumps({"widths": widths, "rule": problem.width_rule, "spec": spec.to_dict()}, indent=1)
    )
    tmp.rename(path)
    return path, widths


def load_widths(path: str | Path) -> dict[str, float]:
    """The widths stored by :func:`ensure_dataset` in ``path/widths.json``."""
    doc = json.loads((Path(path) / "widths.json").read_text())
    return {str(a): float(w) for a, w in doc["widths"].items()}


def load(path: str | Path) -> Dataset:
    """Load a cached dataset."""
    return load_dataset(path)
