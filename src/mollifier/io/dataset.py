"""The project's own dataset format: ``DIR/data.npz`` plus ``DIR/meta.json``.

Every simulator writes it and every solver reads it. The array names in ``data.npz`` are a contract:

* one 1-D coordinate vector per axis, named after the axis (``t``; ``x``, ``y``);
* each observed field under its own name (``u``; ``phi_w``, ``phi_d``), shaped like the grid and
  indexed in axis order (``[x, y]`` or ``[t]``);
* the noise-free version of an observed field as ``<name>_clean``;
* known inputs of the equation (for example the heat source ``m``) under their own names;
* the true values of the unknowns (for example ``lam``) under their own names: a 0-d array for a
  constant, or an array over the axes listed in ``meta.json``;
* an optional boolean observation ``mask`` shaped like the grid (``True`` = observed).

``meta.json`` records the equation, the axes, which array plays which role, the noise model and its
seed, the generator's parameters and the generator version, so that a dataset is self-describing.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mollifier._json import to_jsonable

__all__ = ["FORMAT_VERSION", "Dataset", "DatasetError", "load_dataset", "save_dataset"]

FORMAT_VERSION = 1
_FORMAT_NAME = "mollifier-dataset"


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, truncated or inconsistent."""


def _generator_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mollifier {version('mollifier')}"
    except PackageNotFoundError:  # running from a source tree without installation
        return "mollifier (uninstalled)"


def _as_float_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise DatasetError(f"array {name!r} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise DatasetError(f"array {name!r} is complex; pass its real part explicitly")
    return arr.astype(np.float64, copy=False)


@dataclass(frozen=True)
class Dataset:
    """Gridded observations with their provenance and, when known, the true parameters.

    Parameters
    ----------
    equation : str
        Name of the equation that generated or governs the data (``"langevin"``, ``"heat"``,
        ``"chromatin"`` or free text for external data).
    coords : mapping of str to ndarray
        Axis name to its 1-D coordinate vector, in grid order. Physical units are the caller's.
    fields : mapping of str to ndarray
        Observed (possibly noisy) fields, each of shape ``tuple(len(c) for c in coords.values())``.
    clean : mapping of str to ndarray, optional
        Noise-free versions of some observed fields, keyed by the observed field's name.
    known : mapping of str to ndarray or float, optional
        Known inputs of the equation, shaped like the grid or scalars.
    truth : mapping of str to ndarray or float, optional
        True values of the unknowns: a float for a constant, an array for a field.
    truth_axes : mapping of str to tuple of str, optional
        The axes each array in ``truth`` spans, in order. Defaults to all axes for arrays whose
        shape is the grid's, and to ``()`` for scalars.
    noise : mapping, optional
        Description of the noise model, e.g. ``{"model": "gaussian",
        "sigma": 0.01, "relative_to": "std"}``.
    seed : int or None
        Seed of the random generator that produced the data.
    params : mapping, optional
        Generator parameters. ``noise``, ``params`` and ``seed`` are held as ``meta.json`` will
        hold them (:func:`mollifier._json.to_jsonable`): numpy scalars and arrays become numbers
        and lists, paths strings, NaN and ±inf ``None``; other values that JSON cannot hold are
        refused.
    mask : ndarray of bool, optional
        Observation mask shaped like the grid; ``True`` marks observed nodes.
    generator : str, optional
        Name and version of the program that wrote the data.
    """

    equation: str
    coords: Mapping[str, np.ndarray]
    fields: Mapping[str, np.ndarray]
    clean: Mapping[str, np.ndarray] = field(default_factory=dict)
    known: Mapping[str, Any] = field(default_factory=dict)
    truth: Mapping[str, Any] = field(default_factory=dict)
    truth_axes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    noise: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    mask: np.ndarray | None = None
    generator: str = field(default_factory=_generator_version)

    def __post_init__(self) -> None:
        if not self.coords:
            raise DatasetError("a dataset needs at least one coordinate axis")
        coords = {str(k): _as_float_array(k, v) for k, v in self.coords.items()}
        for name, c in coords.items():
            if c.ndim != 1 or c.size < 2:
                raise DatasetError(f"coordinate {name!r} must be a 1-D vector of >= 2 points")
            if not np.all(np.isfinite(c)):
                raise DatasetError(f"coordinate {name!r} contains NaN or inf")
        shape = tuple(c.size for c in coords.values())
        object.__setattr__(self, "coords", coords)

        def grid_array(role: str, name: str, value: Any) -> np.ndarray:
            arr = _as_float_array(name, value)
            if arr.shape != shape:
                raise DatasetError(
                    f"{role} {name!r} has shape {arr.shape}, but the grid "
                    f"{tuple(coords)} has shape {shape}"
                )
            return arr

        if not self.fields:
            raise DatasetError("a dataset needs at least one observed field")
        fields = {k: grid_array("field", k, v) for k, v in self.fields.items()}
        clean = {k: grid_array("clean field", k, v) for k, v in self.clean.items()}
        for name in clean:
            if name not in fields:
                raise DatasetError(f"clean field {name!r} has no observed counterpart")
        known = {}
        for k, v in self.known.items():
            arr = _as_float_array(k, v)
            known[k] = float(arr) if arr.ndim == 0 else grid_array("known input", k, arr)
        truth: dict[str, Any] = {}
        truth_axes: dict[str, tuple[str, ...]] = {}
        for k, v in self.truth.items():
            arr = _as_float_array(k, v)
            axes = tuple(self.truth_axes.get(k, () if arr.ndim == 0 else tuple(coords)))
            unknown_axes = [a for a in axes if a not in coords]
            if unknown_axes:
                raise DatasetError(f"truth {k!r} spans unknown axes {unknown_axes}")
            expected = tuple(coords[a].size for a in axes)
            if arr.shape != expected:
                raise DatasetError(
                    f"truth {k!r} has shape {arr.shape}, expected {expected} over axes {axes}"
                )
            truth[k] = float(arr) if arr.ndim == 0 else arr
            truth_axes[k] = axes
        extra = set(self.truth_axes) - set(truth)
        if extra:
            raise DatasetError(f"truth_axes names {sorted(extra)} that are not in truth")
        mask = None
        if self.mask is not None:
            mask = np.asarray(self.mask)
            if mask.dtype != bool or mask.shape != shape:
                raise DatasetError(f"mask must be a boolean array of shape {shape}")
        names = (
            list(coords)
            + list(fields)
            + [f"{k}_clean" for k in clean]
            + list(known)
            + list(truth)
            + (["mask"] if mask is not None else [])
        )
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DatasetError(f"array names must be unique across roles; repeated: {dup}")
        for name, arr in fields.items():
            if mask is None and not np.all(np.isfinite(arr)):
                raise DatasetError(f"field {name!r} contains NaN or inf and there is no mask")
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "clean", clean)
        object.__setattr__(self, "known", known)
        object.__setattr__(self, "truth", truth)
        object.__setattr__(self, "truth_axes", truth_axes)
        object.__setattr__(self, "mask", mask)
        # held as meta.json will hold them, so that a saved dataset loads back equal
        provenance = to_jsonable({"noise": self.noise, "params": self.params, "seed": self.seed})
        try:
            json.dumps(provenance, allow_nan=False)
        except TypeError as exc:
            raise DatasetError(f"noise, params and seed must be JSON-serialisable: {exc}") from exc
        object.__setattr__(self, "noise", provenance["noise"])
        object.__setattr__(self, "params", provenance["params"])
        object.__setattr__(self, "seed", provenance["seed"])

    @property
    def axes(self) -> tuple[str, ...]:
        """Axis names in grid order."""
        return tuple(self.coords)

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape, ``(len(coords[a]) for a in axes)``."""
        return tuple(c.size for c in self.coords.values())

    def meta(self) -> dict[str, Any]:
        """The JSON document written to ``meta.json``."""
        return {
            "format": _FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "equation": self.equation,
            "axes": list(self.axes),
            "shape": list(self.shape),
            "fields": list(self.fields),
            "clean": list(self.clean),
            "known": list(self.known),
            "truth": {
                k: {
                    "axes": list(self.truth_axes[k]),
                    "value": v if isinstance(v, float) else None,
                }
                for k, v in self.truth.items()
            },
            "mask": self.mask is not None,
            "noise": dict(self.noise),
            "seed": self.seed,
            "params": dict(self.params),
            "generator": self.generator,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to ``data.npz``, under their contract names."""
        out: dict[str, np.ndarray] = dict(self.coords)
        out.update(self.fields)
        out.update({f"{k}_clean": v for k, v in self.clean.items()})
        out.update({k: np.asarray(v) for k, v in self.known.items()})
        out.update({k: np.asarray(v) for k, v in self.truth.items()})
        if self.mask is not None:
            out["mask"] = self.mask
        return out


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_dataset(dataset: Dataset, directory: str | os.PathLike[str]) -> Path:
    """Write ``dataset`` to ``directory/data.npz`` and ``directory/meta.json``.

    Files are written to temporary names and renamed into place, so an interrupted write never
    leaves a half-written dataset under the final names. Returns the directory.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    arrays = dataset.arrays()

    def write_npz(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    def write_json(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(dataset.meta(), fh, indent=2, sort_keys=False)
            fh.write("\n")

    _atomic_write(out / "data.npz", write_npz)
    _atomic_write(out / "meta.json", write_json)
    return out


def load_dataset(directory: str | os.PathLike[str]) -> Dataset:
    """Read a dataset written by :func:`save_dataset`.

    Raises
    ------
    DatasetError
        If a file is missing, is not valid JSON or npz, is truncated, lacks an array that
        ``meta.json`` names, or holds arrays inconsistent with the grid. The message names the
        file and the problem.
    """
    root = Path(directory)
    meta_path, npz_path = root / "meta.json", root / "data.npz"
    for p in (meta_path, npz_path):
        if not p.is_file():
            raise DatasetError(f"{p}: file not found (a dataset is data.npz plus meta.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT_NAME:
        raise DatasetError(f"{meta_path}: not a {_FORMAT_NAME} meta file")
    version = meta.get("format_version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise DatasetError(
            f"{meta_path}: format_version {meta.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    required = ["equation", "axes", "fields", "clean", "known", "truth", "mask"]
    missing = [k for k in required if k not in meta]
    if missing:
        raise DatasetError(f"{meta_path}: missing keys {missing}")
    for key in ("axes", "fields", "clean", "known"):
        if not isinstance(meta[key], list) or not all(isinstance(v, str) for v in meta[key]):
            raise DatasetError(f"{meta_path}: {key!r} must be a list of names")
    truth_meta = meta["truth"]
    if not isinstance(truth_meta, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("axes"), list) for v in truth_meta.values()
    ):
        raise DatasetError(f"{meta_path}: 'truth' must map each name to {{'axes': [...], ...}}")
    if not isinstance(meta["mask"], bool):
        raise DatasetError(f"{meta_path}: 'mask' must be true or false")
    seed = meta.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise DatasetError(f"{meta_path}: 'seed' must be an integer or null, got {seed!r}")
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{npz_path}: corrupt or truncated npz file ({exc})") from exc

    def take(name: str) -> np.ndarray:
        if name not in arrays:
            raise DatasetError(f"{npz_path}: array {name!r} named in meta.json is missing")
        return arrays[name]

    try:
        return Dataset(
            equation=str(meta["equation"]),
            coords={a: take(a) for a in meta["axes"]},
            fields={k: take(k) for k in meta["fields"]},
            clean={k: take(f"{k}_clean") for k in meta["clean"]},
            known={k: take(k) for k in meta["known"]},
            truth={k: take(k) for k in meta["truth"]},
            truth_axes={k: tuple(v["axes"]) for k, v in meta["truth"].items()},
            noise=meta.get("noise", {}),
            seed=meta.get("seed"),
            params=meta.get("params", {}),
            mask=take("mask") if meta["mask"] else None,
            generator=str(meta.get("generator", "unknown")),
        )
    except DatasetError as exc:
        raise DatasetError(f"{root}: {exc}") from exc
