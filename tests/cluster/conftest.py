"""Tiny STORM inputs and Dask processes (a scheduler and workers on 127.0.0.1), torn down always.

The cluster tests need ``dask.distributed`` (the ``cluster`` extra, installed by ``make setup``).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mollifier.storm.inference import InferenceConfig
from mollifier.storm.options import StormConfig
from mollifier.storm.synthetic import SyntheticStorm, simulate_storm, write_synthetic

pytest.importorskip("distributed")

#: A 2 µm nucleus with a loose steady-state tolerance: a few seconds to simulate and analyse.
TINY = SyntheticStorm(
    size=(2000.0, 1700.0),
    localisations=6.0e4 * math.pi / 4 * 2.0 * 1.7,
    nucleolus=False,
    tolerance=1e-3,
    lam_sigma=0.35,
    lam_correlation=700.0,
    margin=300.0,
)
#: The analysis settings of these tests (no synthetic-twin calibration: faster).
CONFIG = StormConfig(twin=False, inference=InferenceConfig(width=300.0))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def nuclei(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three tiny synthetic nuclei (ThunderSTORM CSV with truth), simulated once."""
    out = tmp_path_factory.mktemp("nuclei")
    paths = []
    for k in range(3):
        csv, _ = write_synthetic(simulate_storm(TINY, seed=k), out, f"nucleus_{k:03d}")
        paths.append(csv)
    return paths


@pytest.fixture
def inputs(nuclei: list[Path], tmp_path: Path) -> list[Path]:
    """The three nuclei and a corrupt table (``corrupt.csv``), in a fresh folder."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    paths = []
    for p in nuclei:
        for suffix in (".csv", ".truth.npz"):
            shutil.copy(p.with_suffix("").with_suffix(suffix), folder)
        paths.append(folder / p.name)
    corrupt = folder / "corrupt.csv"
    corrupt.write_bytes(b"\x00\x01 not a table \xff\n1,2\n")
    return [*paths, corrupt]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


@pytest.fixture
def dask_cluster(
    tmp_path: Path,
) -> Iterator[Callable[[int], tuple[str, list[subprocess.Popen[bytes]]]]]:
    """Start ``dask scheduler`` and N ``dask worker`` processes (no nanny: killing a worker's
    process kills the worker); returns (address, worker processes). Everything is killed at the
    end of the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        log = open(tmp_path / "scheduler.log", "wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                 "--port", str(port), "--dashboard-address", ":0"],
                stdout=log, stderr=subprocess.STDOUT, env=_env(),
            )
        )  # fmt: skip
        _wait_for_port(port)
        started = []
        for k in range(workers):
            wlog = open(tmp_path / f"worker{k}.log", "wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--no-nanny", "--host", "127.0.0.1", "--dashboard-address", ":0",
                 "--name", f"w{k}"],
                stdout=wlog, stderr=subprocess.STDOUT, env=_env(), cwd=tmp_path,
            )  # fmt: skip
            procs.append(proc)
            started.append(proc)
        _wait_for_workers(address, workers)
        return address, started

    try:
        yield start
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"no Dask scheduler on port {port} after {timeout} s")


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(n, timeout=120)
