"""Result of an inverse problem: unknowns, fields, metrics against the truth, history; saving."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mollifier._json import to_jsonable
from mollifier._memory import peak_rss_mb
from mollifier.grid import Grid

__all__ = [
    "UNDERFIT_THRESHOLD",
    "Result",
    "constant_metrics",
    "field_metrics",
    "peak_memory_mb",
    "unexplained_variance",
    "versions",
]

#: A network whose fields leave more than this fraction of a data field's variance unexplained
#: has not fitted the measurements; :meth:`Result.summary` says so.
UNDERFIT_THRESHOLD = 0.25


def versions() -> dict[str, str]:
    """Versions of mollifier and its numerical dependencies, and the Python/platform."""
    import scipy
    import torch

    from mollifier import __version__

    return {
        "mollifier": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def peak_memory_mb(device: str = "cpu") -> float:
    """Peak memory in MiB: on a CUDA ``device``, ``torch.cuda.max_memory_allocated`` (tensor
    memory torch's allocator handed out on that device since its last reset); on any other device,
    the process's peak resident set size as the operating system records it
    (:func:`mollifier._memory.peak_rss_mb`: Linux ``VmHWM``, Windows peak working set, macOS and
    other POSIX ``ru_maxrss`` in their units)."""
    if device.startswith("cuda"):
        import torch

        return float(torch.cuda.max_memory_allocated(device)) / 2**20
    return peak_rss_mb()


def field_metrics(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Pearson r, relative L2 error, median relative error and the medians of the estimate and
    of the truth, all over the same nodes: those in ``mask`` where both are finite.
    ``coverage`` is the fraction of *all* the field's nodes that carry such a value."""
    est = np.asarray(estimate, dtype=float)
    tru = np.broadcast_to(np.asarray(truth, dtype=float), est.shape)
    keep = np.asarray(mask, dtype=bool) & np.isfinite(est) & np.isfinite(tru)
    if keep.sum() < 2:
        return {
            "pearson": float("nan"),
            "rel_l2": float("nan"),
            "median_rel_error": float("nan"),
            "coverage": float(keep.mean()),
            "nodes": int(keep.sum()),
        }
    e, t = est[keep], tru[keep]
    if np.std(t) > 0 and np.std(e) > 0:
        pearson = float(np.corrcoef(e, t)[0, 1])
    else:
        pearson = float("nan")  # a constant truth has no correlation to speak of
    return {
        "pearson": pearson,
        "rel_l2": float(np.linalg.norm(e - t) / np.linalg.norm(t)),
        "median_rel_error": float(np.median(np.abs(e - t) / np.abs(t))),
        "median": float(np.median(e)),
        "truth_median": float(np.median(t)),
        "coverage": float(keep.mean()),
        "nodes": int(keep.sum()),
    }


def unexplained_variance(fitted: np.ndarray, observed: np.ndarray) -> float:
    """Fraction of the data's variance a fitted field leaves unexplained: ``1 − R²``.

    ``Σ (f − y)² / Σ (y − ȳ)²`` over the nodes where ``y`` is finite. 0 is a perfect fit; the
    noise alone gives about ``noise² / (1 + noise²)`` for noise relative to the field's standard
    deviation; 1 is what the constant ``ȳ`` scores, so values near 1 mean the fitted field is
    essentially the data's mean. NaN for constant data.

    Examples
    --------
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> unexplained_variance(y, y)
    0.0
    >>> unexplained_variance(np.full(4, 1.5), y)
    1.0
    """
    f = np.asarray(fitted, dtype=float)
    y = np.asarray(observed, dtype=float)
    if f.shape != y.shape:
        raise ValueError(f"fitted field has shape {f.shape}, the data {y.shape}")
    keep = np.isfinite(y)
    spread = float(np.sum((y[keep] - np.mean(y[keep])) ** 2)) if keep.any() else 0.0
    if spread == 0.0:
        return float("nan")
    return float(np.sum((f[keep] - y[keep]) ** 2) / spread)


def constant_metrics(estimate: float, truth: float) -> dict[str, float]:
    """Relative error of a constant."""
    return {
        "rel_error": float(abs(estimate - truth) / abs(truth)) if truth else float("nan"),
        "abs_error": float(abs(estimate - truth)),
    }


def _summary_value(v: Any) -> Any:
    if isinstance(v, (float, int)):
        return float(v)
    arr = np.asarray(v, dtype=float)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return {"median": None, "mean": None, "min": None, "max": None}
    return {
        "median": float(np.median(finite)),
        "mean": float(np.mean(finite)),
        "min": float(np.min(finite)),
        "max": float(np.max(finite)),
    }


def _fit_lines(fit: dict[str, Any]) -> list[str]:
    """A network's fit diagnosis as summary lines (:mod:`mollifier.inverse.diagnosis`)."""
    lines = []
    for k, d in (fit.get("data") or {}).items():
        judged = d.get("judged_ratio", d["ratio"])
        floor = f", {judged:.3g}x that of 1% noise" if judged < d["ratio"] else ""
        lines.append(
            f"fit of data {k}: misfit {d['ratio']:.3g}x the estimated noise variance{floor} "
            f"(1 - R² {d['unexplained']:.2g}): {d['verdict']}"
        )
        if d["verdict"] == "over-fitted":
            lines.append(f"warning: the network's field {k!r} follows the noise in the data")
        elif d["verdict"] == "partly fitted":
            lines.append(
                f"warning: the network's field {k!r} misses more of the data than the noise "
                "explains; train longer for unknowns that describe the measured pattern"
            )
    for k, r in (fit.get("residual") or {}).items():
        lines.append(f"fit of {k}: final RMS {r['ratio']:.3g} of its initial scale: {r['verdict']}")
    loss = fit.get("loss") or {}
    if loss:
        top = loss["dominant"]
        lines.append(f"dominant loss term: {top} ({loss['share'][top]:.0%} of the final loss)")
    return lines


@dataclass
class Result:
    """What a solver returns.

    Attributes
    ----------
    method : str
        ``"direct"`` or ``"network"`` (with its derivative backend in ``config``).
    unknowns : dict
        A float per constant; an array over the field's axes per field (NaN where the field is
        not identifiable or not estimated, e.g. inside the cropped boundary band).
    unknown_axes : dict
        The axes each unknown spans (``()`` for constants).
    fields : dict
        The fields the residual was evaluated on: the mollified data (direct) or the network's
        fields (network), shaped like the grid.
    residual : ndarray
        The residual at the solution on the grid (NaN outside the evaluated interior); for a
        system of equations, the root-sum-square of the scaled equations
        (:meth:`~mollifier.InverseProblem.residual_maps`).
    equations : dict
        For a system of equations, each equation's residual map in its own units (empty for a
        single equation); ``diagnostics["equation_rms"]`` holds their RMS over the interior.
    interior : ndarray of bool
        Grid nodes where the residual was evaluated.
    history : dict
        Per-step loss terms and unknown values (network solver); empty for direct.
    metrics : dict
        Against the truth, when known: per field ``pearson``, ``rel_l2``,
        ``median_rel_error``; per constant ``rel_error``.
    widths : dict
        Mollifier width per axis and how it was chosen (``widths["rule"]``).
    wall_time_s, peak_memory_mb : float
    config : dict
        Solver options, kernel, boundary, versions.
    diagnostics : dict
        Solver-specific facts (affinity, structure, unidentifiable nodes, steps, ...); the
        direct solver adds ``noise_gain`` (median, max and the fraction above 2 over the
        residual's nodes).
    extras : dict
        Arrays that do not go into ``result.json``; the direct solver's ``noise_gain`` is the
        per-node map (saved in ``unknowns.npz``): each node's stencil ℓ2 norm relative to the
        interior one, for the residual's highest-gain derivative.
    status : {"ok", "unreliable"}
        ``"unreliable"`` when the data cannot support the answer (data that are mostly noise, an
        unknown with no estimate, a positive unknown estimated non-positive, ...); ``reasons``
        then says why, one sentence each. Set by :meth:`mark_unreliable`
        (:meth:`InverseProblem.assess` applies the checks after every solve).
    reasons : list of str
        Why the status is not ``"ok"``.
    noise_std : dict
        Per data field, the estimated white-noise standard deviation
        (:func:`~mollifier.inverse.noise.estimate_noise`); set by the direct solver and, for its
        fit diagnosis, the network solver.
    unknowns_std : dict
        Per unknown, its standard deviation (a float for a constant, an array shaped like the
        field, NaN where not identifiable); empty without an uncertainty estimate.
    uncertainty_method : str or None
        How ``unknowns_std`` was obtained (``"analytic"``), None without one.
    level : float or None
        Coverage of :meth:`intervals`.
    interval_dof : int or None
        Degrees of freedom of Student's t for :meth:`intervals` (an ensemble of ``K`` members:
        ``K − 1``); None for normal intervals.
    """

    method: str
    grid: Grid
    unknowns: dict[str, Any]
    unknown_axes: dict[str, tuple[str, ...]]
    fields: dict[str, np.ndarray]
    residual: np.ndarray
    interior: np.ndarray
    data: dict[str, np.ndarray]
    equations: dict[str, np.ndarray] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    widths: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0
    peak_memory_mb: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    reasons: list[str] = field(default_factory=list)
    noise_std: dict[str, float] = field(default_factory=dict)
    unknowns_std: dict[str, Any] = field(default_factory=dict)
    uncertainty_method: str | None = None
    level: float | None = None
    interval_dof: int | None = None

    def set_uncertainty(
        self, std: dict[str, Any], *, method: str, level: float, dof: int | None = None
    ) -> None:
        """Attach standard deviations of the unknowns; a field's is blanked where the field is
        (NaN estimate). ``dof``: Student-t intervals with that many degrees of freedom."""
        out: dict[str, Any] = {}
        for name, s in std.items():
            if isinstance(s, float):
                out[name] = s
            else:
                est = np.asarray(self.unknowns[name], dtype=float)
                out[name] = np.where(np.isfinite(est), np.asarray(s, dtype=float), np.nan)
        self.unknowns_std = out
        self.uncertainty_method = method
        self.level = float(level)
        self.interval_dof = dof

    def intervals(self) -> dict[str, Any]:
        """Normal intervals ``θ̂ ± z σ``, ``z = Φ⁻¹((1 + level)/2)``, per unknown with a standard
        deviation: ``(low, high)`` floats for a constant, arrays for a field. With
        :attr:`interval_dof` set, ``z`` is Student's t quantile with those degrees of freedom.

        Examples
        --------
        >>> import numpy as np, mollifier as ml
        >>> r = Result(method="direct", grid=ml.Grid(x=np.arange(3.0)), unknowns={"k": 1.0},
        ...     unknown_axes={"k": ()}, fields={}, residual=np.zeros(3),
        ...     interior=np.ones(3, bool), data={})
        >>> r.set_uncertainty({"k": 0.5}, method="analytic", level=0.95)
        >>> [round(v, 3) for v in r.intervals()["k"]]
        [0.02, 1.98]
        """
        if self.level is None:
            return {}
        from scipy.stats import norm, t

        q = 0.5 + self.level / 2
        z = float(norm.ppf(q) if self.interval_dof is None else t.ppf(q, self.interval_dof))
        out: dict[str, Any] = {}
        for name, s in self.unknowns_std.items():
            est = self.unknowns[name]
            if isinstance(est, float):
                out[name] = (est - z * float(s), est + z * float(s))
            else:
                e = np.asarray(est, dtype=float)
                out[name] = (e - z * s, e + z * s)
        return out

    def mark_unreliable(self, reason: str) -> None:
        """Set :attr:`status` to ``"unreliable"`` and record ``reason`` (once)."""
        self.status = "unreliable"
        if reason not in self.reasons:
            self.reasons.append(reason)

    def __post_init__(self) -> None:
        if self.equations:
            self.diagnostics["equation_rms"] = {
                k: float(np.sqrt(np.nanmean(v**2))) for k, v in self.equations.items()
            }

    def unknown_mask(self, name: str) -> np.ndarray:
        """Nodes of a field unknown's axes that carry interior residual rows."""
        axes = self.unknown_axes[name]
        drop = tuple(i for i, a in enumerate(self.grid.axes) if a not in axes)
        return np.any(self.interior, axis=drop) if drop else self.interior

    def data_misfit(self, mask: np.ndarray | None = None) -> dict[str, float]:
        """Per data field, the variance of the data the solution's field leaves unexplained.

        :func:`unexplained_variance` of ``fields[k]`` against ``data[k]`` over the observed
        nodes: the finite data values, or the nodes where ``mask`` (shaped like the grid) is
        true. The network solver stores it, with the problem's mask, in
        ``diagnostics["data_misfit"]``, which :meth:`summary` prefers. For a network this
        says whether it fitted the measurements at all: near 1, its fields are close to the
        data's mean, and the unknowns describe that smoothed state rather than the measured
        pattern. For the direct solver it measures what the mollifier smooths away (noise and
        detail below the kernel's width).
        """
        return {
            k: unexplained_variance(
                self.fields[k], v if mask is None else np.where(mask, v, np.nan)
            )
            for k, v in self.data.items()
            if k in self.fields
        }

    def blank_unconstrained(self) -> None:
        """Set field unknowns to NaN on nodes without interior residual rows
        (:meth:`unknown_mask`): there nothing constrains them."""
        for name, axes in self.unknown_axes.items():
            if axes:
                self.unknowns[name] = np.where(
                    self.unknown_mask(name), np.asarray(self.unknowns[name], dtype=float), np.nan
                )

    def compute_metrics(self) -> dict[str, dict[str, float]]:
        """Metrics of every unknown with a known truth (stored in ``self.metrics``)."""
        out = {}
        for name, true in self.truth.items():
            est = self.unknowns.get(name)
            if est is None:
                continue
            if isinstance(est, float):
                t = float(np.mean(true)) if np.ndim(true) else float(true)
                out[name] = constant_metrics(est, t)
            else:
                out[name] = field_metrics(est, true, self.unknown_mask(name))
        self.metrics = out
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``result.json`` document (its top-level keys are a contract)."""
        return to_jsonable(
            {
                "status": self.status,
                "reasons": list(self.reasons),
                "unknowns": {k: _summary_value(v) for k, v in self.unknowns.items()},
                "metrics": self.metrics,
                "widths": self.widths,
                "wall_time_s": self.wall_time_s,
                "peak_memory_mb": self.peak_memory_mb,
                "versions": versions(),
                "method": self.method,
                "config": self.config,
                "diagnostics": self.diagnostics,
                "history_final": {k: v[-1] for k, v in self.history.items() if v},
                "noise_std": self.noise_std,
                "uncertainty_method": self.uncertainty_method,
                "level": self.level,
                "unknowns_std": {
                    k: (float(v) if isinstance(v, float) else None)
                    for k, v in self.unknowns_std.items()
                },
                "intervals": {
                    k: [float(v[0]), float(v[1])]
                    for k, v in self.intervals().items()
                    if isinstance(v[0], float)
                },
            }
        )

    def summary(self) -> str:
        """A plain-text table of the unknowns and, when known, their errors, after the
        :attr:`status` line (and its reasons).

        For a network result it adds, per data field, the fraction of the data's variance its
        fitted field leaves unexplained (:meth:`data_misfit`) and the fit diagnosis
        (``diagnostics["fit"]``: misfit against the noise, residual against its scale, the
        dominant loss term; a result without one warns above :data:`UNDERFIT_THRESHOLD`). A
        direct result has no such lines: that solver fits nothing.
        """
        lines = [
            f"method: {self.method}   wall time: {self.wall_time_s:.2f} s   "
            f"peak memory: {self.peak_memory_mb:.0f} MB"
        ]
        lines.append(f"status: {self.status}")
        lines.extend(f"  unreliable: {reason}" for reason in self.reasons)
        lines.append(
            "widths: "
            + ", ".join(f"{a}={w:.4g}" for a, w in self.widths.items() if isinstance(w, float))
        )
        lines.append(f"{'unknown':<10} {'estimate':>24} {'truth':>12} {'error':>28}")
        for name, est in self.unknowns.items():
            m = self.metrics.get(name, {})
            if isinstance(est, float):
                t = self.truth.get(name)
                err = f"rel {m['rel_error']:.2e}" if "rel_error" in m else ""
                tt = f"{float(np.mean(t)):.6g}" if t is not None else "-"
                sd = self.unknowns_std.get(name)
                shown = f"{est:.6g} ± {sd:.2g}" if isinstance(sd, float) else f"{est:.6g}"
                lines.append(f"{name:<10} {shown:>24} {tt:>12} {err:>28}")
            else:
                s = _summary_value(est)
                med = s["median"]
                desc = f"median {med:.4g}" if med is not None else "median n/a"
                err = ""
                if m:
                    err = f"r={m['pearson']:.3f} relL2={m['rel_l2']:.3f}"
                    err += f" on {m['coverage']:.0%} of nodes"
                # the truth's median over the nodes the estimate covers, not the whole grid
                tm = m.get("truth_median")
                tt = f"{tm:.4g}" if tm is not None else "-"
                lines.append(f"{name:<10} {desc:>24} {tt:>12} {err:>28}")
        # Only a network fits the data; the direct solver differentiates the mollified data and
        # its "misfit" would only measure what the kernel smooths away.
        misfit = (
            (self.diagnostics.get("data_misfit") or self.data_misfit())
            if self.method == "network"
            else {}
        )
        if misfit:
            lines.append(
                "fraction of the data variance the network's fitted fields leave unexplained "
                "(1 - R²): " + ", ".join(f"{k} {v:.3g}" for k, v in misfit.items())
            )
            worst = max(misfit, key=lambda k: misfit[k] if np.isfinite(misfit[k]) else -1.0)
            if "fit" in self.diagnostics:
                lines.extend(_fit_lines(self.diagnostics["fit"]))
            elif misfit[worst] > UNDERFIT_THRESHOLD:
                lines.append(
                    f"warning: the network did not fit the data ({worst}: "
                    f"{misfit[worst]:.0%} of its variance unexplained); the unknowns describe a "
                    "smoothed state, not the measured pattern. Train longer, raise the learning "
                    "rate, or use a network with Fourier features (arch='pirate')."
                )
        return "\n".join(lines)

    def save(self, directory: str | Path, *, figures: bool = True) -> Path:
        """Write ``result.json``, ``unknowns.npz`` and (with matplotlib) PNG figures."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")
        arrays: dict[str, np.ndarray] = {a: self.grid[a] for a in self.grid.axes}
        for k, v in self.unknowns.items():
            arrays[k] = np.asarray(v, dtype=float)
        for k, v in self.fields.items():
            arrays[f"field_{k}"] = v
        arrays["residual"] = self.residual
        for k, v in self.equations.items():
            arrays[f"residual_{k}"] = v
        arrays["interior"] = self.interior
        intervals = self.intervals()
        for k, v in self.unknowns_std.items():
            if not isinstance(v, float):
                arrays[f"{k}_std"] = np.asarray(v, dtype=float)
                arrays[f"{k}_low"], arrays[f"{k}_high"] = intervals[k]
        for k, v in (self.extras.get("ensemble_members") or {}).items():
            arrays[f"{k}_members"] = np.asarray(v, dtype=float)
        if isinstance(self.extras.get("noise_gain"), np.ndarray):
            arrays["noise_gain"] = self.extras["noise_gain"]
        for k, v in self.history.items():
            arrays[f"history_{k}"] = np.asarray(v, dtype=float)
        np.savez_compressed(out / "unknowns.npz", **arrays)  # type: ignore[arg-type]
        if figures:
            from mollifier.plot import plot_result

            plot_result(self, out)
        return out
