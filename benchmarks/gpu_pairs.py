"""Autodiff/mollifier pairs of the chromatin task on one GPU, sized to what a short lease allows.

The full tier's 4th-order autodiff runs do not fit a 15-minute device lease (their probes project
351 s, 1 230 s and 2 556 s for 2000 steps on an H200), so the tier cannot measure their
accuracies. This script measures them with the step budget the lease allows, giving both
backends the same network, steps, learning rate, seed, widths and dataset:

1. for each pair ``ARCH:N`` (chromatin, N² grid of [0, 10]², 1% noise, seed 0; the network of
   the full tier for that architecture), probe both backends (5 timed steps each, every probe
   running at the same time, so the probe times include the slow-down of sharing the GPU);
2. give each pair ``steps = min(--max-steps, budget / (1.1 × autodiff probe step))``, rounded
   down to a multiple of 100, where the budget is ``--train-budget`` or the time left before
   the deadline less 30 s, whichever is smaller; a pair left with fewer than ``--min-steps`` is
   not run;
3. run every remaining run at once, each in its own process (``python -m mollifier_bench.run``),
   and stop any still running at ``--deadline`` seconds after the start;
4. write ``pairs.json`` (one record per run with the probe, the run and the provenance) and
   ``pairs.md`` (one table), and print the table.

Step times measured this way are shared-GPU times (several processes at once). With
``--sequential`` the probes and runs go one at a time instead (mollifier first), for clean step
times; the budget then covers all runs together (steps from the sum of all probe step times),
and every pair gets the same steps. Peak memory
(``torch.cuda.max_memory_allocated``) is per process and not affected by the sharing.

Usage (device):  python3 benchmarks/gpu_pairs.py --out DIR [--pairs mlp:128 pirate:64
                 pinnsformer:64] [--datasets DIR] [--train-budget 300] [--deadline 400]
                 [--sequential]
A CPU dry run:   python benchmarks/gpu_pairs.py --out /tmp/p --device cpu --pairs mlp:16
                 --max-steps 200 --min-steps 100 --train-budget 20 --deadline 120
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mollifier_bench.config import RunConfig
from mollifier_bench.datasets import ensure_dataset
from mollifier_bench.harness import matrix_runs, read_json, run_command
from mollifier_bench.provenance import commit_info, device_name, resolve_device
from mollifier_bench.tiers import get_tier

#: Run order in ``--sequential`` mode: the cheap mollifier run first, so a deadline hits autodiff.
BACKENDS = ("mollifier", "autodiff")
#: Seconds kept free before the deadline for the runs' start-up, read-off and records.
MARGIN_S = 30.0


def parse_pair(text: str) -> tuple[str, int]:
    """``"pinnsformer:64"`` → ``("pinnsformer", 64)``; ``ValueError`` names a malformed pair."""
    arch, sep, n = text.partition(":")
    if not sep or not n.isdigit():
        raise ValueError(f"a pair is ARCH:N (e.g. pirate:64), got {text!r}")
    return arch, int(n)


def pair_configs(arch: str, n: int, *, device: str, threads: int) -> dict[str, RunConfig]:
    """Both backends' run configurations for ``arch`` on the chromatin N² grid at 1% noise.

    The network, learning rate and dtype are the full tier's for that architecture.
    """
    full = get_tier("full")
    blocks = [b for b in full.matrix if b.task == "chromatin" and arch in b.archs]
    if not blocks:
        raise ValueError(f"the full tier has no chromatin block for arch {arch!r}")
    block = dataclasses.replace(
        blocks[0],
        n=n,
        archs=(arch,),
        noises=(0.01,),
        seeds=(0,),
        derivatives=BACKENDS,
        direct=False,
    )
    tier = dataclasses.replace(full, matrix=(block,))
    configs = matrix_runs(tier, device=device, threads=threads)
    return {c.derivatives: c for c in configs}


def launch(config: RunConfig, dataset: Path, result: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``config`` in its own process (``mollifier_bench.run``), output to ``log``."""
    with log.open("wb") as fh:
        return subprocess.Popen(
            run_command(config, dataset, result), stdout=fh, stderr=subprocess.STDOUT
        )


def wait_all(procs: dict[str, subprocess.Popen[bytes]], deadline: float) -> dict[str, int | None]:
    """Wait for every process; kill those still running at ``deadline`` (perf_counter time)."""
    codes: dict[str, int | None] = {}
    for key, proc in procs.items():
        try:
            codes[key] = proc.wait(timeout=max(deadline - time.perf_counter(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            codes[key] = None
    return codes


def run_jobs(
    configs: dict[str, RunConfig],
    datasets: dict[str, Path],
    work: Path,
    suffix: str,
    *,
    deadline: float,
    sequential: bool,
) -> dict[str, int | None]:
    """Run every configuration, all at once or one after another, until ``deadline``.

    Run ``key`` writes ``work/<key>{suffix}.json`` and its output to ``work/<key>{suffix}.log``
    (a result file left by an earlier invocation is removed first). Returns the exit codes:
    ``None`` for a run killed at the deadline; a run not started before it has no entry.
    """

    def start(key: str) -> subprocess.Popen[bytes]:
        base = stem(work, key, suffix)
        result = Path(f"{base}.json")
        result.unlink(missing_ok=True)
        return launch(configs[key], datasets[key], result, Path(f"{base}.log"))

    if not sequential:
        return wait_all({key: start(key) for key in configs}, deadline)
    codes: dict[str, int | None] = {}
    for key in configs:
        if time.perf_counter() >= deadline:
            break
        codes.update(wait_all({key: start(key)}, deadline))
    return codes


def stem(work: Path, key: str, suffix: str = "") -> Path:
    """``work/<key><suffix>`` with the key's colons made file-name safe (no extension)."""
    return work / f"{key.replace(':', '_')}{suffix}"


def tail(path: Path, n_chars: int = 1500) -> str:
    """The last ``n_chars`` of a log file ("" when there is none)."""
    try:
        return path.read_text(errors="replace")[-n_chars:]
    except OSError:
        return ""


def planned_steps(probe_s: float | None, *, budget_s: float, max_steps: int) -> int:
    """``min(max_steps, budget_s / (1.1 probe_s))`` rounded down to 100 (0 without a probe)."""
    if probe_s is None or probe_s <= 0 or budget_s <= 0:
        return 0
    return min(max_steps, int(budget_s / (1.1 * probe_s)) // 100 * 100)


def plan(
    probe_times: dict[str, float | None],
    *,
    budget_s: float,
    max_steps: int,
    sequential: bool,
) -> dict[str, int]:
    """Steps per pair from the probes' step times, keyed ``"ARCH:N:BACKEND"``.

    Runs at once: each pair's autodiff run must fit ``budget_s``. One after another: all runs
    together must fit it, so every pair gets the steps of the summed step times.
    """
    pairs = sorted({k.rsplit(":", 1)[0] for k in probe_times})
    if sequential:
        times = list(probe_times.values())
        total = None if None in times else sum(t for t in times if t is not None)
        common = planned_steps(total, budget_s=budget_s, max_steps=max_steps)
        return dict.fromkeys(pairs, common)
    return {
        pair: planned_steps(
            probe_times.get(f"{pair}:autodiff"), budget_s=budget_s, max_steps=max_steps
        )
        for pair in pairs
    }


def table(records: list[dict[str, Any]]) -> str:
    head = (
        "| pair | backend | steps | s/step | probe s/step | peak MB | r(λ) | rel L2 "
        "| r read-off | unexplained data variance | status |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )

    def fmt(v: Any, spec: str) -> str:
        return "–" if v is None else format(v, spec)

    rows = []
    for r in records:
        lam = (r.get("metrics") or {}).get("lam", {})
        lam_ro = (r.get("metrics_read_off") or {}).get("lam", {})
        misfit = r.get("data_misfit") or {}
        fvu = ", ".join(f"{k} {fmt(v, '.2f')}" for k, v in sorted(misfit.items())) or None
        rows.append(
            f"| {r['pair']} | {r['derivatives']} | {r.get('steps', 0)} "
            f"| {fmt(r.get('step_time_s'), '.4f')} | {fmt(r.get('probe_step_time_s'), '.4f')} "
            f"| {fmt(r.get('peak_memory_mb'), '.0f')} | {fmt(lam.get('pearson'), '.3f')} "
            f"| {fmt(lam.get('rel_l2'), '.3f')} | {fmt(lam_ro.get('pearson'), '.3f')} "
            f"| {fvu if fvu is not None else '–'} | {r.get('status')} |"
        )
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--datasets", type=Path, default=None, help="dataset cache (default OUT/datasets)"
    )
    p.add_argument("--pairs", nargs="+", default=["mlp:128", "pirate:64", "pinnsformer:64"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads per process")
    p.add_argument("--max-steps", type=int, default=2000)
    p.add_argument("--min-steps", type=int, default=300)
    p.add_argument("--train-budget", type=float, default=300.0, help="seconds for the runs")
    p.add_argument("--deadline", type=float, default=400.0, help="kill runs after, seconds")
    p.add_argument("--commit", default=None, help="commit to record (default: git's)")
    p.add_argument(
        "--sequential",
        action="store_true",
        help="one run at a time (clean step times; the budget covers all runs together)",
    )
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    deadline = t_start + args.deadline
    device = resolve_device(args.device)
    pairs = [parse_pair(t) for t in args.pairs]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    datasets = args.datasets or out / "datasets"

    configs: dict[str, RunConfig] = {}
    paths: dict[str, Path] = {}
    for arch, n in pairs:
        for der, cfg in pair_configs(arch, n, device=device, threads=args.threads).items():
            path, widths = ensure_dataset(datasets, cfg.dataset)
            key = f"{arch}:{n}:{der}"
            configs[key] = dataclasses.replace(cfg, width=tuple(widths.items()))
            paths[key] = path
    print(f"datasets ready after {time.perf_counter() - t_start:.0f} s", flush=True)

    # 1. probes, all at once (a time limit this short makes each run stop after its probe)
    probe_configs = {
        key: dataclasses.replace(cfg, probe_steps=5, time_limit_s=1e-3)
        for key, cfg in configs.items()
    }
    probe_codes = run_jobs(
        probe_configs, paths, work, ".probe", deadline=deadline, sequential=args.sequential
    )
    probes = {k: read_json(Path(f"{stem(work, k, '.probe')}.json")) or {} for k in configs}
    print(f"probes done after {time.perf_counter() - t_start:.0f} s", flush=True)

    # 2. plan the steps of each pair, within the budget and the time left before the deadline
    budget = min(args.train_budget, deadline - time.perf_counter() - MARGIN_S)
    steps = plan(
        {k: probes[k].get("probe_step_time_s") for k in configs},
        budget_s=budget,
        max_steps=args.max_steps,
        sequential=args.sequential,
    )
    print(f"planned steps (budget {budget:.0f} s):", steps, flush=True)

    # 3. every run of every pair with enough steps, all at once or one after another
    time_limit = max(deadline - time.perf_counter(), 1.0)
    runs = {
        key: dataclasses.replace(
            cfg, steps=steps[key.rsplit(":", 1)[0]], probe_steps=0, time_limit_s=time_limit
        )
        for key, cfg in configs.items()
        if steps[key.rsplit(":", 1)[0]] >= max(args.min_steps, 1)
    }
    codes = run_jobs(runs, paths, work, "", deadline=deadline, sequential=args.sequential)
    print(f"runs done after {time.perf_counter() - t_start:.0f} s", flush=True)

    # 4. records
    import torch

    prov = {
        "device": device_name(device, args.threads),
        "torch": torch.__version__,
        "commit": args.commit or commit_info()["commit"],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "concurrent_runs": 1 if args.sequential else len(runs),
    }
    records = []
    for key, cfg in configs.items():
        arch, n, der = key.split(":")
        probe = probes[key]
        rec: dict[str, Any] = {
            "pair": f"{arch} {n}²",
            "arch": arch,
            "n": int(n),
            "derivatives": der,
        }
        base = stem(work, key)
        if key in runs:
            rec.update(read_json(Path(f"{base}.json")) or {})
            if key not in codes:
                rec.update(status="not started before the deadline", steps=0)
            elif codes[key] is None:
                rec["status"] = "killed at the deadline"
            elif codes[key] != 0:
                rec.update(status="error", error=tail(Path(f"{base}.log")))
            rec["steps_budget"] = runs[key].steps
        else:
            rec.update(status="not run", steps=0, steps_budget=steps[f"{arch}:{n}"])
            if probe.get("status") == "over_budget":  # a probe that worked
                rec["error"] = (
                    f"{steps[f'{arch}:{n}']} planned steps, fewer than --min-steps {args.min_steps}"
                )
            else:
                log = tail(Path(f"{base}.probe.log"))
                rec["error"] = (
                    f"probe failed (exit code {probe_codes.get(key)}; status "
                    f"{probe.get('status')}): {log}"
                )
        rec["probe_step_time_s"] = probe.get("probe_step_time_s")
        if rec.get("peak_memory_mb") is None:  # the run did not finish: the probe's
            rec["peak_memory_mb"] = probe.get("peak_memory_mb")
        rec["config"] = (runs.get(key) or cfg).to_dict()
        rec.update(prov)
        records.append(rec)
    (out / "pairs.json").write_text(json.dumps(records, indent=1))
    sharing = (
        "one run at a time"
        if args.sequential
        else f"{len(runs)} runs at once on one device (step times are shared-device times)"
    )
    text = (
        f"# Chromatin autodiff/mollifier pairs, same steps per pair\n\n"
        f"{prov['device']}, torch {prov['torch']}, commit {prov['commit']}, {prov['date']}; "
        f"{sharing}.\n\n"
        f"{table(records)}\n"
    )
    (out / "pairs.md").write_text(text)
    print(text)
    return 0 if all(r.get("status") == "ok" for r in records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
