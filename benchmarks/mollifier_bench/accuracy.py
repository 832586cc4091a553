"""Cross-method derivative accuracy on noisy periodic data (the benchmark's accuracy table).

Methods, each given the same noisy samples ``u + ε`` of ``u(x) = sin x + ½ cos 3x + ¼ sin 5x`` on
``n`` periodic nodes of ``[0, 2π)``:

* ``mollifier-<family>``: :func:`mollifier.derivative` with each kernel family (periodic), its
  support radius scaled so that its half-power frequency matches the reference
  :class:`~mollifier.PolyBump` at ``width`` (equal pass bands; at least the family's minimum);
* ``finite-difference``: the central, second-order accurate stencil, no smoothing;
* ``savitzky-golay``: :func:`scipy.signal.savgol_filter` with a window of the mollifier's support
  (``2 ⌊width/spacing⌋ + 1`` nodes) and polynomial order ``order + 2``;
* ``spectral``: exact FFT differentiation ``F⁻¹[(iω)ᵏ F u]``; ``spectral-lowpass``: the same with
  the modes above the mollifier's half-power frequency ``ξ½ / width`` removed;
* ``network-autodiff``: a tanh MLP fitted to the samples (float64 Adam, then L-BFGS),
  differentiated by nested autograd.

Two errors, relative L2 over the middle 80% of the nodes (the network is not periodic):

* ``error``: against the true derivative ``u⁽ᵏ⁾``;
* ``consistency_error`` (weak-form consistency): against ``∂ᵏ(η_w ∗ u)`` of the *clean* signal, the
  quantity a weak-form residual actually uses, computed exactly mode by mode as
  ``η̂(ω w) (iω)ᵏ``; ``η`` is the row's own kernel for mollifier rows and the default
  :class:`~mollifier.PolyBump` for the others. It separates noise (and discretisation) error from
  the smoothing bias that ``error`` also contains.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mollifier_bench.config import AccuracySpec, config_hash

__all__ = [
    "KERNEL_FAMILIES",
    "METHODS",
    "accuracy_key",
    "accuracy_records",
    "central_stencil",
    "finite_difference",
    "network_derivatives",
    "sample_signal",
    "savitzky_golay",
    "spec_dict",
    "spectral_derivative",
]

#: Modes ``(amplitude, angular frequency, phase)`` of the test signal ``Σ a sin(ω x + φ)``.
_MODES = ((1.0, 1.0, 0.0), (0.5, 3.0, math.pi / 2), (0.25, 5.0, 0.0))
KERNEL_FAMILIES = ("polybump", "bump", "gaussian")
METHODS = (
    *(f"mollifier-{k}" for k in KERNEL_FAMILIES),
    "finite-difference",
    "savitzky-golay",
    "spectral",
    "spectral-lowpass",
    "network-autodiff",
)


def sample_signal(
    n: int, order: int, *, kernel: Any = None, width: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes ``x``, the signal and its exact ``order``-th derivative, mollified by ``kernel``.

    With ``kernel=None`` the returned derivative is the pointwise ``u⁽ᵏ⁾``; with a kernel of
    support radius ``width`` it is ``∂ᵏ(η_w ∗ u)``: each mode scaled by ``η̂(ω width)``.
    """
    x = 2 * np.pi * np.arange(n) / n
    u = sum(a * np.sin(w * x + p) for a, w, p in _MODES)
    d = np.zeros(n)
    for a, w, p in _MODES:
        gain = 1.0 if kernel is None else float(kernel.fourier(w * width)[0])
        d += gain * a * w**order * np.sin(w * x + p + order * np.pi / 2)
    return x, np.asarray(u), d


def central_stencil(order: int) -> np.ndarray:
    """Weights of the central, second-order accurate ``order``-th derivative on unit spacing.

    The stencil has ``2p + 1`` nodes, ``p = ⌊(order + 1) / 2⌋``; it is exact for polynomials of
    degree ``<= 2p`` (moment conditions solved on the offsets ``-p..p``).

    Examples
    --------
    >>> central_stencil(2).round(12).tolist()
    [1.0, -2.0, 1.0]
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    p = (order + 1) // 2
    m = np.arange(-p, p + 1, dtype=float)
    vander = np.vander(m, increasing=True).T  # rows: powers 0..2p
    rhs = np.zeros(2 * p + 1)
    rhs[order] = math.factorial(order)
    return np.linalg.solve(vander, rhs)


def finite_difference(
    u: np.ndarray, order: int, *, spacing: float, periodic: bool = True
) -> np.ndarray:
    """Central finite-difference ``order``-th derivative along the last axis.

    Periodic data wrap around; otherwise the ``p`` nodes at each end are NaN.
    """
    taps = central_stencil(order) / spacing**order
    p = taps.size // 2
    u = np.asarray(u, dtype=float)
    if periodic:
        return sum(w * np.roll(u, -m, axis=-1) for m, w in zip(range(-p, p + 1), taps, strict=True))
    out = np.full(u.shape, np.nan)
    n = u.shape[-1]
    out[..., p : n - p] = sum(
        w * u[..., p + m : n - p + m] for m, w in zip(range(-p, p + 1), taps, strict=True)
    )
    return out


def savitzky_golay(
    u: np.ndarray, order: int, *, spacing: float, window: int, polyorder: int, periodic: bool = True
) -> np.ndarray:
    """Savitzky–Golay ``order``-th derivative (:func:`scipy.signal.savgol_filter`).

    Least-squares polynomial of degree ``polyorder`` in a sliding window of ``window`` (odd)
    nodes; exact for polynomials of degree ``<= polyorder``. ``periodic`` wraps the window around;
    otherwise scipy's ``"interp"`` mode fits the edge windows.
    """
    from scipy.signal import savgol_filter

    if window % 2 == 0 or window <= polyorder or polyorder < order:
        raise ValueError(
            f"need an odd window > polyorder >= order; got window={window}, "
            f"polyorder={polyorder}, order={order}"
        )
    return np.asarray(
        savgol_filter(
            np.asarray(u, dtype=float),
            window,
            polyorder,
            deriv=order,
            delta=spacing,
            mode="wrap" if periodic else "interp",
        )
    )


def spectral_derivative(
    u: np.ndarray, order: int, *, spacing: float, cutoff: float | None = None
) -> np.ndarray:
    """FFT derivative of periodic samples: ``F⁻¹[(iω)ᵏ û]``, modes with ``|ω| > cutoff`` removed.

    Exact (to rounding) for trigonometric polynomials below the Nyquist frequency. For odd
    orders the Nyquist mode of an even-length signal is dropped (its derivative is not real).
    """
    u = np.asarray(u, dtype=float)
    n = u.shape[-1]
    omega = 2 * np.pi * np.fft.rfftfreq(n, d=spacing)
    factor = (1j * omega) ** order
    if n % 2 == 0 and order % 2 == 1:
        factor[-1] = 0.0
    if cutoff is not None:
        factor[omega > cutoff] = 0.0
    return np.fft.irfft(factor * np.fft.rfft(u, axis=-1), n=n, axis=-1)


def network_derivatives(
    x: np.ndarray,
    u: np.ndarray,
    orders: tuple[int, ...],
    *,
    steps: int,
    hidden: int,
    depth: int,
    seed: int,
    lbfgs_steps: int = 0,
    lr: float = 3e-3,
) -> dict[int, np.ndarray]:
    """Fit a tanh MLP to ``(x, u)`` and differentiate it by nested autograd.

    The fit is a float64 least-squares fit of the samples: ``steps`` Adam steps (``lr``,
    cosine-decayed to ``lr / 100``), then up to ``lbfgs_steps`` L-BFGS iterations. Returns
    ``{order: dᵏnet/dxᵏ at x}`` (:class:`~mollifier.AutodiffDerivatives`).
    """
    import torch

    from mollifier.autodiff import AutodiffDerivatives
    from mollifier.nets import build_network

    torch.manual_seed(seed)
    net = build_network(
        "mlp",
        in_features=1,
        out_features=1,
        hidden=hidden,
        depth=depth,
        embedding=0,  # the classic tanh PINN
        lower=[float(x.min())],
        upper=[float(x.max())],
    ).double()
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(u, dtype=torch.float64)
    scale = float(yt.std()) or 1.0
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=lr / 100)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.mean(((net(xt[:, None])[:, 0] - yt) / scale) ** 2)
        loss.backward()
        opt.step()
        sched.step()
    if lbfgs_steps:
        lbfgs = torch.optim.LBFGS(
            net.parameters(),
            max_iter=lbfgs_steps,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-12,
            tolerance_change=1e-14,
        )

        def closure() -> torch.Tensor:
            lbfgs.zero_grad(set_to_none=True)
            loss = torch.mean(((net(xt[:, None])[:, 0] - yt) / scale) ** 2)
            loss.backward()
            return loss

        lbfgs.step(closure)
    xg = xt.clone().requires_grad_(True)
    out = net(xg[:, None])[:, 0]
    d = AutodiffDerivatives({"x": xg})
    return {k: d(out, "x" * k).detach().numpy() for k in orders}


def _rel(est: np.ndarray, ref: np.ndarray, keep: np.ndarray) -> float:
    return float(np.linalg.norm(est[keep] - ref[keep]) / np.linalg.norm(ref[keep]))


def accuracy_records(spec: AccuracySpec, noise: float) -> list[dict[str, Any]]:
    """The table's records for one noise level: one per (method, order).

    Each record has ``study="accuracy"``, ``method``, ``order``, ``noise``, ``error``,
    ``consistency_error``, ``width`` and the method's parameters.
    """
    import mollifier as ml
    from mollifier.grid import Grid
    from mollifier.kernels import get_kernel, half_power_frequency

    n = spec.n
    h = 2 * np.pi / n
    x, clean, _ = sample_signal(n, 1)
    rng = np.random.default_rng([spec.seed, round(noise * 1e6)])
    u = clean + noise * np.std(clean) * rng.standard_normal(n)
    keep = np.zeros(n, dtype=bool)
    keep[n // 10 : n - n // 10] = True
    default = ml.PolyBump()
    nets: dict[int, np.ndarray] = {}
    if spec.network_steps:
        nets = network_derivatives(
            x,
            u,
            spec.orders,
            steps=spec.network_steps,
            hidden=spec.network_hidden,
            depth=spec.network_depth,
            lbfgs_steps=spec.network_lbfgs_steps,
            seed=spec.seed,
        )
    records = []
    for order in spec.orders:
        width = spec.width
        if width is None:
            from mollifier.inverse.autowidth import choose_widths

            lo = default.min_points(order) * h
            width = choose_widths(
                Grid(x=x),
                [u],
                orders={"x": order},
                kernel=default,
                lower={"x": lo},
                upper={"x": np.pi / 2},
            )["x"]
        _, _, truth = sample_signal(n, order)
        _, _, target = sample_signal(n, order, kernel=default, width=width)
        half = int(width / h)
        window = 2 * half + 1
        polyorder = order + 2
        estimates: dict[str, tuple[np.ndarray, np.ndarray, dict[str, Any]]] = {}
        for family in KERNEL_FAMILIES:
            kern = get_kernel(family)
            # Same pass band as the reference kernel: equal half-power frequency ξ½ / w.
            w = width * half_power_frequency(kern) / half_power_frequency(default)
            w = max(w, kern.min_points(order) * h)
            est = ml.derivative(u, order, spacing=h, width=w, kernel=kern, boundary="periodic")
            _, _, own = sample_signal(n, order, kernel=kern, width=w)
            estimates[f"mollifier-{family}"] = (est, own, {"width": w})
        estimates["finite-difference"] = (finite_difference(u, order, spacing=h), target, {})
        if window > polyorder:
            sg = savitzky_golay(u, order, spacing=h, window=window, polyorder=polyorder)
            estimates["savitzky-golay"] = (sg, target, {"window": window, "polyorder": polyorder})
        estimates["spectral"] = (spectral_derivative(u, order, spacing=h), target, {})
        cutoff = half_power_frequency(default) / width
        estimates["spectral-lowpass"] = (
            spectral_derivative(u, order, spacing=h, cutoff=cutoff),
            target,
            {"cutoff": cutoff},
        )
        if order in nets:
            estimates["network-autodiff"] = (
                nets[order],
                target,
                {
                    "steps": spec.network_steps,
                    "lbfgs_steps": spec.network_lbfgs_steps,
                    "hidden": spec.network_hidden,
                    "depth": spec.network_depth,
                },
            )
        for method, (est, ref, params) in estimates.items():
            records.append(
                {
                    "study": "accuracy",
                    "status": "ok",
                    "method": method,
                    "order": order,
                    "noise": noise,
                    "n": n,
                    "width": width,
                    "error": _rel(est, truth, keep),
                    "consistency_error": _rel(est, ref, keep),
                    "params": params,
                    "config": {"spec": spec_dict(spec), "noise": noise},
                }
            )
    return records


def spec_dict(spec: AccuracySpec) -> dict[str, Any]:
    """JSON-able form of ``spec``."""
    from dataclasses import asdict

    return asdict(spec)


def accuracy_key(spec: AccuracySpec, noise: float) -> str:
    """Cache key of one noise level of the table."""
    return config_hash({"study": "accuracy", "spec": spec_dict(spec), "noise": noise})
