"""Mollified 4th derivatives of a noisy signal with each kernel family, against the truth.

Usage: python examples/derivatives.py [--smoke] [--out FIGURE.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import mollifier as ml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="fewer points")
    parser.add_argument("--out", default=None, help="write a figure here")
    args = parser.parse_args()
    n = 400 if args.smoke else 1000
    x = np.linspace(0, 4 * np.pi, n)
    h = x[1] - x[0]
    u = np.sin(x) + 0.3 * np.sin(2.3 * x + 1)
    d4 = np.sin(x) + 0.3 * 2.3**4 * np.sin(2.3 * x + 1)
    noisy = u + 1e-3 * u.std() * np.random.default_rng(0).standard_normal(n)
    inner = slice(n // 10, n - n // 10)  # edges are handled by polynomial extrapolation
    print(f"{'kernel':<34} {'width':>7} {'rel. L2 error of u_xxxx (inner 80%)':>36}")
    curves = {}
    for kernel in (ml.Bump(), ml.PolyBump(), ml.Gaussian(), ml.PolyBump(accuracy=4)):
        best = None
        for w in np.geomspace(kernel.min_points(4) * h, 2.0, 30):
            est = ml.derivative(noisy, 4, spacing=h, width=w, kernel=kernel, boundary="extrapolate")
            err = np.linalg.norm((est - d4)[inner]) / np.linalg.norm(d4[inner])
            if best is None or err < best[0]:
                best = (err, w, est)
        assert best is not None
        curves[repr(kernel)] = best[2]
        print(f"{kernel!r:<34} {best[1]:>7.3f} {best[0]:>36.4f}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(x, d4, "k", lw=2, label="true u''''")
        for name, est in curves.items():
            ax.plot(x, est, lw=1, label=name)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
