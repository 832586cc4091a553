"""Shared helpers for the I/O tests: the external data folder and error-message checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: ``<repo>/../shared/data``: real data with known provenance (see its README.md).
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file in the shared data folder, or skip the test with the reason."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"shared reference data {relative} not found under {SHARED_DATA.resolve()}")
    return path


def assert_message(excinfo: pytest.ExceptionInfo, path: Path | str, *words: str) -> None:
    """The error names the file and contains each of ``words`` (case-insensitive)."""
    message = str(excinfo.value)
    assert str(path) in message, f"message does not name the file {path}: {message}"
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in message: {message}"


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cut a file to ``fraction`` of its bytes, in place."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def garble(path: Path, start: int, count: int = 8, seed: int = 0) -> Path:
    """Overwrite ``count`` bytes from ``start`` with seeded bytes, each different from before."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    for i in range(start, start + count):
        data[i] = (data[i] + int(rng.integers(1, 256))) % 256
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240609)
