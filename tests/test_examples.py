"""The scripts in examples/ run as their usage lines say (with ``--smoke``) and give the
numbers they are there to show."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mollifier.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--smoke", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return out.stdout


def test_derivatives_example_ranks_the_kernels(tmp_path: Path) -> None:
    """Fourth derivatives of a signal with 0.1% noise: every kernel at its best width is within
    35%, and the 4th-order-accurate polybump is the most accurate (about 3%)."""
    figure = tmp_path / "d4.png"
    text = _run("derivatives.py", "--out", str(figure))
    errors = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^(\w+\(.*?\))\s+[\d.]+\s+([\d.]+)$", text, flags=re.MULTILINE)
    }
    assert len(errors) == 4, text
    assert max(errors.values()) < 0.35
    best = min(errors, key=errors.__getitem__)
    assert best == "PolyBump(accuracy=4, power=8)" and errors[best] < 0.05
    assert figure.stat().st_size > 10_000


def test_damped_wave_example_end_to_end(tmp_path: Path) -> None:
    """make_damped_wave.py writes the data; damped_wave.toml (a residual from a user module)
    recovers γ = 0.4 and c² = 2 from it with 1% added noise."""
    folder = tmp_path / "wave"
    folder.mkdir()
    for name in ("damped_wave.toml", "damped_wave.py"):
        shutil.copy(EXAMPLES / name, folder / name)
    _run("make_damped_wave.py", "--out", str(folder / "damped_wave.npz"))
    out = tmp_path / "out"
    assert main(["fit", str(folder / "damped_wave.toml"), "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "result.json").read_text())
    assert doc["metrics"]["gamma"]["rel_error"] < 0.02
    assert doc["metrics"]["c2"]["rel_error"] < 0.01


def test_heat3d_example_end_to_end(tmp_path: Path) -> None:
    """The commands in heat3d.toml's header: simulate a 32³ box, then fit it; λ(x, y, z) comes
    back at every node with Pearson r ≥ 0.95."""
    folder = tmp_path / "examples"
    folder.mkdir()
    shutil.copy(EXAMPLES / "heat3d.toml", folder / "heat3d.toml")
    data = tmp_path / "out" / "heat3d"  # the config's path, ../out/heat3d
    assert main(["simulate", "heat3d", "--grid", "32", "--out", str(data)]) == 0
    out = tmp_path / "fit"
    assert main(["fit", str(folder / "heat3d.toml"), "--out", str(out), "--quiet"]) == 0
    lam = json.loads((out / "result.json").read_text())["metrics"]["lam"]
    assert lam["coverage"] == 1.0 and lam["pearson"] >= 0.95, lam


def test_nonlinear_diffusion_example_refuses_direct_and_trains(tmp_path: Path) -> None:
    """The direct solver refuses the non-affine residual; the network returns D₀ and β (the
    smoke run is too short to be accurate: tests/engine/test_network_examples.py checks that
    training moves them toward the truth)."""
    text = _run("nonlinear_diffusion.py")
    assert "direct solver refused: the residual is not affine in the unknowns" in text
    found = dict(re.findall(r"^(d0|beta)\s+([-\d.]+)\s+true", text, flags=re.MULTILINE))
    assert set(found) == {"d0", "beta"} and float(found["d0"]) > 0, text


def test_heat_gaps_example_covers_every_node(tmp_path: Path) -> None:
    """Half the nodes missing: the direct solver refuses the mask; the network's λ covers all
    observed and all missing nodes."""
    text = _run("heat_gaps.py")
    assert "direct solver refused: the residual is NaN" in text
    coverage = re.findall(r"^network, (observed|missing) nodes: rel\. L2 [\d.]+ on (\d+)%", text,
                          flags=re.MULTILINE)  # fmt: skip
    assert coverage == [("observed", "100"), ("missing", "100")], text
