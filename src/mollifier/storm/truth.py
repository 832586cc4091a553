"""Ground truth of a synthetic nucleus (``truth.npz``) and the metrics of λ̂ against it.

A ``truth.npz`` holds, on the simulation grid in nanometres: ``x``, ``y`` (pixel centres),
``lam`` (the true λ), ``phi_w``, ``phi_d`` (the clean steady state), ``mask`` (the nucleus), and
``params`` (a JSON string: generator settings, mapping, seed and the localisation file it belongs
to). :func:`find_truth` looks for ``<stem>.truth.npz`` and then ``truth.npz`` beside an input.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from mollifier.io._gridding import FileFormatError
from mollifier.storm.inference import LambdaMap

__all__ = ["Truth", "find_truth", "find_truths", "truth_metrics"]


@dataclass(frozen=True)
class Truth:
    """True fields of a synthetic nucleus on a grid in nm (indexed ``[x, y]``)."""

    x: np.ndarray
    y: np.ndarray
    lam: np.ndarray
    phi_w: np.ndarray
    phi_d: np.ndarray
    mask: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (np.size(self.x), np.size(self.y))
        for name in ("lam", "phi_w", "phi_d", "mask"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                raise ValueError(f"truth {name!r} has shape {arr.shape}, expected {shape}")

    def save(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        np.savez_compressed(
            out,
            x=self.x,
            y=self.y,
            lam=self.lam,
            phi_w=self.phi_w,
            phi_d=self.phi_d,
            mask=self.mask,
            params=np.array(json.dumps(self.params)),
        )
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Truth:
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as data:
                missing = [
                    k for k in ("x", "y", "lam", "phi_w", "phi_d", "mask") if k not in data.files
                ]
                if missing:
                    raise FileFormatError(f"{p}: not a truth file, missing {missing}")
                params = json.loads(str(data["params"])) if "params" in data.files else {}
                return cls(
                    x=data["x"],
                    y=data["y"],
                    lam=data["lam"],
                    phi_w=data["phi_w"],
                    phi_d=data["phi_d"],
                    mask=data["mask"].astype(bool),
                    params=params,
                )
        except (OSError, ValueError) as exc:
            if isinstance(exc, FileFormatError):
                raise
            raise FileFormatError(f"{p}: unreadable truth file ({exc})") from None

    def lam_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True λ bilinearly interpolated at the pixel centres ``x[:, None], y[None, :]`` (nm);
        NaN outside the truth grid."""
        interp = RegularGridInterpolator(
            (self.x, self.y), self.lam, bounds_error=False, fill_value=np.nan
        )
        X, Y = np.meshgrid(x, y, indexing="ij")
        return interp(np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)


def find_truth(path: str | os.PathLike[str]) -> Path | None:
    """The truth sidecar of an input file: ``<stem>.truth.npz``, else ``truth.npz`` beside it."""
    p = Path(path)
    for cand in (p.with_name(p.stem + ".truth.npz"), p.with_name("truth.npz")):
        if cand.is_file():
            return cand
    return None


def find_truths(path: str | os.PathLike[str]) -> list[Truth]:
    """The truths of an input file: the sidecar of :func:`find_truth`, or one
    ``<stem>.nucleus<k>.truth.npz`` per nucleus of a synthetic field of view."""
    p = Path(path)
    one = find_truth(p)
    if one is not None:
        return [Truth.load(one)]
    return [Truth.load(f) for f in sorted(p.parent.glob(f"{p.stem}.nucleus*.truth.npz"))]


def truth_metrics(lam_map: LambdaMap, truth: Truth) -> dict[str, float]:
    """λ̂ against the truth on the reported nodes.

    Returns
    -------
    dict
        ``pearson``: Pearson r of the kernel-smoothed λ̂ and the true λ; ``median_rel_error``:
        median of ``|λ̂_s − λ| / λ``; ``median_error``: ``median(λ̂_s)/median(λ) − 1``;
        ``pearson_raw``: r of the unsmoothed λ̂; ``median`` and ``true_median``: of the smoothed
        λ̂ and of the true λ; ``nodes``: reported nodes compared.
    """
    true = truth.lam_at(lam_map.x, lam_map.y)
    keep = lam_map.valid & np.isfinite(true) & np.isfinite(lam_map.smoothed)
    n = int(keep.sum())
    nan = float("nan")
    if n < 3:
        return {
            "pearson": nan,
            "median_rel_error": nan,
            "median_error": nan,
            "pearson_raw": nan,
            "median": nan,
            "true_median": nan,
            "nodes": float(n),
        }
    t = true[keep]
    s = lam_map.smoothed[keep]
    r = lam_map.lam[keep]

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else nan

    return {
        "pearson": corr(s, t),
        "median_rel_error": float(np.median(np.abs(s - t) / np.abs(t))),
        "median_error": float(np.median(s) / np.median(t) - 1.0),
        "pearson_raw": corr(r, t),
        "median": float(np.median(s)),
        "true_median": float(np.median(t)),
        "nodes": float(n),
    }
