"""``mollifier report DIR``: a directory that holds no readable result is refused with exit
status 2, a one-line message naming it, and no page written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bad_inputs.conftest import assert_refused, run_cli


def _absent(tmp: Path) -> Path:
    return tmp / "nothing-here"


def _a_file(tmp: Path) -> Path:
    path = tmp / "result.json"
    path.write_text("{}")
    return path


def _empty(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _corrupt_json(tmp: Path) -> Path:
    d = tmp / "corrupt"
    d.mkdir()
    (d / "result.json").write_text('{"method": "direct", "unknowns": ')
    return d


def _wrong_layout(tmp: Path) -> Path:
    d = tmp / "layout"
    d.mkdir()
    (d / "result.json").write_text(json.dumps(["not", "a", "result"]))
    return d


CASES = [
    ("absent", _absent, ["nothing-here", "no such directory"]),
    ("a-file", _a_file, ["result.json", "is a file"]),
    ("empty", _empty, ["empty", "not a mollifier result directory"]),
    ("corrupt-json", _corrupt_json, ["corrupt/result.json", "not readable JSON"]),
    ("wrong-layout", _wrong_layout, ["layout/result.json", "unexpected layout"]),
]


@pytest.mark.parametrize(("make", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_report_directory_is_refused(tmp_path, capsys, make, names):
    target = make(tmp_path)
    result = run_cli(["report", str(target)], capsys)
    assert_refused(result, names=names, out=None)
    assert not (target / "report.html").exists()
