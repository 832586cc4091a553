"""The step-cost configuration behind the scaling study and benchmarks/layer_overhead.py."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections import Counter

import pytest

import mollifier_bench.cost as cost_module
from mollifier_bench._process import set_malloc_policy
from mollifier_bench.cost import (
    StepCostConfig,
    balanced_orders,
    interleaved_step_times,
    measure_step_cost,
)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"operator": "laplacian"}, "operator must be one of"),
        ({"operator": "biharmonic", "order": 2}, "biharmonic operator has order 4"),
        ({"method": "fd"}, "method must be one of"),
        ({"order": 7}, "order must be in 1..6"),
        ({"conv_method": "winograd"}, "conv_method must be one of"),
        ({"malloc": "jemalloc"}, "malloc must be one of"),
    ],
)
def test_bad_step_cost_configs_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StepCostConfig(**kwargs)


@pytest.mark.parametrize("method", ["mollifier", "autodiff"])
def test_biharmonic_step_runs_and_is_timed(method: str) -> None:
    cfg = StepCostConfig(
        method=method, operator="biharmonic", n=16, hidden=8, depth=2, steps=2, warmup=1, threads=1
    )
    cost = measure_step_cost(cfg)
    assert len(cost.step_times_s) == 2 and all(t > 0 for t in cost.step_times_s)
    assert cost.step_time_s == pytest.approx(
        sorted(cost.step_times_s)[0] / 2 + sorted(cost.step_times_s)[1] / 2
    )


def test_interleaved_timing_gives_each_configuration_its_steps() -> None:
    configs = [
        StepCostConfig(method=m, order=2, n=16, hidden=8, depth=1, steps=3, warmup=1, threads=1)
        for m in ("none", "mollifier", "autodiff")
    ]
    times = interleaved_step_times(configs)
    assert [len(t) for t in times] == [3, 3, 3]
    assert all(x > 0 for t in times for x in t)
    assert interleaved_step_times([]) == []


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 9])
def test_balanced_orders_give_every_predecessor_equally_often(k: int) -> None:
    orders = balanced_orders(k)
    assert len(orders) == (k if k % 2 == 0 else 2 * k)
    assert all(sorted(o) == list(range(k)) for o in orders)
    pairs = Counter((o[j], o[j + 1]) for o in orders for j in range(k - 1))
    if k > 1:
        assert set(pairs) == {(a, b) for a in range(k) for b in range(k) if a != b}
        assert len(set(pairs.values())) == 1
    with pytest.raises(ValueError, match="at least one item"):
        balanced_orders(0)


def test_interleaved_order_follows_the_balanced_design(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cold caches after a large step (autodiff) are shared, not one configuration's."""
    calls: list[str] = []

    def fake_make_step(config: StepCostConfig):
        return (lambda: calls.append(config.method)), (lambda: None)

    monkeypatch.setattr(cost_module, "_make_step", fake_make_step)
    methods = ("none", "mollifier", "autodiff")
    configs = [StepCostConfig(method=m, steps=6, warmup=1) for m in methods]
    times = interleaved_step_times(configs)
    assert [len(t) for t in times] == [6, 6, 6]
    warmup, timed = calls[:3], calls[3:]
    assert warmup == list(methods)
    cycles = [tuple(timed[i : i + 3]) for i in range(0, 18, 3)]
    assert cycles == [tuple(methods[i] for i in o) for o in balanced_orders(3)]
    after_autodiff = Counter(c[c.index("autodiff") + 1] for c in cycles if c[-1] != "autodiff")
    assert after_autodiff == {"none": 2, "mollifier": 2}


# Ten steps that each allocate and free 16 buffers of 4 MiB (the size of one 128² × 64
# activation in float32), after one untimed step; prints the minor page faults of the ten.
# Transparent huge pages are turned off for the process (prctl PR_SET_THP_DISABLE), so that
# pages are 4 KiB whatever the host's THP setting.
_FAULTS = """
import ctypes, resource, sys, torch
from mollifier_bench._process import set_malloc_policy
if ctypes.CDLL(None).prctl(41, 1, 0, 0, 0) != 0:
    raise OSError("prctl(PR_SET_THP_DISABLE) failed")
set_malloc_policy(sys.argv[1])
def step():
    buffers = [torch.ones(2**20) for _ in range(16)]
    del buffers
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_the_retain_malloc_policy_keeps_freed_memory_in_the_process() -> None:
    """With glibc's default the 64 MiB freed by a step goes back to the system and is faulted in
    again (16 384 pages); "retain" keeps it, so the later steps fault almost never.

    How often the default gives it back depends on where Python's small allocations land in the
    heap, which hash randomisation moves: on one machine, of 25 hash seeds, 21 faulted all ten
    steps in again (163 509–163 519 faults) and 4 only one (17 365–17 366); "retain" faulted
    1 024–1 025 times with every seed. So the test asks for at least one step's pages more."""
    if platform.libc_ver()[0] != "glibc":
        with pytest.raises(RuntimeError, match="needs glibc"):
            set_malloc_policy("retain")
        return

    def faults(policy: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS, policy], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip())

    step_pages = 16 * 2**20 * 4 // 4096
    default, retain = faults("default"), faults("retain")
    assert default - retain > 0.9 * step_pages, (default, retain)
    assert retain < 10 * step_pages / 50, retain
    with pytest.raises(ValueError, match="malloc policy must be one of"):
        set_malloc_policy("tcmalloc")
    configs = [StepCostConfig(n=16, malloc=m) for m in ("default", "retain")]
    with pytest.raises(ValueError, match="share one malloc policy"):
        interleaved_step_times(configs)
