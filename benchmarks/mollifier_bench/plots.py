"""The benchmark's figures (matplotlib, an optional extra, imported only here and only when used).

* ``time_vs_order.png`` / ``memory_vs_order.png``: step time and peak memory against derivative
  order for the floor, mollifier and autodiff;
* ``scaling_grid.png``: step time and memory against grid size;
* ``accuracy_vs_noise.png``: Pearson r of the recovered field against noise per task (matrix),
  and the derivative error against noise per order (accuracy table);
* ``fields.png``: recovered-versus-true field panels for each task.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from mollifier._pyplot import pyplot
from mollifier_bench.report import overhead_rows, primary_metrics

__all__ = ["write_plots"]

_COLORS = {"none": "0.5", "mollifier": "tab:blue", "autodiff": "tab:red", "direct": "tab:green"}


def _scaling(plt: Any, records: list[dict[str, Any]], out: Path) -> list[Path]:
    files = []
    rows = overhead_rows(records, "scaling_order")
    if rows:
        orders = [r["key"] for r in rows]
        for what, unit, name in (
            ("time", "s per step", "time_vs_order.png"),
            ("memory", "peak MB", "memory_vs_order.png"),
        ):
            fig, ax = plt.subplots(figsize=(5, 3.6))
            floor = [r[f"floor_{what}"] for r in rows]
            ax.plot(orders, floor, "--", color=_COLORS["none"], label="floor (no derivative)")
            for m in ("mollifier", "autodiff"):
                ys = [np.nan if r[f"{m}_{what}"] is None else r[f"{m}_{what}"] for r in rows]
                ax.plot(orders, ys, "o-", color=_COLORS[m], label=m)
            ax.set_yscale("log")
            ax.set_xlabel("derivative order k")
            ax.set_ylabel(unit)
            ax.set_title(f"{what} per step, n = {rows[0]['n']}²")
            ax.legend()
            fig.tight_layout()
            fig.savefig(out / name, dpi=120)
            plt.close(fig)
            files.append(out / name)
    rows = overhead_rows(records, "scaling_grid")
    if rows:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        ns = [r["n"] for r in rows]
        for ax, what, unit in zip(axes, ("time", "memory"), ("s per step", "peak MB"), strict=True):
            ax.plot(
                ns,
                [r[f"floor_{what}"] or np.nan for r in rows],
                "--",
                color=_COLORS["none"],
                label="floor",
            )
            for m in ("mollifier", "autodiff"):
                ax.plot(
                    ns, [r[f"{m}_{what}"] or np.nan for r in rows], "o-", color=_COLORS[m], label=m
                )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("grid n (n × n)")
            ax.set_ylabel(unit)
            ax.legend()
        axes[0].set_title(f"order {rows[0]['order']}: time")
        axes[1].set_title("peak memory")
        fig.tight_layout()
        fig.savefig(out / "scaling_grid.png", dpi=120)
        plt.close(fig)
        files.append(out / "scaling_grid.png")
    return files


def _accuracy(plt: Any, records: list[dict[str, Any]], out: Path) -> list[Path]:
    matrix = [r for r in records if r.get("study") == "matrix" and r.get("status") == "ok"]
    acc = [r for r in records if r.get("study") == "accuracy" and r.get("status") != "skipped"]
    tasks = list(dict.fromkeys(r["task"] for r in matrix))
    orders = sorted({r["order"] for r in acc})
    ncols = max(len(tasks), len(orders), 1)
    nrows = int(bool(tasks)) + int(bool(orders))
    if nrows == 0:
        return []
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    row = 0
    if tasks:
        for j, task in enumerate(tasks):
            ax = axes[row, j]
            ax.set_visible(True)
            series: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in matrix:
                if r["task"] != task:
                    continue
                _, m = primary_metrics(r)
                if m.get("pearson") is None:
                    continue
                label = (
                    "direct" if r["derivatives"] == "direct" else f"{r['arch']}/{r['derivatives']}"
                )
                series[label][r["noise"]].append(m["pearson"])
            for label, pts in sorted(series.items()):
                xs = sorted(pts)
                der = label.split("/")[-1]
                style = "s--" if der == "direct" else ("o-" if "mlp" in label else "^:")
                ax.plot(
                    [100 * x for x in xs],
                    [np.mean(pts[x]) for x in xs],
                    style,
                    color=_COLORS.get(der),
                    label=label,
                )
            ax.set_title(f"{task}: recovered field")
            ax.set_xlabel("noise (%)")
            ax.set_ylabel("Pearson r")
            ax.legend(fontsize=6)
        row += 1
    if orders:
        for j, order in enumerate(orders):
            ax = axes[row, j]
            ax.set_visible(True)
            curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for r in acc:
                if r["order"] == order:
                    curves[r["method"]].append((r["noise"], r["error"]))
            for method, xy in curves.items():
                xy.sort()
                ax.plot(
                    [100 * p[0] for p in xy],
                    [max(p[1], 1e-16) for p in xy],
                    "o-",
                    label=method,
                    lw=2 if method.startswith("mollifier") else 1,
                )
            ax.set_yscale("log")
            ax.set_title(f"derivative of order {order}")
            ax.set_xlabel("noise (%)")
            ax.set_ylabel("relative L2 error")
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_noise.png", dpi=120)
    plt.close(fig)
    return [out / "accuracy_vs_noise.png"]


def _pick(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per panel label, the run at the noise closest to 1% (seed 0 first, MLP first)."""
    chosen: dict[str, dict[str, Any]] = {}
    rank = {"mlp": 0, "pirate": 1, "pinnsformer": 2, None: -1}
    for r in sorted(
        runs, key=lambda r: (abs(r["noise"] - 0.01), r["seed"], rank.get(r["arch"], 9))
    ):
        label = "direct" if r["derivatives"] == "direct" else f"{r['arch']}/{r['derivatives']}"
        if r["derivatives"] != "direct" and r["arch"] != min(
            (x["arch"] for x in runs if x["derivatives"] != "direct"), key=lambda a: rank.get(a, 9)
        ):
            continue
        chosen.setdefault(label, r)
    return chosen


def _fields(plt: Any, records: list[dict[str, Any]], out: Path) -> list[Path]:
    runs_dir = out / "runs"
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if (
            r.get("study") == "matrix"
            and r.get("status") == "ok"
            and r.get("config_hash")
            and (runs_dir / f"{r['config_hash']}.npz").is_file()
        ):
            by_task[r["task"]].append(r)
    if not by_task:
        return []
    panels = {t: _pick(rs) for t, rs in by_task.items()}
    ncols = 1 + max(len(p) for p in panels.values())
    fig, axes = plt.subplots(
        len(panels),
        ncols,
        figsize=(3 * ncols, 2.8 * len(panels)),
        squeeze=False,
        layout="constrained",
    )
    for i, (task, chosen) in enumerate(panels.items()):
        for ax in axes[i]:
            ax.set_visible(False)
        arrays = {lab: np.load(runs_dir / f"{r['config_hash']}.npz") for lab, r in chosen.items()}
        name = next(
            (k[:-9] for a in arrays.values() for k in a.files if k.endswith("_estimate")), None
        )
        if name is None:
            continue
        truth = next(
            (a[f"{name}_truth"] for a in arrays.values() if f"{name}_truth" in a.files), None
        )
        if truth is None:
            continue
        noise = next(iter(chosen.values()))["noise"]
        if truth.ndim == 1:
            ax = axes[i, 0]
            ax.set_visible(True)
            ax.plot(truth, "k-", lw=2, label="truth")
            for lab, a in arrays.items():
                ax.plot(np.where(a[f"{name}_mask"], a[f"{name}_estimate"], np.nan), label=lab)
            ax.set_title(f"{task}: {name}(t), noise {100 * noise:g}%")
            ax.legend(fontsize=6)
            continue
        lo, hi = np.nanpercentile(truth, [1, 99])
        ax = axes[i, 0]
        ax.set_visible(True)
        im = ax.imshow(truth.T, origin="lower", vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(f"{task}: true {name}")
        for j, (lab, a) in enumerate(arrays.items(), start=1):
            ax = axes[i, j]
            ax.set_visible(True)
            est = np.where(a[f"{name}_mask"], a[f"{name}_estimate"], np.nan)
            ax.imshow(est.T, origin="lower", vmin=lo, vmax=hi, cmap="viridis")
            _, metrics = primary_metrics(chosen[lab])
            pearson = metrics.get("pearson")
            ax.set_title(f"{lab}, r = {pearson:.2f}" if pearson is not None else lab, fontsize=9)
        fig.colorbar(im, ax=list(axes[i]), shrink=0.8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.savefig(out / "fields.png", dpi=110)
    plt.close(fig)
    return [out / "fields.png"]


def write_plots(records: list[dict[str, Any]], out: str | Path) -> list[Path]:
    """Write the figures for ``records`` into ``out``; returns their paths.

    Raises
    ------
    ImportError
        If matplotlib is not installed (with the command that installs it).
    """
    plt = pyplot("the benchmark plots", hint=" (or run the benchmark with --no-plots)")
    out = Path(out)
    return _scaling(plt, records, out) + _accuracy(plt, records, out) + _fields(plt, records, out)
