"""The README's runnable example runs and gives the answer it claims."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_recovers_nu():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if "problem.solve" in b)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert abs(namespace["result"].unknowns["nu"] - 0.3) < 3e-3


def test_readme_quick_start_has_exactly_the_two_make_commands():
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)", quick, flags=re.M)
    assert commands == ["demo", "test"]
    makefile = (README.parent / "Makefile").read_text()
    assert "mollifier demo" in makefile and "pytest" in makefile
    assert "make test" in (README.parent / ".ci" / "run").read_text()
