"""The project's dataset format (lead-owned ``mollifier.io.dataset``): round trip, every error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mollifier.io.dataset import FORMAT_VERSION, Dataset, DatasetError, load_dataset, save_dataset

from .conftest import garble, truncate


def _dataset(rng: np.random.Generator, **overrides) -> Dataset:
    x = np.linspace(0.0, 1.0, 6)
    y = np.linspace(0.0, 2.0, 4)
    gx, gy = np.meshgrid(x, y, indexing="ij")
    clean = np.sin(gx) * np.cos(gy)
    noisy = clean + 0.01 * rng.normal(size=clean.shape)
    mask = np.ones(clean.shape, dtype=bool)
    mask[0, 0] = False
    noisy[0, 0] = np.nan  # unobserved node
    kwargs = dict(
        equation="heat",
        coords={"x": x, "y": y},
        fields={"u": noisy},
        clean={"u": clean},
        known={"m": gx * gy, "D": 0.3},
        truth={"lam": 0.5, "k": 1 + gx**2, "profile": 2 * y},
        truth_axes={"profile": ("y",)},
        noise={"model": "gaussian", "sigma": 0.01, "relative_to": "std"},
        seed=1234,
        params={"n": [6, 4], "solver": "exact"},
        mask=mask,
        generator="test-suite 1.0",
    )
    kwargs.update(overrides)
    return Dataset(**kwargs)


def test_numpy_provenance_is_held_as_meta_json_holds_it(tmp_path, rng):
    """numpy scalars and arrays in ``noise``/``params``/``seed`` (what a generator naturally
    passes) are accepted and held as plain JSON values, so a saved dataset loads back equal."""
    ds = _dataset(
        rng,
        seed=np.int64(7),
        noise={"sigma": np.float32(0.25)},
        params={"n": np.array([6, 4]), "dt": np.float64(0.5), "missing": np.nan, "on": np.True_},
    )
    assert ds.seed == 7 and type(ds.seed) is int
    assert ds.noise == {"sigma": 0.25}
    assert ds.params == {"n": [6, 4], "dt": 0.5, "missing": None, "on": True}
    loaded = load_dataset(save_dataset(ds, tmp_path / "ds"))
    assert (loaded.seed, loaded.noise, loaded.params) == (ds.seed, ds.noise, ds.params)
    assert "NaN" not in (tmp_path / "ds" / "meta.json").read_text()  # standard JSON


def _rewrite_npz(directory: Path, **changes) -> None:
    with np.load(directory / "data.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    np.savez_compressed(directory / "data.npz", **arrays)


def _rewrite_meta(directory: Path, **changes) -> None:
    meta = json.loads((directory / "meta.json").read_text())
    meta.update(changes)
    (directory / "meta.json").write_text(json.dumps(meta))


def test_round_trip_preserves_every_role(tmp_path, rng):
    original = _dataset(rng)
    out = save_dataset(original, tmp_path / "ds")
    assert sorted(p.name for p in out.iterdir()) == ["data.npz", "meta.json"]
    loaded = load_dataset(out)
    assert loaded.axes == ("x", "y") and loaded.shape == (6, 4)
    for role in ("coords", "fields", "clean", "known", "truth"):
        a, b = getattr(original, role), getattr(loaded, role)
        assert list(a) == list(b), role
        for name in a:
            np.testing.assert_array_equal(np.asarray(b[name]), np.asarray(a[name]), err_msg=name)
    assert loaded.truth_axes == {"lam": (), "k": ("x", "y"), "profile": ("y",)}
    np.testing.assert_array_equal(loaded.mask, original.mask)
    assert loaded.noise == original.noise and loaded.params == original.params
    assert (loaded.seed, loaded.generator, loaded.equation) == (1234, "test-suite 1.0", "heat")
    assert loaded.meta() == original.meta()


def test_array_names_follow_the_contract(tmp_path, rng):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    with np.load(out / "data.npz") as npz:
        names = set(npz.files)
        assert npz["lam"].shape == () and float(npz["lam"]) == 0.5
        assert npz["mask"].dtype == bool
    assert names == {"x", "y", "u", "u_clean", "m", "D", "lam", "k", "profile", "mask"}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == "mollifier-dataset" and meta["format_version"] == FORMAT_VERSION
    assert meta["truth"]["lam"] == {"axes": [], "value": 0.5}


def test_interrupted_save_leaves_no_partial_files(tmp_path, rng, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", fail)
    with pytest.raises(OSError, match="disk full"):
        save_dataset(_dataset(rng), tmp_path / "ds")
    assert list((tmp_path / "ds").iterdir()) == []


@pytest.mark.parametrize("missing", ["data.npz", "meta.json", None])
def test_missing_files(tmp_path, rng, missing):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    target = out / missing if missing else tmp_path / "nowhere"
    if missing:
        target.unlink()
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(target if missing is None else out)
    assert "file not found" in str(excinfo.value)
    assert str(target if missing else target / "meta.json") in str(excinfo.value)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: truncate(p, 0.5),
        lambda p: p.write_bytes(b"not a zip file"),
        lambda p: garble(p, 0),
    ],
    ids=["truncated", "replaced", "garbled-magic"],
)
def test_corrupt_npz(tmp_path, rng, damage):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    damage(out / "data.npz")
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(out)
    assert str(out / "data.npz") in str(excinfo.value)
    assert "corrupt or truncated" in str(excinfo.value)


def test_corrupt_compressed_member_is_a_dataset_error(tmp_path, rng):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    garble(out / "data.npz", start=100, count=50)
    with pytest.raises(DatasetError, match="corrupt"):
        load_dataset(out)


def test_missing_array(tmp_path, rng):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    _rewrite_npz(out, u_clean=None)
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(out)
    assert str(out / "data.npz") in str(excinfo.value)
    assert "'u_clean' named in meta.json is missing" in str(excinfo.value)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"u": np.zeros((4, 6))}, ["field 'u' has shape (4, 6)", "(6, 4)"]),
        ({"m": np.zeros((6, 5))}, ["known input 'm'"]),
        ({"profile": np.zeros(6)}, ["truth 'profile'", "('y',)"]),
        ({"x": np.zeros((2, 3))}, ["coordinate 'x'", "1-D"]),
        ({"mask": np.ones((6, 4))}, ["mask", "boolean"]),
        ({"u": np.full((6, 4), "a")}, ["'u'", "numeric"]),
    ],
    ids=["field", "known", "truth", "coordinate", "mask", "text"],
)
def test_inconsistent_arrays(tmp_path, rng, changes, words):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    _rewrite_npz(out, **changes)
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(out)
    assert str(out) in str(excinfo.value)
    for word in words:
        assert word in str(excinfo.value)


@pytest.mark.parametrize(
    ("write", "words"),
    [
        (lambda p: p.write_text("{not json"), ["not valid JSON"]),
        (lambda p: p.write_bytes(b"\xff\xfe\x00"), ["not valid JSON"]),
        (lambda p: p.write_text("[1, 2]"), ["not a mollifier-dataset meta file"]),
        (lambda p: _rewrite_meta(p.parent, format="other"), ["not a mollifier-dataset"]),
        (lambda p: _rewrite_meta(p.parent, format_version=2), ["format_version 2", "reads 1"]),
        (lambda p: _rewrite_meta(p.parent, format_version="1"), ["format_version '1'"]),
    ],
    ids=["syntax", "binary", "not-an-object", "format", "version", "version-string"],
)
def test_bad_meta(tmp_path, rng, write, words):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    write(out / "meta.json")
    with pytest.raises(DatasetError) as excinfo:
        load_dataset(out)
    assert str(out / "meta.json") in str(excinfo.value)
    for word in words:
        assert word in str(excinfo.value)


def test_meta_missing_keys(tmp_path, rng):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    meta = json.loads((out / "meta.json").read_text())
    del meta["fields"], meta["mask"]
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=r"missing keys \['fields', 'mask'\]"):
        load_dataset(out)


@pytest.mark.parametrize("truth", [["lam", "k", "profile"], {"lam": {}, "k": {}, "profile": {}}])
def test_malformed_meta_structure_is_a_dataset_error(tmp_path, rng, truth):
    out = save_dataset(_dataset(rng), tmp_path / "ds")
    _rewrite_meta(out, truth=truth)
    with pytest.raises(DatasetError):
        load_dataset(out)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"coords": {}}, "at least one coordinate axis"),
        ({"fields": {}, "clean": {}}, "at least one observed field"),
        ({"clean": {"v": np.zeros((6, 4))}}, "no observed counterpart"),
        ({"known": {"u": 1.0}}, "unique across roles"),
        ({"mask": None}, "contains NaN or inf and there is no mask"),
        ({"truth_axes": {"profile": ("z",)}}, "unknown axes"),
        ({"truth_axes": {"profile": ("y",), "nope": ()}}, "not in truth"),
        ({"params": {"f": object()}}, "JSON-serialisable"),
        ({"coords": {"x": np.linspace(0, 1, 6), "y": [0.0, 1.0, np.inf, 3.0]}}, "NaN or inf"),
        ({"known": {"m": np.zeros(3) + 1j}}, "complex"),
    ],
)
def test_dataset_validation(rng, overrides, words):
    with pytest.raises(DatasetError, match=words):
        _dataset(rng, **overrides)
