"""Steady heat conduction with a conductivity field λ(x, y, z) in a box, two forms.

* ``"steady"`` — the non-divergence form of the paper, ``0 = λ ∇²u + m``;
* ``"divergence"`` — the conservative form, ``0 = ∇·(λ ∇u) + m``.

The boundary is Dirichlet on every face (``u = boundary_data``). Discretisation: the conservative
7-point scheme on a uniform node grid, ``Σ_a [λ_{i+½}(u_{i+1} − u_i) − λ_{i−½}(u_i − u_{i−1})] /
h_a²`` along each axis ``a``, with λ at face midpoints; second-order accurate (the fitted order is
checked in ``tests/sim/test_heat3d.py``). The symmetric positive definite system on the interior
nodes is solved by conjugate gradients with a diagonal preconditioner to a relative residual of
1e-12. :func:`simulate_heat3d` solves on a grid ``refine`` times finer than the observation grid
and samples every ``refine``-th node, so inverse methods tested on the data do not share the
forward solver's discretisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from mollifier._limits import check_memory
from mollifier.io.dataset import Dataset
from mollifier.sim.heat_fv import uniform_coordinates
from mollifier.sim.noise import AbstractNoise, GaussianNoise
from mollifier.sim.random_fields import LognormalLambda

__all__ = ["HEAT3D_LAMBDA", "simulate_heat3d", "solve_steady_3d"]

Form = Literal["steady", "divergence"]
Field3D = float | np.ndarray | Callable[[np.ndarray, np.ndarray, np.ndarray], Any]

#: The default true conductivity of :func:`simulate_heat3d`, drawn on the solver's grid.
HEAT3D_LAMBDA = LognormalLambda(median=1.0, sigma=0.3, correlation_length=0.3)

_AXES = ("x", "y", "z")


def _on_nodes(name: str, f: Field3D, coords: list[np.ndarray]) -> np.ndarray:
    """``f`` at the nodes of ``coords``: a constant, an array of the grid's shape, or a
    callable ``f(x, y, z)`` evaluated with broadcasting."""
    shape = tuple(c.size for c in coords)
    if callable(f):
        mesh = np.meshgrid(*coords, indexing="ij")
        out = np.broadcast_to(np.asarray(f(*mesh), dtype=float), shape)
    else:
        out = np.asarray(f, dtype=float)
        if out.ndim == 0:
            out = np.full(shape, float(out))
        elif out.shape != shape:
            raise ValueError(f"{name} has shape {out.shape}, the grid {shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} has non-finite values")
    return np.array(out, dtype=float)


def _face_values(lam: Field3D, coords: list[np.ndarray], nodes: np.ndarray) -> list[np.ndarray]:
    """λ on the faces between neighbouring nodes along each axis: a callable at the face
    midpoints, otherwise the mean of the two nodes' values."""
    faces = []
    for a in range(3):
        if callable(lam):
            mid = list(coords)
            mid[a] = 0.5 * (coords[a][1:] + coords[a][:-1])
            faces.append(_on_nodes("lam", lam, mid))
        else:
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[a], hi[a] = slice(None, -1), slice(1, None)
            faces.append(0.5 * (nodes[tuple(lo)] + nodes[tuple(hi)]))
    return faces


def _operator(
    faces: list[np.ndarray], spacing: list[float], shape: tuple[int, ...]
) -> sp.csr_matrix:
    """``A = Σ_a D_aᵀ diag(λ_a) D_a / h_a²``, the discrete ``−∇·(λ∇·)`` with the conductivity
    ``λ_a`` on the faces normal to axis ``a`` (``D_a`` the forward difference along ``a``; nodes
    flattened in C order). Symmetric positive semi-definite."""
    eye = [sp.identity(n, format="csr") for n in shape]
    A = sp.csr_matrix((math.prod(shape), math.prod(shape)))
    for a, (lam_a, h) in enumerate(zip(faces, spacing, strict=True)):
        n = shape[a]
        d = sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n), format="csr")
        parts = [eye[b] if b != a else d for b in range(3)]
        D = sp.kron(sp.kron(parts[0], parts[1]), parts[2], format="csr")
        A = A + D.T @ sp.diags(lam_a.ravel() / h**2) @ D
    return A.tocsr()


def solve_steady_3d(
    *,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    lam: Field3D,
    source: Field3D,
    form: Form = "steady",
    boundary_data: float = 0.0,
) -> np.ndarray:
    """Solve ``λ ∇²u + m = 0`` (``form="steady"``) or ``∇·(λ∇u) + m = 0`` (``"divergence"``)
    in the box spanned by ``x, y, z`` with ``u = boundary_data`` on its faces.

    Parameters
    ----------
    x, y, z : ndarray
        Uniform node coordinates (>= 3 each).
    lam : float, ndarray or callable
        Conductivity λ > 0: a constant, nodal values of shape ``(len(x), len(y), len(z))``
        (averaged to faces) or ``lam(x, y, z)`` (evaluated at nodes and face midpoints).
    source : float, ndarray or callable
        Source ``m``, in the same forms (nodal values only).
    form : {"steady", "divergence"}
    boundary_data : float
        The constant Dirichlet value.

    Returns
    -------
    ndarray
        ``u`` at the nodes, shape ``(len(x), len(y), len(z))``, indexed ``[x, y, z]``.
    """
    if form not in ("steady", "divergence"):
        raise ValueError(f"form must be 'steady' or 'divergence', got {form!r}")
    coords, spacing = [], []
    for name, c in zip(_AXES, (x, y, z), strict=True):
        arr, h = uniform_coordinates(name, c)
        coords.append(arr)
        spacing.append(h)
    shape = tuple(c.size for c in coords)
    nodes = _on_nodes("lam", lam, coords)
    faces = _face_values(lam, coords, nodes)
    if min(float(nodes.min()), *(float(f.min()) for f in faces)) <= 0:
        raise ValueError("the conductivity lam must be positive everywhere")
    m = _on_nodes("source", source, coords)
    if form == "steady":  # −∇²u = m/λ
        A = _operator([np.ones_like(f) for f in faces], spacing, shape)
        rhs = m / nodes
    else:
        A = _operator(faces, spacing, shape)
        rhs = m
    inner = np.zeros(shape, dtype=bool)
    inner[1:-1, 1:-1, 1:-1] = True
    i, o = np.flatnonzero(inner), np.flatnonzero(~inner)
    u = np.full(math.prod(shape), float(boundary_data))
    b = rhs.ravel()[i] - A[i][:, o] @ u[o]
    A_ii = A[i][:, i].tocsr()
    precondition = sp.diags(1.0 / A_ii.diagonal())
    sol, info = cg(A_ii, b, rtol=1e-12, atol=0.0, M=precondition, maxiter=20 * max(shape) ** 2)
    if info != 0:
        raise RuntimeError(f"conjugate gradients did not converge ({info} iterations)")
    u[i] = sol
    return u.reshape(shape)


def _default_source(lengths: tuple[float, ...]) -> Callable[..., Any]:
    """``1 + 2 G(0.3, 0.35, 0.4) + 1.5 G(0.7, 0.6, 0.55)`` in relative coordinates, ``G`` a
    unit Gaussian bump of width 0.12: positive, so ``∇²u = −m/λ`` never vanishes."""

    def m(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        r = (x / lengths[0], y / lengths[1], z / lengths[2])

        def bump(c: tuple[float, float, float], s: float) -> np.ndarray:
            d2 = sum((ri - ci) ** 2 for ri, ci in zip(r, c, strict=True))
            return np.asarray(np.exp(-d2 / (2 * s * s)))

        return 1.0 + 2.0 * bump((0.3, 0.35, 0.4), 0.12) + 1.5 * bump((0.7, 0.6, 0.55), 0.12)

    return m


def _grids(
    n: int | tuple[int, int, int], refine: int, length: tuple[float, float, float]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]]:
    """Validate :func:`simulate_heat3d`'s grid arguments and its memory need; return the observed
    shape, the fine (solver) shape and the box's side lengths."""
    shape = (n, n, n) if isinstance(n, int | np.integer) else tuple(int(v) for v in n)
    if len(shape) != 3 or min(shape) < 3:
        raise ValueError(f"n must be >= 3 nodes on each of three axes, got {n}")
    if int(refine) != refine or refine < 1:
        raise ValueError(f"refine must be a positive integer, got {refine}")
    if len(length) != 3 or not all(math.isfinite(v) and v > 0 for v in length):
        raise ValueError(f"length must be three positive numbers, got {length}")
    refine = int(refine)
    fine_shape = tuple((k - 1) * refine + 1 for k in shape)
    # A lower bound: the 7-point matrix twice (12 bytes an entry) and a dozen node-sized arrays.
    check_memory(
        math.prod(fine_shape) * (2 * 7 * 12 + 12 * 8),
        f"simulate_heat3d on a fine grid of {' × '.join(map(str, fine_shape))} nodes",
        hint="use a smaller n (mollifier simulate heat3d --grid) or refine (--refine)",
    )
    lengths = tuple(float(v) for v in length)
    return shape, fine_shape, lengths


def simulate_heat3d(
    *,
    n: int | tuple[int, int, int] = 24,
    refine: int = 2,
    form: Form = "steady",
    lam: Field3D | LognormalLambda = HEAT3D_LAMBDA,
    source: Field3D | None = None,
    noise: AbstractNoise | None = None,
    seed: int = 0,
    length: tuple[float, float, float] = (1.0, 1.0, 1.0),
    boundary_data: float = 0.0,
) -> Dataset:
    """Simulate steady 3-D heat conduction with a known conductivity and observe ``u``.

    The problem is solved on a grid with ``(n - 1) * refine + 1`` nodes per axis and sampled at
    every ``refine``-th node: the observation nodes ``linspace(0, L, n)`` per axis.

    Parameters
    ----------
    n : int or (int, int, int)
        Observation nodes per axis (>= 3).
    refine : int
        Fine-to-observation refinement factor (>= 1).
    form : {"steady", "divergence"}
        ``λ∇²u + m = 0`` or ``∇·(λ∇u) + m = 0``.
    lam : float, callable or LognormalLambda
        True conductivity: a constant, ``lam(x, y, z)``, or a
        :class:`~mollifier.sim.LognormalLambda` drawn on the fine grid from ``seed`` (default
        :data:`HEAT3D_LAMBDA`: median 1, ``sigma`` 0.3, correlation length 0.3).
    source : float or callable, optional
        Known source ``m`` (default: a positive field of two Gaussian bumps on 1).
    noise : AbstractNoise, optional
        Measurement noise on the sampled field (default ``GaussianNoise(0.01)``).
    seed : int
        Seeds a lognormal conductivity and the noise (independent streams).
    length : (float, float, float)
        The box ``[0, Lx] × [0, Ly] × [0, Lz]``.
    boundary_data : float
        The Dirichlet value on every face.

    Returns
    -------
    Dataset
        ``equation="heat3d"``; axes ``(x, y, z)``; field ``u`` with ``u_clean``; known ``m``;
        truth ``lam`` over ``(x, y, z)`` (a float if constant); ``params["form"]``.

    Examples
    --------
    >>> ds = simulate_heat3d(n=9, seed=1)
    >>> ds.axes, ds.fields["u"].shape, ds.params["form"]
    (('x', 'y', 'z'), (9, 9, 9), 'steady')
    """
    noise = GaussianNoise(0.01) if noise is None else noise
    if not isinstance(noise, AbstractNoise):
        raise ValueError(f"noise must be an AbstractNoise, got {type(noise).__name__}")
    shape, fine_shape, lengths = _grids(n, refine, length)
    refine = int(refine)
    fine = [np.linspace(0.0, L, k) for L, k in zip(lengths, fine_shape, strict=True)]
    coarse = [c[::refine] for c in fine]
    lam_seed, noise_seed = np.random.SeedSequence(seed).spawn(2)
    params: dict[str, Any] = {
        "form": form,
        "boundary": "dirichlet",
        "boundary_data": float(boundary_data),
        "refine": refine,
        "shape": list(shape),
        "fine_shape": list(fine_shape),
        "length": list(lengths),
        "discretisation": "7-point conservative finite differences, face-midpoint conductivity",
    }
    if isinstance(lam, LognormalLambda):
        params.update(
            lam_model="lognormal",
            correlation_length=lam.correlation_length,
            lam_median=lam.median,
            lam_sigma=lam.sigma,
        )
        lam = lam.sample(*fine, rng=np.random.default_rng(lam_seed))
    else:
        params["lam_model"] = "callable" if callable(lam) else "constant"
        if not (callable(lam) or np.ndim(lam) == 0):
            raise ValueError("lam must be a constant, a callable or a LognormalLambda")
    source = _default_source(lengths) if source is None else source
    u_fine = solve_steady_3d(
        x=fine[0],
        y=fine[1],
        z=fine[2],
        lam=lam,
        source=source,
        form=form,
        boundary_data=boundary_data,
    )
    sl = (slice(None, None, refine),) * 3
    u_clean = u_fine[sl]
    u = noise.apply(u_clean, np.random.default_rng(noise_seed))
    constant = not callable(lam) and np.ndim(lam) == 0
    truth = float(lam) if constant else _on_nodes("lam", lam, fine)[sl]  # type: ignore[arg-type]
    return Dataset(
        equation="heat3d",
        coords=dict(zip(_AXES, coarse, strict=True)),
        fields={"u": u},
        clean={"u": u_clean},
        known={"m": _on_nodes("source", source, coarse)},
        truth={"lam": truth},
        truth_axes={"lam": () if constant else _AXES},
        noise=noise.describe(),
        seed=seed,
        params=params,
    )
