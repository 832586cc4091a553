"""Does a fit fit? Judge a fitted field against the data's noise and a residual against its scale.

Data. A field ``f`` fitted to data ``y = s + ε`` (white noise of variance ``σ²``) that follows the
signal ``s`` leaves the misfit ``mean((f − y)²) ≈ σ²``. The **ratio**

    ρ = mean_observed((f − y)²) / σ̂²

with ``σ̂`` the data's white-noise level estimated from the data alone
(:func:`~mollifier.inverse.noise.estimate_noise`) is therefore about 1 for a field that is fitted,
grows as ``1 + bias²/σ²`` when the field misses part of the signal, and falls below 1 when the
field follows the noise itself (a regression with ``p`` effective degrees of freedom on ``N``
nodes leaves ``σ²(1 − p/N)``). The same ratio is the field's unexplained variance
(:func:`~mollifier.inverse.result.unexplained_variance`, ``1 − R²``) over the noise's share of the
data's variance. The noise variance a fit is judged against is at least :data:`NOISE_FLOOR` of
the data's variance (that of 1% white noise): the **judged ratio** is
``ρ_j = misfit / max(σ̂², NOISE_FLOOR · var y) = min(ρ, (1 − R²) / NOISE_FLOOR)``. Almost
noise-free data (simulations without noise, where ``σ̂`` is the signal's own grid-scale content,
10⁻¹⁷ of the variance on heat 32²) are thus judged like data with 1% noise, instead of asking a
float32 network to fit them to 10⁻¹⁷. Verdicts (:func:`data_verdict`):

* ``"over-fitted"``: ``ρ <`` :data:`DATA_OVER_FITTED` (the field follows the noise);
* ``"fitted"``: ``ρ_j ≤`` :data:`DATA_FITTED` (the field's deviation from the signal is at most
  about ``2σ`` RMS);
* ``"partly fitted"``: ``ρ_j ≤`` :data:`DATA_NOT_FITTED`: the field misses more of the signal
  than the noise explains (a warning, not a failure: on heat such fits gave r(λ) of 0.84 to 0.99);
* ``"not fitted"`` above;
* ``"no noise estimate"`` when the grid is too short to estimate ``σ``; then only an unexplained
  variance above :data:`DATA_FLOOR_NO_NOISE` is judged, as ``"not fitted"``.

Residual. Per equation, the final RMS of the residual over the interior relative to its scale
``R₀`` (the RMS at zero unknowns, the network loss's normaliser): ``"fitted"`` at or below
:data:`RESIDUAL_NOT_FITTED`, ``"not fitted"`` above.

The thresholds come from measured fits, well- and under-trained, on the heat and chromatin
problems (``benchmarks/fit_diagnosis.py``, ``benchmarks/RESULTS.md`` § 14).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mollifier.inverse.noise import NOISE_ORDER, estimate_noise

__all__ = [
    "DATA_FITTED",
    "DATA_FLOOR_NO_NOISE",
    "DATA_NOT_FITTED",
    "DATA_OVER_FITTED",
    "NOISE_FLOOR",
    "RESIDUAL_NOT_FITTED",
    "data_diagnosis",
    "data_verdict",
    "field_noise_std",
    "fit_reasons",
    "judged_ratio",
    "loss_balance",
    "residual_diagnosis",
    "thresholds",
]

#: Misfit over estimated noise variance up to which a data field is fitted.
DATA_FITTED = 5.0
#: Misfit over estimated noise variance above which a data field is not fitted.
DATA_NOT_FITTED = 20.0
#: Misfit over estimated noise variance below which a fitted field follows the noise.
DATA_OVER_FITTED = 0.5
#: The smallest noise variance, as a fraction of the data's, a fit is judged against (that of 1%
#: white noise).
NOISE_FLOOR = 1e-4
#: Without a noise estimate, the unexplained variance above which a field is not fitted.
DATA_FLOOR_NO_NOISE = 0.25
#: Final residual RMS over its initial scale ``R₀`` above which an equation is not fitted.
RESIDUAL_NOT_FITTED = 0.1


def thresholds() -> dict[str, float]:
    """The thresholds in force, as a fit diagnosis records them (``fit["thresholds"]``)."""
    return {
        "data_fitted": DATA_FITTED,
        "data_not_fitted": DATA_NOT_FITTED,
        "data_over_fitted": DATA_OVER_FITTED,
        "noise_floor": NOISE_FLOOR,
        "data_floor_no_noise": DATA_FLOOR_NO_NOISE,
        "residual_not_fitted": RESIDUAL_NOT_FITTED,
    }


def field_noise_std(values: np.ndarray) -> float:
    """White-noise standard deviation of a gridded field, NaN where it cannot be estimated.

    :func:`~mollifier.inverse.noise.estimate_noise` with the difference order lowered to fit the
    longest axis (``min(6, (n − 2) // 2)``, as :func:`~mollifier.inverse.problem.noise_fraction`
    does); NaN values (unobserved nodes) drop the differences that touch them.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.linspace(0, 1, 300)
    >>> sigma = field_noise_std(np.cos(5 * x) + 0.02 * rng.standard_normal(300))
    >>> bool(abs(sigma / 0.02 - 1) < 0.15)
    True
    """
    u = np.asarray(values, dtype=float)
    if max(u.shape, default=0) < 6:
        return float("nan")
    order = min(NOISE_ORDER, (max(u.shape) - 2) // 2)
    return float(estimate_noise(u, order=order))


def judged_ratio(ratio: float, unexplained: float, *, floor: float = NOISE_FLOOR) -> float:
    """``min(ρ, (1 − R²) / floor)``: the misfit over the estimated noise variance, or over that of
    1% noise (``floor``, as a fraction of the data's variance) where the estimate is smaller
    (module docstring).

    Examples
    --------
    >>> judged_ratio(4.0, 4e-4), judged_ratio(2.5e13, 7e-4)
    (4.0, 7.0)
    """
    floored = unexplained / floor if math.isfinite(unexplained) else float("nan")
    return min(ratio, floored) if math.isfinite(floored) else ratio


def data_verdict(ratio: float, unexplained: float, *, floor: float = NOISE_FLOOR) -> str:
    """The verdict of one data field from its misfit/noise ``ratio`` and its ``unexplained``
    variance, the noise variance taken as at least ``floor`` of the data's (module docstring).

    Examples
    --------
    >>> data_verdict(1.1, 1e-4), data_verdict(9.7, 9e-3), data_verdict(140.0, 1.2e-2)
    ('fitted', 'partly fitted', 'not fitted')
    >>> data_verdict(0.2, 2e-5), data_verdict(5e4, 4e-4), data_verdict(float("nan"), 0.3)
    ('over-fitted', 'fitted', 'not fitted')
    """
    if not math.isfinite(ratio):
        if math.isfinite(unexplained) and unexplained > DATA_FLOOR_NO_NOISE:
            return "not fitted"
        return "no noise estimate"
    if ratio < DATA_OVER_FITTED:
        return "over-fitted"
    judged = judged_ratio(ratio, unexplained, floor=floor)
    if judged <= DATA_FITTED:
        return "fitted"
    return "not fitted" if judged > DATA_NOT_FITTED else "partly fitted"


def data_diagnosis(
    fitted: np.ndarray,
    observed: np.ndarray,
    *,
    noise_std: float,
    seen: np.ndarray | None = None,
    floor: float = NOISE_FLOOR,
) -> dict[str, Any]:
    """How a fitted field compares with its data and the data's noise.

    Parameters
    ----------
    fitted, observed : ndarray
        The fitted field and the data, same shape (any units, the same for both).
    noise_std : float
        The data's white-noise standard deviation ``σ`` (NaN if unknown).
    seen : ndarray of bool, optional
        The nodes that count (default: where ``observed`` is finite).
    floor : float
        The smallest noise variance judged against, as a fraction of the data's variance.

    Returns
    -------
    dict
        ``misfit_variance`` ``mean((f − y)²)``, ``noise_variance`` ``σ²``, ``ratio`` (their
        quotient), ``unexplained`` (``Σ(f − y)² / Σ(y − ȳ)²``), ``noise_fraction``
        (``σ² / var y``), ``judged_ratio`` (:func:`judged_ratio`), ``nodes`` and ``verdict``
        (:func:`data_verdict`).

    Examples
    --------
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> d = data_diagnosis(y + np.array([0.1, -0.1, 0.1, -0.1]), y, noise_std=0.1)
    >>> round(d["ratio"], 6), d["verdict"]
    (1.0, 'fitted')
    """
    f = np.asarray(fitted, dtype=float)
    y = np.asarray(observed, dtype=float)
    if f.shape != y.shape:
        raise ValueError(f"fitted field has shape {f.shape}, the data {y.shape}")
    keep = np.isfinite(y) if seen is None else np.asarray(seen, dtype=bool) & np.isfinite(y)
    keep &= np.isfinite(f)
    n = int(keep.sum())
    if n < 2:
        raise ValueError(f"{n} observed node(s): too few to compare a fit with the data")
    diff = f[keep] - y[keep]
    misfit = float(np.mean(diff**2))
    spread = float(np.var(y[keep]))
    noise_var = float(noise_std) ** 2 if math.isfinite(noise_std) else float("nan")
    ratio = misfit / noise_var if noise_var > 0 else float("nan")
    unexplained = misfit / spread if spread > 0 else float("nan")
    return {
        "misfit_variance": misfit,
        "noise_variance": noise_var,
        "ratio": ratio,
        "unexplained": unexplained,
        "noise_fraction": noise_var / spread if spread > 0 else float("nan"),
        "judged_ratio": judged_ratio(ratio, unexplained, floor=floor),
        "nodes": n,
        "verdict": data_verdict(ratio, unexplained, floor=floor),
    }


def residual_diagnosis(final_rms: float, initial_rms: float) -> dict[str, Any]:
    """An equation's final residual RMS against its initial scale ``R₀``: ``final_rms``,
    ``initial_rms``, ``ratio`` and ``verdict`` (``"fitted"`` at or below
    :data:`RESIDUAL_NOT_FITTED`).

    Examples
    --------
    >>> residual_diagnosis(0.02, 1.0)["verdict"], residual_diagnosis(0.5, 1.0)["verdict"]
    ('fitted', 'not fitted')
    """
    ratio = final_rms / initial_rms if initial_rms > 0 else float("nan")
    if not math.isfinite(ratio):
        verdict = "no scale"
    else:
        verdict = "fitted" if ratio <= RESIDUAL_NOT_FITTED else "not fitted"
    return {
        "final_rms": float(final_rms),
        "initial_rms": float(initial_rms),
        "ratio": ratio,
        "verdict": verdict,
    }


def loss_balance(
    terms: dict[str, float], gradient_norms: dict[str, float] | None = None
) -> dict[str, Any]:
    """Which loss term dominates: each weighted term's ``share`` of their sum, the ``dominant``
    one, and (given the norms of each term's gradient over the trained parameters) each term's
    ``gradient_share`` of the sum of the norms.

    Examples
    --------
    >>> b = loss_balance({"data": 3.0, "residual": 1.0}, {"data": 1.0, "residual": 4.0})
    >>> b["dominant"], b["share"]["data"], b["gradient_share"]["residual"]
    ('data', 0.75, 0.8)
    """
    total = sum(v for v in terms.values() if math.isfinite(v))
    out: dict[str, Any] = {
        "terms": dict(terms),
        "share": {k: (v / total if total > 0 else float("nan")) for k, v in terms.items()},
        "dominant": max(terms, key=lambda k: terms[k] if math.isfinite(terms[k]) else -1.0),
    }
    if gradient_norms is not None:
        norm_sum = sum(v for v in gradient_norms.values() if math.isfinite(v))
        out["gradient_norm"] = dict(gradient_norms)
        out["gradient_share"] = {
            k: (v / norm_sum if norm_sum > 0 else float("nan")) for k, v in gradient_norms.items()
        }
    return out


_ADVICE = (
    "; train longer, raise the learning rate, or give the network finer Fourier features "
    "(MLP(fourier_scale=...) above its default 2, or arch=PirateNet())"
)


def _times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def fit_reasons(fit: dict[str, Any]) -> list[str]:
    """The sentences that make a fit unreliable: a data field or an equation not fitted, from a
    ``diagnostics["fit"]`` dictionary (its ``data`` and ``residual`` parts)."""
    reasons = []
    for name, d in (fit.get("data") or {}).items():
        if d.get("verdict") != "not fitted":
            continue
        judged = d.get("judged_ratio", d["ratio"])
        if math.isfinite(d["ratio"]) and judged >= d["ratio"]:
            reasons.append(
                f"data field {name!r} not fitted: unexplained variance {d['unexplained']:.2g} is "
                f"{_times(d['ratio'])} the estimated noise variance ({d['noise_fraction']:.2g} of "
                f"the data's variance){_ADVICE}"
            )
        elif math.isfinite(d["ratio"]):
            reasons.append(
                f"data field {name!r} not fitted: unexplained variance {d['unexplained']:.2g} is "
                f"{_times(judged)} that of 1% white noise (the estimated noise is "
                f"below it, {d['noise_fraction']:.2g} of the data's variance){_ADVICE}"
            )
        else:
            reasons.append(
                f"data field {name!r} not fitted: {d['unexplained']:.0%} of its variance "
                "unexplained (the noise could not be estimated on this grid)"
            )
    for name, r in (fit.get("residual") or {}).items():
        if r.get("verdict") == "not fitted":
            reasons.append(
                f"residual {name!r} not fitted: its final RMS is {r['ratio']:.2g} of its initial "
                f"scale R0 (above {RESIDUAL_NOT_FITTED:g}); train longer or raise the residual "
                "weight"
            )
    return reasons
