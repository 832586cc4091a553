"""Configuration: validation, canonical hashing, round trips, and fairness of the tiers' pairs."""

from __future__ import annotations

import dataclasses

import pytest

from mollifier_bench.config import (
    DatasetSpec,
    MatrixSpec,
    RunConfig,
    TierConfig,
    canonical_json,
    config_hash,
)
from mollifier_bench.harness import matrix_runs
from mollifier_bench.tiers import TIERS, get_tier

DS = DatasetSpec(task="chromatin", n=32, noise=0.01, seed=0)


def run_config(**kw: object) -> RunConfig:
    base: dict[str, object] = {
        "dataset": DS,
        "derivatives": "mollifier",
        "arch": "mlp",
        "steps": 10,
        "network": {"hidden": 8, "depth": 2},
    }
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]


def test_hash_is_canonical_and_sensitive_to_every_field() -> None:
    a = run_config(network={"hidden": 8, "depth": 2})
    b = run_config(network={"depth": 2, "hidden": 8})  # same options, other order
    assert config_hash(a) == config_hash(b)
    assert len(config_hash(a)) == 64
    assert canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    changes = {
        "derivatives": "autodiff",
        "arch": "pirate",
        "steps": 11,
        "lr": 1e-3,
        "network": {"hidden": 9, "depth": 2},
        "dtype": "float64",
        "threads": 1,
        "probe_steps": 0,
        "time_limit_s": 10.0,
        "memory_limit_mb": 100.0,
        "dataset": dataclasses.replace(DS, seed=1),
        "width": {"x": 1.0, "y": 1.0},
    }
    hashes = {config_hash(run_config(**{k: v})) for k, v in changes.items()}
    assert len(hashes) == len(changes) and config_hash(a) not in hashes


def test_round_trip_and_unknown_keys() -> None:
    cfg = run_config(width={"x": 0.5, "y": 0.7}, memory_limit_mb=123.0)
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and config_hash(again) == config_hash(cfg)
    with pytest.raises(ValueError, match="unknown RunConfig keys"):
        RunConfig.from_dict({**cfg.to_dict(), "stepz": 3})


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"derivatives": "fd"}, "derivatives must be"),
        ({"derivatives": "direct"}, "direct run has arch=None"),
        ({"arch": "resnet"}, "arch must be"),
        ({"steps": 0}, "steps must be a positive"),
        ({"lr": -1.0}, "lr must be"),
        ({"network": {"hiden": 8}}, r"network options \{'hiden': 8\}.*hiden"),
        ({"network": {"hidden": "8"}}, "hidden must be an integer"),
        ({"device": "tpu"}, "device must be"),
        ({"width": {"x": -1.0}}, "width"),
        ({"time_limit_s": 0.0}, "time_limit_s"),
    ],
)
def test_run_config_validation(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_config(**kw)


def test_probe_steps_are_bounded() -> None:
    from mollifier_bench.config import MAX_PROBE_STEPS

    assert run_config(probe_steps=MAX_PROBE_STEPS).probe_steps == MAX_PROBE_STEPS
    with pytest.raises(ValueError, match=r"probe_steps must be an integer in 0\.\.15"):
        run_config(probe_steps=MAX_PROBE_STEPS + 1)


def test_dataset_and_matrix_validation() -> None:
    with pytest.raises(ValueError, match="task must be"):
        DatasetSpec(task="wave", n=32, noise=0.0)
    with pytest.raises(ValueError, match="noise must be"):
        DatasetSpec(task="heat", n=32, noise=1.5)
    with pytest.raises(ValueError, match="length applies"):
        DatasetSpec(task="heat", n=32, noise=0.0, length=2.0)
    with pytest.raises(ValueError, match="unknown archs"):
        MatrixSpec(task="heat", n=16, archs=("cnn",))
    block = MatrixSpec(task="heat", n=16, archs=("mlp",), noises=(0.0, 0.05), seeds=(0, 1, 2))
    assert len(block.datasets()) == 6
    assert DS.key().startswith("chromatin-n32-noise0.01-seed0-")
    with pytest.raises(ValueError, match="studies must be distinct"):
        TierConfig(name="t", description="", matrix=(), studies=("matrix", "matrix"))


@pytest.mark.parametrize("name", sorted(TIERS))
def test_tier_pairs_differ_only_in_the_backend(name: str) -> None:
    """The fairness rule: each autodiff run has a mollifier twin with identical options."""
    tier = get_tier(name)
    runs = matrix_runs(tier, device="cpu", threads=tier.threads)
    network_runs = [r for r in runs if r.derivatives != "direct"]
    assert network_runs, name
    by_twin: dict[str, set[str]] = {}
    for r in network_runs:
        twin = config_hash(dataclasses.replace(r, derivatives="mollifier"))
        by_twin.setdefault(twin, set()).add(r.derivatives)
    for block in tier.matrix:
        if set(block.derivatives) == {"autodiff", "mollifier"}:
            assert any(v == {"autodiff", "mollifier"} for v in by_twin.values())
    assert all("mollifier" in v for v in by_twin.values())
    # one direct row per dataset that asked for it, never duplicated
    direct = [r for r in runs if r.derivatives == "direct"]
    assert len({config_hash(r) for r in direct}) == len(direct)


def test_get_tier_names_the_choices() -> None:
    with pytest.raises(ValueError, match="full"):
        get_tier("huge")
