"""STORM batches on Dask: the same results as serially, resume, failures, a remote scheduler, a
worker killed mid-batch."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from mollifier.cli import main
from mollifier.executor import Executor
from mollifier.storm.batch import ITEMS_DIR, run_batch

from .conftest import CONFIG

NAMES = ["nucleus_000", "nucleus_001", "nucleus_002"]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=0)
    return a == b


def test_local_cluster_equals_serial_and_records_the_failure(inputs, tmp_path):
    serial = run_batch(
        inputs, out=tmp_path / "serial", config=CONFIG, figures=False, progress=False
    )
    local = run_batch(
        inputs,
        out=tmp_path / "local",
        config=CONFIG,
        figures=False,
        progress=False,
        executor=Executor(workers=2),
    )
    assert [r["name"] for r in serial] == [*NAMES, "corrupt"]
    assert [r["name"] for r in local] == [r["name"] for r in serial]
    for s, loc in zip(serial, local, strict=True):
        assert s.keys() == loc.keys()
        differ = {k: (s[k], loc[k]) for k in s if "time" not in k and not _same(s[k], loc[k])}
        assert not differ, s["name"]
    for out in (tmp_path / "serial", tmp_path / "local"):
        assert local[-1]["status"] == "failed" and local[-1]["error"]
        assert (out / "corrupt" / "error.txt").read_text().strip() == local[-1]["error"]
        assert "Traceback" in (out / "corrupt" / "traceback.txt").read_text()
        assert sorted(p.stem for p in (out / ITEMS_DIR).glob("*.json")) == NAMES
        assert not (out / ".staging").exists()
        assert (out / "summary.csv").is_file() and (out / "comparison.csv").is_file()


def test_a_rerun_skips_finished_items_and_retries_failed_ones(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["storm", *map(str, inputs), "--out", str(out), "--width", "300", "--no-twin"]
    assert main([*argv, "--no-figures", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "1 of 4 items failed: corrupt" in err
    stamp = {n: (out / n / "result.json").stat().st_mtime_ns for n in NAMES}
    summary = (out / "summary.csv").read_text()
    assert main([*argv, "--no-figures"]) == 1
    printed = capsys.readouterr()
    assert "resuming: 3 of 4 inputs already finished, skipped" in printed.out
    assert "inputs: 100%" in printed.err and "1/1" in printed.err  # only the failed one ran
    assert {n: (out / n / "result.json").stat().st_mtime_ns for n in NAMES} == stamp
    assert (out / "summary.csv").read_text() == summary
    assert (out / "corrupt" / "error.txt").is_file()


def test_a_batch_runs_on_a_running_scheduler(dask_cluster, inputs, tmp_path, capsys):
    address, _ = dask_cluster(1)
    out = tmp_path / "out"
    argv = ["storm", *map(str, inputs), "--out", str(out), "--width", "300", "--no-twin"]
    assert main([*argv, "--no-figures", "--quiet", "--scheduler", address]) == 1
    rows = list((out / "summary.csv").read_text().splitlines())
    assert len(rows) == 1 + 4
    assert sorted(p.stem for p in (out / ITEMS_DIR).glob("*.json")) == NAMES
    assert (out / "corrupt" / "traceback.txt").is_file()


def test_items_of_a_killed_worker_finish_elsewhere_exactly_once(dask_cluster, nuclei, tmp_path):
    address, workers = dask_cluster(2)
    inputs = [p for p in nuclei for _ in range(2)]  # six items: each nucleus twice
    out = tmp_path / "out"
    rows: list[dict] = []
    thread = threading.Thread(
        target=lambda: rows.extend(
            run_batch(
                inputs,
                out=out,
                config=CONFIG,
                figures=False,
                progress=False,
                executor=Executor(scheduler=address),
            )
        )
    )
    thread.start()
    try:
        end = time.monotonic() + 120
        while not list((out / ITEMS_DIR).glob("*.json")) and time.monotonic() < end:
            time.sleep(0.05)
        assert list((out / ITEMS_DIR).glob("*.json")), "no item finished in 120 s"
        workers[0].kill()  # mid-batch: items are queued and running on both workers
        workers[0].wait(timeout=30)
    finally:
        thread.join(timeout=300)
    assert not thread.is_alive()
    names = [r["name"] for r in rows]
    assert names == [f"{n}{s}" for n in NAMES for s in ("", "_2")]
    assert all(r["status"] != "failed" for r in rows), [r.get("error") for r in rows]
    records = sorted(p.stem for p in (out / ITEMS_DIR).glob("*.json"))
    assert records == sorted(names)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert folders == sorted(names)
    for name in names:
        doc = json.loads((out / name / "result.json").read_text())
        assert doc["name"] == name
    assert not (out / ".staging").exists()


@pytest.mark.parametrize("option", [["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:1"]])
def test_cluster_options_without_dask_name_the_extra(option, inputs, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "distributed" else real(name, *a),
    )
    status = main(["storm", str(inputs[0]), "--out", str(tmp_path / "o"), "--quiet", *option])
    assert status == 2
    assert "pip install 'mollifier[cluster]'" in capsys.readouterr().err
