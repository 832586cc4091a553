"""Study configuration for ``mollifier fit CONFIG.toml``: frozen dataclasses parsed from TOML.

Example (every section and key is documented in ``docs/cli.md``)::

    [data]
    path = "burgers.mat"            # a dataset directory (data.npz + meta.json) or a file
    coords = ["x", "t"]             # coordinate arrays in the file (plain files only)
    fields = { u = "usol" }         # residual field name -> array name in the file
    truth = { nu = 0.1 }
    add_noise = 0.01                # optional Gaussian noise, relative to each field's std

    [problem]
    builtin = "burgers"             # or: residual = "my_pde.py:residual" plus [problem.unknowns]

    [mollifier]
    width = "auto"                  # a number, a table of per-axis numbers, or "auto"

    [solver]
    method = "direct"               # the fields of ml.Direct, e.g.
    regularization = { kind = "tikhonov", alpha = 0.1 }
    # or method = "network" with the fields of ml.Network: arch = "pirate", steps, lr, ...

    [distributed]                   # optional: torchrun ... -m mollifier fit, or --nproc N
    split_axis = "x"                # the axis cut into slabs (default: the longest)

Unknown sections or keys raise ``ConfigError`` naming them.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mollifier._conv import resolve_boundary
from mollifier._device import check_device
from mollifier._expr import check_expression, evaluate_expression
from mollifier._options import OptionTypeError, check_fields, show_value
from mollifier._user_code import describe_exception, raised_at
from mollifier.inverse import Direct, Network, Tikhonov, TotalVariation
from mollifier.inverse.network import ARCHITECTURES
from mollifier.inverse.network.distributed import Distributed
from mollifier.inverse.problem import ResidualError
from mollifier.inverse.unknowns import Constant, Field
from mollifier.kernels import get_kernel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "DataConfig",
    "FitConfig",
    "MollifierConfig",
    "ProblemConfig",
    "config_from_document",
    "load_config",
    "load_residual",
    "read_document",
    "solver_from_table",
]


class ConfigError(ValueError):
    """A configuration file that is malformed, names unknown keys or gives a value of the wrong
    type; the message names the section, the key, the value and what was expected."""


def _type_error(where: str, exc: OptionTypeError) -> ConfigError:
    """``exc`` restated in the config's terms: ``[section] key = value: must be ...``."""
    key = f"{where} {exc.field}" if where.endswith("]") else f"{where}.{exc.field}"
    return ConfigError(
        f"{key} = {show_value(exc.value)}: must be {exc.expected} ({exc.owner}.{exc.field})"
    )


def _build(cls: type, table: Any, section: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {show_value(table)}")
    names = {f.name for f in fields(cls)}
    extra = sorted(set(table) - names)
    if extra:
        raise ConfigError(f"[{section}] has unknown keys {extra}; valid keys are {sorted(names)}")
    try:
        return cls(**table)
    except OptionTypeError as exc:
        raise _type_error(f"[{section}]", exc) from None
    except TypeError as exc:
        raise ConfigError(f"[{section}]: {exc}") from None


def _build_options(cls: type, table: Any, section: str) -> Any:
    """A library option object from a table; its ``ValueError`` restated as a config error."""
    try:
        return _build(cls, table, section)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"[{section}]: {exc}") from None


@dataclass(frozen=True)
class DataConfig:
    """Where the observations come from (``[data]``).

    ``truth`` maps an unknown's name to its true value, for metrics: a number (a constant), an
    array file relative to the config (``D = "D_true.npy"``, shaped like the grid), or an
    expression of the coordinate names (``D = "expr: 1 + 0.5*sin(pi*x)*cos(pi*y)"``), evaluated
    on the grid with numpy's functions and nothing else (:mod:`mollifier._expr`).
    """

    path: str
    coords: list[str] = field(default_factory=list)
    fields: dict[str, str] | list[str] = field(default_factory=list)
    #: For a ``.npy`` node table: the name of every column (``["t", "x", "y", "u"]``).
    columns: list[str] = field(default_factory=list)
    known: dict[str, str | float] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    add_noise: float = 0.0
    noise_seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.path:
            raise ConfigError("[data] path must be a non-empty string")
        if self.add_noise < 0:
            raise ConfigError(f"[data] add_noise = {self.add_noise}: must be non-negative")
        for key, value in self.truth.items():
            _check_truth(key, value)

    def resolve_truth(self, coords: Mapping[str, Any], base: str | Path) -> dict[str, Any]:
        """``truth`` with array files loaded (relative to ``base``, the config's folder) and
        expressions evaluated on the grid ``coords`` (axis name to 1-D vector, grid order)."""
        out: dict[str, Any] = {}
        for key, value in self.truth.items():
            if not isinstance(value, str):
                out[key] = value
            elif value.startswith(_EXPR_PREFIX):
                try:
                    out[key] = evaluate_expression(value[len(_EXPR_PREFIX) :], coords)
                except ValueError as exc:
                    raise ConfigError(f"[data] truth.{key} = {value!r}: {exc}") from None
            else:
                file = Path(value) if Path(value).is_absolute() else Path(base) / value
                if not file.is_file():
                    raise ConfigError(f"[data] truth.{key}: array file {file} not found")
                try:
                    arr = np.load(file, allow_pickle=False)
                except (ValueError, OSError, EOFError) as exc:
                    raise ConfigError(
                        f"[data] truth.{key}: {file} is not a readable .npy array ({exc})"
                    ) from None
                if not isinstance(arr, np.ndarray):
                    raise ConfigError(
                        f"[data] truth.{key}: {file} is an .npz archive; save one array as .npy"
                    )
                out[key] = arr
        return out


_EXPR_PREFIX = "expr:"
_TRUTH_FORMS = (
    'a number (a constant), an array file relative to the config ("D_true.npy"), or an '
    'expression of the coordinates ("expr: 1 + 0.5*sin(pi*x)*cos(pi*y)")'
)


def _check_truth(key: str, value: Any) -> None:
    """Refuse a ``[data] truth`` entry that is none of the accepted forms, naming the key."""
    if isinstance(value, str):
        if value.startswith(_EXPR_PREFIX):
            try:
                check_expression(value[len(_EXPR_PREFIX) :])
            except ValueError as exc:
                raise ConfigError(f"[data] truth.{key} = {value!r}: {exc}") from None
            return
        if value.strip().lower().endswith(".npy"):
            return
    elif _is_number(value):
        return
    elif isinstance(value, list):
        try:
            flat = np.asarray(value, dtype=object).ravel()
        except ValueError:  # ragged nesting
            flat = np.asarray([None], dtype=object)
        if flat.size and all(_is_number(v) for v in flat):
            return
    raise ConfigError(
        f"[data] truth.{key} = {show_value(value)} is not accepted; give {_TRUTH_FORMS}"
    )


def _is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and bool(np.isfinite(float(value)))
    )


@dataclass(frozen=True)
class ProblemConfig:
    """The equation (``[problem]``): a built-in problem or a custom residual with its unknowns."""

    builtin: str | None = None
    residual: str | None = None
    unknowns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self)
        if (self.builtin is None) == (self.residual is None):
            raise ConfigError(
                "[problem] needs exactly one of builtin = '...' or residual = 'file.py:function'"
            )
        if self.builtin is not None:
            from mollifier.pdes import BUILTIN_PROBLEMS

            if self.builtin not in BUILTIN_PROBLEMS:
                raise ConfigError(
                    f"[problem] builtin = {self.builtin!r}: must be one of "
                    f"{sorted(BUILTIN_PROBLEMS)}"
                )
        if self.residual is not None:
            if not self.unknowns:
                raise ConfigError("[problem] a custom residual needs [problem.unknowns]")
            if ":" not in self.residual:
                raise ConfigError(
                    f"[problem] residual = {self.residual!r}: must look like 'file.py:function' "
                    "or 'module:function'"
                )
            file = self.residual.rsplit(":", 1)[0]
            if file.endswith(".py") and not Path(file).is_file():
                raise ConfigError(f"[problem] residual = {self.residual!r}: {file} not found")
        for name, spec in self.unknowns.items():
            make_unknown(name, spec)


def make_unknown(name: str, spec: Mapping[str, Any]) -> Constant | Field:
    """The :class:`Constant` or :class:`Field` of a ``[problem.unknowns.<name>]`` table."""
    where = f"[problem.unknowns.{name}]"
    if spec.get("kind") not in ("constant", "field"):
        raise ConfigError(f"{where} needs kind = 'constant' or 'field'")
    options = {k: v for k, v in spec.items() if k != "kind"}
    cls: type[Constant] | type[Field] = Constant if spec["kind"] == "constant" else Field
    if cls is Field and isinstance(options.get("axes"), list):
        options["axes"] = tuple(options["axes"])
    return _instantiate(cls, options, where)


@dataclass(frozen=True)
class MollifierConfig:
    """Mollifier settings (``[mollifier]``)."""

    width: float | dict[str, float] | Literal["auto"] = "auto"
    kernel: str = "polybump"
    boundary: str = "reflect"
    crop: bool = True

    def __post_init__(self) -> None:
        check_fields(self)
        if isinstance(self.width, dict) and not self.width:
            raise ConfigError("[mollifier] width = {}: give a width for every axis")
        for key, value in (("kernel", self.kernel), ("boundary", self.boundary)):
            try:
                get_kernel(value) if key == "kernel" else resolve_boundary(value)
            except ValueError as exc:
                raise ConfigError(f"[mollifier] {key} = {value!r}: {exc}") from None


_REGULARIZATIONS: dict[str, type] = {"tikhonov": Tikhonov, "total_variation": TotalVariation}


def _option_object(kinds: Mapping[str, type], value: Any, where: str) -> Any:
    """An option object from ``"name"`` or ``{ kind = "name", option = value, ... }``."""
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        value = {"kind": value}
    if value["kind"] not in kinds:
        raise ConfigError(
            f"{where} must be one of {sorted(kinds)} or a table with kind = one of them and its "
            f"options; got {show_value(value['kind'])}"
        )
    options = {k: v for k, v in value.items() if k != "kind"}
    return _instantiate(kinds[value["kind"]], options, where)


def _instantiate(
    cls: type, options: Mapping[str, Any], where: str, section: str | None = None
) -> Any:
    """``cls(**options)``; errors name ``where`` (a wrong type: ``section`` and the key)."""
    names = {f.name for f in fields(cls)}
    extra = sorted(set(options) - names)
    if extra:
        raise ConfigError(
            f"{where} has unknown keys {extra} for {cls.__name__}; valid keys are {sorted(names)}"
        )
    try:
        return cls(**options)
    except OptionTypeError as exc:
        raise _type_error(section or where, exc) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def solver_from_table(table: Any) -> Direct | Network:
    """The solver object of a ``[solver]`` table.

    ``method = "direct"`` takes the fields of :class:`~mollifier.Direct` (``regularization =
    "tikhonov"``, ``{ kind = "tikhonov", alpha = "auto" }`` or
    ``{ kind = "total_variation", alpha = 0.05 }``); ``method = "network"`` those
    of :class:`~mollifier.Network` (``arch = "pirate"`` or ``{ kind = "pirate", hidden = 128 }``).
    A key that the chosen solver does not have is an error, never ignored.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"[solver] must be a table, got {show_value(table)}")
    options = dict(table)
    method = options.pop("method", "direct")
    if method == "direct":
        if "regularization" in options:
            options["regularization"] = _option_object(
                _REGULARIZATIONS, options["regularization"], "[solver] regularization"
            )
        return _instantiate(Direct, options, "[solver] (method = 'direct')", "[solver]")
    if method == "network":
        if "arch" in options:
            options["arch"] = _option_object(ARCHITECTURES, options["arch"], "[solver] arch")
        if isinstance(options.get("equation_weights"), list):
            options["equation_weights"] = tuple(options["equation_weights"])
        solver: Network = _instantiate(
            Network, options, "[solver] (method = 'network')", "[solver]"
        )
        try:
            check_device(solver.device)
        except ValueError as exc:
            raise ConfigError(
                f'[solver] device = {solver.device!r}: {exc}; set device = "cpu" in [solver]'
            ) from None
        return solver
    raise ConfigError(f"[solver] method must be 'direct' or 'network', got {show_value(method)}")


@dataclass(frozen=True)
class FitConfig:
    """A whole study: data, problem, mollifier, solver and (for a fit across processes) how
    the grid is split."""

    data: DataConfig
    problem: ProblemConfig
    mollifier: MollifierConfig = field(default_factory=MollifierConfig)
    solver: Direct | Network = field(default_factory=Direct)
    source: str = ""
    distributed: Distributed = field(default_factory=Distributed)


def load_config(path: str | Path) -> FitConfig:
    """Parse and validate a TOML study file; relative data paths are resolved against it.

    A file with a ``[sweep]`` table is a sweep of studies: read it with
    :func:`mollifier.sweep.load_sweep`.
    """
    p = Path(path)
    doc = read_document(p)
    if "sweep" in doc:
        raise ConfigError(f"{p}: has a [sweep] table; read it with mollifier.sweep.load_sweep")
    return config_from_document(doc, p)


def read_document(path: str | Path) -> dict[str, Any]:
    """The TOML document of a config file, parsed but not validated.

    Raises
    ------
    ConfigError
        For a missing or unreadable file, or one that is not valid TOML.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config ({exc.strerror})") from None


def config_from_document(doc: Mapping[str, Any], path: str | Path) -> FitConfig:
    """Validate a parsed config document (the sections ``[data]``, ``[problem]``,
    ``[mollifier]``, ``[solver]``) into a :class:`FitConfig`; relative paths in it are resolved
    against the config file ``path``, which errors name."""
    p = Path(path)
    extra = sorted(set(doc) - {"data", "problem", "mollifier", "solver", "distributed"})
    if extra:
        raise ConfigError(
            f"{p}: unknown sections {extra}; use [data], [problem], [mollifier], [solver], "
            "[distributed]"
        )
    for required in ("data", "problem"):
        if required not in doc:
            raise ConfigError(f"{p}: missing section [{required}]")
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{p}: [{section}] must be a table, got {show_value(table)}")
    data_table = dict(doc["data"])
    if isinstance(data_table.get("path"), str) and not Path(data_table["path"]).is_absolute():
        data_table["path"] = str((p.parent / data_table["path"]).resolve())
    problem_table = dict(doc["problem"])
    residual = problem_table.get("residual")
    if isinstance(residual, str) and ":" in residual:
        file, func = residual.rsplit(":", 1)
        if file.endswith(".py") and not Path(file).is_absolute():
            problem_table["residual"] = f"{(p.parent / file).resolve()}:{func}"
    try:
        return FitConfig(
            data=_build(DataConfig, data_table, "data"),
            problem=_build(ProblemConfig, problem_table, "problem"),
            mollifier=_build(MollifierConfig, doc.get("mollifier", {}), "mollifier"),
            solver=solver_from_table(doc.get("solver", {})),
            source=str(p),
            distributed=_build_options(Distributed, doc.get("distributed", {}), "distributed"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def load_residual(spec: str) -> Any:
    """Import ``"path/to/file.py:function"`` or ``"package.module:function"``.

    Raises
    ------
    ConfigError
        For a malformed spec, a missing file or a missing function.
    ResidualError
        When importing the module fails (a syntax error, an exception at import time, a failed
        import inside it): the message names the residual's file, the line and the exception.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(
            f"residual {spec!r} must look like 'file.py:function' or 'module:function'"
        )
    target, name = spec.rsplit(":", 1)
    if target.endswith(".py"):
        file = Path(target)
        if not file.is_file():
            raise ConfigError(f"residual module {file} not found")
        module_spec = importlib.util.spec_from_file_location(file.stem, file)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"cannot import {file}")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise _import_failure(str(file), exc) from exc
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise _import_failure(target, exc) from exc
    try:
        fn = getattr(module, name)
    except AttributeError:
        raise ConfigError(f"{target} has no function {name!r}") from None
    if not callable(fn):
        raise ConfigError(f"{target}:{name} is not callable")
    return fn


def _import_failure(target: str, exc: BaseException) -> ResidualError:
    """One line for a residual module that fails to import: which module, where, what."""
    at = raised_at(exc, target) if target.endswith(".py") else None
    at = at or raised_at(exc)
    place = f" ({at[0]}, line {at[1]})" if at and at[0] != "<frozen importlib._bootstrap>" else ""
    what = "has a syntax error" if isinstance(exc, SyntaxError) else "failed to import"
    return ResidualError(f"residual module {target} {what}{place}: {describe_exception(exc)}")
