"""Write examples/damped_wave.npz: an exact damped-wave solution u = e^{-γt/2} cos(ω t) sin(k x).

With u_tt + γ u_t = c² u_xx and u = e^{-γt/2} cos(ωt) sin(kx): ω² = c² k² − γ²/4.
Usage: python examples/make_damped_wave.py [--smoke] [--out FILE.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a smaller grid")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).with_name("damped_wave.npz"),
        help="where to write the data (default: beside this script, where the config reads it)",
    )
    args = parser.parse_args()
    gamma, c2, k = 0.4, 2.0, 2.0
    omega = np.sqrt(c2 * k**2 - gamma**2 / 4)
    n_t, n_x = (61, 81) if args.smoke else (201, 257)
    t = np.linspace(0, 6, n_t)
    x = np.linspace(0, 2 * np.pi, n_x)
    T, X = np.meshgrid(t, x, indexing="ij")
    u = np.exp(-gamma * T / 2) * np.cos(omega * T) * np.sin(k * X)
    out = args.out
    np.savez(out, t=t, x=x, u=u)
    print(f"wrote {out} ({n_t} x {n_x})")


if __name__ == "__main__":
    main()
