"""Which convolution algorithm is fastest for one stencil along one axis: direct, FFT or matrix.

Usage: python benchmarks/conv_crossover.py [--sizes 64 128 256 512 1024 2048]
       [--taps 13 25 49 97 193] [--repeats 15] [--threads 0] [--dtype float32] [--device cpu]
       [--one-off] [--malloc default|retain]

For every axis length ``n`` and stencil length (taps), times the forward and backward pass of
one derivative stencil along the first axis of an ``n × n`` field (batch 1, channel 1) with each
of ``MollifierLayer``'s algorithms: ``conv1d`` (direct), FFT, and the product with the cached
dense ``(n, n)`` operator (matrix; operator built before timing, as the layer caches it). The
methods are timed in turn, one call each per cycle, in a balanced order
(:func:`mollifier_bench.cost.time_interleaved`), so a slow spell of a shared machine slows them
alike. Prints the median milliseconds per call and the fastest method per cell, the
measurement behind ``mollifier._conv.MATRIX_MAX_POINTS``.

``--one-off`` times what a single call of :func:`mollifier.derivative` does instead: the forward
pass only, on a field that needs no gradient, with the matrix method building its operator in
every call (nothing is cached between calls) — the measurement behind ``DIRECT_MAX_WORK``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
from collections.abc import Callable

import numpy as np
import torch

from mollifier._conv import apply_operator, convolve_axis, dense_operator
from mollifier_bench._process import MALLOC_POLICIES, set_malloc_policy
from mollifier_bench.cost import time_interleaved

METHODS = ("direct", "fft", "matrix")


def _calls(
    n: int, n_taps: int, dtype: torch.dtype, device: torch.device, *, one_off: bool = False
) -> dict[str, Callable[[], None]]:
    """One call per method on an ``n × n`` field (device-synchronised): forward + backward with
    the matrix operator built beforehand, or with ``one_off`` forward only, building it each call.
    """
    rng = np.random.default_rng(0)
    taps64 = rng.standard_normal((1, n_taps))
    taps = torch.tensor(taps64, dtype=dtype, device=device)
    operator = dense_operator(torch.from_numpy(taps64), n, "reflect").to(dtype=dtype, device=device)
    g = torch.randn(1, 1, n, n, dtype=dtype, device=device, requires_grad=not one_off)

    def call(method: str) -> Callable[[], None]:
        def run() -> None:
            if method == "matrix":
                op = dense_operator(taps, n, "reflect") if one_off else operator
                y = apply_operator(g, op, dim=2)
            else:
                y = convolve_axis(g, taps, dim=2, boundary="reflect", method=method)
            if not one_off:
                y.square().mean().backward()
                g.grad = None
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        return run

    return {m: call(m) for m in METHODS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048])
    parser.add_argument("--taps", type=int, nargs="+", default=[13, 25, 49, 97, 193])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--malloc",
        choices=MALLOC_POLICIES,
        default="default",
        help="C allocator policy of this process (CPU; 'retain' needs glibc)",
    )
    parser.add_argument(
        "--one-off",
        action="store_true",
        help="forward only, matrix operator built in each call (mollifier.derivative)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.malloc != "default":
        set_malloc_policy(args.malloc)
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(
        f"{name}; torch {torch.__version__}; "
        f"python {platform.python_version()}; {args.dtype}; reflect boundary; "
        + (
            "one-off forward call (operator built per call) "
            if args.one_off
            else "forward + backward "
        )
        + "of one stencil along axis 0 of an n × n field; "
        f"median of {args.repeats} interleaved calls, ms; malloc policy {args.malloc}"
    )
    print("| n | taps | direct | fft | matrix | fastest |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        for n_taps in args.taps:
            if n_taps > n:
                continue
            calls = _calls(n, n_taps, dtype, device, one_off=args.one_off)
            runs = time_interleaved(
                [(run, lambda: None) for run in calls.values()], cycles=args.repeats, warmup=1
            )
            times = dict(zip(calls, runs, strict=True))
            med = {m: 1e3 * statistics.median(t) for m, t in times.items()}
            best = min(med, key=med.__getitem__)
            cells = " | ".join(f"{med[m]:.3f}" for m in METHODS)
            print(f"| {n} | {n_taps} | {cells} | {best} |", flush=True)


if __name__ == "__main__":
    main()
