"""``bench.md``: the benchmark's tables, shaped like the paper's, from the records of a tier.

Autodiff/mollifier ratios are computed per pair of runs that differ only in the derivative
backend (same dataset, network, steps, learning rate, seed and widths), then averaged over seeds.
Where a run did not complete (``over_budget``, ``timeout``), its step time and memory come from
the probe before it and are marked ``*``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "format_table",
    "headline",
    "matrix_pairs",
    "overhead_rows",
    "primary_metrics",
    "render",
    "write_report",
]


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000 or abs(v) < 1e-3:
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    return str(v)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; floats to three significant digits, ``None`` as —."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


def primary_metrics(record: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The first unknown's name and metrics of a matrix record (``(None, {})`` if none)."""
    metrics = record.get("metrics") or {}
    for name, m in metrics.items():
        return name, m or {}
    return None, {}


def _step_time(r: dict[str, Any]) -> tuple[float | None, bool]:
    if r.get("step_time_s") is not None:
        return r["step_time_s"], False
    return r.get("probe_step_time_s"), r.get("probe_step_time_s") is not None


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.fmean(vals) if vals else None


def _measured(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of items that ran (not those skipped because the tier's budget was spent)."""
    return [r for r in records if r.get("status") != "skipped"]


def _max_or_none(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _worst_misfit(record: dict[str, Any]) -> float | None:
    """The largest unexplained data variance over a run's data fields (None if not recorded)."""
    return _max_or_none(*(record.get("data_misfit") or {}).values())


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def matrix_pairs(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Autodiff/mollifier pairs of the matrix, averaged over seeds.

    Returns one row per (task, arch, noise, n, steps budget) with the mean over seeds of each
    backend's step time, total time, peak memory, primary-unknown metrics and worst data misfit
    (``misfit``: unexplained data variance of the network's fields), and the mean of the
    per-seed ratios ``time_ratio`` and ``memory_ratio`` (autodiff / mollifier). ``probe`` flags
    step times or memories taken from the probe of an unfinished run.
    """
    groups: dict[tuple, dict[int, dict[str, dict[str, Any]]]] = defaultdict(dict)
    for r in _measured(records):
        if r.get("study") != "matrix" or r.get("derivatives") not in ("autodiff", "mollifier"):
            continue
        key = (r["task"], r["arch"], r["noise"], r["n"], r["steps_budget"])
        groups[key].setdefault(r["seed"], {})[r["derivatives"]] = r
    rows = []
    for (task, arch, noise, n, steps), by_seed in groups.items():
        row: dict[str, Any] = {
            "task": task,
            "arch": arch,
            "noise": noise,
            "n": n,
            "steps": steps,
            "order": None,
            "seeds": len(by_seed),
            "probe": False,
            "unknown": None,
        }
        tr, mr = [], []
        per: dict[str, dict[str, list]] = {d: defaultdict(list) for d in ("autodiff", "mollifier")}
        for pair in by_seed.values():
            for der, r in pair.items():
                row["order"] = r.get("order")
                t, from_probe = _step_time(r)
                row["probe"] |= from_probe
                name, m = primary_metrics(r)
                row["unknown"] = row["unknown"] or name
                p = per[der]
                p["step"].append(t)
                p["total"].append(r.get("total_time_s"))
                p["memory"].append(r.get("peak_memory_mb"))
                p["pearson"].append(m.get("pearson"))
                p["rel_l2"].append(m.get("rel_l2"))
                p["rel_error"].append(m.get("rel_error"))
                p["misfit"].append(_worst_misfit(r))
                p["status"].append(r.get("status"))
                p["steps_done"].append(r.get("steps"))
            if "autodiff" in pair and "mollifier" in pair:
                a, b = pair["autodiff"], pair["mollifier"]
                tr.append(_ratio(_step_time(a)[0], _step_time(b)[0]))
                mr.append(_ratio(a.get("peak_memory_mb"), b.get("peak_memory_mb")))
        for der, p in per.items():
            for k in ("step", "total", "memory", "pearson", "rel_l2", "rel_error", "misfit"):
                row[f"{der}_{k}"] = _mean(p[k])
            row[f"{der}_status"] = ",".join(sorted(set(p["status"]))) if p["status"] else None
        row["time_ratio"] = _mean(tr)
        row["memory_ratio"] = _mean(mr)
        rows.append(row)
    order = {"langevin": 0, "heat": 1, "chromatin": 2}
    arch_order = {"mlp": 0, "pirate": 1, "pinnsformer": 2}
    rows.sort(
        key=lambda r: (order.get(r["task"], 9), arch_order.get(r["arch"], 9), r["noise"], r["n"])
    )
    return rows


def _fastest(record: dict[str, Any]) -> float | None:
    times = [t for t in record.get("step_times_s") or [] if t is not None]
    return min(times) if times else None


def overhead_rows(records: Iterable[dict[str, Any]], study: str) -> list[dict[str, Any]]:
    """Scaling rows with each method's overhead over the floor at the same grid.

    For ``scaling_order`` one row per order (the floor is the ``none`` point at that grid); for
    ``scaling_grid`` one row per grid size. Times are the median of the timed steps
    (``*_time``) and their minimum (``*_time_min``); overheads and ratios use the median.
    """
    recs = [r for r in _measured(records) if r.get("study") == study]
    floors = {r["n"]: r for r in recs if r.get("method") == "none"}
    by: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in recs:
        if r.get("method") == "none":
            continue
        by[r["order"] if study == "scaling_order" else r["n"]][r["method"]] = r
    rows = []
    for key in sorted(by):
        methods = by[key]
        n = next(iter(methods.values()))["n"]
        floor = floors.get(n, {})
        row: dict[str, Any] = {
            "key": key,
            "n": n,
            "order": next(iter(methods.values()))["order"],
            "floor_time": floor.get("step_time_s"),
            "floor_time_min": _fastest(floor),
            "floor_memory": floor.get("peak_memory_mb"),
        }
        for m in ("mollifier", "autodiff"):
            r = methods.get(m, {})
            row[f"{m}_time"] = r.get("step_time_s")
            row[f"{m}_time_min"] = _fastest(r)
            row[f"{m}_memory"] = r.get("peak_memory_mb")
            row[f"{m}_status"] = r.get("status")
            row[f"{m}_time_overhead"] = _ratio(r.get("step_time_s"), floor.get("step_time_s"))
            row[f"{m}_memory_overhead"] = _ratio(
                r.get("peak_memory_mb"), floor.get("peak_memory_mb")
            )
        row["time_ratio"] = _ratio(row["autodiff_time"], row["mollifier_time"])
        row["memory_ratio"] = _ratio(row["autodiff_memory"], row["mollifier_memory"])
        rows.append(row)
    return rows


def headline(records: list[dict[str, Any]]) -> list[list[Any]]:
    """The headline measurements of a tier: ``[quantity, value]`` rows, measurements only.

    For each architecture, the chromatin pair nearest 1 % noise: the autodiff/mollifier ratios of
    step time and peak memory, Pearson r(λ) of each backend and the largest fraction of a data
    field's variance each left unexplained. From the order study: the step time of the highest
    order over that of the lowest, for each method. What these are compared with (the paper's
    claims) is in ``docs/bench.md``, not here.
    """
    out: list[list[Any]] = []
    pairs = [p for p in matrix_pairs(records) if p["task"] == "chromatin"]
    for arch in ("mlp", "pirate", "pinnsformer"):
        cand = [p for p in pairs if p["arch"] == arch]
        if not cand:
            continue
        p = min(cand, key=lambda p: abs(p["noise"] - 0.01))
        tag = f"chromatin {arch} n={p['n']} noise={p['noise']:g}"
        out += [
            [f"{tag}: step time autodiff/mollifier", p["time_ratio"]],
            [f"{tag}: peak memory autodiff/mollifier", p["memory_ratio"]],
            [f"{tag}: mollifier Pearson r(λ)", p["mollifier_pearson"]],
            [f"{tag}: autodiff Pearson r(λ)", p["autodiff_pearson"]],
            [f"{tag}: mollifier unexplained data variance", p["mollifier_misfit"]],
            [f"{tag}: autodiff unexplained data variance", p["autodiff_misfit"]],
        ]
    rows = [r for r in overhead_rows(records, "scaling_order") if r["mollifier_time"]]
    if len(rows) >= 2:
        lo, hi = rows[0], rows[-1]
        span = f"order {hi['order']} / order {lo['order']}"
        # The minimum over the timed steps estimates the intrinsic cost on a shared machine, where
        # other load inflates some steps; the median is shown beside it.
        for stat, label in (("_time_min", "fastest step"), ("_time", "median step")):
            flat = _ratio(hi[f"mollifier{stat}"], lo[f"mollifier{stat}"])
            out.append([f"mollifier step time {span} ({label})", flat])
        grow = _ratio(hi["autodiff_time"], lo["autodiff_time"])
        out.append([f"autodiff step time {span} (median step)", grow])
    return out


def _matrix_section(records: list[dict[str, Any]]) -> list[str]:
    pairs = matrix_pairs(records)
    lines = [
        "## Inverse problems: autodiff vs mollifier, same network, steps and learning rate",
        "",
        "Each row pairs two runs that differ only in the derivative backend. Times: "
        "seconds per step of the training loop, and to the step budget with set-up; memory: "
        "peak MB (see the header); r and rel. L2 of the field unknown against the truth; "
        "unexpl.: the largest fraction of a data field's variance the network's fields leave "
        "unexplained (near 1: the network did not fit the measurements, and r then reflects the "
        "smoothed mean state, not the derivatives). "
        "`*`: from the probe of a run that was not completed (see Failures): a few steps after "
        "the first, which can differ from a whole run's average (benchmarks/RESULTS.md § 6.4), "
        "so starred ratios are estimates.",
        "",
    ]
    headers = [
        "task (order)",
        "arch",
        "noise",
        "grid",
        "steps",
        "s/step AD",
        "s/step moll",
        "AD/moll",
        "total AD (s)",
        "total moll (s)",
        "MB AD",
        "MB moll",
        "AD/moll",
        "r AD",
        "r moll",
        "rel L2 AD",
        "rel L2 moll",
        "unexpl. AD",
        "unexpl. moll",
    ]
    rows = []
    for p in pairs:
        star = "*" if p["probe"] else ""
        rows.append(
            [
                f"{p['task']} ({p['order']})",
                p["arch"],
                p["noise"],
                f"{p['n']}",
                p["steps"],
                p["autodiff_step"],
                p["mollifier_step"],
                f"{_fmt(p['time_ratio'])}{star}",
                p["autodiff_total"],
                p["mollifier_total"],
                p["autodiff_memory"],
                p["mollifier_memory"],
                f"{_fmt(p['memory_ratio'])}{star}",
                p["autodiff_pearson"],
                p["mollifier_pearson"],
                p["autodiff_rel_l2"],
                p["mollifier_rel_l2"],
                p["autodiff_misfit"],
                p["mollifier_misfit"],
            ]
        )
    lines.append(format_table(headers, rows))
    direct = [
        r
        for r in _measured(records)
        if r.get("study") == "matrix" and r.get("derivatives") == "direct"
    ]
    if direct:
        lines += ["", "### Direct (network-free) solver: the strongest baseline", ""]
        drows = []
        for r in sorted(direct, key=lambda r: (r["order"], r["noise"], r["n"], r["seed"])):
            _, m = primary_metrics(r)
            drows.append(
                [
                    f"{r['task']} ({r['order']})",
                    r["noise"],
                    r["n"],
                    r["seed"],
                    r.get("total_time_s"),
                    r.get("peak_memory_mb"),
                    m.get("pearson"),
                    m.get("rel_l2"),
                    r.get("status"),
                ]
            )
        lines.append(
            format_table(
                [
                    "task (order)",
                    "noise",
                    "grid",
                    "seed",
                    "time (s)",
                    "MB",
                    "r",
                    "rel L2",
                    "status",
                ],
                drows,
            )
        )
    return lines


def _both(median: float | None, fastest: float | None) -> str:
    return _fmt(median) if fastest is None else f"{_fmt(median)} ({_fmt(fastest)})"


def _scaling_section(records: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for study, title, key in (
        ("scaling_order", "Derivative cost against order", "order"),
        ("scaling_grid", "Derivative cost against grid size", "grid"),
    ):
        rows = overhead_rows(records, study)
        if not rows:
            continue
        first = next(r for r in records if r.get("study") == study)
        cfg = first.get("config", {}).get("cost", {})
        lines += [
            "",
            f"## {title}",
            "",
            f"One Adam step of a {cfg.get('arch')} ({cfg.get('hidden')}×{cfg.get('depth')})"
            f" on an n×n grid with loss mean((u−data)²) + mean((∂ₓᵏu)²); floor = the same"
            f" step without the derivative term. Median (fastest) of {cfg.get('steps')} steps"
            f" after {cfg.get('warmup')} warm-up; mollifier width {cfg.get('width_points')} grid "
            "points. Overhead = method / floor, from the medians.",
            "",
        ]
        table = []
        for r in rows:
            table.append(
                [
                    r["key"] if key == "order" else f"{r['n']}²",
                    _both(r["floor_time"], r["floor_time_min"]),
                    _both(r["mollifier_time"], r["mollifier_time_min"]),
                    _both(r["autodiff_time"], r["autodiff_time_min"]),
                    r["mollifier_time_overhead"],
                    r["autodiff_time_overhead"],
                    r["time_ratio"],
                    r["floor_memory"],
                    r["mollifier_memory"],
                    r["autodiff_memory"],
                    r["memory_ratio"],
                    r["autodiff_status"] if r["autodiff_status"] != "ok" else "",
                ]
            )
        lines.append(
            format_table(
                [
                    key,
                    "floor s/step",
                    "moll s/step",
                    "AD s/step",
                    "moll/floor",
                    "AD/floor",
                    "AD/moll",
                    "floor MB",
                    "moll MB",
                    "AD MB",
                    "AD/moll MB",
                    "note",
                ],
                table,
            )
        )
    return lines


def _accuracy_section(records: list[dict[str, Any]]) -> list[str]:
    recs = [r for r in _measured(records) if r.get("study") == "accuracy"]
    if not recs:
        return []
    noises = sorted({r["noise"] for r in recs})
    methods = list(dict.fromkeys(r["method"] for r in recs))
    lines = [
        "",
        "## Derivative accuracy on noisy periodic data",
        "",
        "u = sin x + ½cos 3x + ¼sin 5x on [0, 2π); relative L2 error over the middle 80% of "
        "the nodes, `error against the truth / weak-form consistency error` (against "
        "∂ᵏ(η∗u) of the clean signal). Width per order and noise by the spectral risk rule "
        "(noise 0: the smallest admissible).",
        "",
    ]
    for order in sorted({r["order"] for r in recs}):
        by = {(r["method"], r["noise"]): r for r in recs if r["order"] == order}
        widths = {
            nz: next((r["width"] for (m, n2), r in by.items() if n2 == nz), None) for nz in noises
        }
        head = ["method"] + [f"noise {nz:g} (w={_fmt(widths[nz])})" for nz in noises]
        rows = []
        for m in methods:
            cells: list[Any] = [m]
            for nz in noises:
                r = by.get((m, nz))
                cells.append(
                    "—" if r is None else f"{_fmt(r['error'])} / {_fmt(r['consistency_error'])}"
                )
            rows.append(cells)
        lines += [f"### order {order}", "", format_table(head, rows), ""]
    return lines


def _failures(records: list[dict[str, Any]]) -> list[str]:
    bad = [r for r in records if r.get("status") not in (None, "ok")]
    if not bad:
        return []
    rows = []
    for r in bad:
        what = r.get("label") or " ".join(
            str(r.get(k))
            for k in ("study", "task", "arch", "derivatives", "method", "order", "n")
            if r.get(k) is not None
        )
        rows.append([what, r.get("status"), (r.get("error") or "").replace("\n", " ")[:200]])
    return [
        "",
        "## Failures and runs not completed",
        "",
        format_table(["run", "status", "detail"], rows),
    ]


def render(
    records: list[dict[str, Any]],
    *,
    tier: Any = None,
    device: str | None = None,
    command: str | None = None,
) -> str:
    """The markdown document for ``records`` (see the module docstring)."""
    first = next((r for r in records if r.get("torch")), {})
    loads = [r["load_average"][0] for r in records if r.get("load_average")]
    threads = sorted({r["threads"] for r in records if r.get("threads")})
    lines = [f"# Benchmark: tier `{getattr(tier, 'name', first.get('tier', '?'))}`", ""]
    if command:
        lines.append(f"- command: `{command}`")
    commit = first.get("commit", "unknown")
    dirty = " (with uncommitted changes)" if first.get("dirty") else ""
    lines += [
        f"- device: {device or first.get('device')}",
        f"- torch {first.get('torch')}, python {first.get('python')}",
        f"- commit: {commit}{dirty}",
    ]
    if threads:
        lines.append(f"- torch threads per run: {', '.join(map(str, threads))}")
    if loads:
        lines.append(f"- 1-min load average during the runs: {min(loads):.2f}–{max(loads):.2f}")
    mem = sorted({str(r["memory_kind"]) for r in records if r.get("memory_kind")})
    meaning = {
        "peak_rss_above_idle_torch": "peak RSS of the run's own process minus that of a "
        "process that only imports torch",
        "cuda_max_allocated": "torch.cuda.max_memory_allocated",
    }
    if mem:
        lines.append("- peak memory: " + "; ".join(meaning.get(m, m) for m in mem))
    description = getattr(tier, "description", None)
    if description:
        lines += ["", str(description)]
    top = headline(records)
    if top:
        lines += [
            "",
            "## Headline measurements",
            "",
            "Quantities from the tables below (docs/bench.md puts them beside the paper's claims).",
            "",
            format_table(["quantity", "value"], top),
        ]
    lines += ["", *_matrix_section(records)]
    lines += _scaling_section(records)
    lines += _accuracy_section(records)
    lines += _failures(records)
    return "\n".join(lines) + "\n"


def write_report(
    records: list[dict[str, Any]],
    path: str | Path,
    *,
    tier: Any = None,
    device: str | None = None,
    command: str | None = None,
) -> Path:
    """Write :func:`render` to ``path``."""
    path = Path(path)
    path.write_text(render(records, tier=tier, device=device, command=command))
    return path
