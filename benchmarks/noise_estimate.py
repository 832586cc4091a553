"""The white-noise estimator against the noise actually added to simulated data.

Usage: python benchmarks/noise_estimate.py [--draws 5] [--levels 0.01 0.05 0.1] [--no-chromatin]

Each simulator (``mollifier.sim``) is run once without noise; each draw adds white noise
``level · std(clean) · ξ`` and :func:`mollifier.inverse.noise.estimate_noise` is compared with the
standard deviation of what was added. Langevin's clean field is its particle ensemble mean
(``simulate_langevin`` with ``NoNoise``), so its own Monte-Carlo error is part of the signal, as in
the simulator's noisy output. Prints the mean ratio and its range over the draws per case and level.
"""

from __future__ import annotations

import argparse

import numpy as np

from mollifier.inverse.noise import estimate_noise
from mollifier.sim import NoNoise, simulate_chromatin, simulate_heat, simulate_langevin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--levels", type=float, nargs="+", default=[0.01, 0.05, 0.1])
    parser.add_argument("--no-chromatin", action="store_true", help="skip the 128² chromatin run")
    args = parser.parse_args()
    cases = {
        "heat 48²": simulate_heat(n=48, noise=NoNoise()).fields["u"],
        "heat 64²": simulate_heat(n=64, noise=NoNoise()).fields["u"],
        "transient heat 21×48²": simulate_heat(n=48, form="transient", noise=NoNoise()).fields["u"],
        "Langevin 201": simulate_langevin(noise=NoNoise()).fields["u"],
    }
    if not args.no_chromatin:
        chromatin = simulate_chromatin(n=128)
        for k, v in chromatin.fields.items():
            cases[f"chromatin 128² {k}"] = v
    rng = np.random.default_rng(0)
    print("| data | " + " | ".join(f"{lv:.0%} noise: mean (min–max)" for lv in args.levels) + " |")
    print("|---|" + "---|" * len(args.levels))
    for name, clean in cases.items():
        cells = []
        for level in args.levels:
            ratios = []
            for _ in range(args.draws):
                added = level * float(np.std(clean)) * rng.standard_normal(clean.shape)
                ratios.append(estimate_noise(clean + added) / float(np.std(added)))
            cells.append(f"{np.mean(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
