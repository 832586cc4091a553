"""The ``[distributed]`` options, the example config and what a distributed fit refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mollifier as ml
from mollifier._distributed import run_fit_distributed
from mollifier.config import ConfigError, config_from_document, load_config
from mollifier.inverse.network.distributed import Distributed, solve_distributed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DOC = {
    "data": {"path": "data"},
    "problem": {"builtin": "heat3d"},
    "mollifier": {"width": 0.25},
    "solver": {"method": "network"},
}


def test_the_example_is_a_network_fit_split_along_x() -> None:
    config = load_config(EXAMPLES / "heat-network.toml")
    assert isinstance(config.solver, ml.Network)
    assert config.distributed == Distributed(split_axis="x")


def test_the_distributed_table_is_validated(tmp_path) -> None:
    where = tmp_path / "c.toml"
    config = config_from_document({**DOC, "distributed": {"split_axis": "y"}}, where)
    assert config.distributed.split_axis == "y" and config.distributed.timeout_s == 300.0
    assert config_from_document(DOC, where).distributed == Distributed()
    with pytest.raises(ConfigError, match=r"\[distributed\] has unknown keys \['axis'\]"):
        config_from_document({**DOC, "distributed": {"axis": "x"}}, where)
    with pytest.raises(ConfigError, match=r"\[distributed\].*timeout_s must be positive"):
        config_from_document({**DOC, "distributed": {"timeout_s": 0}}, where)
    with pytest.raises(ConfigError, match=r"split_axis = 3: must be"):
        config_from_document({**DOC, "distributed": {"split_axis": 3}}, where)


def test_the_default_split_axis_is_the_longest() -> None:
    grid = ml.Grid(t=np.arange(5.0), x=np.arange(9.0), y=np.arange(9.0))
    assert Distributed().axis(grid) == "x"
    assert Distributed(split_axis="t").axis(grid) == "t"
    with pytest.raises(ValueError, match="split_axis = 'z' is not an axis"):
        Distributed(split_axis="z").axis(grid)


def test_refusals_name_the_reason(tmp_path) -> None:
    where = tmp_path / "c.toml"
    direct = config_from_document({**DOC, "solver": {"method": "direct"}}, where)
    with pytest.raises(ValueError, match="trains the network solver"):
        run_fit_distributed(direct, tmp_path / "out")
    with pytest.raises(RuntimeError, match="inside an initialised process group"):
        solve_distributed(lambda: None, ml.Network())  # type: ignore[arg-type,return-value]


def test_tiled_minibatches_are_refused() -> None:
    import torch

    from mollifier.inverse.network.slab import SlabLoss, SlabProblem
    from tests.distributed._workers import PROBLEMS, solver_of

    solver = solver_of({"batch": 2})
    slab = SlabProblem(PROBLEMS["2d-pointwise-reflect"](), axis="x", rank=0, world=2, solver=solver)
    with pytest.raises(ValueError, match="set batch = None"):
        SlabLoss(slab, None, solver, coords=torch.zeros(1, 2), rank=0)  # type: ignore[arg-type]


def test_nproc_refuses_a_direct_config_before_starting_ranks(tmp_path, capsys) -> None:
    from mollifier.cli import main

    config = tmp_path / "direct.toml"
    config.write_text(
        '[data]\npath = "data"\n[problem]\nbuiltin = "heat3d"\n[solver]\nmethod = "direct"\n'
    )
    assert main(["fit", str(config), "--out", str(tmp_path / "out"), "--nproc", "2"]) == 2
    err = capsys.readouterr().err
    assert "mollifier fit: error: a distributed fit trains the network solver" in err
