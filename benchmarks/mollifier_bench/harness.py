"""Run a tier: the matrix, the scaling studies and the accuracy table; cache, resume, report.

Layout of the output directory ``DIR``::

    DIR/datasets/<key>/        simulated datasets (data.npz, meta.json) + widths.json
    DIR/runs/<sha256>.json     one finished item (its records); the hash is of the item's
                               canonical configuration JSON as specified (a matrix run's
                               widths are derived from its dataset), so re-running skips it
    DIR/runs/<sha256>.npz      estimated and true fields of a matrix run (field panels)
    DIR/runs/<sha256>.ckpt     a network run's training state while it runs (resume)
    DIR/bench.json             every record of this invocation, in run order
    DIR/bench.md               the tables (mollifier_bench.report)
    DIR/*.png                  the plots (mollifier_bench.plots; needs matplotlib)

Each matrix run and each scaling point runs in its own process (peak memory per configuration);
a run past its time limit is killed and recorded as ``timeout``. On ``KeyboardInterrupt`` the
running item's process is killed, the outputs are written for the records so far, and the
interrupt is re-raised. A network run keeps its training state in ``DIR/runs/<sha256>.ckpt``
while it runs, so a run stopped that way, or by a machine that went away (``DIR`` kept),
continues from there when the tier is run again (its times cover every step;
``resumed_at_step`` says where).
Items whose status is ``error`` or ``skipped`` (tier budget spent) are not cached, so a later
invocation retries them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from mollifier.inverse.network.checkpoint import remove_checkpoint
from mollifier_bench._process import dead_process_status
from mollifier_bench.config import STUDIES, RunConfig, TierConfig, canonical_json, config_hash

__all__ = [
    "BenchOutcome",
    "checkpoint_path",
    "matrix_runs",
    "read_json",
    "run_command",
    "run_tier",
]
#: Seconds granted beyond a run's time limit for process start-up and data loading.
_GRACE_S = 60.0
_UNCACHED = ("error", "skipped", "skipped_memory")


@dataclass(frozen=True)
class _Item:
    key: str
    label: str
    execute: Callable[[], list[dict[str, Any]]]
    study: str
    #: Given the records so far, the records of a run that need not happen (else None).
    skip: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None] | None = None


@dataclass
class BenchOutcome:
    """What :func:`run_tier` produced: the records and the files written."""

    records: list[dict[str, Any]]
    out: Path
    files: list[Path]
    cached: int
    ran: int


def matrix_runs(tier: TierConfig, *, device: str, threads: int) -> list[RunConfig]:
    """The tier's matrix as run configurations (widths are filled in when datasets exist).

    Within a block, for each (noise, seed): every arch with every backend, then the direct row.
    """
    runs = []
    for block in tier.matrix:
        for ds in block.datasets():
            common: dict[str, Any] = {
                "dataset": ds,
                "dtype": tier.dtype,
                "device": device,
                "threads": threads,
                "time_limit_s": tier.run_time_limit_s,
                "memory_limit_mb": tier.memory_limit_mb,
            }
            for arch in block.archs:
                for der in block.derivatives:
                    runs.append(
                        RunConfig(
                            derivatives=der,
                            arch=arch,
                            steps=block.steps,
                            lr=block.lr,
                            network=block.network,
                            probe_steps=tier.probe_steps,
                            **common,
                        )
                    )
            if block.direct:
                runs.append(
                    RunConfig(derivatives="direct", arch=None, steps=0, probe_steps=0, **common)
                )
    unique: dict[str, RunConfig] = {}
    for r in runs:
        unique.setdefault(config_hash(r), r)
    return list(unique.values())


def read_json(path: Path) -> Any:
    """The JSON document at ``path``, or None when it is missing, unreadable or not valid JSON.

    Used for files a run may have left half-written (a killed process): a caller treats None as
    "not there" and recomputes, it never trusts a partial document.
    """
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _matrix_record(config: RunConfig, measured: dict[str, Any]) -> dict[str, Any]:
    d = config.dataset
    rec = {
        "study": "matrix",
        "task": d.task,
        "order": d.order,
        "arch": config.arch,
        "derivatives": config.derivatives,
        "noise": d.noise,
        "seed": d.seed,
        "n": d.n,
        "steps_budget": config.steps,
    }
    rec.update(measured)
    rec["config"] = config.to_dict()
    return rec


def checkpoint_path(runs_dir: Path, key: str) -> Path:
    """Where the matrix run with configuration hash ``key`` keeps its training state."""
    return runs_dir / f"{key}.ckpt"


def run_command(
    config: RunConfig,
    dataset: Path,
    result: Path,
    *,
    arrays: Path | None = None,
    baseline_mb: float = 0.0,
    checkpoint: Path | None = None,
) -> list[str]:
    """The command that runs ``config`` on ``dataset`` in its own process (``mollifier_bench.run``).

    The process writes its measurements to ``result`` (and the fields to ``arrays``, if given);
    ``baseline_mb`` is subtracted from its peak RSS on CPU. With ``checkpoint`` it saves its
    training state there as it goes and resumes from it if it exists.
    """
    cmd = [
        sys.executable,
        "-m",
        "mollifier_bench.run",
        "--config",
        canonical_json(config.to_dict()),
        "--dataset",
        str(dataset),
        "--result",
        str(result),
        "--baseline-mb",
        str(baseline_mb),
    ]
    if arrays is not None:
        cmd += ["--arrays", str(arrays)]
    if checkpoint is not None:
        cmd += ["--checkpoint", str(checkpoint)]
    return cmd


def _execute_matrix(
    config: RunConfig, key: str, datasets_dir: Path, runs_dir: Path, baseline_mb: float
) -> list[dict[str, Any]]:
    from mollifier_bench.datasets import ensure_dataset

    path, widths = ensure_dataset(datasets_dir, config.dataset)
    config = replace(config, width=tuple(widths.items()))
    partial = runs_dir / f"{key}.partial.json"
    partial.unlink(missing_ok=True)
    # A network run saves its training state as it goes: if the tier is stopped (Ctrl-C,
    # SIGTERM, a lease that ends), running it again continues the run where it was.
    ckpt = checkpoint_path(runs_dir, key) if config.derivatives != "direct" else None
    cmd = run_command(
        config,
        path,
        partial,
        arrays=runs_dir / f"{key}.npz",
        baseline_mb=baseline_mb,
        checkpoint=ckpt,
    )
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=config.time_limit_s + _GRACE_S
        )
    except subprocess.TimeoutExpired:
        measured = read_json(partial) or {}
        measured.update(
            status="timeout",
            error=f"killed after {config.time_limit_s:.0f} s (the run's time limit)",
            total_time_s=None,
        )
    else:
        measured = read_json(partial) or {}
        if proc.returncode != 0:
            tail = proc.stderr[-1500:]
            capped = config.memory_limit_mb is not None
            measured.update(
                status=dead_process_status(proc.returncode, tail, capped=capped),
                error=f"exit code {proc.returncode}: {tail}",
            )
    partial.unlink(missing_ok=True)
    if ckpt is not None:  # the run has its record now (a cached result, or an error to rerun)
        remove_checkpoint(ckpt)
    measured.setdefault("diverged", False)
    measured["process_wall_s"] = time.perf_counter() - t0
    return [_matrix_record(config, measured)]


def _stamp(records: list[dict[str, Any]], key: str, prov: dict[str, Any]) -> None:
    from mollifier_bench.provenance import load_average

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for r in records:
        r.setdefault("config_hash", key)
        r.update({k: v for k, v in prov.items() if k not in r})
        r.setdefault("finished_at", now)
        r.setdefault("load_average", load_average())


def _items(
    tier: TierConfig,
    out: Path,
    *,
    device: str,
    threads: int,
    only: Iterable[str],
    baseline: Callable[[], float],
) -> list[_Item]:
    from mollifier_bench import accuracy, scaling

    studies: dict[str, list[_Item]] = {s: [] for s in STUDIES}
    datasets_dir, runs_dir = out / "datasets", out / "runs"

    def matrix_run(config: RunConfig, key: str) -> list[dict[str, Any]]:
        return _execute_matrix(config, key, datasets_dir, runs_dir, baseline())

    def scaling_run(point: scaling.ScalingPoint) -> list[dict[str, Any]]:
        return [scaling.measure_point(point, baseline_mb=baseline())]

    if "matrix" in only:
        for cfg in matrix_runs(tier, device=device, threads=threads):
            key = config_hash(cfg)
            studies["matrix"].append(
                _Item(
                    key=key, label=cfg.label, study="matrix", execute=partial(matrix_run, cfg, key)
                )
            )
    if "scaling" in only and tier.scaling is not None:
        kw: dict[str, Any] = {
            "device": device,
            "threads": threads,
            "dtype": tier.dtype,
            "memory_limit_mb": tier.memory_limit_mb,
            "time_limit_s": tier.run_time_limit_s,
        }
        points = scaling.order_points(tier.scaling, **kw) + scaling.grid_points(tier.scaling, **kw)
        for p in points:
            studies["scaling"].append(
                _Item(
                    key=p.key,
                    label=p.label,
                    study="scaling",
                    execute=partial(scaling_run, p),
                    skip=partial(scaling.skipped, p),
                )
            )
    if "accuracy" in only and tier.accuracy is not None:
        spec = tier.accuracy
        for noise in spec.noises:
            studies["accuracy"].append(
                _Item(
                    key=accuracy.accuracy_key(spec, noise),
                    label=f"accuracy noise={noise:g}",
                    study="accuracy",
                    execute=partial(accuracy.accuracy_records, spec, noise),
                )
            )
    return [item for s in tier.studies for item in studies[s]]


def run_tier(
    tier: TierConfig,
    out: str | Path,
    *,
    device: str | None = None,
    force: bool = False,
    only: Iterable[str] = STUDIES,
    threads: int | None = None,
    time_budget_s: float | None = None,
    plots: bool = True,
    progress: bool = True,
    command: str | None = None,
) -> BenchOutcome:
    """Run (or resume) ``tier`` into ``out`` and write ``bench.json``, ``bench.md`` and plots.

    Parameters
    ----------
    tier : TierConfig
    out : path
        Output directory (created).
    device : str, optional
        ``"auto"``, ``"cpu"``, ``"cuda"``; default the tier's.
    force : bool
        Re-run items even when cached, from scratch.
    only : iterable of {"matrix", "scaling", "accuracy"}
        Studies to run.
    threads : int, optional
        Torch threads per run (default the tier's).
    time_budget_s : float, optional
        Soft budget for this invocation (default the tier's); items not started within it are
        recorded as ``skipped``.
    plots : bool
        Write the PNG plots (needs matplotlib).
    progress : bool
        Show a tqdm progress bar over the items, labelled with the current one.
    command : str, optional
        The command line, quoted in ``bench.md``.
    """
    import torch

    from mollifier._progress import progress_bar
    from mollifier_bench.cost import idle_rss_mb
    from mollifier_bench.provenance import provenance, resolve_device

    only = tuple(only)
    bad = [s for s in only if s not in STUDIES]
    if bad:
        raise ValueError(f"unknown studies {bad}; choose from {STUDIES}")
    dev = resolve_device(device or tier.device)
    nthreads = tier.threads if threads is None else threads
    if nthreads < 0:
        raise ValueError(f"threads must be >= 0, got {nthreads}")
    if nthreads:
        torch.set_num_threads(nthreads)
    budget = tier.time_budget_s if time_budget_s is None else time_budget_s
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "datasets").mkdir(parents=True, exist_ok=True)
    prov = provenance(dev, nthreads)
    prov["tier"] = tier.name
    base: list[float] = []

    def baseline() -> float:
        if not base:
            base.append(idle_rss_mb())
        return base[0]

    items = _items(tier, out, device=dev, threads=nthreads, only=only, baseline=baseline)
    records: list[dict[str, Any]] = []
    cached = ran = 0
    t_start = time.perf_counter()
    bar = progress_bar(
        items, disable=not progress, desc=f"bench {tier.name}", unit="run", dynamic_ncols=True
    )
    interrupted = False
    try:
        for item in bar:
            bar.set_postfix_str(item.label, refresh=True)
            outcome = _one_item(
                item, out, records, prov=prov, force=force, budget=budget, started=t_start
            )
            cached += outcome == "cached"
            ran += outcome == "ran"
            _write_bench_json(out, records)
    except KeyboardInterrupt:
        interrupted = True  # the running item's process was killed by subprocess.run
    finally:
        bar.close()
    files = [_write_bench_json(out, records)]
    from mollifier_bench.report import write_report

    files.append(
        write_report(records, out / "bench.md", tier=tier, device=prov["device"], command=command)
    )
    if plots:
        from mollifier_bench.plots import write_plots

        files.extend(write_plots(records, out))
    if interrupted:
        raise KeyboardInterrupt(f"interrupted; {len(records)} records written to {out}")
    return BenchOutcome(records=records, out=out, files=files, cached=cached, ran=ran)


def _one_item(
    item: Any,
    out: Path,
    records: list[dict[str, Any]],
    *,
    prov: dict[str, Any],
    force: bool,
    budget: float | None,
    started: float,
) -> str:
    """Run one item (or read its cached records) and append its records to ``records``; a
    finished item's records are written atomically to ``out/runs/<key>.json``. Returns
    ``"cached"``, ``"ran"`` or ``"skipped"`` (over the time budget, or skipped by the item)."""
    path = out / "runs" / f"{item.key}.json"
    doc = None if force else read_json(path)
    if force:  # from scratch, not from a stopped run's training state
        remove_checkpoint(checkpoint_path(out / "runs", item.key))
    if doc is not None and "records" in doc:
        records.extend(doc["records"])
        return "cached"
    spent = time.perf_counter() - started
    outcome = "skipped"
    if budget is not None and spent > budget:
        new = [
            {
                "study": item.study,
                "label": item.label,
                "status": "skipped",
                "error": f"tier time budget of {budget:.0f} s spent",
            }
        ]
    else:
        skipped = item.skip(records) if item.skip is not None else None
        new = skipped if skipped is not None else item.execute()
        outcome = "ran" if skipped is None else "skipped"
    _stamp(new, item.key, prov)
    new = json.loads(json.dumps(new))  # exactly what a resumed run reads back
    records.extend(new)
    if all(r.get("status") not in _UNCACHED for r in new):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"key": item.key, "records": new}, indent=1))
        os.replace(tmp, path)
    return outcome


def _write_bench_json(out: Path, records: list[dict[str, Any]]) -> Path:
    path = out / "bench.json"
    tmp = path.with_name("bench.json.tmp")
    tmp.write_text(json.dumps(records, indent=1))
    os.replace(tmp, path)
    return path
