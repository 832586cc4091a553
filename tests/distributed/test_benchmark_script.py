"""benchmarks/distributed_fit.py runs (``--smoke``: 16³, 1 and 2 ranks) and prints its table
and the scaling model, with the slabs' node counts that the geometry predicts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_distributed_benchmark_smoke(tmp_path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "distributed_fit.py"),
            "--smoke",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in proc.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| ranks")
    ]
    assert [r[0] for r in rows] == ["1", "2"]
    # 16 planes of 16² nodes on one rank; on two, 8 core planes plus the halo (width 3.6
    # spacings: radius 7, so 15 planes) and no more than the grid
    assert int(rows[0][1]) == 16**3
    assert int(rows[1][1]) == 15 * 16**2
    assert "scaling model" in proc.stdout
