"""Measure the kernel families: pass-band consistency vs points per width, and order-4 accuracy.

Usage: python benchmarks/kernel_families.py [--quick]

1. Consistency: for each family and order k, as a function of R = width / spacing, the stencil's
   frequency response against the continuous mollified derivative (iω)^k η̂(ω w):
   - pass-band error (mollifier.kernels.consistency_error): worst relative error at each
     frequency with ξ_½/8 <= ω w <= ξ_½, η̂(ξ_½) = 1/2. This sets each family's ``min_points``
     (the smallest R, on a 0.25 grid, beyond which it stays <= 1%);
   - Nyquist-band operator error (mollifier.kernels.analysis.operator_error): worst error over
     0 < ω <= π/h relative to the largest target, stop band included.
2. Order-4 accuracy per width on noisy data: u = sin x + 0.3 sin(2.3 x + 1) on 1000 points of
   [0, 4π], Gaussian noise relative to std(u); error of the mollified 4th derivative against the
   true u'''' (relative L2 over the valid interior), minimised over the width; also the
   weak-form consistency error against the mollified true derivative η ∗ u''''.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import mollifier as ml
from mollifier.kernels import consistency_error
from mollifier.kernels.analysis import operator_error


def sampled_stencil(kernel, order: int, ratio: float, *, corrected: bool) -> np.ndarray:
    """The naive alternative: ∂ᵏη sampled at the nodes (h = 1, w = ratio), optionally with the
    minimal correction in the span of η·s^j that enforces the moment identities up to k + 1."""
    radius = int(np.floor(ratio))
    s = np.arange(-radius, radius + 1, dtype=float)
    taps = kernel.profile(s / ratio, order) / ratio ** (order + 1)
    if not corrected:
        return taps
    degree = min(order + 1, 2 * radius)
    moments = np.array([s**j for j in range(degree + 1)])
    target = np.array(
        [0.0 if j != order else (-1) ** order * math.factorial(order) for j in range(degree + 1)]
    )
    basis = np.array([kernel.profile(s / ratio, 0) * s**j for j in range(degree + 1)]).T
    coef = np.linalg.lstsq(moments @ basis, target - moments @ taps, rcond=None)[0]
    return taps + basis @ coef


def passband_error_of(kernel, order: int, ratio: float, taps: np.ndarray) -> float:
    """``consistency_error``'s metric for arbitrary taps (h = 1, w = ratio)."""
    from mollifier.kernels import frequency_response, half_power_frequency

    xi = half_power_frequency(kernel)
    omega = np.linspace(xi / 8 / ratio, min(xi / ratio, np.pi), 200)
    resp = frequency_response(taps, spacing=1.0, omega=omega)
    target = (1j * omega) ** order * kernel.fourier(omega * ratio)
    return float(np.max(np.abs(resp - target) / np.abs(target)))


def min_points(kernel, order: int, tol: float = 1e-2) -> float:
    """Smallest R on a 0.25 grid with pass-band error <= tol at R and at every larger R up to 16."""
    grid = np.arange(1.0, 16.01, 0.25)
    ok = np.array([consistency_error(kernel, order, points=r) <= tol for r in grid])
    bad = np.flatnonzero(~ok)
    return float(grid[bad[-1] + 1]) if bad.size else float(grid[0])


def order4_accuracy(kernel, noise: float, rng: np.random.Generator) -> tuple[float, float, float]:
    n = 1000
    x = np.linspace(0, 4 * np.pi, n)
    h = x[1] - x[0]
    u = np.sin(x) + 0.3 * np.sin(2.3 * x + 1)
    d4 = np.sin(x) + 0.3 * 2.3**4 * np.sin(2.3 * x + 1)
    noisy = u + noise * u.std() * rng.standard_normal(n)
    best = (np.inf, np.nan, np.nan)
    lo = kernel.min_points(4) * h
    for w in np.geomspace(lo, 3.0, 40):
        est = ml.derivative(noisy, 4, spacing=h, width=w, kernel=kernel, boundary="valid")
        r = (d4.size - est.size) // 2
        truth = d4[r : d4.size - r]
        err = np.linalg.norm(est - truth) / np.linalg.norm(truth)
        if err < best[0]:
            moll = ml.derivative(d4, 0, spacing=h, width=w, kernel=kernel, boundary="valid")
            cons = np.linalg.norm(est - moll) / np.linalg.norm(moll)
            best = (float(err), float(w), float(cons))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer points per width")
    args = parser.parse_args()
    kernels = [ml.Bump(), ml.PolyBump(), ml.Gaussian()]
    accurate = [ml.PolyBump(accuracy=4), ml.Bump(accuracy=4)]
    ratios = (
        [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32] if not args.quick else [2, 4, 8]
    )
    for which, title in (
        (0, "pass band (ξ½/8 <= ω w <= ξ½, η̂(ξ½) = 1/2), relative per frequency"),
        (1, "Nyquist band, relative to the largest response"),
    ):
        print(f"## Consistency error E(R): {title}\n")
        for kern in kernels:
            print(f"### {kern!r}\n")
            print("| R = width/spacing | " + " | ".join(f"k={k}" for k in range(7)) + " |")
            print("|---" * 8 + "|")
            for r in ratios:
                error = consistency_error if which == 0 else operator_error
                row = [error(kern, k, points=r) for k in range(7)]
                print(f"| {r:g} | " + " | ".join(f"{e:.1e}" for e in row) + " |")
            print()
    print("## Sampled, moment-corrected and exact stencils (pass-band error, bump kernel)\n")
    print("| R | k | sampled ∂ᵏη | sampled + moment correction | exact (this library) |")
    print("|---|---|---|---|---|")
    bump = ml.Bump()
    for r in (4, 8, 16):
        for k in (2, 4):
            row = [
                passband_error_of(bump, k, r, sampled_stencil(bump, k, r, corrected=False)),
                passband_error_of(bump, k, r, sampled_stencil(bump, k, r, corrected=True)),
                consistency_error(bump, k, points=r),
            ]
            print(f"| {r} | {k} | " + " | ".join(f"{e:.1e}" for e in row) + " |")
    print()
    print("## Minimum points per width (pass-band consistency error <= 1% for all R >= it)\n")
    print("| kernel | " + " | ".join(f"k={k}" for k in range(7)) + " |")
    print("|---" * 8 + "|")
    for kern in kernels:
        row = [min_points(kern, k) for k in range(7)]
        print(f"| {kern!r} | " + " | ".join(f"{r:g}" for r in row) + " |")
    print()
    print("## Order-4 derivative of noisy data, best width per family\n")
    print("| kernel | noise | rel. L2 error vs truth | best width | taps | consistency error |")
    print("|---|---|---|---|---|---|")
    for noise in (0.0, 1e-4, 1e-3, 1e-2):
        for kern in kernels + accurate:
            rng = np.random.default_rng(0)
            t0 = time.perf_counter()
            err, w, cons = order4_accuracy(kern, noise, rng)
            h = 4 * np.pi / 999
            taps = 2 * ml.kernels.stencil_radius(spacing=h, width=w) + 1
            print(
                f"| {kern!r} | {noise:g} | {err:.2e} | {w:.3f} | {taps} | {cons:.1e} |"
                f"  <!-- {time.perf_counter() - t0:.1f}s -->"
            )
    print("\nmoments: " + ", ".join(f"{k.name}: m2={k.moment(2):.4f}" for k in kernels))


if __name__ == "__main__":
    main()
