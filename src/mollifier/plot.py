"""Publication-ready figures of datasets and results (matplotlib, an optional extra: ``[plot]``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mollifier._pyplot import pyplot
from mollifier.grid import Grid

if TYPE_CHECKING:
    from mollifier.inverse.result import Result
    from mollifier.io.dataset import Dataset

__all__ = ["plot_dataset", "plot_result"]


def _pyplot() -> Any:
    return pyplot(
        "figures",
        rc={
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "font.size": 9,
            "axes.titlesize": 9,
            "image.cmap": "viridis",
        },
    )


def _slice2d(arr: np.ndarray, grid: Grid) -> tuple[np.ndarray, tuple[str, str]]:
    """A 2-D view of a grid array: itself in 2-D, the middle slice of the leading axes in 3-D+."""
    a = np.asarray(arr, dtype=float)
    axes = grid.axes
    while a.ndim > 2:
        a = a[a.shape[0] // 2]
        axes = axes[1:]
    return a, (axes[0], axes[1])


def _panel(ax: Any, arr: np.ndarray, grid: Grid, title: str, **kw: Any) -> Any:
    """Draw one field: a line in 1-D, an image (first axis horizontal) in 2-D and above."""
    if grid.ndim == 1 or np.ndim(arr) == 1:
        (a,) = grid.axes if grid.ndim == 1 else (grid.axes[-1],)
        ax.plot(grid[a], arr, lw=1.2, **{k: v for k, v in kw.items() if k in ("color", "label")})
        ax.set_xlabel(a)
        ax.set_title(title)
        return None
    img, (a0, a1) = _slice2d(arr, grid)
    extent = (grid[a0][0], grid[a0][-1], grid[a1][0], grid[a1][-1])
    im = ax.imshow(
        img.T,
        origin="lower",
        extent=extent,
        aspect="auto",
        **{k: v for k, v in kw.items() if k in ("vmin", "vmax", "cmap")},
    )
    ax.set_xlabel(a0)
    ax.set_ylabel(a1)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, shrink=0.85)
    return im


def plot_dataset(dataset: Dataset, path: str | Path) -> Path:
    """Preview of a dataset: each observed field and each true parameter, one panel each."""
    plt = _pyplot()
    grid = Grid(**dataset.coords)
    panels: list[tuple[str, np.ndarray, Grid]] = [
        (f"{k} (observed)", v, grid) for k, v in dataset.fields.items()
    ]
    for k, v in dataset.truth.items():
        if np.ndim(v):
            sub = grid.subgrid(tuple(dataset.truth_axes[k]))
            panels.append((f"{k} (true)", np.asarray(v), sub))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False)
    for ax, (title, arr, g) in zip(axes[0], panels, strict=True):
        _panel(ax, arr, g, title)
    consts = {k: v for k, v in dataset.truth.items() if not np.ndim(v)}
    fig.suptitle(f"{dataset.equation}" + (f"  {consts}" if consts else ""))
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def _field_unknowns(result: Result) -> Mapping[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in result.unknowns.items() if not isinstance(v, float)}


def plot_result(result: Result, directory: str | Path) -> list[Path]:
    """Write ``data.png``, ``fit.png``, ``unknowns.png``, ``residual.png`` and ``loss.png``."""
    plt = _pyplot()
    out = Path(directory)
    grid = result.grid
    written = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
        written.append(out / name)

    names = list(result.data)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False)
    for ax, k in zip(axes[0], names, strict=True):
        _panel(ax, result.data[k], grid, f"{k}: data")
    save(fig, "data.png")

    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), 5.6), squeeze=False)
    label = "mollified data" if result.method == "direct" else "network fit"
    for j, k in enumerate(names):
        _panel(axes[0, j], result.fields[k], grid, f"{k}: {label}")
        _panel(
            axes[1, j],
            result.fields[k] - result.data[k],
            grid,
            f"{k}: {label} − data",
            cmap="RdBu_r",
        )
    save(fig, "fit.png")

    fields = _field_unknowns(result)
    if fields:
        n = len(fields)
        spread = {k: v for k, v in result.unknowns_std.items() if k in fields}
        cols = 4 if spread else 3
        fig, axes = plt.subplots(n, cols, figsize=(3.5 * cols, 3.1 * n), squeeze=False)
        for i, (k, est) in enumerate(fields.items()):
            if spread:
                # the standard deviation map beside the field (NaN where not identifiable)
                if k in spread:
                    sd = np.asarray(spread[k], dtype=float)
                    top = np.percentile(sd[np.isfinite(sd)], 99) if np.isfinite(sd).any() else 1.0
                    _panel(
                        axes[i, 3],
                        sd,
                        grid.subgrid(result.unknown_axes[k]),
                        f"{k}: std ({result.uncertainty_method})",
                        vmin=0.0,
                        vmax=top,
                    )
                else:
                    axes[i, 3].axis("off")
            sub = grid.subgrid(result.unknown_axes[k])
            truth = result.truth.get(k)
            finite = est[np.isfinite(est)]
            lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
            if truth is not None and np.ndim(truth):
                lo, hi = min(lo, np.min(truth)), max(hi, np.max(truth))
            _panel(axes[i, 0], est, sub, f"{k}: recovered", vmin=lo, vmax=hi)
            if truth is not None:
                t = np.broadcast_to(np.asarray(truth, dtype=float), est.shape)
                _panel(axes[i, 1], t, sub, f"{k}: true", vmin=lo, vmax=hi)
                keep = np.isfinite(est) & result.unknown_mask(k)
                axes[i, 2].scatter(t[keep], est[keep], s=2, alpha=0.3)
                axes[i, 2].plot([lo, hi], [lo, hi], "k--", lw=0.8)
                m = result.metrics.get(k, {})
                axes[i, 2].set_title(
                    f"{k}: r = {m.get('pearson', float('nan')):.3f}, "
                    f"rel. L2 = {m.get('rel_l2', float('nan')):.3f}"
                )
                axes[i, 2].set_xlabel("true")
                axes[i, 2].set_ylabel("recovered")
            else:
                axes[i, 1].axis("off")
                axes[i, 2].hist(finite, bins=60)
                axes[i, 2].set_title(f"{k}: distribution")
        save(fig, "unknowns.png")

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    _panel(ax, result.residual, grid, "residual at the solution", cmap="RdBu_r")
    save(fig, "residual.png")

    if result.history.get("loss"):
        fig, ax = plt.subplots(figsize=(4.6, 3.2))
        steps = result.history["step"]
        for key in ("loss", "data", "residual", "regularization"):
            if result.history.get(key):
                ax.semilogy(steps, result.history[key], label=key, lw=1)
        ax.set_xlabel("step")
        ax.legend()
        ax.set_title("training loss")
        save(fig, "loss.png")
    return written
