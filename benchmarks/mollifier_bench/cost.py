"""Cost of one training step with a high-order derivative: mollifier, autodiff, or none (the floor).

A step is: evaluate a coordinate network on every node of a 2-D grid, form
``loss = mean((u − data)²) + mean((∂ₓᵏ u)²)`` (no derivative term for ``method="none"``),
back-propagate and take an Adam step. ``method="mollifier"`` computes ``∂ₓᵏ u`` with a
:class:`~mollifier.MollifierLayer` on the gridded output; ``method="autodiff"`` with nested
autograd at every node. The same network, grid, data and optimiser serve all methods.

Peak memory is measured per configuration in a fresh subprocess (``python -m
mollifier_bench.cost``): on CUDA ``torch.cuda.max_memory_allocated``; on CPU the process's peak
resident set size minus that of a process that only imports torch.
"""

# Why hand-rolled and not pytest-benchmark or asv (this module serves the harness and the
# micro-benchmarks benchmarks/layer_overhead.py, conv_crossover.py and network_cost.py):
# - peak memory per configuration: each configuration needs a fresh process whose peak RSS is
#   read from VmHWM (ru_maxrss carries a parent's size across exec) minus that of a process that
#   only imports torch. pytest-benchmark measures time only, inside the pytest process; asv runs
#   benchmarks in its own worker processes and its peakmem_ benchmarks count the whole process
#   (interpreter, imports, setup), with no baseline to subtract;
# - the allocator policy (glibc mallopt, ``--malloc retain``) is set in the measuring process
#   before its first large allocation, one more reason for a process per configuration;
# - timing: the methods are timed in turn, one step each per cycle in a balanced order
#   (time_interleaved), so a slow spell of a shared machine slows all of them alike; both tools
#   time one benchmark's rounds back to back, so such a spell falls on one method and moves the
#   ratio. Nothing they add (calibration, history across commits) is needed for these ratios.

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from mollifier._conv import CONV_METHODS
from mollifier_bench._process import (
    IDLE_PROBE,
    MALLOC_POLICIES,
    dead_process_status,
    is_out_of_memory,
    limit_memory,
    peak_rss_mb,
    set_malloc_policy,
)

__all__ = [
    "StepCost",
    "StepCostConfig",
    "balanced_orders",
    "idle_rss_mb",
    "interleaved_step_times",
    "measure_isolated",
    "measure_step_cost",
    "run_isolated",
    "time_interleaved",
]

METHODS = ("none", "mollifier", "autodiff")
OPERATORS = ("axis", "biharmonic")


@dataclass(frozen=True)
class StepCostConfig:
    """One cost measurement.

    Parameters
    ----------
    method : {"none", "mollifier", "autodiff"}
        Derivative backend (``"none"``: data-fit step only, the physical floor).
    order : int
        Derivative order along x (1–6).
    operator : {"axis", "biharmonic"}
        ``"axis"``: the penalty is on ``∂ₓᵏu``; ``"biharmonic"`` (``order`` must be 4): on
        ``∇⁴u = u_xxxx + 2 u_xxyy + u_yyyy``, the operator of the chromatin model. Autodiff shares
        the nested ``u_xx`` between the terms, the mollifier computes three stencils.
    n : int
        Grid is ``n × n`` on ``[0, 1]²``.
    arch : str
        Network architecture (see :func:`mollifier.nets.build_network`).
    hidden, depth : int
        Network size (MLP default 64 × 4, as in docs/numerics.md § 4).
    steps, warmup : int
        Timed steps and untimed warm-up steps.
    width_points : float
        Mollifier width in grid points along each axis.
    dtype : {"float32", "float64"}
    device : str
        ``"cpu"`` or ``"cuda"``.
    threads : int
        ``torch.set_num_threads`` on CPU (0 leaves torch's default).
    seed : int
    conv_method : {"auto", "direct", "fft", "matrix"}
        The mollifier layer's convolution algorithm (see :class:`~mollifier.MollifierLayer`).
    malloc : {"default", "retain"}
        The C allocator's policy in the measuring process, on CPU
        (:func:`mollifier_bench._process.set_malloc_policy`; ``"retain"`` needs glibc).
    """

    method: str = "mollifier"
    order: int = 4
    operator: str = "axis"
    n: int = 128
    arch: str = "mlp"
    hidden: int = 64
    depth: int = 4
    steps: int = 5
    warmup: int = 2
    width_points: float = 6.0
    dtype: str = "float32"
    device: str = "cpu"
    threads: int = 0
    seed: int = 0
    conv_method: str = "auto"
    malloc: str = "default"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not 1 <= self.order <= 6:
            raise ValueError(f"order must be in 1..6, got {self.order}")
        if self.operator not in OPERATORS:
            raise ValueError(f"operator must be one of {OPERATORS}, got {self.operator!r}")
        if self.operator == "biharmonic" and self.order != 4:
            raise ValueError(f"the biharmonic operator has order 4, got order={self.order}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.conv_method not in CONV_METHODS:
            raise ValueError(
                f"conv_method must be one of {list(CONV_METHODS)}, got {self.conv_method!r}"
            )
        if self.malloc not in MALLOC_POLICIES:
            raise ValueError(f"malloc must be one of {MALLOC_POLICIES}, got {self.malloc!r}")
        if self.steps < 1 or self.warmup < 0 or self.n < 16:
            raise ValueError("need steps >= 1, warmup >= 0 and n >= 16")


@dataclass(frozen=True)
class StepCost:
    """Result of :func:`measure_step_cost`: median step time (s) and peak memory (MB)."""

    config: StepCostConfig
    step_time_s: float
    step_times_s: tuple[float, ...]
    peak_memory_mb: float | None
    device_name: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["step_times_s"] = list(self.step_times_s)
        return out


def _combine(terms: list[torch.Tensor], weights: tuple[float, ...]) -> torch.Tensor:
    """``Σ wᵢ termᵢ``."""
    out = weights[0] * terms[0]
    for w, t in zip(weights[1:], terms[1:], strict=True):
        out = out + w * t
    return out


def _make_step(config: StepCostConfig) -> tuple[Callable[[], None], Callable[[], None]]:
    """The training step of ``config`` and a device synchronisation, ready to time."""
    from mollifier.autodiff import AutodiffDerivatives
    from mollifier.layers import MollifierLayer
    from mollifier.nets import build_network

    torch.manual_seed(config.seed)
    dtype = getattr(torch, config.dtype)
    device = torch.device(config.device)
    n = config.n
    coords = torch.linspace(0, 1, n, dtype=dtype, device=device)
    h = 1.0 / (n - 1)
    X, Y = torch.meshgrid(coords, coords, indexing="ij")
    data = (torch.sin(3 * X) * torch.cos(2 * Y)).reshape(-1, 1)
    classic = {"embedding": 0} if config.arch == "mlp" else {}  # the paper's tanh PINN
    net = build_network(
        config.arch,
        in_features=2,
        out_features=1,
        hidden=config.hidden,
        depth=config.depth,
        **classic,
    ).to(device=device, dtype=dtype)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    specs = ("xxxx", "xxyy", "yyyy") if config.operator == "biharmonic" else ("x" * config.order,)
    weights = (1.0, 2.0, 1.0) if config.operator == "biharmonic" else (1.0,)
    layer = None
    if config.method == "mollifier":
        layer = MollifierLayer(
            axes=("x", "y"),
            spacing=h,
            width=config.width_points * h,
            max_order=config.order,
            method=config.conv_method,
        ).to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        if config.method == "autodiff":
            x = X.reshape(-1).clone().requires_grad_(True)
            y = Y.reshape(-1).clone().requires_grad_(True)
            u = net(torch.stack([x, y], dim=-1))
            d = AutodiffDerivatives({"x": x, "y": y})
            du = _combine([d(u, s) for s in specs], weights)
        else:
            u = net(torch.stack([X.reshape(-1), Y.reshape(-1)], dim=-1))
            du = None
            if layer is not None:
                outs = layer(u.reshape(1, 1, n, n), *specs)
                du = _combine(list(outs) if isinstance(outs, tuple) else [outs], weights)
        loss = torch.mean((u - data) ** 2)
        if du is not None:
            loss = loss + torch.mean(du**2) * h ** (2 * config.order)
        loss.backward()
        opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step, sync


def _configure_process(config: StepCostConfig) -> None:
    """Apply ``config``'s process-wide settings: torch's thread count and, on CPU, the C
    allocator's policy."""
    if config.threads:
        torch.set_num_threads(config.threads)
    if torch.device(config.device).type == "cpu":
        set_malloc_policy(config.malloc)


def measure_step_cost(config: StepCostConfig) -> StepCost:
    """Time ``config.steps`` training steps in this process (see the module docstring)."""
    _configure_process(config)
    device = torch.device(config.device)
    step, sync = _make_step(config)
    for _ in range(config.warmup):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(config.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    peak: float | None
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        name = torch.cuda.get_device_name(device)
    else:
        peak = None  # measured by run_isolated, as peak RSS above the idle baseline
        name = f"cpu ({torch.get_num_threads()} threads)"
    return StepCost(config, statistics.median(times), tuple(times), peak, name)


def balanced_orders(k: int) -> list[tuple[int, ...]]:
    """Orders of ``k`` items in which every item directly follows every other equally often.

    A Williams design: ``k`` orders for even ``k``, ``2k`` for odd ``k`` (the ``k`` orders and
    their reverses). Row ``i`` of the base order ``0, 1, k−1, 2, k−2, …`` shifted by ``i``.
    """
    if k < 1:
        raise ValueError(f"need at least one item, got {k}")
    base = [0]
    lo, hi = 1, k - 1
    while len(base) < k:
        base.append(lo)
        lo += 1
        if len(base) < k:
            base.append(hi)
            hi -= 1
    rows = [tuple((b + i) % k for b in base) for i in range(k)]
    if k % 2:
        rows += [tuple(reversed(r)) for r in rows]
    return rows


def time_interleaved(
    steps: Sequence[tuple[Callable[[], None], Callable[[], None]]], *, cycles: int, warmup: int
) -> list[tuple[float, ...]]:
    """Wall time (s) of each ``(step, sync)`` pair, run in turn, ``cycles`` times each.

    After ``warmup`` untimed rounds, every cycle runs each step once, so that a slow spell of a
    shared machine slows every step alike. The orders of the cycles follow
    :func:`balanced_orders`: within a full design each step directly follows each other step
    equally often, so the cold caches after a large step (autodiff) do not fall on one of the
    others more than on the rest. ``sync`` waits for the device (a no-op on CPU). Returns one
    tuple of ``cycles`` times per step.
    """
    if not steps:
        return []
    for _ in range(warmup):
        for step, sync in steps:
            step()
            sync()
    orders = balanced_orders(len(steps))
    times: list[list[float]] = [[] for _ in steps]
    for cycle in range(cycles):
        for i in orders[cycle % len(orders)]:
            step, sync = steps[i]
            t0 = time.perf_counter()
            step()
            sync()
            times[i].append(time.perf_counter() - t0)
    return [tuple(t) for t in times]


def interleaved_step_times(configs: Sequence[StepCostConfig]) -> list[tuple[float, ...]]:
    """Step times of several configurations timed in turn, one step each, in this process.

    Every configuration gets ``warmup`` untimed and then ``steps`` timed steps (taken from the
    first configuration), interleaved by :func:`time_interleaved`. Memory is not measured (the
    configurations share the process); use :func:`run_isolated` for it.
    """
    if not configs:
        return []
    first = configs[0]
    if len({c.malloc for c in configs}) > 1:
        raise ValueError("configurations timed in one process must share one malloc policy")
    _configure_process(first)
    return time_interleaved(
        [_make_step(c) for c in configs], cycles=first.steps, warmup=first.warmup
    )


def idle_rss_mb() -> float:
    """Peak resident memory (MB) of a fresh process that only imports torch.

    Measured as :func:`mollifier_bench._process.peak_rss_mb` does (``VmHWM`` on Linux), so that
    it does not inherit the calling process's size.
    """
    out = subprocess.run(
        [sys.executable, "-c", IDLE_PROBE], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def measure_isolated(
    config: StepCostConfig,
    *,
    baseline_mb: float | None = None,
    timeout_s: float | None = None,
    memory_limit_mb: float | None = None,
) -> dict[str, Any]:
    """Like :func:`run_isolated`, but failures are data: returns a record with a ``status``.

    ``status`` is ``"ok"``, ``"out_of_memory"`` (an allocation failed; on CPU the address space
    is capped at its size after start-up plus ``memory_limit_mb``), ``"timeout"`` (killed after
    ``timeout_s``), ``"killed"`` (by a signal) or ``"error"`` (with the tail of stderr in
    ``error``; see :func:`~mollifier_bench._process.dead_process_status`). The other keys are
    ``step_time_s``, ``step_times_s``, ``peak_memory_mb`` (``None`` unless measured) and
    ``device_name``.
    """
    cmd = [sys.executable, "-m", "mollifier_bench.cost", "--config", json.dumps(asdict(config))]
    if memory_limit_mb is not None and config.device == "cpu":
        cmd += ["--memory-limit-mb", str(memory_limit_mb)]
    out: dict[str, Any] = {
        "status": "error",
        "step_time_s": None,
        "step_times_s": [],
        "peak_memory_mb": None,
        "device_name": None,
        "error": None,
    }
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        out.update(status="timeout", error=f"killed after {timeout_s} s")
        return out
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr[-1500:]
        out["error"] = f"exit code {proc.returncode}: {tail}"
        if proc.returncode != 0:
            capped = memory_limit_mb is not None and config.device == "cpu"
            out["status"] = dead_process_status(proc.returncode, tail, capped=capped)
        return out
    result = json.loads(lines[-1])
    out["device_name"] = result.get("device_name")
    if result.get("status") == "out_of_memory":
        out.update(status="out_of_memory", error=result.get("error"))
        return out
    peak = result["peak_memory_mb"]
    if config.device == "cpu":
        base = idle_rss_mb() if baseline_mb is None else baseline_mb
        peak = result["peak_rss_mb"] - base
    out.update(
        status="ok",
        step_time_s=result["step_time_s"],
        step_times_s=result["step_times_s"],
        peak_memory_mb=peak,
    )
    return out


def run_isolated(config: StepCostConfig, *, baseline_mb: float | None = None) -> StepCost:
    """Run :func:`measure_step_cost` in a fresh subprocess and report its own peak memory.

    On CPU the peak is the subprocess's peak RSS minus ``baseline_mb`` (default:
    :func:`idle_rss_mb`).

    Raises
    ------
    RuntimeError
        If the measurement fails (see :func:`measure_isolated` for a non-raising variant).
    """
    rec = measure_isolated(config, baseline_mb=baseline_mb)
    if rec["status"] != "ok":
        raise RuntimeError(f"cost measurement failed for {config}: {rec['error']}")
    return StepCost(
        config,
        rec["step_time_s"],
        tuple(rec["step_times_s"]),
        rec["peak_memory_mb"],
        rec["device_name"],
    )


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one isolated step-cost measurement (JSON out)")
    parser.add_argument("--config", required=True, help="StepCostConfig as JSON")
    parser.add_argument(
        "--memory-limit-mb",
        type=float,
        default=None,
        help="cap the address space at its size after start-up plus this",
    )
    args = parser.parse_args(argv)
    config = StepCostConfig(**json.loads(args.config))
    if args.memory_limit_mb is not None:
        limit_memory(args.memory_limit_mb, trains=True)
    try:
        cost = measure_step_cost(config)
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        print(
            json.dumps(
                {
                    "status": "out_of_memory",
                    "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                    "device_name": config.device,
                }
            )
        )
        return
    out = cost.to_dict()
    out["status"] = "ok"
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    _main()
