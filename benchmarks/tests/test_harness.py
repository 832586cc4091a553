"""The harness: cache by configuration hash, resume, --force, budgets, time and memory limits."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mollifier_bench import harness
from mollifier_bench.config import AccuracySpec, MatrixSpec, TierConfig, config_hash
from mollifier_bench.cost import StepCostConfig, measure_isolated

ACCURACY = AccuracySpec(orders=(1, 2), noises=(0.0,), n=32, network_steps=0)


def tier(**kw: object) -> TierConfig:
    base: dict[str, object] = {
        "name": "test",
        "description": "",
        "device": "cpu",
        "threads": 1,
        "matrix": (MatrixSpec(task="heat", n=16, archs=()),),
        "accuracy": ACCURACY,
        "run_time_limit_s": 120.0,
    }
    base.update(kw)
    return TierConfig(**base)  # type: ignore[arg-type]


def _heat_dataset(tmp_path: Path, n: int = 16) -> tuple[Any, Path, Any]:
    """A heat dataset with 1% noise, cached under ``tmp_path``: its spec, path and widths."""
    from mollifier_bench.config import DatasetSpec
    from mollifier_bench.datasets import ensure_dataset

    spec = DatasetSpec(task="heat", n=n, noise=0.01)
    path, widths = ensure_dataset(tmp_path, spec)
    return spec, path, widths


def test_cache_resume_and_force(tmp_path: Path, one_thread: None) -> None:
    t = tier()
    first = harness.run_tier(t, tmp_path, progress=False, plots=False)
    assert (first.ran, first.cached) == (2, 0)
    direct = next(r for r in first.records if r["study"] == "matrix")
    assert direct["derivatives"] == "direct" and direct["status"] == "ok"
    assert direct["peak_memory_mb"] > 0 and direct["total_time_s"] > 0
    # the cache file is named by the hash of the run's canonical configuration
    (cfg,) = harness.matrix_runs(t, device="cpu", threads=1)
    assert direct["config_hash"] == config_hash(cfg)
    assert (tmp_path / "runs" / f"{config_hash(cfg)}.json").is_file()
    assert len(list((tmp_path / "datasets").iterdir())) == 1

    second = harness.run_tier(t, tmp_path, progress=False, plots=False)
    assert (second.ran, second.cached) == (0, 2)
    assert second.records == first.records

    # resumed records really come from the cache files
    acc_file = next(
        p
        for p in (tmp_path / "runs").glob("*.json")
        if json.loads(p.read_text())["records"][0]["study"] == "accuracy"
    )
    doc = json.loads(acc_file.read_text())
    doc["records"][0]["error"] = 123.0
    acc_file.write_text(json.dumps(doc))
    third = harness.run_tier(t, tmp_path, progress=False, plots=False, only=("accuracy",))
    assert third.records[0]["error"] == 123.0 and third.ran == 0

    forced = harness.run_tier(
        t, tmp_path, progress=False, plots=False, only=("accuracy",), force=True
    )
    assert forced.ran == 1 and forced.records[0]["error"] != 123.0
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved == forced.records


def test_a_stopped_network_run_continues_when_the_tier_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from mollifier_bench.datasets import ensure_dataset
    from mollifier_bench.run import execute

    block = MatrixSpec(
        task="heat",
        n=16,
        archs=("mlp",),
        derivatives=("mollifier",),
        steps=20,
        direct=False,
        network=(("hidden", 8), ("depth", 1)),
    )
    t = tier(matrix=(block,), accuracy=None, probe_steps=0)
    (cfg,) = harness.matrix_runs(t, device="cpu", threads=1)
    key = config_hash(cfg)
    path, widths = ensure_dataset(tmp_path / "datasets", cfg.dataset)
    ckpt = harness.checkpoint_path(tmp_path / "runs", key)
    # the state a tier stopped after 10 of the run's 20 steps leaves behind
    real_step, calls = torch.optim.Adam.step, []

    def step(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        calls.append(0)
        if len(calls) > 10:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(torch.optim.Adam, "step", step)
        with pytest.raises(KeyboardInterrupt):
            execute(
                replace(cfg, width=tuple(widths.items())), path, checkpoint=ckpt, checkpoint_every=5
            )
    stopped = ckpt.read_bytes()
    (rec,) = harness.run_tier(t, tmp_path, progress=False, plots=False).records
    assert rec["status"] == "ok" and rec["steps"] == 20 and rec["resumed_at_step"] == 10
    assert not ckpt.exists()  # the run has its record; the state is not needed any more
    ckpt.write_bytes(stopped)
    (forced,) = harness.run_tier(t, tmp_path, progress=False, plots=False, force=True).records
    assert forced["status"] == "ok" and forced["resumed_at_step"] == 0  # --force: from scratch


def test_budget_skips_without_caching(tmp_path: Path) -> None:
    t = tier(matrix=(), time_budget_s=1e-9)
    skipped = harness.run_tier(t, tmp_path, progress=False, plots=False)
    assert [r["status"] for r in skipped.records] == ["skipped"]
    resumed = harness.run_tier(t, tmp_path, progress=False, plots=False, time_budget_s=1e6)
    assert resumed.ran == 1 and {r["status"] for r in resumed.records} == {"ok"}


def test_time_limit_kills_and_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "_GRACE_S", 0.0)
    block = MatrixSpec(
        task="heat",
        n=16,
        archs=("mlp",),
        derivatives=("mollifier",),
        steps=10**6,
        direct=False,
        network=(("hidden", 8), ("depth", 1)),
    )
    t = tier(matrix=(block,), accuracy=None, run_time_limit_s=1.0, probe_steps=0)
    out = harness.run_tier(t, tmp_path, progress=False, plots=False)
    (rec,) = out.records
    assert rec["status"] == "timeout" and "time limit" in rec["error"]
    assert rec["arch"] == "mlp" and rec["steps_budget"] == 10**6 and rec["diverged"] is False
    again = harness.run_tier(t, tmp_path, progress=False, plots=False)
    assert again.cached == 1  # recorded, not lost


def test_projected_overrun_is_not_started(tmp_path: Path) -> None:
    block = MatrixSpec(
        task="heat",
        n=16,
        archs=("mlp",),
        derivatives=("autodiff",),
        steps=10**7,
        direct=False,
        network=(("hidden", 8), ("depth", 1)),
    )
    t = tier(matrix=(block,), accuracy=None, run_time_limit_s=30.0, probe_steps=2)
    (rec,) = harness.run_tier(t, tmp_path, progress=False, plots=False).records
    assert rec["status"] == "over_budget"
    assert rec["probe_step_time_s"] > 0 and rec["peak_memory_mb"] > 0
    assert rec["projected_total_time_s"] == pytest.approx(rec["probe_step_time_s"] * 10**7)
    assert rec["step_time_s"] is None and rec["metrics"] == {}


def test_probe_step_time_is_the_median_after_the_first_step() -> None:
    from mollifier_bench.run import probe_step_time

    diag = [8.0, 5.0, 1.0, 1.2]
    assert probe_step_time(diag, 3) == pytest.approx(1.2)
    with pytest.raises(ValueError, match="timed 4 steps, expected 3"):
        probe_step_time(diag, 2)
    with pytest.raises(ValueError, match=r"probe_steps must be in 1\.\.15"):
        probe_step_time(diag, 0)


def test_probe_is_not_fooled_by_slow_first_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Costs paid once (the process's first Adam step sleeps 0.2 s) or still paid by the second
    step (0.6 s) stay out of the probe; later steps sleep 0.1 s. The first estimate, a 1-step
    solve subtracted from a 4-step solve, reads (0.6 + 0.1 + 0.1 + 0.1 − 0.2) / 3 ≈ 0.23 s; the
    mean after the first step (the second estimate) 0.27 s; the median 0.1 s."""
    import time

    import torch

    import mollifier.inverse.network.trainer
    from mollifier_bench.config import RunConfig
    from mollifier_bench.run import execute

    spec, path, widths = _heat_dataset(tmp_path)
    sleeps = [0.2, 0.6]
    real_step, real_solve = torch.optim.Adam.step, mollifier.inverse.network.trainer.solve_network
    probes: list[dict[str, object]] = []

    def step(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        time.sleep(sleeps.pop(0) if sleeps else 0.1)
        return real_step(self, *args, **kwargs)

    def solve(*args: object, **kwargs: object) -> object:
        result = real_solve(*args, **kwargs)  # type: ignore[arg-type]
        (timer,) = kwargs["callbacks"]  # type: ignore[misc]
        probes.append({"times": list(timer.times)})  # type: ignore[attr-defined]
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    monkeypatch.setattr(mollifier.inverse.network.trainer, "solve_network", solve)
    cfg = RunConfig(
        dataset=spec,
        derivatives="mollifier",
        arch="mlp",
        steps=10**7,
        probe_steps=3,
        width=widths,
        network=(("hidden", 8), ("depth", 1)),
    )
    doc = execute(cfg, path)
    assert doc["status"] == "over_budget" and len(probes) == 1  # one probe solve, no main run
    times = probes[0]["times"]
    assert [t >= s for t, s in zip(times, [0.2, 0.6, 0.1, 0.1], strict=True)] == [True] * 4
    assert doc["probe_step_time_s"] == sorted(times[1:])[1]
    assert 0.1 <= doc["probe_step_time_s"] < 0.2


def test_run_resumes_from_its_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped after 10 of 20 steps and started again with --checkpoint ends where an
    uninterrupted run ends, and says where it resumed."""
    import torch

    from mollifier_bench.config import RunConfig
    from mollifier_bench.run import _main, execute

    spec, path, widths = _heat_dataset(tmp_path)
    cfg = RunConfig(
        dataset=spec,
        derivatives="mollifier",
        arch="mlp",
        steps=20,
        probe_steps=2,
        width=widths,
        dtype="float64",
        network=(("hidden", 8), ("depth", 1)),
    )
    whole = execute(cfg, path)
    real_step, calls = torch.optim.Adam.step, []

    def step(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        calls.append(0)
        if len(calls) > 3 + 10:  # the probe's 3 steps, then 10 of the run's
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    ckpt = tmp_path / "run.ckpt"
    with monkeypatch.context() as m:
        m.setattr(torch.optim.Adam, "step", step)
        with pytest.raises(KeyboardInterrupt):
            execute(cfg, path, checkpoint=ckpt, checkpoint_every=5)
    stopped = torch.load(ckpt, weights_only=False)
    assert stopped["step"] == 10
    # pretend the stopped process had trained for 1000 s: the resumed record must include it
    stopped["times"] = {"adam_time_s": 1000.0, "wall_time_s": 1100.0}
    torch.save(stopped, ckpt)
    result = tmp_path / "run.json"
    args = ["--config", json.dumps(cfg.to_dict()), "--dataset", str(path), "--result", str(result)]
    _main([*args, "--checkpoint", str(ckpt), "--checkpoint-every", "5"])
    doc = json.loads(result.read_text())
    assert doc["status"] == "ok" and doc["steps"] == 20 and doc["resumed_at_step"] == 10
    assert whole["resumed_at_step"] == 0
    # the times cover the stopped process's 10 steps too
    assert 1100.0 < doc["total_time_s"] < 1200.0
    assert 1000.0 < doc["step_time_s"] * 20 < 1100.0
    for name, m in whole["metrics"].items():
        for key, value in m.items():
            assert doc["metrics"][name][key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    # a checkpoint made with other training options is refused, and the record says why
    other = execute(replace(cfg, lr=cfg.lr * 2), path, checkpoint=ckpt)
    assert other["status"] == "error" and "different training options: lr=" in other["error"]


# 20 MB once ran out inside torch's lazy import of torch._dynamo (first optimizer), which fails
# with a SystemError rather than a MemoryError; limit_memory now imports it before the cap
@pytest.mark.parametrize("limit_mb", [5.0, 20.0])
def test_memory_limit_turns_oom_into_a_record(limit_mb: float) -> None:
    cfg = StepCostConfig(
        method="autodiff", order=4, n=64, hidden=64, depth=4, steps=1, warmup=0, threads=1
    )
    rec = measure_isolated(cfg, baseline_mb=0.0, memory_limit_mb=limit_mb, timeout_s=120)
    assert rec["status"] == "out_of_memory", rec["error"]
    assert rec["step_time_s"] is None


def test_run_process_records_out_of_memory(tmp_path: Path) -> None:
    """A whole training run past its memory limit ends as a record, not a crash.

    The run needs more than 200 MB beyond start-up (64² points, 256 units wide: out of memory at
    every limit up to 200 MB here), 40× the limit, so that free memory the process happens to
    hold when the cap is set (more on some machines) cannot absorb it.
    """
    import subprocess

    from mollifier_bench.config import RunConfig
    from mollifier_bench.harness import run_command

    spec, path, widths = _heat_dataset(tmp_path, n=64)
    cfg = RunConfig(
        dataset=spec,
        derivatives="autodiff",
        arch="mlp",
        network=(("hidden", 256),),
        steps=5,
        width=widths,
        memory_limit_mb=5.0,
        threads=1,
    )
    result = tmp_path / "result.json"
    proc = subprocess.run(
        run_command(cfg, path, result), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(result.read_text())
    assert doc["status"] == "out_of_memory", doc.get("error")
    assert "allocate" in doc["error"] or doc["error"].startswith("MemoryError")


@pytest.mark.parametrize(
    ("limit_mb", "stderr", "status"),
    [
        (
            5.0,
            "OpenBLAS error: Memory allocation still failed after 10 retries, giving up.",
            "out_of_memory",
        ),
        (
            None,
            "OpenBLAS error: Memory allocation still failed after 10 retries, giving up.",
            "error",
        ),
        (5.0, "Segmentation fault", "error"),
    ],
)
def test_a_process_that_dies_of_memory_is_recorded_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limit_mb: float | None,
    stderr: str,
    status: str,
) -> None:
    """A native library that exits on a failed allocation (no exception to catch) under a memory
    limit is out of memory, not a crash; without a limit, or with another message, an error."""
    import subprocess

    from mollifier_bench import harness
    from mollifier_bench.config import DatasetSpec, RunConfig

    def dies(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(harness.subprocess, "run", dies)
    cfg = RunConfig(
        dataset=DatasetSpec(task="heat", n=16, noise=0.01),
        derivatives="autodiff",
        arch="mlp",
        steps=5,
        memory_limit_mb=limit_mb,
    )
    (record,) = harness._execute_matrix(cfg, "k", tmp_path / "d", tmp_path / "r", 0.0)
    assert record["status"] == status
    assert stderr in record["error"]


_CAP_IMPORTS = """
import sys
from mollifier_bench._process import limit_memory
limit_memory(4000.0, trains=sys.argv[1] == "train")
print("torch._dynamo" in sys.modules)
"""


@pytest.mark.parametrize(("mode", "imported"), [("train", "True"), ("direct", "False")])
def test_the_cap_imports_torch_dynamo_only_for_training(mode: str, imported: str) -> None:
    """A direct solve never builds an optimiser; importing torch._dynamo for it would add about
    70 MB to the peak memory its record reports."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _CAP_IMPORTS, mode], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == imported


@pytest.mark.parametrize(
    ("returncode", "stderr", "capped", "status"),
    [
        (
            1,
            "OpenBLAS error: Memory allocation still failed after 10 retries",
            True,
            "out_of_memory",
        ),
        (
            -6,
            "terminate called after throwing an instance of 'std::bad_alloc'",
            True,
            "out_of_memory",
        ),
        (-6, "terminate called after throwing an instance of 'std::bad_alloc'", False, "killed"),
        (1, "Traceback ... MemoryError", False, "error"),
        (-11, "", True, "killed"),
        (1, "ValueError: bad config", True, "error"),
    ],
)
def test_dead_process_status(returncode: int, stderr: str, capped: bool, status: str) -> None:
    from mollifier_bench._process import dead_process_status

    assert dead_process_status(returncode, stderr, capped=capped) == status


def test_a_step_cost_process_that_dies_of_memory_is_recorded_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    from mollifier_bench import cost

    def dies(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert "--memory-limit-mb" in cmd
        return subprocess.CompletedProcess(
            cmd, 1, stdout="", stderr="OpenBLAS error: Memory allocation still failed"
        )

    monkeypatch.setattr(cost.subprocess, "run", dies)
    cfg = StepCostConfig(method="autodiff", n=16, steps=1, warmup=0, threads=1)
    rec = measure_isolated(cfg, baseline_mb=0.0, memory_limit_mb=5.0, timeout_s=60)
    assert rec["status"] == "out_of_memory" and "OpenBLAS" in rec["error"]


@pytest.mark.parametrize("probe_steps", [0, 2])  # diverging in the run, or in its probe
def test_divergence_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, probe_steps: int
) -> None:
    import mollifier.inverse.network.trainer
    from mollifier_bench.config import RunConfig
    from mollifier_bench.datasets import ensure_dataset
    from mollifier_bench.run import execute

    spec, path, widths = _heat_dataset(tmp_path)
    assert ensure_dataset(tmp_path, spec) == (path, widths)  # cached, same widths

    def diverge(problem: object, solver: object, **options: object) -> None:
        raise mollifier.inverse.network.trainer.TrainingDivergedError(
            "loss is nan", step=7, history={}
        )

    monkeypatch.setattr(mollifier.inverse.network.trainer, "solve_network", diverge)
    cfg = RunConfig(
        dataset=spec,
        derivatives="autodiff",
        arch="mlp",
        steps=100,
        probe_steps=probe_steps,
        width=widths,
    )
    doc = execute(cfg, path, status_file=tmp_path / "status.json")
    assert doc["status"] == "diverged" and doc["diverged"] is True
    # a probe that diverges says so; the run itself then never took a step
    assert (doc["steps"], doc["error"].startswith("probe: ")) == (
        (0, True) if probe_steps else (7, False)
    )
    assert json.loads((tmp_path / "status.json").read_text()) == doc


def test_peak_memory_is_the_subprocess_own_not_the_parent() -> None:
    """A child's peak RSS must not inherit the parent's (ru_maxrss does across exec on Linux)."""
    import subprocess
    import sys

    import numpy as np

    from mollifier_bench._process import peak_rss_mb
    from mollifier_bench.cost import idle_rss_mb

    big = np.ones(40_000_000)  # 320 MB, touched
    assert peak_rss_mb() > 320
    idle = idle_rss_mb()
    assert 0 < idle < peak_rss_mb() - 250

    def child(mb: int) -> float:
        code = (
            f"import numpy as np\nfrom mollifier_bench._process import peak_rss_mb\n"
            f"a = np.ones({mb} * 2**20 // 8)\nprint(peak_rss_mb())"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    grown = child(200) - child(0)
    assert 180 < grown < 220, grown
    del big


def test_read_json_treats_a_half_written_file_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    assert harness.read_json(path) is None  # missing
    doc = {"status": "ok", "steps": 3}
    path.write_text(json.dumps(doc))
    assert harness.read_json(path) == doc
    path.write_text(json.dumps(doc)[:-4])  # a process killed mid-write
    assert harness.read_json(path) is None
