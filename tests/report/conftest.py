"""Result directories written by the real commands (once per session), and a headless browser.

The browser tests need Debian's ``chromium``; without it they skip and say so, except under
``MOLLIFIER_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs it), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mollifier.cli import main

from ._chromium import Chromium, find_chromium

#: A result directory written by ``mollifier demo`` before the report existed (no report.html,
#: no provenance.json): result.json, unknowns.npz and two of the figures.
OLD_RESULT = Path(__file__).parent / "fixtures" / "old_direct"

#: A direct-solver fit of the heat problem, with the auto width or a fixed bump.
_CONFIGS = {
    "auto": '[data]\npath = "data"\n[problem]\nbuiltin = "heat"\n[solver]\nmethod = "direct"\n',
    "bump": '[data]\npath = "data"\n[problem]\nbuiltin = "heat"\n'
    '[mollifier]\nwidth = 0.3\nkernel = "bump"\n[solver]\nmethod = "direct"\n',
}


def run(*argv: str) -> int:
    return main(list(argv))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mollifier demo`` with a 5-step network."""
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("demo") / "demo"
    assert run("demo", "--out", str(out), "--steps", "5", "--quiet") == 0
    return out


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ``mollifier fit`` runs of one simulated dataset gathered in one folder, whose page
    ``mollifier report`` writes: the shape of a sweep."""
    pytest.importorskip("matplotlib")
    root = tmp_path_factory.mktemp("sweep")
    assert run("simulate", "heat", "--grid", "24", "--seed", "1", "--out", str(root / "data")) == 0
    for name, text in _CONFIGS.items():
        (root / f"{name}.toml").write_text(text)
        out = root / "sweep" / name
        assert run("fit", str(root / f"{name}.toml"), "--out", str(out), "--quiet") == 0
    assert run("report", str(root / "sweep")) == 0
    return root / "sweep"


@pytest.fixture(scope="session")
def config_sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mollifier fit`` of a config with a ``[sweep]`` table: two kernels × two noise levels."""
    pytest.importorskip("matplotlib")
    root = tmp_path_factory.mktemp("config-sweep")
    assert run("simulate", "heat", "--grid", "24", "--seed", "1", "--out", str(root / "data")) == 0
    (root / "sweep.toml").write_text(
        _CONFIGS["auto"] + '[sweep]\nkernel = ["polybump", "bump"]\nnoise = [0.0, 0.01]\n'
    )
    assert run("fit", str(root / "sweep.toml"), "--out", str(root / "out"), "--quiet") == 0
    return root / "out"


@pytest.fixture(scope="session")
def storm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A STORM batch of one small synthetic nucleus and one empty table named ``<script>x``."""
    pytest.importorskip("matplotlib")
    root = tmp_path_factory.mktemp("storm")
    sim = root / "sim"
    assert (
        run(
            "simulate", "storm", "--out", str(sim), "--seed", "4", "--size", "2400", "2000",
            "--localisations", "1.5e5", "--no-nucleolus", "--quiet",
        )
        == 0
    )  # fmt: skip
    bad = sim / "<script>alert(1)<b>x.csv"
    bad.write_text('"id","frame","x [nm]","y [nm]","uncertainty [nm]"\n')
    out = root / "batch"
    argv = ["storm", str(sim / "nucleus_000.csv"), str(bad), "--out", str(out)]
    # the small nucleus is below the gate's density bound (unreliable): shown, with its reasons
    options = ["--condition", "control", "treated", "--width", "300", "--include-unreliable"]
    assert run(*argv, *options, "--quiet") == 1
    return out


@pytest.fixture
def old_result(tmp_path: Path) -> Path:
    """A copy of :data:`OLD_RESULT` (pages are written into it)."""
    return Path(shutil.copytree(OLD_RESULT, tmp_path / "old_direct"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("MOLLIFIER_REQUIRE_BROWSER"):
            pytest.fail("MOLLIFIER_REQUIRE_BROWSER is set but no chromium executable was found")
        pytest.skip("browser test: chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Chromium]:
    with Chromium(chromium_path) as b:
        yield b
