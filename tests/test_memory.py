"""Peak resident memory: grows with memory touched, portable units, no POSIX-only import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import numpy as np
import psutil  # a core dependency (peak working set on Windows); here the reference
import pytest

from mollifier import _memory
from mollifier.inverse.result import peak_memory_mb


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout


def test_peak_grows_by_the_memory_an_array_touches():
    """In a fresh process: make the current resident size exceed the previous peak by 64 MiB,
    by allocating and writing an array; the peak must follow (psutil's current RSS is the
    independent reference)."""
    out = _run(
        """
        import numpy as np, psutil
        from mollifier._memory import peak_rss_mb
        before = peak_rss_mb()
        rss = psutil.Process().memory_info().rss / 2**20
        extra = max(before - rss, 0.0) + 64.0
        a = np.ones(int(extra * 2**20) // 8)  # ones, not zeros: every page is written
        now = psutil.Process().memory_info().rss / 2**20
        after = peak_rss_mb()
        print(before, now, after, a[-1])
        """
    )
    before, now, after, _ = map(float, out.split())
    assert now >= before + 60.0  # the array is resident
    assert after >= now - 1.0  # the peak is at least what is resident now
    assert after >= before + 60.0
    assert after <= max(before, now) + 16.0  # MiB, not kB or bytes


def test_peak_is_not_below_the_current_resident_size_in_this_process():
    a = np.ones(2**23)  # 64 MiB, written
    assert _memory.peak_rss_mb() >= psutil.Process().memory_info().rss / 2**20 - 1.0
    assert peak_memory_mb("cpu") == pytest.approx(_memory.peak_rss_mb(), abs=1.0)
    assert a[0] == 1.0


def test_import_mollifier_does_not_import_posix_only_modules():
    out = _run(
        """
        import sys, mollifier
        print("resource" in sys.modules, "psutil" in sys.modules)
        """
    )
    assert out.split() == ["False", "False"]


def _fake_resource(maxrss: int) -> types.ModuleType:
    mod = types.ModuleType("resource")
    mod.RUSAGE_SELF = 0  # type: ignore[attr-defined]
    mod.getrusage = lambda who: types.SimpleNamespace(ru_maxrss=maxrss)  # type: ignore[attr-defined]
    return mod


@pytest.mark.parametrize(
    ("platform", "maxrss", "mib"),
    [("darwin", 3 * 2**30, 3072.0), ("freebsd14", 3 * 2**20, 3072.0)],
)
def test_ru_maxrss_units(monkeypatch, platform, maxrss, mib):
    """macOS reports ``ru_maxrss`` in bytes, the BSDs (and Linux) in kB."""
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setitem(sys.modules, "resource", _fake_resource(maxrss))
    assert _memory.peak_rss_mb() == mib


def test_linux_without_proc_falls_back_to_ru_maxrss_in_kb(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(_memory, "status_kb", lambda field: None)
    monkeypatch.setitem(sys.modules, "resource", _fake_resource(512 * 1024))
    assert _memory.peak_rss_mb() == 512.0


def test_windows_uses_the_peak_working_set(monkeypatch):
    info = types.SimpleNamespace(peak_wset=5 * 2**20, rss=2**20)
    fake = types.ModuleType("psutil")
    fake.Process = lambda: types.SimpleNamespace(memory_info=lambda: info)  # type: ignore[attr-defined]
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert _memory.peak_rss_mb() == 5.0
