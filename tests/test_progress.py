"""Progress bars stay readable in log files (few redraws when the stream is not a terminal)."""

from __future__ import annotations

import io
import sys

from mollifier._progress import LOG_INTERVAL_S, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_stream_gets_a_long_redraw_interval(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    log = io.StringIO()
    bar = progress_bar(range(3), file=log)
    assert bar.mininterval == LOG_INTERVAL_S
    assert list(bar) == [0, 1, 2]  # still iterates the wrapped iterable
    bar = progress_bar(range(3), file=log, mininterval=0.5)
    assert bar.mininterval == 0.5  # an explicit choice wins
    bar.close()


def test_terminal_keeps_tqdm_default(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    bar = progress_bar(total=5, file=_Terminal())
    assert bar.mininterval < LOG_INTERVAL_S
    bar.close()
