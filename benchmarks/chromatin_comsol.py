"""Pattern statistics of our chromatin steady states against the shared COMSOL export (λ = 0.5).

Usage: python benchmarks/chromatin_comsol.py

Prints the table of ``docs/simulators/chromatin.md`` § *Validation against COMSOL*: COMSOL
(10-node margin, its wall rows excluded), ours at n = 96, seed 0 (the test's run), and the range
over seeds 0–4 at n = 128 (periodic, tolerance 10⁻⁶).
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

from mollifier.io import read_comsol
from mollifier.sim import Stepping, pattern_statistics, simulate_chromatin

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
COMSOL = SHARED / "chromatin_comsol_lambda_0.5"
KEYS = (
    "mean_phi_w",
    "domain_density",
    "dominant_wavelength",
    "area_fraction",
    "phi_w_p01",
    "phi_w_p99",
    "phi_d_p01",
    "phi_d_p99",
    "phi_w_range",
    "phi_d_range",
)


def _ours(n: int, seed: int) -> dict[str, float]:
    ds = simulate_chromatin(
        n=n, length=10.0, lam=0.5, seed=seed, stepping=Stepping(tolerance=1e-6), progress=False
    )
    w, d = ds.clean["phi_w"], ds.clean["phi_d"]
    return pattern_statistics(w, d, ds.params["spacing"], periodic=True)


def main() -> None:
    coords, phi_w = read_comsol(COMSOL / "Phi_w.txt")
    _, phi_d = read_comsol(COMSOL / "Phi_d.txt")
    ref = pattern_statistics(phi_w, phi_d, float(coords["x"][1] - coords["x"][0]), margin=10)
    ours96 = _ours(96, 0)
    runs128 = [_ours(128, s) for s in range(5)]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"command: python benchmarks/chromatin_comsol.py; commit {commit or 'unknown'}; "
        f"torch {torch.__version__}; numpy {np.__version__}; {platform.machine()} CPU"
    )
    print("| statistic | COMSOL | ours n=96, seed 0 | rel. diff | ours n=128, seeds 0–4 |")
    print("|---|---|---|---|---|")
    for k in KEYS:
        vals = [r[k] for r in runs128]
        print(
            f"| {k} | {ref[k]:.4f} | {ours96[k]:.4f} | {ours96[k] / ref[k] - 1:+.1%} | "
            f"{min(vals):.4f} … {max(vals):.4f} |"
        )


if __name__ == "__main__":
    main()
