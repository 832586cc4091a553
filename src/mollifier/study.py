"""Whole studies: ``fit`` (a TOML config end to end) and the built-in ``demo``."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mollifier.config import FitConfig, load_residual, make_unknown
from mollifier.grid import Grid
from mollifier.inverse import MLP, Direct, Network, Result, Tikhonov, refine_width
from mollifier.inverse.problem import constant_fields
from mollifier.inverse.unknowns import Constant, Field
from mollifier.io.dataset import Dataset, load_dataset

__all__ = ["build_problem", "load_study_data", "run_demo", "run_fit"]


def load_study_data(config: FitConfig) -> Dataset:
    """Assemble the study's :class:`Dataset` from ``[data]`` (a dataset directory or a file)."""
    from mollifier.io.read import read_fields

    dc = config.data
    path = Path(dc.path)
    base = Path(config.source).parent if config.source else Path.cwd()
    if path.is_dir():
        ds = load_dataset(path)
        if dc.truth:  # the config's truth adds to the dataset's, or replaces an entry
            truth = dc.resolve_truth(ds.coords, base)
            ds = replace(
                ds,
                truth={**ds.truth, **truth},
                truth_axes={k: v for k, v in ds.truth_axes.items() if k not in truth},
            )
        if dc.fields:
            names = dc.fields if isinstance(dc.fields, list) else list(dc.fields)
            missing = [n for n in names if n not in ds.fields]
            if missing:
                raise ValueError(
                    f"{path}: dataset has no fields {missing}; it has {sorted(ds.fields)}"
                )
    else:
        if not dc.coords:
            raise ValueError(f"[data] coords = [...] is required to read the plain file {path}")
        mapping = dict(dc.fields) if isinstance(dc.fields, dict) else {n: n for n in dc.fields}
        known_names = {k: v for k, v in dc.known.items() if isinstance(v, str)}
        wanted = list(mapping.values()) + list(known_names.values())
        g = read_fields(
            path,
            coords=tuple(dc.coords),
            fields=wanted or None,
            columns=tuple(dc.columns) if dc.columns else None,
        )
        if not mapping:
            mapping = {n: n for n in g.fields if n not in known_names.values()}
        fields = {name: g.fields[src] for name, src in mapping.items()}
        known: dict[str, Any] = {k: g.fields[v] for k, v in known_names.items()}
        known.update({k: v for k, v in dc.known.items() if not isinstance(v, str)})
        truth = dc.resolve_truth(g.coords, base)
        equation = config.problem.builtin or "custom"
        ds = Dataset(equation=equation, coords=g.coords, fields=fields, known=known, truth=truth)
    if dc.add_noise:
        rng = np.random.default_rng(dc.noise_seed)
        noisy = {
            k: v + dc.add_noise * np.nanstd(v) * rng.standard_normal(v.shape)
            for k, v in ds.fields.items()
        }
        ds = Dataset(
            equation=ds.equation,
            coords=ds.coords,
            fields=noisy,
            clean=dict(ds.fields),
            known=ds.known,
            truth=ds.truth,
            truth_axes=ds.truth_axes,
            mask=ds.mask,
            noise={"model": "gaussian", "level": dc.add_noise, "relative_to": "std"},
            seed=dc.noise_seed,
            params=ds.params,
        )
    return ds


def build_problem(config: FitConfig, ds: Dataset) -> Any:
    """The :class:`InverseProblem` of a study."""
    from mollifier.inverse.problem import InverseProblem
    from mollifier.pdes import problem_from_dataset

    mc = config.mollifier
    width = mc.width if not isinstance(mc.width, dict) else dict(mc.width)
    options: dict[str, Any] = {
        "width": width,
        "kernel": mc.kernel,
        "boundary": mc.boundary,
        "crop": mc.crop,
    }
    pc = config.problem
    if pc.builtin is not None:
        return problem_from_dataset(ds, pc.builtin, **options)
    residual = load_residual(pc.residual or "")
    unknowns: dict[str, Constant | Field] = {
        name: make_unknown(name, spec) for name, spec in pc.unknowns.items()
    }
    truth = {k: v for k, v in ds.truth.items() if k in unknowns}
    return InverseProblem(
        grid=Grid(**ds.coords),
        data=dict(ds.fields),
        known=dict(ds.known),
        unknowns=unknowns,
        residual=residual,
        truth=truth,
        mask=ds.mask,
        **options,
    )


def run_fit(
    config: FitConfig, out: str | Path, *, progress: bool = True, resume: bool = False
) -> Result:
    """Run a study: load data, build the problem, solve, save ``result.json``, npz and figures.

    The network solver saves its state to ``out/checkpoint.pt`` as it trains; ``resume=True``
    continues from it (it must come from the same solver settings, or ``ValueError`` says which
    differ; without one it starts afresh), and ``wall_time_s`` then includes the earlier runs'
    training, not their data loading.
    """
    if resume and not isinstance(config.solver, Network):
        raise ValueError(f"resume applies to the network solver, not {config.solver!r}")
    t0 = time.perf_counter()
    ds = load_study_data(config)
    constant = constant_fields(ds.fields)
    if constant:
        raise ValueError(
            f"{config.data.path}: data {constant} are constant (all observed values equal); "
            "their derivatives vanish, so they cannot determine any unknown. Check [data] "
            "fields and the file"
        )
    problem = build_problem(config, ds)
    problem = refine_width(problem)
    run: dict[str, Any] = {}
    if isinstance(config.solver, Network):
        run = {
            "progress": progress,
            "checkpoint": str(Path(out) / "checkpoint.pt"),
            "resume": resume,
        }
    setup = time.perf_counter() - t0
    result = problem.solve(config.solver, **run)
    result.wall_time_s += setup
    result.config["source"] = config.source
    result.save(out)
    return result


def run_demo(
    out: str | Path, *, steps: int = 2500, n: int = 48, progress: bool = True
) -> dict[str, Result]:
    """The README's main job: a small heat problem with 1% noise, λ(x, y) recovered two ways.

    Simulates the paper's steady heat equation ``0 = λ ∇²u + m`` on an ``n × n`` grid (solved on a
    4× finer grid), adds 1% Gaussian noise, and recovers ``λ`` at every node, edge kernels up to
    the walls (``boundary="interior"``), with (1) the direct weak-form solver (Tikhonov-pooled)
    and (2) a tanh MLP trained with mollifier derivatives. Writes the dataset, both results and
    their figures under ``out``.
    """
    from mollifier.io.dataset import save_dataset
    from mollifier.pdes import problem_from_dataset
    from mollifier.plot import plot_dataset
    from mollifier.sim import GaussianNoise, simulate_heat

    root = Path(out)
    ds = simulate_heat(n=n, noise=GaussianNoise(0.01), seed=0)
    save_dataset(ds, root / "data")
    plot_dataset(ds, root / "data" / "preview.png")
    # Edge kernels give λ up to the walls; the penalty pools neighbouring nodes, which calms the
    # noisier edge rows (benchmarks/RESULTS.md, audit trail).
    problem = problem_from_dataset(ds, width="auto", boundary="interior")
    direct = Direct(regularization=Tikhonov(1.0))
    problem = refine_width(problem, solver=direct)
    # 20 bootstrap replicates: standard deviations good to about 16%
    results = {"direct": problem.solve(replace(direct, uncertainty="bootstrap", replicates=20))}
    results["network"] = problem.solve(
        # Scale-1 Fourier features: larger scales let λ follow the noisier edge-kernel rows
        # near the walls (benchmarks/RESULTS.md § 19).
        Network(arch=MLP(fourier_scale=1.0), derivatives="mollifier", steps=steps, lr=3e-3, seed=0),
        progress=progress,
    )
    for name, res in results.items():
        res.save(root / name)
    return results
