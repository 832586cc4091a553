"""First-order propagation of white data noise through the direct solver's estimator.

The direct solver returns ``θ̂`` solving the normal equations ``F(θ̂, u) = J(u)ᵀ R(θ̂, u) = 0`` of
the weighted residual rows ``R(θ, u) = J(u) θ + b(u)`` (affine in ``θ``; ``J`` and ``b`` depend
on the observed fields ``u``, possibly nonlinearly, as in ``(u²)_x``). Differentiating,

    δθ = −H⁻¹ (∂F/∂u) δu,      H = JᵀJ,      (∂F/∂u) δu = Jᵀ (∂R/∂u) δu + (∂J δu)ᵀ R̂,

so for white noise of standard deviation ``σ_f`` on each data field ``f`` the covariance is
``Σ_f σ_f² G_f G_fᵀ`` with ``G_f = H⁻¹ ∂F/∂u_f``. Row ``k`` of ``∂F/∂u`` is the gradient in ``u``
of the score ``φ_k(u) = (J(u) e_k)ᵀ R(θ̂, u)`` with ``θ̂`` held fixed, which autograd gives
exactly (one backward pass per constant). For a *pointwise* field the scores of field nodes more
than twice the stencil reach apart have disjoint supports in ``u``, so one batched backward pass
per colour of a graph colouring gives every node's row (Curtis–Powell–Reid, as for the sparse
Jacobian); only the nodes that own residual rows are coloured. With ``C`` the constants'
columns, ``A`` the field's (one nonzero per row, ``D = AᵀA`` diagonal), the Schur complement
``S = CᵀC − CᵀA D⁻¹ AᵀC`` gives

    G_c = S⁻¹ (F_c − (AᵀC)ᵀ D⁻¹ F_λ),      G_λ = D⁻¹ F_λ − D⁻¹ AᵀC G_c,

and a field node's variance is ``‖(G_λ)_j‖²`` expanded so that nothing of size (nodes × grid) is
ever formed. This is exact to first order in the noise; it neglects the data dependence of the
row weights and is not defined for the regularised (coupled) path. A ``positive`` field's nodes
held at 0 by the bounded solve are fixed at first order (see :func:`propagate_noise`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

if TYPE_CHECKING:
    from mollifier.inverse.direct import _Affine

__all__ = ["PointwiseBlock", "propagate_noise"]

#: Colours per batched backward pass of :func:`_field_rows`.
_CHUNK = 128


class PointwiseBlock:
    """What the closed-form solver knows about its (at most one) pointwise field.

    ``name``; ``a`` the weighted coefficient of each residual row; ``idx`` the field node of each
    row; ``good`` the identifiable nodes.
    """

    def __init__(self, name: str, a: np.ndarray, idx: np.ndarray, good: np.ndarray) -> None:
        self.name, self.a, self.idx, self.good = name, a, idx, good


def _row_positions(aff: _Affine) -> np.ndarray:
    """Where each residual row sits in the flattened ``(equation, *grid)`` residual."""
    size = int(np.prod(aff.problem.grid.shape))
    nodes = np.flatnonzero(aff.rows.numpy())
    return np.concatenate([e * size + nodes for e in range(aff.n_eq)])


def _rows(aff: _Affine, fields: dict[str, torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    """The weighted residual on the whole flattened ``(equation, *grid)`` residual, zero off the
    rows: scattering rows back by index would have no batching rule for the batched backward
    pass (vmap would fall back to a slow loop)."""
    r = aff.problem.mollifier_residual(fields, aff.params(theta)).reshape(-1)
    w = torch.zeros(r.numel(), dtype=torch.float64)
    w[torch.as_tensor(_row_positions(aff))] = aff.weights
    return r * w


def _scores(
    aff: _Affine, theta: np.ndarray, probes: list[np.ndarray]
) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """Data fields (requiring grad), the rows ``J(u) v`` of each probe and ``R(θ̂, u)``."""
    names = list(aff.problem.data)
    fields = dict(aff.fields)
    for k in names:
        fields[k] = aff.fields[k].detach().clone().requires_grad_(True)
    zero = _rows(aff, fields, torch.zeros(aff.n, dtype=torch.float64))
    resid = _rows(aff, fields, torch.as_tensor(theta))
    cols = [_rows(aff, fields, torch.as_tensor(v)) - zero for v in probes]
    return fields, cols, resid


def _grad(outputs: torch.Tensor, fields: dict[str, torch.Tensor], weights: torch.Tensor) -> Any:
    """``Σ_i weights[..., i] ∂outputs_i/∂u`` per data field, batched over leading dims."""
    names = list(fields)
    batched = weights.ndim == 2
    grads = torch.autograd.grad(
        outputs,
        [fields[k] for k in names if fields[k].requires_grad],
        grad_outputs=weights,
        retain_graph=True,
        allow_unused=True,
        is_grads_batched=batched,
    )
    out = []
    for g, k in zip(grads, [k for k in names if fields[k].requires_grad], strict=True):
        shape = (weights.shape[0], fields[k].numel()) if batched else (fields[k].numel(),)
        out.append(torch.zeros(shape, dtype=torch.float64) if g is None else g.reshape(shape))
    return torch.cat(out, dim=-1).nan_to_num(0.0).numpy()


class _BatchedScores:
    """Gradients of the weighted field scores ``Σ_i w_i a_i(u) R_i(θ̂, u)`` for a batch of row
    weights ``w``, on a batched copy of the data (shape ``(B, 1, *grid)``): an ordinary batched
    graph, much cheaper than a vmapped backward pass through the layer's stacked operators.
    Falls back to that vmapped pass (``fallback``) when the residual does not come back batched.
    """

    def __init__(self, aff: _Affine, theta: np.ndarray, probe: np.ndarray, fallback: Any) -> None:
        self.aff, self.theta, self.probe, self.fallback = aff, theta, probe, fallback
        self.where = torch.as_tensor(_row_positions(aff))

    def _rows(self, fields: dict[str, torch.Tensor], theta: np.ndarray, bsz: int) -> Any:
        aff = self.aff
        from mollifier.derivatives import MollifierDerivatives

        d = MollifierDerivatives(aff.problem.layer, aff.problem.grid.shape)
        params = aff.params(torch.as_tensor(theta))
        r = aff.problem.evaluate(fields, params, d)
        lead = () if aff.n_eq == 1 else (aff.n_eq,)
        if tuple(r.shape) != (*lead, bsz, 1, *aff.problem.grid.shape):
            return None
        r = r.reshape(*lead, bsz, -1)
        if lead:
            r = r.transpose(0, 1)
        w = torch.zeros(r.shape[-1] * aff.n_eq, dtype=torch.float64)
        w[self.where] = aff.weights
        return r.reshape(bsz, -1) * w

    def __call__(self, weights: torch.Tensor) -> np.ndarray:
        aff = self.aff
        bsz = weights.shape[0]
        names = list(aff.problem.data)
        fields = dict(aff.fields)
        batched = {}
        for k in names:
            grid = aff.fields[k].detach()
            batched[k] = grid.expand(bsz, 1, *grid.shape).clone().requires_grad_(True)
            fields[k] = batched[k]
        resid = self._rows(fields, self.theta, bsz)
        if resid is None:
            return self.fallback(weights)
        zero = self._rows(fields, np.zeros(aff.n), bsz)
        col = self._rows(fields, self.probe, bsz) - zero
        loss = torch.sum(weights * col * resid)
        grads = torch.autograd.grad(loss, [batched[k] for k in names], allow_unused=True)
        out = [
            torch.zeros((bsz, batched[k][0].numel()), dtype=torch.float64)
            if g is None
            else g.reshape(bsz, -1)
            for g, k in zip(grads, names, strict=True)
        ]
        return torch.cat(out, dim=-1).nan_to_num(0.0).numpy()


def _noise_scale(aff: _Affine, noise_std: dict[str, float]) -> np.ndarray:
    """Per entry of the concatenated data vector, its noise standard deviation."""
    parts = []
    for k in aff.problem.data:
        sigma = float(noise_std.get(k, np.nan))
        parts.append(np.full(aff.fields[k].numel(), sigma if np.isfinite(sigma) else 0.0))
    return np.concatenate(parts)


def _colour_period(reach: np.ndarray, shape: tuple[int, ...], periodic: bool) -> np.ndarray:
    period = 2 * reach + 1
    for k, n in enumerate(shape):
        if periodic:
            period[k] = next(p for p in range(min(period[k], n), n + 1) if n % p == 0)
    return period


def _field_rows(
    aff: _Affine, block: PointwiseBlock, grad: Any, y: torch.Tensor, scale: np.ndarray
) -> sp.csr_matrix:
    """``F_λ`` (field nodes × data entries, scaled by the noise) by graph colouring.

    Only the field nodes that own residual rows are coloured (a cropped problem leaves most of
    the field's grid without rows); a colour is a residue class of the node position modulo
    ``2 · reach + 1`` per axis, so two nodes of one colour have disjoint score supports.
    """
    problem = aff.problem
    shape = aff.shapes[block.name]
    m = int(np.prod(shape))
    axes = problem.unknowns[block.name].axes  # type: ignore[union-attr]
    node_pos = np.stack(np.unravel_index(np.arange(m), shape), axis=1)
    # Position along the field's axes of every data entry (each data field is grid-shaped).
    grid_pos = np.stack(
        np.unravel_index(np.arange(int(np.prod(problem.grid.shape))), problem.grid.shape), axis=1
    )
    entry_pos = np.concatenate(
        [grid_pos[:, [problem.grid.index(a) for a in axes]] for _ in problem.data]
    )
    where = _row_positions(aff)
    owned = np.unique(block.idx)
    if owned.size == 0:
        return sp.csr_matrix((m, scale.size))
    # Reach: measured from the owned nodes nearest the centre and the corners of the field.
    probe_nodes = sorted(
        {
            int(owned[np.argmin(np.abs(node_pos[owned] - p).sum(axis=1))])
            for p in _probe_positions(shape)
        }
    )
    weights = torch.zeros((len(probe_nodes), y.numel()), dtype=torch.float64)
    for k, j in enumerate(probe_nodes):
        weights[k, where] = torch.as_tensor((block.idx == j).astype(float))
    g = grad(weights)
    reach = np.zeros(len(shape), dtype=int)
    periodic = problem.boundary == "periodic"
    for k, j in enumerate(probe_nodes):
        hit = np.flatnonzero(g[k])
        if hit.size:
            dist = np.abs(entry_pos[hit] - node_pos[j])
            if periodic:
                dist = np.minimum(dist, np.array(shape) - dist)
            reach = np.maximum(reach, dist.max(axis=0))
    reach = reach + 1  # a margin: nodes near the probes may reach one node further
    period = _colour_period(reach, shape, periodic)
    node_colour = np.ravel_multi_index(tuple((node_pos % period).T), tuple(period))
    colours = np.unique(node_colour[owned])
    residues = np.stack(np.unravel_index(colours, tuple(period)), axis=1)
    row_colour = node_colour[block.idx]
    rows, cols, vals = [], [], []
    chunk = _CHUNK
    for start in range(0, colours.size, chunk):
        batch = colours[start : start + chunk]
        weights = torch.zeros((batch.size, y.numel()), dtype=torch.float64)
        member = torch.as_tensor((row_colour[None, :] == batch[:, None]).astype(float))
        weights[:, torch.as_tensor(where)] = member
        g = grad(weights)
        b, hit = np.nonzero(g)
        p = entry_pos[hit]
        q = p + (residues[start + b] - p + reach) % period - reach
        if periodic:
            q = q % np.array(shape)
        ok = np.all((q >= 0) & (q < np.array(shape)), axis=1)
        rows.append(np.ravel_multi_index(tuple(q[ok].T), shape))
        cols.append(hit[ok])
        vals.append(g[b[ok], hit[ok]] * scale[hit[ok]])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, scale.size)
    )


def _probe_positions(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    corners = []
    for n in shape:
        corners.append(sorted({0, min(2, n - 1), n // 2, max(n - 3, 0), n - 1}))
    count = max(len(c) for c in corners)
    out = [tuple(c[min(i, len(c) - 1)] for c in corners) for i in range(count)]
    out += [tuple(c[-1 - min(i, len(c) - 1)] for c in corners) for i in range(count)]
    return out


def propagate_noise(
    aff: _Affine,
    theta: np.ndarray,
    *,
    constants: list[str],
    block: PointwiseBlock | None,
    noise_std: dict[str, float],
) -> dict[str, Any]:
    """Standard deviations of the closed-form estimates (see the module docstring).

    Returns ``{"std": {name: float or field array}, "naive_std": {constant: float},
    "at_bound": {field: count}}``; a field's standard deviation is NaN on nodes that are not
    identifiable. ``naive_std`` is the ordinary least-squares one, ``σ_r² S⁻¹`` with ``σ_r²`` the
    mean squared residual row: it treats the rows as independent, which mollified rows are not.

    A ``positive`` field's nodes held at the bound (``λ̂_j = 0``) are linearised as fixed: the
    active set of the bounded solve does not change under a small perturbation, so the free
    nodes and the constants are propagated with those nodes' rows kept in the constants' fit at
    ``λ = 0`` (the Schur complement runs over the free nodes only). A first-order standard
    deviation of a node on its bound would be 0, which no interval should claim, so it is NaN
    there; ``at_bound`` counts those nodes (absent fields have none).
    """
    filled = np.nan_to_num(theta, nan=0.0)
    c_probes = []
    for n in constants:
        e = np.zeros(aff.n)
        e[aff.slices[n]] = 1.0
        c_probes.append(e)
    field_probe = []
    at_bound = np.zeros(0, dtype=bool)
    if block is not None:
        # Nodes a positive field holds at its bound λ = 0: fixed there at first order.
        value = theta[aff.slices[block.name]]
        positive = aff.problem.unknowns[block.name].positive
        at_bound = block.good & (value <= 0) if positive else np.zeros(value.size, dtype=bool)
        v = np.zeros(aff.n)
        v[aff.slices[block.name]] = 1.0
        field_probe.append(v)
        # Unidentified nodes still absorb their rows in the constants' fit: use that value.
        m = aff.sizes[block.name]
        c_mat = np.stack([aff.apply(e) for e in c_probes], axis=1) if c_probes else None
        b_eff = aff.b.numpy() + (
            c_mat @ filled[[aff.slices[n].start for n in constants]] if c_mat is not None else 0.0
        )
        aa = np.bincount(block.idx, weights=block.a**2, minlength=m)
        ab = np.bincount(block.idx, weights=block.a * b_eff, minlength=m)
        fill = np.where(aa > 0, -ab / np.where(aa > 0, aa, 1.0), 0.0)
        filled[aff.slices[block.name]] = np.where(at_bound, 0.0, fill)
    fields, cols, resid = _scores(aff, filled, c_probes + field_probe)
    scale = _noise_scale(aff, noise_std)
    p = len(constants)
    where = _row_positions(aff)
    c_np = (
        np.stack([c.detach().numpy()[where] for c in cols[:p]], axis=1)
        if p
        else np.zeros((where.size, 0))
    )
    f_c = np.zeros((p, scale.size))
    for j in range(p):
        y = cols[j] * resid
        f_c[j] = _grad(y, fields, torch.ones_like(y)) * scale
    std: dict[str, Any] = {}
    naive: dict[str, float] = {}
    r_np = resid.detach().numpy()[where]
    if block is None:
        s = c_np.T @ c_np
        s_inv = np.linalg.pinv(s)
        g_c = s_inv @ f_c
    else:
        a, idx, m = block.a, block.idx, aff.sizes[block.name]
        d = np.bincount(idx, weights=a * a, minlength=m)
        d_inv = np.where((d > 0) & ~at_bound, 1.0 / np.where(d > 0, d, 1.0), 0.0)
        atc = (
            np.stack(
                [np.bincount(idx, weights=a * c_np[:, j], minlength=m) for j in range(p)], axis=1
            )
            if p
            else np.zeros((m, 0))
        )
        y = cols[p] * resid
        batched = _BatchedScores(aff, filled, field_probe[0], lambda w, y=y: _grad(y, fields, w))
        f_l = _field_rows(aff, block, batched, y, scale)
        s = c_np.T @ c_np - atc.T @ (d_inv[:, None] * atc)
        s_inv = np.linalg.pinv(s) if p else np.zeros((0, 0))
        l_mat = sp.diags(d_inv) @ f_l
        g_c = s_inv @ (f_c - np.asarray((l_mat.T @ atc).T)) if p else f_c
        mm = d_inv[:, None] * atc
        lg = np.asarray(l_mat @ g_c.T) if p else np.zeros((m, 0))
        var = np.asarray(l_mat.multiply(l_mat).sum(axis=1)).ravel()
        if p:
            var = var - 2 * np.sum(mm * lg, axis=1) + np.einsum("ij,jk,ik->i", mm, g_c @ g_c.T, mm)
        sd = np.sqrt(np.maximum(var, 0.0))
        sd[~block.good | at_bound] = np.nan
        std[block.name] = sd.reshape(aff.shapes[block.name])
    cov = g_c @ g_c.T
    dof = max(r_np.size - p - (int(block.good.sum()) if block is not None else 0), 1)
    sigma_r2 = float(r_np @ r_np) / dof
    for j, n in enumerate(constants):
        std[n] = (
            float(np.sqrt(max(cov[j, j], 0.0)))
            if np.isfinite(theta[aff.slices[n]]).all()
            else float("nan")
        )
        naive[n] = float(np.sqrt(max(sigma_r2 * s_inv[j, j], 0.0)))
    bound = {block.name: int(at_bound.sum())} if block is not None and at_bound.any() else {}
    return {"std": std, "naive_std": naive, "at_bound": bound}
