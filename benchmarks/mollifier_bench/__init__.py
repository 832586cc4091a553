"""The benchmark harness of ``mollifier``: time, peak memory and accuracy of mollifier versus
autodiff derivatives. A distribution of its own (``pip install ./benchmarks`` from the repository),
so the installed library carries none of it.

``python -m mollifier_bench --tier {smoke,cpu,cpu-fit,full} --out DIR`` (also ``mollifier bench``,
or :func:`run_tier`) runs the paper's matrix (task × architecture × derivative backend × noise ×
seed, plus the direct solver), the derivative-cost scaling studies and the cross-method
derivative-accuracy table, and writes ``bench.json``, ``bench.md`` and plots. See
``docs/bench.md``.
"""

from mollifier_bench.config import (
    AccuracySpec,
    DatasetSpec,
    MatrixSpec,
    RunConfig,
    ScalingSpec,
    TierConfig,
    config_hash,
)
from mollifier_bench.harness import BenchOutcome, matrix_runs, run_tier
from mollifier_bench.tiers import TIERS, get_tier

__all__ = [
    "TIERS",
    "AccuracySpec",
    "BenchOutcome",
    "DatasetSpec",
    "MatrixSpec",
    "RunConfig",
    "ScalingSpec",
    "TierConfig",
    "config_hash",
    "get_tier",
    "matrix_runs",
    "run_tier",
]
