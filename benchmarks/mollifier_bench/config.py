"""Configuration of the benchmark: one run, one matrix block, the studies and the tiers.

Everything is a frozen dataclass validated in ``__post_init__``. A :class:`RunConfig` is the unit
that is cached: its canonical JSON (sorted keys, no whitespace) is hashed with SHA-256 and the
record of a finished run is stored as ``runs/<hash>.json``. The tiers (``smoke``, ``cpu``,
``full``) are plain data in :mod:`mollifier_bench.tiers`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mollifier.inverse.network import ARCHITECTURES, Network

__all__ = [
    "ARCHS",
    "DERIVATIVES",
    "MAX_PROBE_STEPS",
    "STUDIES",
    "TASKS",
    "TASK_ORDER",
    "AccuracySpec",
    "DatasetSpec",
    "MatrixSpec",
    "RunConfig",
    "ScalingSpec",
    "TierConfig",
    "canonical_json",
    "config_hash",
]

#: The most steps a probe may time after its first, untimed one
#: (:func:`mollifier_bench.run.probe_step_time`): a short probe, not a second run.
MAX_PROBE_STEPS = 15

#: The benchmark's tasks and the highest derivative order of their residuals.
TASK_ORDER: dict[str, int] = {"langevin": 1, "heat": 2, "chromatin": 4}
TASKS = tuple(TASK_ORDER)
ARCHS = tuple(ARCHITECTURES)
#: ``"direct"`` is the network-free weak-form least-squares solver.
DERIVATIVES = ("autodiff", "mollifier", "direct")
DTYPES = ("float32", "float64")
STUDIES = ("matrix", "scaling", "accuracy")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the text that :func:`config_hash` hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(obj: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``obj`` (a dataclass or a JSON-able value)."""
    payload = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _pairs(name: str, value: Mapping[str, Any] | tuple[tuple[str, Any], ...]) -> tuple:
    items = value.items() if isinstance(value, Mapping) else value
    out = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"{name} must be a mapping of str to value, got item {item!r}")
        out.append(item)
    return tuple(sorted(out))


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _noise(value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value < 1):
        raise ValueError(f"noise must be a fraction in [0, 1), got {value!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """A simulated dataset, simulated once and reused by every run on it.

    Parameters
    ----------
    task : {"langevin", "heat", "chromatin"}
    n : int
        Grid nodes per axis (output times for ``langevin``).
    noise : float
        Gaussian measurement noise, as a fraction of each clean field's standard deviation.
    seed : int
        Seeds the simulator (ground truth, initial condition and noise).
    length : float, optional
        Side of the chromatin domain (model units; default the simulator's 10).
    """

    task: str
    n: int
    noise: float
    seed: int = 0
    length: float | None = None

    def __post_init__(self) -> None:
        if self.task not in TASK_ORDER:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if not isinstance(self.n, int) or self.n < 8:
            raise ValueError(f"n must be an integer >= 8, got {self.n!r}")
        _noise(self.noise)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.length is not None:
            if self.task != "chromatin":
                raise ValueError("length applies to the chromatin task only")
            _positive("length", self.length)

    @property
    def order(self) -> int:
        """Highest derivative order of the task's residual."""
        return TASK_ORDER[self.task]

    def key(self) -> str:
        """Directory name of the cached dataset: readable prefix plus a short hash."""
        return f"{self.task}-n{self.n}-noise{self.noise:g}-seed{self.seed}-{config_hash(self)[:10]}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunConfig:
    """One benchmark run: a dataset, a solver and its options.

    Parameters
    ----------
    dataset : DatasetSpec
    derivatives : {"autodiff", "mollifier", "direct"}
        Derivative backend of the network solver, or the network-free direct solver.
    arch : {"mlp", "pirate", "pinnsformer"} or None
        Network architecture; ``None`` for ``derivatives="direct"``.
    steps : int
        Adam step budget (0 for direct).
    lr : float
        Adam learning rate (cosine-decayed to ``lr / 100``).
    network : mapping
        Architecture options (``hidden``, ``depth``, ...), stored as sorted pairs.

    The network options (arch, derivatives, steps, lr, network, dtype, device) are those of
    :class:`mollifier.Network`, which :meth:`solver` builds and which checks them.
    width : mapping of axis to float
        Explicit mollifier widths, chosen once per dataset and shared by every run on it.
    dtype : {"float32", "float64"}
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    threads : int
        ``torch.set_num_threads`` in the run's process (0: torch's default).
    probe_steps : int
        Steps timed in a short probe before the run (0 disables it; at most 15), after one
        untimed step; their median is the probe's step time. The probe gives the step
        time and memory even when the run is then killed, and lets a run whose projected time
        exceeds ``time_limit_s`` be skipped as ``over_budget``.
    time_limit_s : float
        Wall-clock limit of the run's process; past it the run is killed and recorded.
    memory_limit_mb : float, optional
        Address-space limit (CPU only) added to the process's size before the run; an allocation
        past it is recorded as ``out_of_memory`` instead of endangering the machine.
    """

    dataset: DatasetSpec
    derivatives: str
    arch: str | None
    steps: int
    lr: float = 3e-3
    network: tuple[tuple[str, Any], ...] = ()
    width: tuple[tuple[str, float], ...] = ()
    dtype: str = "float32"
    device: str = "cpu"
    threads: int = 0
    probe_steps: int = 3
    time_limit_s: float = 1800.0
    memory_limit_mb: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetSpec):
            raise ValueError(f"dataset must be a DatasetSpec, got {self.dataset!r}")
        if self.derivatives not in DERIVATIVES:
            raise ValueError(f"derivatives must be one of {DERIVATIVES}, got {self.derivatives!r}")
        if self.derivatives == "direct":
            if self.arch is not None or self.steps != 0:
                raise ValueError("a direct run has arch=None and steps=0")
        elif self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        object.__setattr__(self, "network", _pairs("network", self.network))
        object.__setattr__(self, "width", _pairs("width", self.width))
        for axis, w in self.width:
            _positive(f"width[{axis!r}]", w)
        if self.derivatives != "direct":
            if not isinstance(self.steps, int) or self.steps < 1:
                raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
            self.solver(steps=self.steps, read_off=False)  # the solver checks its own options
        else:
            _positive("lr", self.lr)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(f"threads must be a non-negative integer, got {self.threads!r}")
        if not isinstance(self.probe_steps, int) or not 0 <= self.probe_steps <= MAX_PROBE_STEPS:
            raise ValueError(
                f"probe_steps must be an integer in 0..{MAX_PROBE_STEPS}, got {self.probe_steps!r}"
            )
        _positive("time_limit_s", self.time_limit_s)
        if self.memory_limit_mb is not None:
            _positive("memory_limit_mb", self.memory_limit_mb)

    def solver(self, *, steps: int, read_off: bool) -> Network:
        """The network solver this run trains for ``steps`` steps: its architecture, backend,
        learning rate, dtype and device, the dataset's seed, early stopping off."""
        if self.arch is None:
            raise ValueError(f"{self.derivatives!r} runs train no network")
        try:
            return Network(
                arch=ARCHITECTURES[self.arch](**dict(self.network)),
                derivatives=self.derivatives,  # type: ignore[arg-type]
                steps=steps,
                lr=self.lr,
                seed=self.dataset.seed,
                dtype=self.dtype,  # type: ignore[arg-type]
                device=self.device,
                patience=None,
                read_off=read_off,
            )
        except TypeError as exc:  # an architecture option it does not have
            raise ValueError(f"network options {dict(self.network)}: {exc}") from None

    @property
    def label(self) -> str:
        """Short human-readable name (progress bar, logs)."""
        d = self.dataset
        who = "direct" if self.derivatives == "direct" else f"{self.arch}/{self.derivatives}"
        return f"{d.task} n={d.n} noise={d.noise:g} seed={d.seed} {who}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dictionary (the record's ``config``); inverse of :meth:`from_dict`."""
        out = asdict(self)
        out["network"] = dict(self.network)
        out["width"] = dict(self.width)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Rebuild from :meth:`to_dict`; unknown keys raise ``ValueError``."""
        data = dict(data)
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(data) - known)
        if extra:
            raise ValueError(f"unknown RunConfig keys {extra}")
        data["dataset"] = DatasetSpec(**data["dataset"])
        data["network"] = tuple(dict(data.get("network", {})).items())
        data["width"] = tuple(dict(data.get("width", {})).items())
        return cls(**data)


@dataclass(frozen=True)
class MatrixSpec:
    """A block of the run matrix: one task and grid, crossed with noises, seeds, archs, backends.

    Autodiff and mollifier runs of the same (arch, noise, seed) differ *only* in
    ``derivatives``: same network, steps, learning rate, seed and widths.
    ``direct=True`` adds the network-free solver's row for each (noise, seed).
    """

    task: str
    n: int
    archs: tuple[str, ...]
    noises: tuple[float, ...] = (0.01,)
    seeds: tuple[int, ...] = (0,)
    derivatives: tuple[str, ...] = ("autodiff", "mollifier")
    steps: int = 1000
    lr: float = 3e-3
    network: tuple[tuple[str, Any], ...] = ()
    direct: bool = True
    length: float | None = None

    def __post_init__(self) -> None:
        if self.task not in TASK_ORDER:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        bad = [a for a in self.archs if a not in ARCHS]
        if bad:
            raise ValueError(f"unknown archs {bad}; choose from {ARCHS}")
        bad = [d for d in self.derivatives if d not in ("autodiff", "mollifier")]
        if bad:
            raise ValueError(f"derivatives must be 'autodiff' or 'mollifier', got {bad}")
        if not self.noises or not self.seeds:
            raise ValueError("a matrix block needs at least one noise level and one seed")
        for v in self.noises:
            _noise(v)
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        _positive("lr", self.lr)
        object.__setattr__(self, "network", _pairs("network", self.network))

    def datasets(self) -> list[DatasetSpec]:
        """The datasets of this block, one per (noise, seed)."""
        return [
            DatasetSpec(task=self.task, n=self.n, noise=nz, seed=s, length=self.length)
            for nz in self.noises
            for s in self.seeds
        ]


@dataclass(frozen=True)
class ScalingSpec:
    """Derivative cost against order (on grid ``order_n``) and grid size (at ``grid_order``).

    Each point is one :class:`~mollifier_bench.cost.StepCostConfig` (a data-fit step with an
    ``∂ₓᵏ`` penalty) for each method in ``none`` (the floor), ``mollifier`` and ``autodiff``.
    """

    orders: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    order_n: int = 64
    grid_sizes: tuple[int, ...] = (64, 128, 256, 512)
    grid_order: int = 4
    arch: str = "mlp"
    hidden: int = 64
    depth: int = 4
    steps: int = 5
    warmup: int = 2
    width_points: float = 6.0

    def __post_init__(self) -> None:
        if any(not 1 <= k <= 6 for k in self.orders) or not 1 <= self.grid_order <= 6:
            raise ValueError("orders must lie in 1..6")
        if any(n < 16 for n in (*self.grid_sizes, self.order_n)):
            raise ValueError("grid sizes must be >= 16")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.steps < 1 or self.warmup < 0:
            raise ValueError("need steps >= 1 and warmup >= 0")
        _positive("width_points", self.width_points)


@dataclass(frozen=True)
class AccuracySpec:
    """The cross-method derivative-accuracy table on noisy periodic 1-D data.

    The signal is ``u(x) = sin x + ½ cos 3x + ¼ sin 5x`` on ``n`` periodic nodes of ``[0, 2π)``;
    noise is Gaussian, relative to ``std(u)``. ``width`` is the mollifier support radius (and
    sets the other methods' matched windows and cut-offs); ``None`` chooses it per order and
    noise level by the spectral risk rule of :func:`mollifier.inverse.autowidth.choose_widths`.
    ``network_steps`` Adam steps then ``network_lbfgs_steps`` L-BFGS iterations fit the network
    whose autodiff derivative is one of the methods (``network_steps=0`` leaves it out).
    """

    orders: tuple[int, ...] = (1, 2, 4)
    noises: tuple[float, ...] = (0.0, 0.01, 0.05)
    n: int = 256
    width: float | None = None
    seed: int = 0
    network_steps: int = 1000
    network_lbfgs_steps: int = 300
    network_hidden: int = 32
    network_depth: int = 3

    def __post_init__(self) -> None:
        if any(not 1 <= k <= 6 for k in self.orders) or not self.orders:
            raise ValueError("orders must be a non-empty tuple of values in 1..6")
        for v in self.noises:
            _noise(v)
        if self.n < 32:
            raise ValueError(f"n must be >= 32, got {self.n}")
        if self.width is not None:
            _positive("width", self.width)
        if self.network_steps < 0 or self.network_lbfgs_steps < 0:
            raise ValueError("network_steps and network_lbfgs_steps must be >= 0")


@dataclass(frozen=True)
class TierConfig:
    """A benchmark tier: what to run and within which limits.

    Parameters
    ----------
    name : str
    description : str
        What the tier is for and how long it is expected to take (documentation).
    matrix : tuple of MatrixSpec
        The run matrix; blocks run in order (put the headline comparison first).
    scaling : ScalingSpec, optional
    accuracy : AccuracySpec, optional
    device : str
        Default device (``"auto"``: CUDA when available, else CPU).
    threads : int
        Torch threads per run (0: torch's default). One thread makes CPU timings robust to other
        load on the machine; the setting is recorded with every result.
    run_time_limit_s : float
        Per-run wall-clock limit.
    memory_limit_mb : float, optional
        Per-run address-space limit on CPU.
    time_budget_s : float, optional
        Soft budget of the whole tier: runs not started when it is spent are recorded as
        ``skipped`` (not cached), so a later invocation resumes them.
    probe_steps : int
        Probe steps per network run (see :class:`RunConfig`).
    dtype : {"float32", "float64"}
    studies : tuple of {"matrix", "scaling", "accuracy"}
        The order in which the studies run (cheap, guaranteed ones first when the budget is
        tight).
    """

    name: str
    description: str
    matrix: tuple[MatrixSpec, ...]
    scaling: ScalingSpec | None = None
    accuracy: AccuracySpec | None = None
    device: str = "auto"
    threads: int = 0
    run_time_limit_s: float = 1800.0
    memory_limit_mb: float | None = None
    time_budget_s: float | None = None
    probe_steps: int = 3
    dtype: str = "float32"
    studies: tuple[str, ...] = ("matrix", "scaling", "accuracy")

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tier needs a name")
        if not all(isinstance(m, MatrixSpec) for m in self.matrix):
            raise ValueError("matrix must be a tuple of MatrixSpec")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.threads < 0 or not 0 <= self.probe_steps <= MAX_PROBE_STEPS:
            raise ValueError(f"threads must be >= 0 and probe_steps in 0..{MAX_PROBE_STEPS}")
        _positive("run_time_limit_s", self.run_time_limit_s)
        if self.memory_limit_mb is not None:
            _positive("memory_limit_mb", self.memory_limit_mb)
        if self.time_budget_s is not None:
            _positive("time_budget_s", self.time_budget_s)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        bad = [s for s in self.studies if s not in STUDIES] + [
            s for s in set(self.studies) if self.studies.count(s) > 1
        ]
        if bad or not self.studies:
            raise ValueError(f"studies must be distinct names from {STUDIES}, got {self.studies}")
