"""The benchmark tiers as data: ``smoke`` (CI), ``cpu`` (2 cores, ~45 min), ``cpu-fit`` (the
chromatin MLP pair at a budget where the MLP fits, ~1.8 h) and ``full`` (a GPU).

Sizes were chosen by measurement (see ``docs/bench.md``). In every block autodiff and mollifier
get the same network, steps, learning rate, seed and widths; only the derivative backend differs.
"""

from __future__ import annotations

from mollifier_bench.config import AccuracySpec, MatrixSpec, ScalingSpec, TierConfig

__all__ = ["TIERS", "get_tier"]

#: The paper's classic tanh PINN (raw coordinates, no Fourier embedding), so the MLP rows keep
#: measuring the architecture the paper compares.
_MLP = (("depth", 4), ("embedding", 0), ("hidden", 64))

SMOKE = TierConfig(
    name="smoke",
    description=(
        "Smoke tier: tiny grids and step budgets, one seed, every task, a subset of "
        "architectures and backends, and tiny scaling and accuracy studies. It checks that the "
        "harness works end to end (about a minute on 2 cores); its numbers mean nothing."
    ),
    matrix=(
        MatrixSpec(
            task="chromatin",
            n=24,
            length=6.0,
            archs=("mlp",),
            steps=15,
            network=(("depth", 2), ("embedding", 0), ("hidden", 16)),
        ),
        MatrixSpec(
            task="heat",
            n=16,
            archs=("pirate",),
            derivatives=("mollifier",),
            steps=10,
            network=(("depth", 1), ("embedding", 16), ("hidden", 16)),
            direct=False,
        ),
        MatrixSpec(
            task="langevin",
            n=41,
            archs=("pinnsformer",),
            derivatives=("mollifier",),
            steps=10,
            network=(("hidden", 8), ("feedforward", 16), ("output_hidden", 16)),
            direct=False,
        ),
    ),
    scaling=ScalingSpec(
        orders=(1, 3),
        order_n=16,
        grid_sizes=(24,),
        grid_order=2,
        hidden=16,
        depth=2,
        steps=2,
        warmup=1,
        width_points=4.0,
    ),
    accuracy=AccuracySpec(
        orders=(1, 2, 4),
        noises=(0.0, 0.01),
        n=64,
        network_steps=30,
        network_lbfgs_steps=10,
        network_hidden=16,
        network_depth=2,
    ),
    device="cpu",
    threads=1,
    run_time_limit_s=120.0,
    memory_limit_mb=4000.0,
    probe_steps=1,
)

CPU = TierConfig(
    name="cpu",
    description=(
        "CPU tier (2 cores, one torch thread per run; 18 minutes measured on a quiet machine, 21 "
        "under a load average of 4–8; budget 1 hour). Chromatin (4th order) "
        "at 1% noise: the MLP (4×64 tanh) on a 64² grid, PirateNet and PINNsFormer (default "
        "sizes) on a 32² grid of the same domain, 1000 Adam steps at lr 3e-3 for both backends; "
        "direct rows at 0/1/5% noise. At 1000 steps the tanh MLP does not fit the chromatin "
        "pattern (see the unexpl. column), so its r reflects the smoothed mean state rather than "
        "the derivatives; the 10 000-step pair that does fit is the cpu-fit tier (about 1.8 h). "
        "Langevin (1st order, 201 times) and steady heat (2nd order, "
        "32²) with the MLP at 0/1/5% noise. Runs whose probe projects them past the 25-minute "
        "per-run limit are recorded as over_budget with their measured step time and memory. "
        "Scaling: order 1–6 on a 64² grid and order 4 on 32²…256² grids, as memory allows "
        "(8 GB per run). The cheap studies run first, the most expensive runs last."
    ),
    matrix=(
        MatrixSpec(task="chromatin", n=64, archs=("mlp",), steps=1000, network=_MLP),
        MatrixSpec(task="chromatin", n=64, archs=(), noises=(0.0, 0.05)),
        MatrixSpec(
            task="langevin",
            n=201,
            archs=("mlp",),
            noises=(0.0, 0.01, 0.05),
            steps=1000,
            network=_MLP,
        ),
        MatrixSpec(
            task="heat", n=32, archs=("mlp",), noises=(0.0, 0.01, 0.05), steps=1000, network=_MLP
        ),
        MatrixSpec(task="chromatin", n=32, archs=("pirate", "pinnsformer"), steps=1000),
    ),
    scaling=ScalingSpec(
        orders=(1, 2, 3, 4, 5, 6),
        order_n=64,
        grid_sizes=(32, 64, 128, 256),
        grid_order=4,
        steps=10,
        warmup=2,
    ),
    accuracy=AccuracySpec(orders=(1, 2, 4), noises=(0.0, 0.01, 0.05), n=256),
    device="cpu",
    threads=1,
    run_time_limit_s=1500.0,
    memory_limit_mb=8000.0,
    time_budget_s=3600.0,
    probe_steps=3,
    studies=("scaling", "accuracy", "matrix"),
)

CPU_FIT = TierConfig(
    name="cpu-fit",
    description=(
        "The chromatin MLP pair at a step budget where the 4×64 tanh MLP fits the data (CPU, one "
        "torch thread per run, about 1.8 h on 2 cores, nearly all of it the autodiff run). Same "
        "dataset (64² of [0, 10]², 1% noise), network, learning rate, seed and widths as the cpu "
        "tier's MLP row, 10 000 Adam steps instead of 1000: at 1000 steps the MLP leaves most of "
        "the data's variance unexplained. Sharing --out with the cpu tier reuses its dataset."
    ),
    matrix=(MatrixSpec(task="chromatin", n=64, archs=("mlp",), steps=10_000, network=_MLP),),
    device="cpu",
    threads=1,
    run_time_limit_s=9000.0,
    memory_limit_mb=8000.0,
    probe_steps=3,
    studies=("matrix",),
)

FULL = TierConfig(
    name="full",
    description=(
        "Full tier (one GPU, about 9 minutes). Chromatin (4th order) on a 128² grid at 1% noise "
        "with all three architectures and both backends, 2000 Adam steps at lr 3e-3 (MLP 4×64, "
        "PirateNet and PINNsFormer at their default sizes); Langevin (201 times) and steady heat "
        "(64²) with the MLP at 1% and 5% noise; direct rows. Scaling: order 1–6 on a 256² grid "
        "and order 4 on 64²…512² grids, as GPU memory allows. A run whose probe projects it past "
        "the 150-s per-run limit is recorded with the probe's step time and memory and its "
        "projected total time; the tier stops starting runs after 7 minutes (running it again "
        "resumes)."
    ),
    matrix=(
        MatrixSpec(task="chromatin", n=128, archs=("mlp",), steps=2000, network=_MLP),
        MatrixSpec(
            task="chromatin", n=128, archs=("pirate", "pinnsformer"), steps=2000, direct=False
        ),
        MatrixSpec(task="chromatin", n=128, archs=(), noises=(0.0, 0.05)),
        MatrixSpec(
            task="langevin", n=201, archs=("mlp",), noises=(0.01, 0.05), steps=2000, network=_MLP
        ),
        MatrixSpec(
            task="heat", n=64, archs=("mlp",), noises=(0.01, 0.05), steps=2000, network=_MLP
        ),
    ),
    scaling=ScalingSpec(
        orders=(1, 2, 3, 4, 5, 6),
        order_n=256,
        grid_sizes=(64, 128, 256, 512),
        grid_order=4,
        steps=10,
        warmup=3,
    ),
    accuracy=AccuracySpec(
        orders=(1, 2, 4),
        noises=(0.0, 0.001, 0.01, 0.05),
        n=512,
        network_steps=2000,
        network_lbfgs_steps=500,
    ),
    device="auto",
    threads=0,
    run_time_limit_s=150.0,
    memory_limit_mb=None,
    time_budget_s=420.0,
    probe_steps=3,
)

TIERS: dict[str, TierConfig] = {t.name: t for t in (SMOKE, CPU, CPU_FIT, FULL)}


def get_tier(name: str) -> TierConfig:
    """The tier called ``name``; ``ValueError`` lists the valid names otherwise."""
    try:
        return TIERS[name]
    except KeyError:
        raise ValueError(f"unknown tier {name!r}; choose one of {sorted(TIERS)}") from None
