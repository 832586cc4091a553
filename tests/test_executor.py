"""The executor: validation, the serial path (no Dask imported), error outcomes, unique names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mollifier.executor import Executor, Task, run_tasks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
        ({"workers": 0}, "--workers must be an integer >= 1"),
        ({"scheduler": " "}, "--scheduler must be an address"),
        ({"threads": 0}, "threads must be"),
    ],
)
def test_bad_executors_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Executor(**kwargs)


def test_serial_run_keeps_order_records_errors_and_imports_no_dask():
    code = (
        "import sys\n"
        "from mollifier.executor import Task, run_tasks\n"
        "out = run_tasks([Task('a', abs, (-1,)), Task('b', int, ('x',)), Task('c', abs, (2,))],"
        " progress=False)\n"
        "assert [o.value for o in out] == [1, None, 2], out\n"
        "assert out[1].error.startswith('ValueError') and 'Traceback' in out[1].traceback\n"
        "assert out[0].wall_time_s >= 0 and out[0].peak_rss_mb > 0\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
        "assert not bad, bad\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_on_done_sees_each_outcome_and_names_must_be_unique():
    seen = []
    run_tasks([Task("a", abs, (-1,)), Task("b", abs, (-2,))], on_done=seen.append, progress=False)
    assert [o.name for o in seen] == ["a", "b"]
    with pytest.raises(ValueError, match="unique"):
        run_tasks([Task("a", abs, (1,)), Task("a", abs, (2,))], progress=False)


def test_raise_errors_lets_the_first_exception_through():
    with pytest.raises(ValueError, match="invalid literal"):
        run_tasks([Task("b", int, ("x",))], progress=False, raise_errors=True)
    with pytest.raises(ValueError, match="serial runs only"):
        run_tasks([], executor=Executor(workers=1), raise_errors=True)
