"""Scaling studies: derivative cost against order and against grid size, over the physical floor.

Each point is a :class:`~mollifier_bench.cost.StepCostConfig` measured in its own process
(:func:`~mollifier_bench.cost.measure_isolated`): one Adam step of a coordinate network on an
``n × n`` grid with the loss ``mean((u − data)²) + mean((∂ₓᵏ u)²)``. ``method="none"`` drops the
derivative term: one forward and backward pass of the same network, the physical floor. A method's
overhead is its step time (or memory) divided by the floor's at the same grid.

Grid sizes are tried in increasing order; once a method fails at a size (out of memory, time
limit) or its memory, extrapolated as ``∝ n²`` from the previous size, would pass the memory
limit, the larger sizes are recorded as ``skipped`` for that method ("as far as memory allows").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mollifier_bench.config import ScalingSpec, config_hash
from mollifier_bench.cost import METHODS, StepCostConfig, measure_isolated

__all__ = [
    "ScalingPoint",
    "grid_points",
    "measure_point",
    "order_points",
    "skip_reason",
    "skipped",
]


@dataclass(frozen=True)
class ScalingPoint:
    """One cost measurement of a scaling study (``scaling_order`` or ``scaling_grid``)."""

    study: str
    cost: StepCostConfig
    memory_limit_mb: float | None
    time_limit_s: float

    @property
    def key(self) -> str:
        """Cache key: hash of the study, the cost configuration and the limits."""
        return config_hash(self.to_dict())

    @property
    def label(self) -> str:
        c = self.cost
        return f"{self.study} {c.method} order={c.order} n={c.n}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "cost": asdict(self.cost),
            "memory_limit_mb": self.memory_limit_mb,
            "time_limit_s": self.time_limit_s,
        }


def _cost(
    spec: ScalingSpec, *, method: str, order: int, n: int, device: str, threads: int, dtype: str
) -> StepCostConfig:
    return StepCostConfig(
        method=method,
        order=order,
        n=n,
        arch=spec.arch,
        hidden=spec.hidden,
        depth=spec.depth,
        steps=spec.steps,
        warmup=spec.warmup,
        width_points=spec.width_points,
        dtype=dtype,
        device=device,
        threads=threads,
        seed=0,
    )


def order_points(
    spec: ScalingSpec,
    *,
    device: str,
    threads: int,
    dtype: str,
    memory_limit_mb: float | None,
    time_limit_s: float,
) -> list[ScalingPoint]:
    """Points of the cost-versus-order study: the floor once, then each order for both methods."""
    points = [
        ScalingPoint(
            "scaling_order",
            _cost(
                spec,
                method="none",
                order=1,
                n=spec.order_n,
                device=device,
                threads=threads,
                dtype=dtype,
            ),
            memory_limit_mb,
            time_limit_s,
        )
    ]
    for order in spec.orders:
        for method in ("mollifier", "autodiff"):
            cfg = _cost(
                spec,
                method=method,
                order=order,
                n=spec.order_n,
                device=device,
                threads=threads,
                dtype=dtype,
            )
            points.append(ScalingPoint("scaling_order", cfg, memory_limit_mb, time_limit_s))
    return points


def grid_points(
    spec: ScalingSpec,
    *,
    device: str,
    threads: int,
    dtype: str,
    memory_limit_mb: float | None,
    time_limit_s: float,
) -> list[ScalingPoint]:
    """Points of the cost-versus-grid study, by increasing grid size."""
    points = []
    for n in sorted(spec.grid_sizes):
        for method in METHODS:
            cfg = _cost(
                spec,
                method=method,
                order=spec.grid_order,
                n=n,
                device=device,
                threads=threads,
                dtype=dtype,
            )
            points.append(ScalingPoint("scaling_grid", cfg, memory_limit_mb, time_limit_s))
    return points


def skipped(point: ScalingPoint, done: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The ``skipped_memory`` record of a grid point that need not run (else ``None``)."""
    reason = skip_reason(point, done)
    if reason is None:
        return None
    c = point.cost
    return [
        {
            "study": point.study,
            "method": c.method,
            "order": c.order,
            "n": c.n,
            "arch": c.arch,
            "status": "skipped_memory",
            "step_time_s": None,
            "peak_memory_mb": None,
            "error": reason,
            "config": point.to_dict(),
        }
    ]


def skip_reason(point: ScalingPoint, done: list[dict[str, Any]]) -> str | None:
    """Why a grid point need not run, given the records of the smaller grids (else ``None``)."""
    if point.study != "scaling_grid":
        return None
    same = [
        r
        for r in done
        if r.get("study") == "scaling_grid"
        and r.get("method") == point.cost.method
        and r.get("n", 0) < point.cost.n
    ]
    if not same:
        return None
    last = max(same, key=lambda r: r["n"])
    if last["status"] != "ok":
        return f"{point.cost.method} already failed at n={last['n']} ({last['status']})"
    limit = point.memory_limit_mb
    peak = last.get("peak_memory_mb")
    if limit is not None and peak is not None:
        projected = peak * (point.cost.n / last["n"]) ** 2
        if projected > limit:
            return (
                f"projected memory {projected:.0f} MB (∝ n² from {peak:.0f} MB at "
                f"n={last['n']}) exceeds the limit of {limit:.0f} MB"
            )
    return None


def measure_point(point: ScalingPoint, *, baseline_mb: float) -> dict[str, Any]:
    """Measure one point in its own process; the study fields of its record."""
    rec = measure_isolated(
        point.cost,
        baseline_mb=baseline_mb,
        timeout_s=point.time_limit_s,
        memory_limit_mb=point.memory_limit_mb,
    )
    c = point.cost
    return {
        "study": point.study,
        "method": c.method,
        "order": c.order,
        "n": c.n,
        "arch": c.arch,
        "status": rec["status"],
        "step_time_s": rec["step_time_s"],
        "step_times_s": rec["step_times_s"],
        "peak_memory_mb": rec["peak_memory_mb"],
        "memory_kind": "cuda_max_allocated"
        if c.device.startswith("cuda")
        else "peak_rss_above_idle_torch",
        "error": rec["error"],
        "config": point.to_dict(),
    }
